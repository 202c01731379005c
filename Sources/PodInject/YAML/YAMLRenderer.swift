/// Writes JSON values as block-style YAML in kubectl's layout (sequences at their key's indent),
/// choosing for each string the plainest style that reads back as the same string.
struct YAMLRenderer {
  private(set) var output = ""

  /// libyaml only recognises a key shorter than 1024 characters without `?`; stay well below.
  private static let maxImplicitKeyBytes = 1000

  /// Writes one document's content (without `---`), ending with a newline.
  mutating func writeDocument(_ value: JSONValue) {
    writeNode(value, indent: 0, startsLine: true)
  }

  /// Writes a value whose line is already started (after `key:`, `-`, or at a line start).
  private mutating func writeNode(_ value: JSONValue, indent: Int, startsLine: Bool) {
    switch value {
    case .object(let object) where !object.isEmpty:
      if !startsLine { output += "\n" }
      writeMapping(object, indent: indent, firstLineStarted: false)
    case .array(let array) where !array.isEmpty:
      if !startsLine { output += "\n" }
      writeSequence(array, indent: indent, firstLineStarted: false)
    default:
      if !startsLine { output += " " }
      writeScalar(value, contentIndent: indent + 2)
    }
  }

  private mutating func writeMapping(_ object: JSONObject, indent: Int, firstLineStarted: Bool) {
    for (position, member) in object.members.enumerated() {
      if position > 0 || !firstLineStarted { pad(indent) }
      let key = Self.keyText(member.key)
      if key.utf8.count > Self.maxImplicitKeyBytes {
        output += "? " + key + "\n"
        pad(indent)
        output += ":"
      } else {
        output += key + ":"
      }
      switch member.value {
      case .object(let child) where !child.isEmpty:
        output += "\n"
        writeMapping(child, indent: indent + 2, firstLineStarted: false)
      case .array(let child) where !child.isEmpty:
        output += "\n"
        writeSequence(child, indent: indent, firstLineStarted: false)
      default:
        output += " "
        writeScalar(member.value, contentIndent: indent + 2)
      }
    }
  }

  private mutating func writeSequence(_ array: [JSONValue], indent: Int, firstLineStarted: Bool) {
    for (position, item) in array.enumerated() {
      if position > 0 || !firstLineStarted { pad(indent) }
      output += "- "
      switch item {
      case .object(let child) where !child.isEmpty:
        writeMapping(child, indent: indent + 2, firstLineStarted: true)
      case .array(let child) where !child.isEmpty:
        writeSequence(child, indent: indent + 2, firstLineStarted: true)
      default:
        writeScalar(item, contentIndent: indent + 2)
      }
    }
  }

  /// Writes a scalar or an empty collection and ends the line; block scalar lines use `contentIndent`.
  private mutating func writeScalar(_ value: JSONValue, contentIndent: Int) {
    switch value {
    case .null: output += "null\n"
    case .bool(let flag): output += flag ? "true\n" : "false\n"
    case .number(let text): output += text + "\n"
    case .object: output += "{}\n"
    case .array: output += "[]\n"
    case .string(let text):
      switch YAMLStringStyle(for: text, allowsLiteral: true) {
      case .plain: output += text + "\n"
      case .doubleQuoted: output += Self.doubleQuoted(text) + "\n"
      case .literal: writeLiteral(text, indent: contentIndent)
      }
    }
  }

  /// Writes a `|` block scalar; the chomping indicator restores the exact trailing newlines.
  private mutating func writeLiteral(_ text: String, indent: Int) {
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    let trailingNewlines = text.utf8.reversed().prefix(while: { $0 == UInt8(ascii: "\n") }).count
    switch trailingNewlines {
    case 0: output += "|-\n"
    case 1: output += "|\n"
    default: output += "|+\n"
    }
    if trailingNewlines > 0 { lines.removeLast() }
    for line in lines {
      if !line.isEmpty {
        pad(indent)
        output += line
      }
      output += "\n"
    }
  }

  private static func keyText(_ key: String) -> String {
    YAMLStringStyle(for: key, allowsLiteral: false) == .plain ? key : doubleQuoted(key)
  }

