/// A compact binary form of `JSONValue` for podinject's own files (the validated-config cache): a
/// tag byte per value, lengths and counts as LEB128 varints, strings and number texts as raw UTF-8.
/// Reading it back skips everything JSON text costs (whitespace, escapes, duplicate keys), which made
/// the cached configuration a quarter of a CGI admission's own work.
///
/// The reader never crashes on bad bytes: any inconsistency (truncation, a count larger than the bytes
/// left, an unknown tag, a number whose text is not a JSON number, nesting past `maxDepth`) gives nil.
public enum BinaryJSON {
  private enum Tag: UInt8 {
    case null = 0
    case `false` = 1
    case `true` = 2
    case number = 3
    case string = 4
    case array = 5
    case object = 6
  }

  /// The bytes of `value`.
  public static func encode(_ value: JSONValue) -> [UInt8] {
    var output: [UInt8] = []
    output.reserveCapacity(1024)
    write(value, to: &output)
    return output
  }

  /// The value `bytes` hold from `offset` on, or nil when they are not exactly one encoded value.
  public static func decode(_ bytes: [UInt8], from offset: Int = 0, maxDepth: Int = 256) -> JSONValue? {
    guard offset >= 0, offset <= bytes.count else { return nil }
    return bytes.withUnsafeBufferPointer { buffer in
      var reader = Reader(bytes: buffer, maxDepth: maxDepth)
      reader.position = offset
      guard let value = reader.value(depth: 0), reader.position == buffer.count else { return nil }
      return value
    }
  }

  private static func write(_ value: JSONValue, to output: inout [UInt8]) {
    switch value {
    case .null: output.append(Tag.null.rawValue)
    case .bool(let flag): output.append(flag ? Tag.true.rawValue : Tag.false.rawValue)
    case .number(let text):
      output.append(Tag.number.rawValue)
      writeText(text, to: &output)
    case .string(let text):
      output.append(Tag.string.rawValue)
      writeText(text, to: &output)
    case .array(let elements):
      output.append(Tag.array.rawValue)
      writeCount(elements.count, to: &output)
      for element in elements { write(element, to: &output) }
    case .object(let object):
      output.append(Tag.object.rawValue)
      writeCount(object.members.count, to: &output)
      for member in object.members {
        writeText(member.key, to: &output)
        write(member.value, to: &output)
      }
    }
  }

  private static func writeText(_ text: String, to output: inout [UInt8]) {
    writeCount(text.utf8.count, to: &output)
    output.append(contentsOf: text.utf8)
  }

  private static func writeCount(_ count: Int, to output: inout [UInt8]) {
    var rest = UInt64(count)
    while rest >= 0x80 {
      output.append(UInt8(rest & 0x7F) | 0x80)
      rest >>= 7
    }
    output.append(UInt8(rest))
  }

  /// The cursor over encoded bytes.
  private struct Reader {
    let bytes: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    var position = 0

    init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
      self.bytes = bytes
      self.maxDepth = maxDepth
    }

    mutating func value(depth: Int) -> JSONValue? {
      guard depth <= maxDepth, position < bytes.count, let tag = Tag(rawValue: bytes[position]) else { return nil }
      position += 1
      switch tag {
      case .null: return .null
      case .false: return .bool(false)
      case .true: return .bool(true)
      // Number text goes out in patches as it is; text JSON cannot carry would be written as something else.
      case .number: return text().flatMap { JSONValue.isNumberText($0) ? .number($0) : nil }
      case .string: return text().map(JSONValue.string)
      case .array:
        // Every element takes at least one byte: a count beyond the bytes left is corrupt, not a
        // reason to reserve memory for it.
        guard let count = count(), count <= bytes.count - position else { return nil }
        var elements: [JSONValue] = []
        elements.reserveCapacity(count)
        for _ in 0..<count {
          guard let element = value(depth: depth + 1) else { return nil }
          elements.append(element)
        }
        return .array(elements)
      case .object:
        guard let count = count(), count <= (bytes.count - position) / 2 else { return nil }
        var members: [JSONObject.Member] = []
        members.reserveCapacity(count)
        for _ in 0..<count {
          guard let key = text(), let member = value(depth: depth + 1) else { return nil }
          members.append(JSONObject.Member(key: key, value: member))
        }
        // Written from a JSONObject, so the keys are unique; they are not checked again (a repeated
        // key could only come from a file podinject did not write, and would still crash nothing).
        return .object(JSONObject(uniqueMembers: members))
      }
    }

    private mutating func count() -> Int? {
      var result: UInt64 = 0
      var shift: UInt64 = 0
      while position < bytes.count, shift < 63 {
        let byte = bytes[position]
        position += 1
        result |= UInt64(byte & 0x7F) << shift
        if byte < 0x80 { return result <= UInt64(Int.max) ? Int(result) : nil }
        shift += 7
      }
      return nil
    }

    /// A length-prefixed UTF-8 text (invalid UTF-8 is repaired, as String(decoding:) does).
    private mutating func text() -> String? {
      guard let length = count(), length <= bytes.count - position else { return nil }
      let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[position..<position + length]), as: UTF8.self)
      position += length
      return text
    }
  }
}
