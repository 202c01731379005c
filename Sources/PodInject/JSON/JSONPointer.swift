/// An RFC 6901 JSON Pointer.
public struct JSONPointer: Sendable, Hashable, CustomStringConvertible {
  /// The unescaped reference tokens, outermost first; empty for the whole document.
  public var tokens: [String]

  public init(tokens: [String] = []) {
    self.tokens = tokens
  }

  /// Reads pointer text: "" is the root, else it starts with "/"; "~0" is "~" and "~1" is "/".
  public init(parsing text: String) throws(JSONPointerError) {
    tokens = []
    guard !text.isEmpty else { return }
    // Bytes, not Characters: a "~" followed by a combining mark is one Character.
    let bytes = Array(text.utf8)
    guard bytes[0] == UInt8(ascii: "/") else {
      throw JSONPointerError(message: "JSON pointer \"\(text)\" must be empty or start with '/'")
    }
    var token: [UInt8] = []
    var index = 1
    while index <= bytes.count {
      guard index < bytes.count, bytes[index] != UInt8(ascii: "/") else {
        tokens.append(String(decoding: token, as: UTF8.self))
        token.removeAll(keepingCapacity: true)
        index += 1
        continue
      }
      let byte = bytes[index]
      if byte == UInt8(ascii: "~") {
        let next = index + 1 < bytes.count ? bytes[index + 1] : nil
        switch next {
        case UInt8(ascii: "0"): token.append(UInt8(ascii: "~"))
        case UInt8(ascii: "1"): token.append(UInt8(ascii: "/"))
        default:
          throw JSONPointerError(
            message: "JSON pointer \"\(text)\": '~' must be followed by '0' or '1' (byte \(index))")
        }
        index += 2
      } else {
        token.append(byte)
        index += 1
      }
    }
  }

  public func appending(_ token: String) -> JSONPointer {
    JSONPointer(tokens: tokens + [token])
  }

  public func appending(index: Int) -> JSONPointer {
    appending(index.decimalText)
  }

  /// The pointer to the position after an array's last element (the "-" token), for `add`.
  public func appendingEnd() -> JSONPointer {
    appending("-")
  }

  /// The escaped text, "" for the root.
  public var description: String {
    var text = ""
    for token in tokens {
      text += "/"
      text += JSONPointer.escape(token)
    }
    return text
  }

  /// Escapes one token: "~" becomes "~0" first, then "/" becomes "~1".
  public static func escape(_ token: String) -> String {
    guard token.utf8.contains(where: { $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "/") }) else {
      return token
    }
    var escaped: [UInt8] = []
    escaped.reserveCapacity(token.utf8.count + 4)
    for byte in token.utf8 {
      switch byte {
      case UInt8(ascii: "~"): escaped.append(contentsOf: [UInt8(ascii: "~"), UInt8(ascii: "0")])
      case UInt8(ascii: "/"): escaped.append(contentsOf: [UInt8(ascii: "~"), UInt8(ascii: "1")])
      default: escaped.append(byte)
      }
    }
    return String(decoding: escaped, as: UTF8.self)
  }

  /// The array index a token names: "0" or digits without a leading zero (RFC 6901 §4); nil otherwise, including "-".
  static func arrayIndex(_ token: String) -> Int? {
    let utf8 = token.utf8
    guard let first = utf8.first, utf8.count <= 18,
      utf8.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }),
      first != UInt8(ascii: "0") || utf8.count == 1
    else { return nil }
    return utf8.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
  }
}
