extension Template {
  /// Parses `text`, refusing anything outside the supported language with a message that names the
  /// column (and the line, for text of several lines) where the problem is.
  public static func parse(_ text: String) throws(RuleSyntaxError) -> Template {
    // Most strings in a config hold no action: one scan, no parser.
    guard TemplateParser.containsActionOpener(text) else {
      return Template(text: text, segments: [.text(text)], isLiteral: true)
    }
    var parser = TemplateParser(text)
    return Template(text: text, segments: try parser.parseSegments(), isLiteral: false)
  }
}

/// A hand-written recursive-descent parser over the template's UTF-8 bytes (no regex, no Foundation: it
/// runs for every templated string when the config is loaded, at every admission).
///
/// Its recursion (parentheses) and the expressions it builds (each `default` wraps one) are at most
/// `maxNesting` deep, so that no template can overflow the stack: not while parsing, nor while
/// rendering, comparing or freeing what was parsed.
struct TemplateParser {
  /// The deepest nesting of parentheses, and the longest chain of defaults, a template may have; Go's
  /// own parser allows 10,000 on a much larger stack, and real templates use two or three.
  static let maxNesting = 64

  private let bytes: [UInt8]
  private var pos = 0
  /// Where the current action's `{{` is, for "unclosed action" errors.
  private var actionStart = 0
  /// Open parentheses around the position being parsed.
  private var nesting = 0

  init(_ text: String) {
    bytes = Array(text.utf8)
  }

  /// Whether `text` holds `{{`. Every string of every injected item is asked, so it scans the bytes
  /// in place rather than through String's per-byte iterator.
  static func containsActionOpener(_ text: String) -> Bool {
    func scan(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
      guard bytes.count > 1 else { return false }
      var index = 1
      while index < bytes.count {
        // Step two at a time: a `{{` always has one of its braces at an odd offset.
        if bytes[index] == Byte.openBrace {
          if bytes[index - 1] == Byte.openBrace { return true }
          if index + 1 < bytes.count, bytes[index + 1] == Byte.openBrace { return true }
        }
        index += 2
      }
      return false
    }
    if let found = text.utf8.withContiguousStorageIfAvailable(scan) { return found }
    return Array(text.utf8).withUnsafeBufferPointer(scan)
  }

  mutating func parseSegments() throws(RuleSyntaxError) -> [Template.Segment] {
    var segments: [Template.Segment] = []
    var textStart = 0
    var trimLeading = false
    while let open = findActionOpener(from: pos) {
      actionStart = open
      pos = open + 2
      // As in Go, "{{-" trims only when followed by a space; "{{-3}}" would be a number.
      var trimTrailing = false
      if pos + 1 < bytes.count, bytes[pos] == Byte.minus, Self.isSpace(bytes[pos + 1]) {
        trimTrailing = true
        pos += 1
      }
      appendText(
        textStart..<open, trimLeading: trimLeading, trimTrailing: trimTrailing, to: &segments)
      skipSpaces()
      if startsWith("/*") {
        try skipComment()
      } else {
        segments.append(.action(try parsePipeline()))
      }
      trimLeading = try parseClose()
      textStart = pos
    }
    appendText(
      textStart..<bytes.count, trimLeading: trimLeading, trimTrailing: false, to: &segments)
    return segments
  }

  // MARK: Actions

  /// PIPELINE := COMMAND { '|' 'default' STRING }
  private mutating func parsePipeline() throws(RuleSyntaxError) -> Template.Expression {
    var expression = try parseCommand()
    while true {
      skipSpaces()
      guard peek == Byte.bar else { return expression }
      pos += 1
      skipSpaces()
      let namePos = pos
      guard let name = parseWord() else {
        if atEnd { throw unclosedAction() }
        throw error(
          at: namePos,
          "missing function after '|'; only default can be piped, as in | default \"text\"")
      }
      guard name == "default" else { throw unknownFunction(name, at: namePos) }
      try requireTerminator()
      skipSpaces()
      guard let fallback = try parseStringLiteral() else {
        if atEnd { throw unclosedAction() }
        throw error(at: pos, "default needs a quoted string, as in | default \"text\"")
      }
      expression = try defaulted(expression, fallback, at: namePos)
    }
  }

