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

/// A set of names compared by bytes: a plain list while it is small (what almost every pod has, at
/// no set-up cost), hashed once it is large, so that lookups stay cheap however many names a pod has.
struct NameSet {
  private var list: [String]
  private var hashed: Set<ByteKey>? = nil

  init(_ names: [String]) {
    list = []
    for name in names { insert(name) }
  }

  func contains(_ name: String) -> Bool {
    if let hashed { return hashed.contains(ByteKey(name)) }
    return list.contains { JSONObject.sameKey($0, name) }
  }

  /// Adds `name`; false when it was already there.
  @discardableResult
  mutating func insert(_ name: String) -> Bool {
    if hashed != nil { return hashed!.insert(ByteKey(name)).inserted }
    guard !contains(name) else { return false }
    list.append(name)
    if list.count > 32 {
      hashed = Set(list.map(ByteKey.init))
      list = []
    }
    return true
  }
}
