/// A shell-style glob over names: `*` any run, `?` one character, everything else literal.
///
/// A "character" is one Unicode scalar, as in Go's `path.Match`; there are no escapes or classes,
/// because the names globbed here (namespaces, container names) never contain `*`, `?` or `[`.
public struct Glob: Sendable, Equatable {
  public let pattern: String
  private let kind: Kind
  private let bytes: [UInt8]

  /// Decided once, so that the common patterns (`*`, a plain name) cost one comparison per match.
  private enum Kind: Sendable, Equatable {
    case everything
    case literal
    case wildcard
  }

  /// `[Glob("*")]`, the default of `containers` and `match.namespaces`, built once: every rule of a
  /// configuration starts from the defaults.
  static let everythingList = [Glob("*")]

  public init(_ pattern: String) {
    self.pattern = pattern
    bytes = Array(pattern.utf8)
    if !bytes.isEmpty && bytes.allSatisfy({ $0 == Glob.star }) {
      kind = .everything
    } else if bytes.contains(Glob.star) || bytes.contains(Glob.question) {
      kind = .wildcard
    } else {
      kind = .literal
    }
  }

  /// Whether the whole of `text` matches the pattern (compared byte for byte, as Kubernetes compares names).
  public func matches(_ text: String) -> Bool {
    switch kind {
    case .everything:
      return true
    case .literal:
      return text.utf8.count == bytes.count && text.utf8.elementsEqual(bytes)
    case .wildcard:
      var text = text
      return text.withUTF8 { textBytes in
        bytes.withUnsafeBufferPointer { Glob.wildcardMatch($0, textBytes) }
      }
    }
  }

  private static let star = UInt8(ascii: "*")
  private static let question = UInt8(ascii: "?")

  /// Iterative matching that backtracks only to the last `*`: linear for the patterns used in practice,
  /// O(pattern × text) at worst, and never recursive.
  private static func wildcardMatch(
    _ pattern: UnsafeBufferPointer<UInt8>, _ text: UnsafeBufferPointer<UInt8>
  ) -> Bool {
    var p = 0
    var t = 0
    var starAt = -1
    var starText = 0
    while t < text.count {
      if p < pattern.count {
        let c = pattern[p]
        if c == star {
          starAt = p
          starText = t
          p += 1
          continue
        }
        if c == question {
          p += 1
          t += scalarLength(text[t])
          continue
        }
        if c == text[t] {
          p += 1
          t += 1
          continue
        }
      }
      guard starAt >= 0 else { return false }
      // Let the last `*` swallow one more scalar (never half of one, so that `?` stays on a boundary).
      starText += scalarLength(text[starText])
      t = starText
      p = starAt + 1
    }
    while p < pattern.count && pattern[p] == star { p += 1 }
    return p == pattern.count
  }

  /// The length of the UTF-8 sequence that starts with `lead`.
  private static func scalarLength(_ lead: UInt8) -> Int {
    if lead < 0x80 { return 1 }
    if lead < 0xE0 { return 2 }
    if lead < 0xF0 { return 3 }
    return 4
  }
}

extension Array where Element == Glob {
  /// Whether any of the globs matches `text`; false for an empty list.
  public func matchesAny(_ text: String) -> Bool {
    contains { $0.matches(text) }
  }
}