  /// `expression` with a default, unless that makes it nest deeper than `maxNesting`.
  private func defaulted(_ expression: Template.Expression, _ fallback: String, at position: Int)
    throws(RuleSyntaxError) -> Template.Expression
  {
    let wrapped = Template.Expression.defaulted(expression, fallback)
    guard wrapped.depth + nesting <= Self.maxNesting else { throw tooDeep(at: position) }
    return wrapped
  }

  private func tooDeep(at position: Int) -> RuleSyntaxError {
    error(at: position, "template nested deeper than \(Self.maxNesting)")
  }

  /// COMMAND := FIELDPATH | STRING | '(' PIPELINE ')' | 'index' OPERAND KEY... | 'default' STRING OPERAND
  private mutating func parseCommand() throws(RuleSyntaxError) -> Template.Expression {
    skipSpaces()
    guard let c = peek else { throw unclosedAction() }
    switch c {
    case Byte.dot:
      return .path(try parseFieldPath(after: []))
    case Byte.doubleQuote, Byte.backQuote:
      let text = try parseStringLiteral() ?? ""
      try requireTerminator()
      return .literal(text)
    case Byte.openParen:
      return try parseParenthesized()
    case Byte.closeBrace where peek(at: pos + 1) == Byte.closeBrace:
      throw error(at: pos, "empty action; write a field path such as .metadata.name")
    case Byte.minus where isAtRightTrim:
      throw error(at: pos, "empty action; write a field path such as .metadata.name")
    case Byte.bar:
      throw error(at: pos, "missing value before '|'")
    case Byte.dollar:
      throw error(at: pos, "variables are not supported; write a field path such as .metadata.name")
    case Byte.minus, UInt8(ascii: "0")...UInt8(ascii: "9"):
      throw error(at: pos, "numbers are not supported as values; quote them as text, as in \"3\"")
    default:
      let namePos = pos
      guard let name = parseWord() else {
        throw error(at: pos, "unexpected \(describe(at: pos)) in action")
      }
      switch name {
      case "index": return try parseIndex(at: namePos)
      case "default": return try parsePrefixDefault(at: namePos)
      default: throw unknownFunction(name, at: namePos)
      }
    }
  }

  /// `index BASE KEY...`: BASE a field path (or a parenthesized one), KEY a quoted string or an array index.
  private mutating func parseIndex(at namePos: Int) throws(RuleSyntaxError) -> Template.Expression {
    try requireTerminator()
    skipSpaces()
    let basePos = pos
    var steps: [TemplatePath.Step]
    switch peek {
    case Byte.dot?:
      steps = try parseFieldPath(after: []).steps
    case Byte.openParen?:
      guard case .path(let path) = try parseParenthesized() else {
        throw error(at: basePos, "index needs a field path to look into, not a text")
      }
      steps = path.steps
    case nil:
      throw unclosedAction()
    default:
      if isAtCommandEnd {
        throw error(
          at: namePos,
          "index needs a field path and keys, as in index .metadata.annotations \"example.com/team\""
        )
      }
      throw error(
        at: basePos,
        "index needs a field path to look into, as in index .metadata.annotations \"example.com/team\""
      )
    }
    while true {
      skipSpaces()
      guard let c = peek else { throw unclosedAction() }
      switch c {
      case Byte.doubleQuote, Byte.backQuote:
        steps.append(.key(try parseStringLiteral() ?? ""))
      case UInt8(ascii: "0")...UInt8(ascii: "9"):
        steps.append(.index(try parseArrayIndex()))
      case Byte.minus where !isAtRightTrim:
        throw error(at: pos, "an array index must be a non-negative integer")
      default:
        if isAtCommandEnd { return .path(TemplatePath(steps: steps)) }
        throw error(
          at: pos,
          "index keys must be quoted strings or non-negative integers, not \(describe(at: pos))")
      }
      try requireTerminator()
    }
  }

