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

  /// Appends the compact text of `serialized()` to `output`.
  public func serialize(into output: inout [UInt8]) {
    var writer = JSONWriter(taking: &output)
    writer.write(self, level: 0)
    swap(&output, &writer.output)
  }

  /// Indented text for people (`podinject apply -o json`), 2 spaces, `"key": value`, no final newline.
  public func prettyPrinted() -> String {
    var writer = JSONWriter(pretty: true)
    writer.write(self, level: 0)
    return String(decoding: writer.output, as: UTF8.self)
  }
}

extension JSONPatch {
  /// The compact text of `json`, written straight from the operations (every admission sends its
  /// patch, and building the operation objects first only to write them out was a twentieth of it),
  /// or from the text the planner wrote while it measured them.
  public func serializedBytes() -> [UInt8] {
    var output: [UInt8] = []
    output.reserveCapacity((text?.count ?? 1022) + 2)
    output.append(UInt8(ascii: "["))
    if let text {
      output += text
    } else {
      for (index, operation) in operations.enumerated() {
        if index > 0 { output.append(UInt8(ascii: ",")) }
        operation.write(into: &output)
      }
    }
    output.append(UInt8(ascii: "]"))
    return output
  }
}

extension JSONPatchOperation {
  /// Appends `{"op":...,"path":...,"value":...}` to `output`.
  func write(into output: inout [UInt8]) {
    var writer = JSONWriter(taking: &output)
    defer { swap(&output, &writer.output) }
    writer.append("{\"op\":")
    writer.writeString(name)
    writer.append(",\"path\":")
    writer.writePointer(path)
    switch self {
    case .add(_, let value), .replace(_, let value), .test(_, let value):
      writer.append(",\"value\":")
      writer.write(value, level: 2)
    case .remove: break
    }
    writer.output.append(UInt8(ascii: "}"))
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

  /// A compact writer that appends to `buffer`, which it takes (swap it back when done).
  init(taking buffer: inout [UInt8]) {
    pretty = false
    swap(&output, &buffer)
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
    if JSONValue.isNumberText(text) {
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
    text.withUTF8 { writeEscaped($0) }
    output.append(UInt8(ascii: "\""))
  }

  /// A JSON Pointer as a JSON string, written token by token (`~` and `/` escaped as RFC 6901 says,
  /// then the string escaped as JSON), without building its text first: every operation of every
  /// patch has one, and building them showed as a twentieth of an admission.
  fileprivate mutating func writePointer(_ pointer: JSONPointer) {
    output.append(UInt8(ascii: "\""))
    for token in pointer.tokens {
      output.append(UInt8(ascii: "/"))
      var token = token
      token.withUTF8 { utf8 in
        var runStart = 0
        for index in 0..<utf8.count where utf8[index] == UInt8(ascii: "~") || utf8[index] == UInt8(ascii: "/") {
          writeEscaped(UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
          output.append(UInt8(ascii: "~"))
          output.append(utf8[index] == UInt8(ascii: "~") ? UInt8(ascii: "0") : UInt8(ascii: "1"))
          runStart = index + 1
        }
        writeEscaped(UnsafeBufferPointer(rebasing: utf8[runStart...]))
      }
    }
    output.append(UInt8(ascii: "\""))
  }

  /// The bytes of a string's contents, escaped as JSON needs.
  private mutating func writeEscaped(_ utf8: UnsafeBufferPointer<UInt8>) {
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
}

extension JSONValue {
  /// Whether `text` is exactly one number by the RFC 8259 grammar.
  static func isNumberText(_ text: String) -> Bool {
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

extension JSONValue {
  /// The length of `serializedBytes()`, counted without writing anything; once the count passes
  /// `limit` it stops and returns some number over `limit`, so that measuring costs at most about
  /// `limit` bytes of work, whatever the value's size.
  func serializedCount(upTo limit: Int) -> Int {
    var counter = JSONSizeCounter(limit: limit)
    counter.add(self)
    return counter.count
  }
}

/// Counts compact JSON bytes as `JSONWriter` writes them. Recursive, like the writer: values are at
/// most 256 levels deep (the parsers' limit) plus the few levels code adds.
struct JSONSizeCounter {
  let limit: Int
  var count = 0

  mutating func add(_ value: JSONValue) {
    guard count <= limit else { return }
    switch value {
    case .null: count += 4
    case .bool(let flag): count += flag ? 4 : 5
    case .number(let text):
      // As `writeNumber` writes it: the text, or (never from a parser) a rewritten or null number.
      count += JSONValue.isNumberText(text) ? text.utf8.count : max(Double(text)?.description.utf8.count ?? 4, 4)
    case .string(let text): addString(text)
    case .array(let elements):
      count += 2 + max(elements.count - 1, 0)
      for element in elements {
        add(element)
        if count > limit { return }
      }
    case .object(let object):
      count += 2 + max(object.count - 1, 0) + object.count
      for member in object.members {
        addString(member.key)
        add(member.value)
        if count > limit { return }
      }
    }
  }

  /// The quotes, the bytes, and one more byte per two-byte escape or five more per `\u00XX`.
  mutating func addString(_ text: String) {
    count += JSONSizeCounter.stringCount(text)
  }

  static func stringCount(_ text: String) -> Int {
    func scan(_ utf8: UnsafeBufferPointer<UInt8>) -> Int {
      var total = utf8.count + 2
      var index = JSONByteScan.firstSpecial(in: utf8, from: 0, stopAtNonASCII: false)
      while index < utf8.count {
        switch utf8[index] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), 0x08, 0x0C, 0x0A, 0x0D, 0x09: total += 1
        default: total += 5
        }
        index = JSONByteScan.firstSpecial(in: utf8, from: index + 1, stopAtNonASCII: false)
      }
      return total
    }
    if let total = text.utf8.withContiguousStorageIfAvailable(scan) { return total }
    return Array(text.utf8).withUnsafeBufferPointer(scan)
  }
}
