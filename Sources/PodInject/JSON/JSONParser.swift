/// Reads JSON text (RFC 8259) into a `JSONValue`, strictly, in one pass over the bytes.
///
/// Rejected: trailing commas, comments, leading zeros, `+1`, `NaN`, unescaped control
/// characters, invalid UTF-8, a byte order mark, and anything after the value. A `\u` escape of
/// a lone surrogate becomes U+FFFD, as Go's encoding/json (and so the API server) reads it.
/// Duplicate object keys: the last value wins, in the place of the first, as in Go; keys are
/// compared by their bytes, as Go (and `JSONObject`) compares them.
public enum JSONParser {
  /// Parses exactly one JSON value (RFC 8259) surrounded by optional whitespace; anything after it is an error.
  ///
  /// `maxMemory` bounds what the parsed value may take in memory, estimated as it is read (each value's
  /// slot, each container's and each long string's allocation): a few bytes of JSON can stand for many
  /// times their size in values (`[[1],[1],...]`), so the text's length alone does not bound the memory.
  public static func parse(_ bytes: [UInt8], maxDepth: Int = 256, maxMemory: Int = .max) throws(JSONParseError)
    -> JSONValue
  {
    try bytes.withUnsafeBufferPointer { parse(buffer: $0, maxDepth: maxDepth, maxMemory: maxMemory) }.get()
  }

  /// Parses exactly one JSON value (RFC 8259) surrounded by optional whitespace; anything after it is an error.
  public static func parse(_ text: String, maxDepth: Int = 256) throws(JSONParseError) -> JSONValue {
    var text = text
    return try text.withUTF8 { parse(buffer: $0, maxDepth: maxDepth, maxMemory: .max) }.get()
  }

  /// The one entry point over contiguous bytes; a `Result` because the `withUnsafe...` helpers
  /// do not carry typed throws through.
  static func parse(buffer: UnsafeBufferPointer<UInt8>, maxDepth: Int, maxMemory: Int) -> Result<
    JSONValue, JSONParseError
  > {
    var reader = JSONReader(bytes: buffer, maxDepth: maxDepth, maxMemory: maxMemory)
    do throws(JSONParseError) {
      return .success(try reader.readDocument())
    } catch {
      return .failure(error)
    }
  }
}

/// The parser's cursor. Open containers are kept on explicit stacks rather than the call stack,
/// so that no input, however deep, can overflow the thread's stack.
private struct JSONReader {
  /// An array or object still being read; its finished children wait on a shared stack.
  private struct Frame {
    var isObject: Bool
    /// Where this container's children start on `elements` or `members`.
    var start: Int
    /// The key of the member whose value is being read.
    var key = ""
    /// Key positions, built only once an object is big enough for linear search to hurt; keyed by
    /// bytes, so that keys which differ only in their bytes never share an entry (linear in any input).
    var positions: [ByteKey: Int]? = nil
  }

  let bytes: UnsafeBufferPointer<UInt8>
  let end: Int
  let maxDepth: Int
  let maxMemory: Int
  /// What the values read so far take in memory, estimated (see `Cost`).
  private var memory = 0
  /// When `memory` passes this, the budget is checked again (see `charge`).
  private var nextCheck = 0
  /// Members of the open objects that are indexed by key (`Frame.positions`).
  private var indexed = 0
  var position = 0
  /// Reused for strings with escapes, which cannot be sliced straight from the input.
  var scratch: [UInt8] = []
  /// Finished children of the open arrays and objects, innermost last. Shared, so that each
  /// container is allocated once, at its final size, instead of growing one append at a time.
  private var elements: [JSONValue] = []
  private var members: [JSONObject.Member] = []