  /// A double-quoted scalar, escaping what YAML would not read back verbatim.
  static func doubleQuoted(_ text: String) -> String {
    var quoted = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": quoted += "\\\""
      case "\\": quoted += "\\\\"
      case "\n": quoted += "\\n"
      case "\t": quoted += "\\t"
      case "\r": quoted += "\\r"
      case "\0": quoted += "\\0"
      case "\u{2028}": quoted += "\\L"
      case "\u{2029}": quoted += "\\P"
      default:
        if YAMLStringStyle.needsEscape(scalar) {
          let hex = String(scalar.value, radix: 16, uppercase: true)
          quoted += scalar.value < 0x100 ? "\\x" : "\\u"
          quoted += String(repeating: "0", count: (scalar.value < 0x100 ? 2 : 4) - hex.count) + hex
        } else {
          quoted.unicodeScalars.append(scalar)
        }
      }
    }
    return quoted + "\""
  }

  private mutating func pad(_ indent: Int) {
    output += String(repeating: " ", count: indent)
  }
}

/// How a string is written so that any YAML 1.1 or 1.2 reader (go-yaml, PyYAML, libyaml) reads it
/// back as the same string.
enum YAMLStringStyle: Equatable {
  case plain
  /// A `|` block scalar, for readable multi-line text.
  case literal
  case doubleQuoted

  init(for text: String, allowsLiteral: Bool) {
    if text.utf8.contains(UInt8(ascii: "\n")) {
      self = allowsLiteral && Self.fitsLiteral(text) ? .literal : .doubleQuoted
    } else {
      self = Self.fitsPlain(text) ? .plain : .doubleQuoted
    }
  }

  /// Characters YAML does not carry verbatim (non-printable ones, and line breaks other than `\n`).
  static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.value {
    case 0x09, 0x0A: return false
    case 0..<0x20, 0x7F...0x9F, 0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF: return true
    default: return false
    }
  }

  private static func fitsLiteral(_ text: String) -> Bool {
    if text.unicodeScalars.contains(where: needsEscape) { return false }
    // The first non-empty line sets the block's indentation, so it must not start with blanks.
    guard let firstContent = text.split(separator: "\n").first else { return false }
    return firstContent.first != " " && firstContent.first != "\t"
  }

  private static func fitsPlain(_ text: String) -> Bool {
    let bytes = Array(text.utf8)
    guard let first = bytes.first, let last = bytes.last else { return false }
    if first == UInt8(ascii: " ") || last == UInt8(ascii: " ") || last == UInt8(ascii: ":") {
      return false
    }
    switch first {
    case UInt8(ascii: "-"), UInt8(ascii: "?"), UInt8(ascii: ":"):
      // Allowed when followed by a non-blank (`--port=80`); `---` could read as a document marker.
      if bytes.count < 2 || bytes[1] == UInt8(ascii: " ") { return false }
      if bytes.starts(with: "---".utf8) { return false }
    case UInt8(ascii: ","), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "{"),
      UInt8(ascii: "}"), UInt8(ascii: "#"), UInt8(ascii: "&"), UInt8(ascii: "*"),
      UInt8(ascii: "!"), UInt8(ascii: "|"), UInt8(ascii: ">"), UInt8(ascii: "'"),
      UInt8(ascii: "\""), UInt8(ascii: "%"), UInt8(ascii: "@"), UInt8(ascii: "`"):
      return false
    case UInt8(ascii: "0")...UInt8(ascii: "9"):
      // Timestamps and sexagesimal numbers (`2024-01-02`, `1:30`) are not strings to every reader.
      if bytes.contains(UInt8(ascii: "-")) || bytes.contains(UInt8(ascii: ":")) { return false }
    default:
      break
    }
    if bytes.starts(with: "...".utf8) { return false }
    for (index, byte) in bytes.enumerated() {
      switch byte {
      case UInt8(ascii: "\t"): return false
      case UInt8(ascii: ":"): if bytes[index + 1] == UInt8(ascii: " ") { return false }
      case UInt8(ascii: "#"): if bytes[index - 1] == UInt8(ascii: " ") { return false }
      default: break
      }
    }
    if text.unicodeScalars.contains(where: needsEscape) { return false }
    // `<<` is a merge key and `=` PyYAML's value tag.
    if text == "<<" || text == "=" { return false }
    return ResolvedScalar(plain: text) == .string
  }
}
