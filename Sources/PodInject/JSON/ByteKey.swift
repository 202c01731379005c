/// A string hashed and compared by its UTF-8 bytes, for every Dictionary and Set on a parse or lookup
/// path. Go (and so Kubernetes) compares map keys by their bytes; Swift's `String` compares them by
/// canonical equivalence, so that byte-different keys such as two orderings of the same combining marks
/// share one hash bucket and one `==`, which made a scan over them quadratic.
struct ByteKey: Hashable, Sendable {
  let text: String

  init(_ text: String) { self.text = text }

  static func == (lhs: ByteKey, rhs: ByteKey) -> Bool {
    JSONObject.sameKey(lhs.text, rhs.text)
  }

  func hash(into hasher: inout Hasher) {
    let hashed: Void? = text.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    guard hashed == nil else { return }
    // The same bytes in one call either way, so that equal keys hash alike however they are stored.
    Array(text.utf8).withUnsafeBytes { hasher.combine(bytes: $0) }
  }
}