  /// Sprig's prefix form `default "text" OPERAND`, as Helm charts write it.
  private mutating func parsePrefixDefault(at namePos: Int) throws(RuleSyntaxError)
    -> Template.Expression
  {
    try requireTerminator()
    skipSpaces()
    guard let fallback = try parseStringLiteral() else {
      if atEnd { throw unclosedAction() }
      throw error(
        at: pos, "default needs a quoted string first, as in default \"text\" .metadata.labels.app")
    }
    try requireTerminator()
    skipSpaces()
    switch peek {
    case Byte.dot?:
      return try defaulted(.path(try parseFieldPath(after: [])), fallback, at: namePos)
    case Byte.openParen?:
      return try defaulted(try parseParenthesized(), fallback, at: namePos)
    case Byte.doubleQuote?, Byte.backQuote?:
      let text = try parseStringLiteral() ?? ""
      try requireTerminator()
      return try defaulted(.literal(text), fallback, at: namePos)
    case nil:
      throw unclosedAction()
    default:
      if isAtCommandEnd {
        throw error(
          at: namePos,
          "default needs a value after the text, as in default \"text\" .metadata.labels.app")
      }
      if parseWordAhead() == "index" {
        throw error(
          at: pos,
          "put index in parentheses here, as in default \"text\" (index .metadata.labels \"app\")")
      }
      throw error(at: pos, "default needs a field path after the text, not \(describe(at: pos))")
    }
  }

  /// `( PIPELINE )`, optionally followed by fields, as in `(index .spec.containers 0).name`.
  private mutating func parseParenthesized() throws(RuleSyntaxError) -> Template.Expression {
    let open = pos
    guard nesting < Self.maxNesting else { throw tooDeep(at: open) }
    nesting += 1
    defer { nesting -= 1 }
    pos += 1
    let inner = try parsePipeline()
    skipSpaces()
    guard peek == Byte.closeParen else {
      if atEnd { throw unclosedAction() }
      throw error(
        at: pos,
        "expected ')' to close the '(' at \(location(of: open)), found \(describe(at: pos))")
    }
    pos += 1
    if peek == Byte.dot {
      guard case .path(let path) = inner else {
        throw error(at: pos, "only a field path can be followed by more fields")
      }
      return .path(try parseFieldPath(after: path.steps))
    }
    try requireTerminator()
    return inner
  }

  /// `.` (the root, when nothing comes before), or `.name` repeated; names are Go identifiers.
  private mutating func parseFieldPath(after base: [TemplatePath.Step]) throws(RuleSyntaxError)
    -> TemplatePath
  {
    var steps = base
    pos += 1
    if base.isEmpty && isAtTerminator { return TemplatePath(steps: []) }
    while true {
      let nameStart = pos
      while let (scalar, length) = scalar(at: pos), Self.isIdentifierScalar(scalar),
        pos > nameStart || !Self.isDigit(scalar)
      {
        pos += length
      }
      if pos == nameStart {
        if let (scalar, _) = scalar(at: pos), Self.isDigit(scalar) {
          throw error(
            at: pos,
            "a field name cannot start with a digit; use index for array elements and such keys, as in index .spec.containers 0"
          )
        }
        if isAtTerminator || peek == Byte.dot {
          throw error(at: pos, "missing field name after '.'")
        }
        throw badFieldCharacter()
      }
      steps.append(.key(String(decoding: bytes[nameStart..<pos], as: UTF8.self)))
      if peek == Byte.dot {
        pos += 1
        continue
      }
      if isAtTerminator { return TemplatePath(steps: steps) }
      if let c = peek, c == Byte.doubleQuote || c == Byte.backQuote || c == Byte.openParen {
        throw error(at: pos, "unexpected \(describe(at: pos)); separate arguments with spaces")
      }
      throw badFieldCharacter()
    }
  }

  private func badFieldCharacter() -> RuleSyntaxError {
    error(
      at: pos,
      "\(describe(at: pos)) cannot appear in a field name; use index for such keys, as in index .metadata.annotations \"example.com/team\""
    )
  }