  init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int, maxMemory: Int) {
    self.bytes = bytes
    self.end = bytes.count
    self.maxDepth = maxDepth
    self.maxMemory = maxMemory
  }

  /// What a parsed value takes, in bytes, as this platform lays it out: an array element is a
  /// 24-byte `JSONValue`, an object member 40 bytes (key and value); a non-empty container and a
  /// string too long to be stored inline (over 15 bytes) are heap allocations of a 32-byte header,
  /// their contents, and the allocator's own 16 bytes; a key index costs up to 64 bytes a key.
  private enum Cost {
    static let element = 24
    static let member = 40
    static let allocation = 48
    static let inlineString = 15
    static let indexEntry = 64
  }

  /// Counts `bytes` more of finished values (a container is counted when it closes, a long string
  /// when it is read). Every 64 KiB of them, and before a stack of the reader's grows, the budget is
  /// checked against them and what those stacks hold (their spare capacity included), so it is
  /// overrun by little, and the checks cost nearly nothing per value.
  @inline(__always)
  private mutating func charge(_ bytes: Int) throws(JSONParseError) {
    memory &+= bytes
    if memory > nextCheck { try checkBudget() }
  }

  /// A full stack is about to grow into a new buffer of `bytes` (the old one is freed only once it
  /// has been copied): fails first when that would pass the budget.
  private mutating func checkGrowth(_ bytes: Int) throws(JSONParseError) {
    try checkBudget(growing: bytes)
  }

  private mutating func checkBudget(growing: Int = 0) throws(JSONParseError) {
    let working =
      elements.capacity &* Cost.element &+ members.capacity &* Cost.member &+ indexed &* Cost.indexEntry
    guard memory &+ working &+ growing <= maxMemory else {
      let budget = maxMemory >= 1024 * 1024 ? "\(maxMemory / (1024 * 1024)) MiB" : "\(maxMemory / 1024) KiB"
      throw failure("more values than podinject holds (over \(budget) in memory)")
    }
    nextCheck = memory &+ 64 * 1024
  }

  mutating func readDocument() throws(JSONParseError) -> JSONValue {
    skipWhitespace()
    guard position < end else { throw JSONParseError(offset: position, message: "empty input") }
    let value = try readValue()
    skipWhitespace()
    guard position == end else {
      throw failure("unexpected \(describe(bytes[position])) after the JSON value (trailing data?)")
    }
    return value
  }

  private mutating func readValue() throws(JSONParseError) -> JSONValue {
    var frames: [Frame] = []
    reading: while true {
      skipWhitespace()
      guard position < end else { throw endOfInput() }
      var value: JSONValue
      switch bytes[position] {
      case UInt8(ascii: "{"):
        try checkDepth(frames.count)
        position += 1
        skipWhitespace()
        if position < end, bytes[position] == UInt8(ascii: "}") {
          position += 1
          value = .object(JSONObject())
        } else {
          let key = try readKey(afterComma: false)
          frames.append(Frame(isObject: true, start: members.count, key: key))
          continue reading
        }
      case UInt8(ascii: "["):
        try checkDepth(frames.count)
        position += 1
        skipWhitespace()
        if position < end, bytes[position] == UInt8(ascii: "]") {
          position += 1
          value = .array([])
        } else {
          frames.append(Frame(isObject: false, start: elements.count))
          continue reading
        }
      case UInt8(ascii: "\""):
        value = .string(try readString())
      case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
        value = try readNumber()
      case UInt8(ascii: "t"):
        try readLiteral("true")
        value = .bool(true)
      case UInt8(ascii: "f"):
        try readLiteral("false")
        value = .bool(false)
      case UInt8(ascii: "n"):
        try readLiteral("null")
        value = .null
      case 0xEF where position == 0 && end >= 3 && bytes[1] == 0xBB && bytes[2] == 0xBF:
        throw failure("a byte order mark is not allowed before JSON text")
      case let byte:
        throw failure("expected a JSON value, found \(describe(byte))")
      }

      // Hand the finished value to its container, closing every container that ends here.
      while !frames.isEmpty {
        let top = frames.count - 1
        skipWhitespace()
        guard position < end else { throw endOfInput() }
        let byte = bytes[position]
        if frames[top].isObject {
          if members.count == members.capacity { try checkGrowth(members.capacity &* 2 &* Cost.member) }
          addMember(consume value, to: &frames[top])
          if byte == UInt8(ascii: ",") {
            position += 1
            skipWhitespace()
            frames[top].key = try readKey(afterComma: true)
            continue reading
          }
          guard byte == UInt8(ascii: "}") else {
            throw failure("expected ',' or '}' after an object member, found \(describe(byte))")
          }
          position += 1
          let closed = frames.removeLast()
          if let positions = closed.positions { indexed -= positions.count }
          try charge((members.count - closed.start) &* Cost.member &+ Cost.allocation)
          value = .object(JSONObject(uniqueMembers: moveTop(of: &members, from: closed.start)))
        } else {
          if elements.count == elements.capacity { try checkGrowth(elements.capacity &* 2 &* Cost.element) }
          elements.append(consume value)
          if byte == UInt8(ascii: ",") {
            position += 1
            skipWhitespace()
            if position < end, bytes[position] == UInt8(ascii: "]") {
              throw failure("trailing comma before ']'")
            }
            continue reading
          }
          guard byte == UInt8(ascii: "]") else {
            throw failure("expected ',' or ']' after an array element, found \(describe(byte))")
          }
          position += 1
          let start = frames.removeLast().start
          try charge((elements.count - start) &* Cost.element &+ Cost.allocation)
          value = .array(moveTop(of: &elements, from: start))
        }
      }
      return value
    }
  }

  /// Moves `stack[start...]` into a new array of exactly that size. Moving, not copying, spares a
  /// retain and a release per child: each slot is swapped with a placeholder that costs nothing
  /// to destroy before the stack shrinks.
  @inline(__always)
  private func moveTop<Element: JSONPlaceholder>(of stack: inout [Element], from start: Int)
    -> [Element]
  {
    var moved: [Element] = []
    moved.reserveCapacity(stack.count - start)
    for index in start..<stack.count {
      var element = Element.placeholder
      swap(&element, &stack[index])
      moved.append(consume element)
    }
    if start == 0 && stack.capacity > 4096 {
      // A large container emptied the stack: give its memory back rather than hold it to the end.
      stack = []
    } else {
      stack.removeSubrange(start...)
    }
    return moved
  }

  /// Adds the member `frame.key: value`; a repeated key replaces the earlier value in its place.
  private mutating func addMember(_ value: consuming JSONValue, to frame: inout Frame) {
    let count = members.count - frame.start
    if frame.positions == nil {
      if count < 32 {
        // Byte equality, as JSONObject's own lookups (and Kubernetes, in Go) use.
        for index in frame.start..<members.count where JSONObject.sameKey(members[index].key, frame.key) {
          members[index].value = value
          return
        }
        members.append(JSONObject.Member(key: takeKey(&frame), value: value))
        return
      }
      var built = [ByteKey: Int](minimumCapacity: count * 2)
      for index in frame.start..<members.count { built[ByteKey(members[index].key)] = index }
      frame.positions = built
      indexed += count
    }
    let key = ByteKey(frame.key)
    if let index = frame.positions![key] {
      members[index].value = value
    } else {
      frame.positions![key] = members.count
      indexed += 1
      members.append(JSONObject.Member(key: takeKey(&frame), value: value))
    }
  }

  /// Moves the key out of `frame` (it is read afresh for the next member) without a retain.
  private func takeKey(_ frame: inout Frame) -> String {
    var key = ""
    swap(&key, &frame.key)
    return key
  }

  /// Fails before a container is opened, so the offset is that of the offending bracket.
  private func checkDepth(_ open: Int) throws(JSONParseError) {
    guard open < maxDepth else { throw failure("nesting deeper than \(maxDepth)") }
  }

  /// Reads `"key" :` with the cursor on the opening quote.
  private mutating func readKey(afterComma: Bool) throws(JSONParseError) -> String {
    guard position < end else { throw endOfInput() }
    guard bytes[position] == UInt8(ascii: "\"") else {
      if afterComma && bytes[position] == UInt8(ascii: "}") {
        throw failure("trailing comma before '}'")
      }
      throw failure("expected a string key, found \(describe(bytes[position]))")
    }
    let key = try readString()
    skipWhitespace()
    guard position < end else { throw endOfInput() }
    guard bytes[position] == UInt8(ascii: ":") else {
      throw failure("expected ':' after an object key, found \(describe(bytes[position]))")
    }
    position += 1
    return key
  }

  /// Reads a string with the cursor on its opening quote.
  private mutating func readString() throws(JSONParseError) -> String {
    let start = position + 1
    var index = start
    // Fast path: no escapes, so the string is a slice of the input.
    while true {
      index = skipPlainASCII(from: index)
      guard index < end else { break }
      let byte = bytes[index]
      if byte == UInt8(ascii: "\"") {
        position = index + 1
        if index - start > Cost.inlineString { try charge(index - start + Cost.allocation) }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
      }
      guard byte >= 0x80 else { break }
      index = try skipUTF8Sequence(at: index)
    }

    scratch.removeAll(keepingCapacity: true)
    scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
    while index < end {
      let byte = bytes[index]
      switch byte {
      case UInt8(ascii: "\""):
        position = index + 1
        if scratch.count > Cost.inlineString { try charge(scratch.count + Cost.allocation) }
        return String(decoding: scratch, as: UTF8.self)
      case UInt8(ascii: "\\"):
        index = try readEscape(at: index)
      case 0..<0x20:
        throw JSONParseError(
          offset: index, message: "unescaped control character \(hex(byte)) in a string (escape it)"
        )
      case 0x80...:
        let next = try skipUTF8Sequence(at: index)
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[index..<next]))
        index = next
      default:
        let runEnd = skipPlainASCII(from: index)
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[index..<runEnd]))
        index = runEnd
      }
    }
    position = end
    throw endOfInput()
  }

  /// The end of the run of plain ASCII string bytes from `start`.
  private func skipPlainASCII(from start: Int) -> Int {
    JSONByteScan.firstSpecial(in: bytes, from: start, stopAtNonASCII: true)
  }

  /// Decodes the escape at `index` (a backslash) into `scratch`; returns the index after it.
  private mutating func readEscape(at index: Int) throws(JSONParseError) -> Int {
    guard index + 1 < end else { throw endOfInput() }
    let decoded: UInt8
    switch bytes[index + 1] {
    case UInt8(ascii: "\""): decoded = UInt8(ascii: "\"")
    case UInt8(ascii: "\\"): decoded = UInt8(ascii: "\\")
    case UInt8(ascii: "/"): decoded = UInt8(ascii: "/")
    case UInt8(ascii: "b"): decoded = 0x08
    case UInt8(ascii: "f"): decoded = 0x0C
    case UInt8(ascii: "n"): decoded = 0x0A
    case UInt8(ascii: "r"): decoded = 0x0D
    case UInt8(ascii: "t"): decoded = 0x09
    case UInt8(ascii: "u"):
      let unit = try readHex4(at: index + 2)
      var scalar = UInt32(unit)
      var next = index + 6
      if (0xD800...0xDBFF).contains(unit) {
        // A high surrogate counts only with a low one right after it; alone it is U+FFFD.
        if next + 1 < end, bytes[next] == UInt8(ascii: "\\"), bytes[next + 1] == UInt8(ascii: "u"),
          let low = try? readHex4(at: next + 2), (0xDC00...0xDFFF).contains(low)
        {
          scalar = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
          next += 6
        } else {
          scalar = 0xFFFD
        }
      } else if (0xDC00...0xDFFF).contains(unit) {
        scalar = 0xFFFD
      }
      appendUTF8(scalar)
      return next
    case let other:
      throw JSONParseError(
        offset: index, message: "invalid escape '\\\(describeBare(other))' in a string")
    }
    scratch.append(decoded)
    return index + 2
  }

  private func readHex4(at index: Int) throws(JSONParseError) -> UInt16 {
    var unit: UInt16 = 0
    for offset in index..<index + 4 {
      guard offset < end else { throw endOfInput() }
      let byte = bytes[offset]
      let digit: UInt8
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
      case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
      default:
        throw JSONParseError(
          offset: offset,
          message: "invalid \\u escape: expected 4 hex digits, found \(describe(byte))")
      }
      unit = unit << 4 | UInt16(digit)
    }
    return unit
  }

  private mutating func appendUTF8(_ scalar: UInt32) {
    switch scalar {
    case 0..<0x80:
      scratch.append(UInt8(scalar))
    case 0x80..<0x800:
      scratch.append(0xC0 | UInt8(scalar >> 6))
      scratch.append(0x80 | UInt8(scalar & 0x3F))
    case 0x800..<0x10000:
      scratch.append(0xE0 | UInt8(scalar >> 12))
      scratch.append(0x80 | UInt8((scalar >> 6) & 0x3F))
      scratch.append(0x80 | UInt8(scalar & 0x3F))
    default:
      scratch.append(0xF0 | UInt8(scalar >> 18))
      scratch.append(0x80 | UInt8((scalar >> 12) & 0x3F))
      scratch.append(0x80 | UInt8((scalar >> 6) & 0x3F))
      scratch.append(0x80 | UInt8(scalar & 0x3F))
    }
  }

  /// Checks the multi-byte UTF-8 sequence starting at `index` (Unicode 15, table 3-7: no
  /// overlongs, no surrogates, nothing above U+10FFFF); returns the index after it.
  private func skipUTF8Sequence(at index: Int) throws(JSONParseError) -> Int {
    var low: UInt8 = 0x80
    var high: UInt8 = 0xBF
    let continuations: Int
    switch bytes[index] {
    case 0xC2...0xDF: continuations = 1
    case 0xE0:
      continuations = 2
      low = 0xA0
    case 0xE1...0xEC, 0xEE...0xEF: continuations = 2
    case 0xED:
      continuations = 2
      high = 0x9F
    case 0xF0:
      continuations = 3
      low = 0x90
    case 0xF1...0xF3: continuations = 3
    case 0xF4:
      continuations = 3
      high = 0x8F
    default: throw JSONParseError(offset: index, message: "invalid UTF-8")
    }
    for offset in index + 1...index + continuations {
      guard offset < end else { throw endOfInput() }
      let byte = bytes[offset]
      let (min, max) = offset == index + 1 ? (low, high) : (0x80, 0xBF)
      guard byte >= min && byte <= max else {
        throw JSONParseError(offset: index, message: "invalid UTF-8")
      }
    }
    return index + continuations + 1
  }

  /// Reads a number; its text is kept as written, so `1.0` and `1e400` survive unchanged.
  private mutating func readNumber() throws(JSONParseError) -> JSONValue {
    let start = position
    var index = position
    if bytes[index] == UInt8(ascii: "-") { index += 1 }
    guard index < end else { throw endOfInput() }
    if bytes[index] == UInt8(ascii: "0") {
      index += 1
      if index < end, isDigit(bytes[index]) {
        throw JSONParseError(offset: index - 1, message: "leading zeros are not allowed in numbers")
      }
    } else if isDigit(bytes[index]) {
      index = skipDigits(from: index)
    } else {
      throw JSONParseError(
        offset: index, message: "expected a digit after '-', found \(describe(bytes[index]))")
    }
    if index < end, bytes[index] == UInt8(ascii: ".") {
      index += 1
      guard index < end else { throw endOfInput() }
      guard isDigit(bytes[index]) else {
        throw JSONParseError(
          offset: index, message: "expected a digit after '.', found \(describe(bytes[index]))")
      }
      index = skipDigits(from: index)
    }
    if index < end, bytes[index] | 0x20 == UInt8(ascii: "e") {
      index += 1
      if index < end, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
        index += 1
      }
      guard index < end else { throw endOfInput() }
      guard isDigit(bytes[index]) else {
        throw JSONParseError(
          offset: index,
          message: "expected a digit in the exponent, found \(describe(bytes[index]))")
      }
      index = skipDigits(from: index)
    }
    position = index
    if index - start > Cost.inlineString { try charge(index - start + Cost.allocation) }
    return .number(
      String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))
  }

  private func skipDigits(from index: Int) -> Int {
    var index = index
    while index < end, isDigit(bytes[index]) { index += 1 }
    return index
  }

  private func isDigit(_ byte: UInt8) -> Bool {
    byte &- UInt8(ascii: "0") < 10
  }

  private mutating func readLiteral(_ literal: StaticString) throws(JSONParseError) {
    let expected = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
    for (offset, byte) in expected.enumerated() {
      guard position + offset < end else { throw endOfInput() }
      guard bytes[position + offset] == byte else {
        throw JSONParseError(
          offset: position + offset, message: "invalid literal (expected '\(literal)')")
      }
    }
    position += expected.count
  }

  private mutating func skipWhitespace() {
    var index = position
    defer { position = index }
    while index < end {
      switch bytes[index] {
      // Indentation comes in runs of spaces.
      case 0x20: index = JSONByteScan.firstNonSpace(in: bytes, from: index + 1)
      case 0x0A, 0x0D, 0x09: index += 1
      default: return
      }
    }
  }

  private func failure(_ message: String) -> JSONParseError {
    JSONParseError(offset: position, message: message)
  }

  private func endOfInput() -> JSONParseError {
    JSONParseError(offset: end, message: "unexpected end of input (truncated?)")
  }

  /// A byte as an error message shows it: `'x'` when printable, else `byte 0xNN`.
  private func describe(_ byte: UInt8) -> String {
    (0x21...0x7E).contains(byte) ? "'\(describeBare(byte))'" : "byte \(hex(byte))"
  }

  private func describeBare(_ byte: UInt8) -> String {
    (0x21...0x7E).contains(byte) ? String(UnicodeScalar(byte)) : hex(byte)
  }

  private func hex(_ byte: UInt8) -> String {
    let digits = String(byte, radix: 16, uppercase: true)
    return byte < 0x10 ? "0x0\(digits)" : "0x\(digits)"
  }
}

/// A value that costs nothing to destroy, to fill slots whose contents were moved out.
private protocol JSONPlaceholder {
  static var placeholder: Self { get }
}

extension JSONValue: JSONPlaceholder {
  static var placeholder: JSONValue { .null }
}

extension JSONObject.Member: JSONPlaceholder {
  static var placeholder: JSONObject.Member { JSONObject.Member(key: "", value: .null) }
}
