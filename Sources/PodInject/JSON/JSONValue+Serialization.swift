extension JSONValue {
  /// Compact RFC 8259 text: keys in stored order, numbers as their stored text, non-ASCII kept as UTF-8.
  public func serialized() -> String {
    String(decoding: serializedBytes(), as: UTF8.self)
  }

  /// The compact text of `serialized()`, as UTF-8 bytes ready to write.
  public func serializedBytes() -> [UInt8] {
    var writer = JSONWriter(pretty: false)
    writer.write(self, level: 0)
    return writer.output
  }

  /// Indented text for people (`podinject apply -o json`), 2 spaces, `"key": value`, no final newline.
  public func prettyPrinted() -> String {
    var writer = JSONWriter(pretty: true)
    writer.write(self, level: 0)
    return String(decoding: writer.output, as: UTF8.self)
  }
}

extension JSONPatch {
  /// The compact text of `json`, written straight from the operations: every admission sends its
  /// patch, and building the operation objects first only to write them out was a twentieth of it.
  public func serializedBytes() -> [UInt8] {
    var writer = JSONWriter(pretty: false)
    writer.output.append(UInt8(ascii: "["))
    for (index, operation) in operations.enumerated() {
      if index > 0 { writer.output.append(UInt8(ascii: ",")) }
      writer.append("{\"op\":")
      writer.writeString(operation.name)
      writer.append(",\"path\":")
      writer.writeString(operation.path.description)
      switch operation {
      case .add(_, let value), .replace(_, let value), .test(_, let value):
        writer.append(",\"value\":")
        writer.write(value, level: 2)
      case .remove: break
      }
      writer.output.append(UInt8(ascii: "}"))
    }
    writer.output.append(UInt8(ascii: "]"))
    return writer.output
  }
}

/// Appends JSON text to a byte buffer. Recursive: values come from the parser (depth-limited)
/// or from code, so their depth is bounded by construction.
struct JSONWriter {
  let pretty: Bool
  var output: [UInt8] = []

  init(pretty: Bool) {
    self.pretty = pretty
    output.reserveCapacity(1024)
  }

  mutating func write(_ value: JSONValue, level: Int) {
    switch value {
    case .null: append("null")
    case .bool(let flag): append(flag ? "true" : "false")
    case .number(let text): writeNumber(text)
    case .string(let text): writeString(text)
    case .array(let elements):
      guard !elements.isEmpty else { return append("[]") }
      output.append(UInt8(ascii: "["))
      for (index, element) in elements.enumerated() {
        if index > 0 { output.append(UInt8(ascii: ",")) }
        newline(level: level + 1)
        write(element, level: level + 1)
      }
      newline(level: level)
      output.append(UInt8(ascii: "]"))
    case .object(let object):
      guard !object.isEmpty else { return append("{}") }
      output.append(UInt8(ascii: "{"))
      for (index, member) in object.members.enumerated() {
        if index > 0 { output.append(UInt8(ascii: ",")) }
        newline(level: level + 1)
        writeString(member.key)
        output.append(UInt8(ascii: ":"))
        if pretty { output.append(UInt8(ascii: " ")) }
        write(member.value, level: level + 1)
      }
      newline(level: level)
      output.append(UInt8(ascii: "}"))
    }
  }

  private mutating func newline(level: Int) {
    guard pretty else { return }
    output.append(0x0A)
    output.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * level))
  }

  fileprivate mutating func append(_ text: StaticString) {
    output.append(
      contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
  }

  /// Stored text is written as is when it is a JSON number; code that built `.number("NaN")` gets
  /// `null` rather than a document the API server would reject.
  private mutating func writeNumber(_ text: String) {
    if JSONWriter.isNumber(text) {
      output.append(contentsOf: text.utf8)
    } else if let number = Double(text), number.isFinite {
      output.append(contentsOf: number.description.utf8)
    } else {
      append("null")
    }
  }

  fileprivate mutating func writeString(_ text: String) {
    output.append(UInt8(ascii: "\""))
    var text = text
    text.withUTF8 { utf8 in
      var runStart = 0
      while true {
        let index = JSONByteScan.firstSpecial(in: utf8, from: runStart, stopAtNonASCII: false)
        output.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
        guard index < utf8.count else { break }
        let byte = utf8[index]
        output.append(UInt8(ascii: "\\"))
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): output.append(byte)
        case 0x08: output.append(UInt8(ascii: "b"))
        case 0x0C: output.append(UInt8(ascii: "f"))
        case 0x0A: output.append(UInt8(ascii: "n"))
        case 0x0D: output.append(UInt8(ascii: "r"))
        case 0x09: output.append(UInt8(ascii: "t"))
        default:
          let hexDigits: StaticString = "0123456789abcdef"
          output.append(contentsOf: [
            UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
            hexDigits.utf8Start[Int(byte >> 4)], hexDigits.utf8Start[Int(byte & 0x0F)],
          ])
        }
        runStart = index + 1
      }
    }
    output.append(UInt8(ascii: "\""))
  }

  /// Whether `text` is exactly one number by the RFC 8259 grammar.
  static func isNumber(_ text: String) -> Bool {
    var bytes = text.utf8.makeIterator()
    var byte = bytes.next()
    func isDigit(_ byte: UInt8?) -> Bool { byte.map { $0 &- UInt8(ascii: "0") < 10 } ?? false }
    if byte == UInt8(ascii: "-") { byte = bytes.next() }
    if byte == UInt8(ascii: "0") {
      byte = bytes.next()
    } else {
      guard isDigit(byte) else { return false }
      repeat { byte = bytes.next() } while isDigit(byte)
    }
    if byte == UInt8(ascii: ".") {
      byte = bytes.next()
      guard isDigit(byte) else { return false }
      repeat { byte = bytes.next() } while isDigit(byte)
    }
    if byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
      byte = bytes.next()
      if byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") { byte = bytes.next() }
      guard isDigit(byte) else { return false }
      repeat { byte = bytes.next() } while isDigit(byte)
    }
    return byte == nil
  }
}
