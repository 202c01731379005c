extension StringProtocol {
  /// Whether `text` occurs in this string, compared as UTF-8 bytes. The standard library's
  /// string-in-string `contains(_:)` lives in `_StringProcessing`; calling it links the regex
  /// engine into the binary, which every admission would then map and start.
  public func containsText(_ text: some StringProtocol) -> Bool {
    let needle = Array(text.utf8)
    guard let first = needle.first else { return true }
    let bytes = Array(utf8)
    guard bytes.count >= needle.count else { return false }
    for start in 0...(bytes.count - needle.count) where bytes[start] == first {
      if bytes[start..<start + needle.count].elementsEqual(needle) { return true }
    }
    return false
  }
}
