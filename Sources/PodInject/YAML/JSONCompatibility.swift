/// JSON is accepted wherever YAML is, but libyaml reads it as YAML 1.1, which differs on two points:
/// it refuses `\uD83C\uDF0D` (a UTF-16 surrogate pair, the way JSON writes characters beyond U+FFFF),
/// and it folds raw U+2028, U+2029 and U+0085 inside strings as line breaks. For a document that
/// starts as JSON does, both are rewritten into escapes that libyaml reads the way JSON means them.
/// Line numbers do not change.
enum JSONCompatibility {
  /// What a stream is, by its first character other than JSON white space.
  enum Kind {
    case json
    /// JSON text after a UTF-8 byte order mark, which JSON does not allow.
    case jsonAfterByteOrderMark
    case yaml
  }

  static func kind(of bytes: [UInt8]) -> Kind {
    var start = 0
    var byteOrderMark = false
    if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
      start = 3
      byteOrderMark = true
    }
    guard let first = bytes[start...].firstIndex(where: { !isSpace($0) }), bytes[first] == 0x7B || bytes[first] == 0x5B
    else { return .yaml }
    return byteOrderMark ? .jsonAfterByteOrderMark : .json
  }

  /// JSON text made ready for libyaml (see above); the caller checked that it is JSON text.
  static func prepare(_ bytes: [UInt8]) -> [UInt8] {
    guard needsRewrite(bytes) else { return bytes }
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count + 16)
    var inString = false
    var index = 0
    while index < bytes.count {
      let byte = bytes[index]
      guard inString else {
        if byte == 0x22 { inString = true }
        out.append(byte)
        index += 1
        continue
      }
      if byte == 0x22 {
        inString = false
      } else if byte == 0x5C, index + 1 < bytes.count {
        if let (scalar, length) = surrogatePair(bytes, at: index) {
          out += Array("\\U".utf8) + hex(scalar, digits: 8)
          index += length
          continue
        }
        out += [byte, bytes[index + 1]]
        index += 2
        continue
      } else if let escaped = lineSeparatorEscape(bytes, at: index) {
        out += escaped.bytes
        index += escaped.length
        continue
      }
      out.append(byte)
      index += 1
    }
    return out
  }

  /// A quick check, so that the usual document is returned as it is without a copy.
  private static func needsRewrite(_ bytes: [UInt8]) -> Bool {
    for index in bytes.indices {
      let byte = bytes[index]
      if byte == 0xE2 || byte == 0xC2 { return true }
      if byte == 0x5C, index + 2 < bytes.count, bytes[index + 1] == 0x75, bytes[index + 2] | 0x20 == 0x64 {
        return true
      }
    }
    return false
  }

  /// `\uD8xx\uDCxx` at `index`: the code point and the escape's length (12).
  private static func surrogatePair(_ bytes: [UInt8], at index: Int) -> (UInt32, Int)? {
    guard index + 12 <= bytes.count, bytes[index + 1] == 0x75, bytes[index + 6] == 0x5C, bytes[index + 7] == 0x75,
      let high = hexValue(bytes[(index + 2)..<(index + 6)]), let low = hexValue(bytes[(index + 8)..<(index + 12)]),
      (0xD800...0xDBFF).contains(high), (0xDC00...0xDFFF).contains(low)
    else { return nil }
    return (0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00), 12)
  }

  /// Raw U+2028, U+2029 or U+0085 at `index`, as an escape.
  private static func lineSeparatorEscape(_ bytes: [UInt8], at index: Int) -> (bytes: [UInt8], length: Int)? {
    if bytes[index] == 0xC2, index + 1 < bytes.count, bytes[index + 1] == 0x85 { return (Array("\\N".utf8), 2) }
    guard bytes[index] == 0xE2, index + 2 < bytes.count, bytes[index + 1] == 0x80 else { return nil }
    switch bytes[index + 2] {
    case 0xA8: return (Array("\\L".utf8), 3)
    case 0xA9: return (Array("\\P".utf8), 3)
    default: return nil
    }
  }

  private static func hexValue(_ digits: ArraySlice<UInt8>) -> UInt32? {
    var value: UInt32 = 0
    for digit in digits {
      guard let nibble = Character(Unicode.Scalar(digit)).hexDigitValue else { return nil }
      value = value << 4 | UInt32(nibble)
    }
    return value
  }

  private static func hex(_ value: UInt32, digits: Int) -> [UInt8] {
    let text = String(value, radix: 16)
    return Array((String(repeating: "0", count: max(0, digits - text.count)) + text).utf8)
  }

  private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 }
}