  /// A non-negative decimal integer without leading zeros (Go would read `010` as octal).
  private mutating func parseArrayIndex() throws(RuleSyntaxError) -> Int {
    let start = pos
    var value = 0
    while let c = peek, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
      if pos - start >= 9 { throw error(at: start, "array index is too large") }
      value = value * 10 + Int(c - UInt8(ascii: "0"))
      pos += 1
    }
    if pos - start > 1 && bytes[start] == UInt8(ascii: "0") {
      throw error(at: start, "an array index must be written without leading zeros")
    }
    return value
  }

  /// A Go string literal: `"..."` with escapes, or a raw `` `...` ``; nil when none starts here.
  private mutating func parseStringLiteral() throws(RuleSyntaxError) -> String? {
    guard let quote = peek, quote == Byte.doubleQuote || quote == Byte.backQuote else { return nil }
    let start = pos
    pos += 1
    if quote == Byte.backQuote {
      guard let end = bytes[pos...].firstIndex(of: Byte.backQuote) else {
        throw error(at: start, "unterminated raw string")
      }
      defer { pos = end + 1 }
      return String(decoding: bytes[pos..<end], as: UTF8.self)
    }
    // Without escapes (the usual case) the literal is a slice of the template.
    var plainEnd = pos
    while plainEnd < bytes.endIndex, bytes[plainEnd] != Byte.doubleQuote, bytes[plainEnd] != Byte.backslash,
      bytes[plainEnd] != Byte.newline
    {
      plainEnd += 1
    }
    if plainEnd < bytes.endIndex && bytes[plainEnd] == Byte.doubleQuote {
      defer { pos = plainEnd + 1 }
      return String(decoding: bytes[pos..<plainEnd], as: UTF8.self)
    }
    var out = Array(bytes[pos..<plainEnd])
    pos = plainEnd
    while let c = peek {
      switch c {
      case Byte.doubleQuote:
        pos += 1
        return String(decoding: out, as: UTF8.self)
      case Byte.newline:
        throw error(at: start, "unterminated quoted string")
      case Byte.backslash:
        try parseEscape(into: &out)
      default:
        out.append(c)
        pos += 1
      }
    }
    throw error(at: start, "unterminated quoted string")
  }

  /// One escape sequence of a Go interpreted string; `\x` and octal escapes are refused because they can
  /// spell bytes that are not UTF-8.
  private mutating func parseEscape(into out: inout [UInt8]) throws(RuleSyntaxError) {
    let start = pos
    guard let c = peek(at: pos + 1) else { throw error(at: start, "unterminated quoted string") }
    pos += 2
    switch c {
    case UInt8(ascii: "n"): out.append(0x0A)
    case UInt8(ascii: "t"): out.append(0x09)
    case UInt8(ascii: "r"): out.append(0x0D)
    case UInt8(ascii: "a"): out.append(0x07)
    case UInt8(ascii: "b"): out.append(0x08)
    case UInt8(ascii: "f"): out.append(0x0C)
    case UInt8(ascii: "v"): out.append(0x0B)
    case Byte.backslash, Byte.doubleQuote: out.append(c)
    case UInt8(ascii: "u"), UInt8(ascii: "U"):
      let digits = c == UInt8(ascii: "u") ? 4 : 8
      var value: UInt32 = 0
      for _ in 0..<digits {
        guard let d = peek, let nibble = Self.hexValue(d) else {
          throw error(
            at: start, "\\\(Character(Unicode.Scalar(c))) needs \(digits) hexadecimal digits")
        }
        value = value << 4 | nibble
        pos += 1
      }
      guard let scalar = Unicode.Scalar(value) else {
        throw error(at: start, "escape sequence is not a valid Unicode code point")
      }
      UTF8.encode(scalar) { out.append($0) }
    default:
      let shown = scalar(at: start + 1).map { String(Character($0.0)) } ?? ""
      throw error(
        at: start, "unknown escape sequence '\\\(shown)'; use \\\", \\\\, \\n, \\t, \\r or \\u")
    }
  }

  /// `{{/* ... */}}`: Go's comment, which renders nothing.
  private mutating func skipComment() throws(RuleSyntaxError) {
    var index = pos + 2
    while index + 1 < bytes.count {
      if bytes[index] == Byte.star && bytes[index + 1] == Byte.slash {
        pos = index + 2
        return
      }
      index += 1
    }
    throw error(at: actionStart, "unclosed comment")
  }

  /// `}}` or ` -}}`; returns whether the following text loses its leading white space.
  private mutating func parseClose() throws(RuleSyntaxError) -> Bool {
    skipSpaces()
    if isAtRightTrim {
      pos += 3
      return true
    }
    if peek == Byte.closeBrace && peek(at: pos + 1) == Byte.closeBrace {
      pos += 2
      return false
    }
    if atEnd { throw unclosedAction() }
    throw error(
      at: pos,
      "unexpected \(describe(at: pos)) in action; expected '|' or '}}' (only index and default take arguments)"
    )
  }

  // MARK: Lexical helpers

  private var peek: UInt8? { peek(at: pos) }

  private func peek(at index: Int) -> UInt8? {
    index < bytes.count ? bytes[index] : nil
  }

  private var atEnd: Bool { pos >= bytes.count }

  /// ` -}}`: the dash must follow white space, as in Go.
  private var isAtRightTrim: Bool {
    peek == Byte.minus && peek(at: pos + 1) == Byte.closeBrace
      && peek(at: pos + 2) == Byte.closeBrace && pos > 0
      && Self.isSpace(bytes[pos - 1])
  }

  /// Where an operand may end: white space, `|`, `)`, `}}`, or the end of the text (reported later).
  private var isAtTerminator: Bool {
    guard let c = peek else { return true }
    return Self.isSpace(c) || c == Byte.bar || c == Byte.closeParen
      || (c == Byte.closeBrace && peek(at: pos + 1) == Byte.closeBrace)
  }

  /// Where a command's arguments end: `|`, `)`, `}}` or ` -}}` (white space already skipped).
  private var isAtCommandEnd: Bool {
    guard let c = peek else { return true }
    return c == Byte.bar || c == Byte.closeParen
      || (c == Byte.closeBrace && peek(at: pos + 1) == Byte.closeBrace) || isAtRightTrim
  }

  private func requireTerminator() throws(RuleSyntaxError) {
    guard isAtTerminator else {
      throw error(at: pos, "unexpected \(describe(at: pos)); separate arguments with spaces")
    }
  }

  private mutating func skipSpaces() {
    while let c = peek, Self.isSpace(c) { pos += 1 }
  }

  private func startsWith(_ prefix: StaticString) -> Bool {
    let count = prefix.utf8CodeUnitCount
    guard pos + count <= bytes.count else { return false }
    return prefix.withUTF8Buffer { $0.elementsEqual(bytes[pos..<(pos + count)]) }
  }

  /// An identifier (a function name) starting here, consumed; nil when none starts here.
  private mutating func parseWord() -> String? {
    let start = pos
    while let (scalar, length) = scalar(at: pos), Self.isIdentifierScalar(scalar) { pos += length }
    return pos > start ? String(decoding: bytes[start..<pos], as: UTF8.self) : nil
  }

  /// The identifier starting here, without consuming it.
  private func parseWordAhead() -> String? {
    var copy = self
    return copy.parseWord()
  }

  private func findActionOpener(from start: Int) -> Int? {
    var index = start
    while index + 1 < bytes.count {
      if bytes[index] == Byte.openBrace && bytes[index + 1] == Byte.openBrace { return index }
      index += 1
    }
    return nil
  }

  private func appendText(
    _ range: Range<Int>, trimLeading: Bool, trimTrailing: Bool,
    to segments: inout [Template.Segment]
  ) {
    var lower = range.lowerBound
    var upper = range.upperBound
    if trimLeading { while lower < upper && Self.isSpace(bytes[lower]) { lower += 1 } }
    if trimTrailing { while upper > lower && Self.isSpace(bytes[upper - 1]) { upper -= 1 } }
    guard lower < upper else { return }
    let text = String(decoding: bytes[lower..<upper], as: UTF8.self)
    if case .text(var previous)? = segments.last {
      // Take the text out first, so that appending grows it in place: text between many comments
      // would otherwise be copied once per comment.
      segments[segments.count - 1] = .text("")
      previous += text
      segments[segments.count - 1] = .text(previous)
    } else {
      segments.append(.text(text))
    }
  }

  /// The Unicode scalar whose UTF-8 starts at `index` (the bytes came from a String, so they are valid).
  private func scalar(at index: Int) -> (Unicode.Scalar, Int)? {
    guard index < bytes.count else { return nil }
    let lead = bytes[index]
    if lead < 0x80 { return (Unicode.Scalar(lead), 1) }
    let length = lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
    var value = UInt32(lead) & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07)
    for offset in 1..<length { value = value << 6 | (UInt32(bytes[index + offset]) & 0x3F) }
    return Unicode.Scalar(value).map { ($0, length) }
  }

  // MARK: Errors

  private func unclosedAction() -> RuleSyntaxError {
    error(at: actionStart, "unclosed action: '{{' without a matching '}}'")
  }

  private func unknownFunction(_ name: String, at position: Int) -> RuleSyntaxError {
    let keywords: Set = [
      "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue",
    ]
    if keywords.contains(name) {
      return error(
        at: position, "\"\(name)\" is not supported; templates hold field paths, index and default")
    }
    return error(
      at: position, "unknown function \"\(name)\"; templates support field paths, index and default"
    )
  }

  private func error(at position: Int, _ message: String) -> RuleSyntaxError {
    RuleSyntaxError(message: "\(location(of: position)): \(message)")
  }

  /// `column C`, or `line L, column C` in text of several lines; columns count characters from 1.
  private func location(of position: Int) -> String {
    let position = min(position, bytes.count)
    var line = 1
    var lineStart = 0
    for index in 0..<position where bytes[index] == Byte.newline {
      line += 1
      lineStart = index + 1
    }
    let column = String(decoding: bytes[lineStart..<position], as: UTF8.self).count + 1
    let hasSeveralLines = bytes.contains(Byte.newline)
    return hasSeveralLines ? "line \(line), column \(column)" : "column \(column)"
  }

  /// The character at `index` for a message: `'x'`, or "end of text".
  private func describe(at index: Int) -> String {
    guard let (scalar, _) = scalar(at: index) else { return "end of text" }
    if scalar.value < 0x80 { return describeByte(UInt8(scalar.value)) }
    return "'\(Character(scalar))'"
  }

  private func describeByte(_ byte: UInt8) -> String {
    switch byte {
    case Byte.newline: return "line break"
    case 0x09: return "tab"
    case 0x20...0x7E: return "'\(Character(Unicode.Scalar(byte)))'"
    default: return "control character"
    }
  }

  // MARK: Character classes

  static func isSpace(_ c: UInt8) -> Bool {
    c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D
  }

  static func isDigit(_ scalar: Unicode.Scalar) -> Bool {
    scalar.value >= 0x30 && scalar.value <= 0x39
  }

  /// Go's identifier characters: '_', letters and digits (Unicode ones included, as Go allows them).
  static func isIdentifierScalar(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.value {
    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x5F: return true
    case 0..<0x80: return false
    default:
      switch scalar.properties.generalCategory {
      case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
        .decimalNumber:
        return true
      default:
        return false
      }
    }
  }

  static func hexValue(_ c: UInt8) -> UInt32? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(c - UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(c - UInt8(ascii: "a") + 10)
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(c - UInt8(ascii: "A") + 10)
    default: return nil
    }
  }

  /// The ASCII bytes the grammar is made of.
  enum Byte {
    static let dot = UInt8(ascii: ".")
    static let bar = UInt8(ascii: "|")
    static let minus = UInt8(ascii: "-")
    static let doubleQuote = UInt8(ascii: "\"")
    static let backQuote = UInt8(ascii: "`")
    static let backslash = UInt8(ascii: "\\")
    static let openParen = UInt8(ascii: "(")
    static let closeParen = UInt8(ascii: ")")
    static let openBrace = UInt8(ascii: "{")
    static let closeBrace = UInt8(ascii: "}")
    static let dollar = UInt8(ascii: "$")
    static let star = UInt8(ascii: "*")
    static let slash = UInt8(ascii: "/")
    static let newline = UInt8(ascii: "\n")
  }
}

extension String {
  /// Whether the text holds a template action (`{{`): a byte scan, many times cheaper per call than
  /// the generic `contains("{{")`, which showed as a fifth of an admission's instructions.
  var holdsTemplateAction: Bool { TemplateParser.containsActionOpener(self) }
}
