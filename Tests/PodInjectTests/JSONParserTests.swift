import Testing

@testable import PodInject

@Suite struct JSONParserTests {
  @Test func readsEveryKindOfValue() throws {
    let value = try JSONParser.parse(
      #" { "n": null, "t": true, "f": false, "i": -12, "s": "x", "a": [1, [], {}], "o": {"k": "v"} } "#
    )
    #expect(
      value
        == [
          "n": nil, "t": true, "f": false, "i": .number("-12"), "s": "x",
          "a": [1, [], [:]], "o": ["k": "v"],
        ])
  }

  @Test func keepsKeyOrder() throws {
    let value = try JSONParser.parse(#"{"zeta":1,"alpha":2,"mid":3,"beta":4}"#)
    #expect(value.objectValue?.keys == ["zeta", "alpha", "mid", "beta"])
  }

  @Test(arguments: [
    "0", "-0", "1.0", "0.10", "1e400", "-1E-400", "1e+3", "2147483647", "1000030003",
    "123456789012345678901234567890123456789", "0.000000000000000000000000000001",
  ])
  func keepsNumberText(_ text: String) throws {
    #expect(try JSONParser.parse(text) == .number(text))
    guard case .number(let stored) = try JSONParser.parse("[\(text)]").arrayValue?.first else {
      Issue.record("not a number")
      return
    }
    #expect(stored == text)
    #expect(try JSONParser.parse("[\(text)]").serialized() == "[\(text)]")
  }

  @Test func decodesEscapes() throws {
    let value = try JSONParser.parse(#""a\"b\\c\/d\b\f\n\r\t\u0041\u00e9\u20AC\ud83d\ude00\u0000""#)
    #expect(value == .string("a\"b\\c/d\u{8}\u{C}\n\r\tAé€😀\u{0}"))
  }

  @Test func keepsUTF8AsIs() throws {
    #expect(try JSONParser.parse("\"héllo wörld ✓ 😀\"") == .string("héllo wörld ✓ 😀"))
    #expect(try JSONParser.parse("[\"é\\n😀\"]") == ["é\n😀"])
  }

  @Test(arguments: [
    (#""\ud800""#, "\u{FFFD}"),
    (#""\udc00x""#, "\u{FFFD}x"),
    (#""\ud800\u0041""#, "\u{FFFD}A"),
    (#""\ud800\ud800\udc00""#, "\u{FFFD}\u{10000}"),
    (#""\udbff\udfff""#, "\u{10FFFF}"),
  ])
  func replacesLoneSurrogates(_ text: String, _ expected: String) throws {
    #expect(try JSONParser.parse(text) == .string(expected))
  }

  @Test func lastDuplicateKeyWinsInPlaceOfTheFirst() throws {
    let value = try JSONParser.parse(#"{"a":1,"b":2,"a":3}"#)
    #expect(value.objectValue?.keys == ["a", "b"])
    #expect(value["a"] == 3)
  }

  @Test func duplicateKeysAreFoundAsJSONObjectFindsThem() throws {
    // Keys are the same when their bytes are, as in Go and so in Kubernetes: a precomposed and a
    // decomposed "é" are two keys, in small objects and in large ones alike; a repeat of either wins.
    let small = try #require(try JSONParser.parse("{\"\u{E9}\":1,\"e\u{301}\":2,\"\u{E9}\":3}").objectValue)
    #expect(small.count == 2 && small["\u{E9}"] == 3 && small["e\u{301}"] == 2)
    var text = "{"
    for index in 0..<20 { text += "\"k\(index)\":0," }
    text += "\"\u{E9}\":1,\"e\u{301}\":2,\"e\u{301}\":4}"
    let large = try #require(try JSONParser.parse(text).objectValue)
    #expect(large.count == 22 && large["\u{E9}"] == 1 && large["e\u{301}"] == 4)
  }

  @Test func lastDuplicateKeyWinsInLargeObjects() throws {
    var text = "{"
    for index in 0..<40 { text += "\"k\(index)\":\(index)," }
    text += #""k3":"again","k39":"last"}"#
    let object = try #require(try JSONParser.parse(text).objectValue)
    #expect(object.count == 40)
    #expect(object["k3"] == "again")
    #expect(object["k39"] == "last")
    #expect(object.keys.first == "k0")
  }

  @Test func readsAnObjectWithManyKeysInLinearTime() throws {
    var text: [UInt8] = Array("{".utf8)
    for index in 0..<100_000 { text += Array("\"key\(index)\":\(index % 7),".utf8) }
    text += Array("\"key5\":\"dup\"}".utf8)
    let object = try #require(try JSONParser.parse(text).objectValue)
    #expect(object.count == 100_000)
    #expect(object.members[5].value == "dup")
    #expect(object.members[99_999].key == "key99999")
  }

  @Test func acceptsNestingUpToMaxDepth() throws {
    let text = String(repeating: "[", count: 256) + String(repeating: "]", count: 256)
    #expect(throws: Never.self) { try JSONParser.parse(text) }
    let objects =
      String(repeating: #"{"a":"#, count: 256) + "1" + String(repeating: "}", count: 256)
    #expect(throws: Never.self) { try JSONParser.parse(objects) }
  }

  @Test func refusesNestingDeeperThanMaxDepthAtTheOffendingBracket() {
    let text = String(repeating: "[", count: 257) + String(repeating: "]", count: 257)
    #expect(throws: JSONParseError(offset: 256, message: "nesting deeper than 256")) {
      try JSONParser.parse(text)
    }
    let mixed = String(repeating: #"{"a":["#, count: 3)
    #expect(throws: JSONParseError(offset: 12, message: "nesting deeper than 4")) {
      try JSONParser.parse(mixed, maxDepth: 4)
    }
  }

  @Test func failsFastOnAHundredMegabytesOfBrackets() {
    let bytes = [UInt8](repeating: UInt8(ascii: "["), count: 100_000_000)
    #expect(throws: JSONParseError(offset: 256, message: "nesting deeper than 256")) {
      try JSONParser.parse(bytes)
    }
  }

  @Test func keepsOpenContainersOffTheCallStack() {
    // Without a limit, a million open brackets must still end in an error, not a stack overflow.
    let bytes = [UInt8](repeating: UInt8(ascii: "["), count: 1_000_000)
    #expect(
      throws: JSONParseError(offset: 1_000_000, message: "unexpected end of input (truncated?)")
    ) {
      try JSONParser.parse(bytes, maxDepth: .max)
    }
  }

  @Test func readsTenMegabyteStrings() throws {
    var plain = [UInt8](repeating: UInt8(ascii: "a"), count: 10_000_002)
    plain[0] = UInt8(ascii: "\"")
    plain[plain.count - 1] = UInt8(ascii: "\"")
    #expect(try JSONParser.parse(plain).stringValue?.utf8.count == 10_000_000)

    var escaped = plain
    for index in stride(from: 1000, to: escaped.count - 2, by: 1000) {
      escaped[index] = UInt8(ascii: "\\")
      escaped[index + 1] = UInt8(ascii: "n")
    }
    let decoded = try #require(try JSONParser.parse(escaped).stringValue)
    #expect(decoded.utf8.count == 10_000_000 - 9_999)

    #expect(
      throws: JSONParseError(offset: 10_000_001, message: "unexpected end of input (truncated?)")
    ) {
      try JSONParser.parse(Array(plain.dropLast()))
    }
  }

  @Test(arguments: [
    ("", 0, "empty input"),
    ("  \n\t ", 5, "empty input"),
    ("{", 1, "unexpected end of input (truncated?)"),
    (#"{"apiVersion":"v1","kind":"Po"#, 29, "unexpected end of input (truncated?)"),
    (#"{"a":1"#, 6, "unexpected end of input (truncated?)"),
    (#"{"a":tr"#, 7, "unexpected end of input (truncated?)"),
    ("[1.", 3, "unexpected end of input (truncated?)"),
    (#""\u12"#, 5, "unexpected end of input (truncated?)"),
    ("<html>", 0, "expected a JSON value, found '<'"),
    ("apiVersion: v1", 0, "expected a JSON value, found 'a'"),
    ("{} x", 3, "unexpected 'x' after the JSON value (trailing data?)"),
    ("[1] [2]", 4, "unexpected '[' after the JSON value (trailing data?)"),
    ("1 2", 2, "unexpected '2' after the JSON value (trailing data?)"),
    (#"{"a":1 "b":2}"#, 7, #"expected ',' or '}' after an object member, found '"'"#),
    ("[1 2]", 3, "expected ',' or ']' after an array element, found '2'"),
    ("[1,]", 3, "trailing comma before ']'"),
    (#"{"a":1,}"#, 7, "trailing comma before '}'"),
    ("{a:1}", 1, "expected a string key, found 'a'"),
    (#"{"a" 1}"#, 5, "expected ':' after an object key, found '1'"),
    ("[01]", 1, "leading zeros are not allowed in numbers"),
    ("-01", 1, "leading zeros are not allowed in numbers"),
    ("+1", 0, "expected a JSON value, found '+'"),
    ("NaN", 0, "expected a JSON value, found 'N'"),
    ("-Infinity", 1, "expected a digit after '-', found 'I'"),
    ("1.e5", 2, "expected a digit after '.', found 'e'"),
    (".5", 0, "expected a JSON value, found '.'"),
    ("1e+", 3, "unexpected end of input (truncated?)"),
    ("1ex", 2, "expected a digit in the exponent, found 'x'"),
    ("0x10", 1, "unexpected 'x' after the JSON value (trailing data?)"),
    ("tru", 3, "unexpected end of input (truncated?)"),
    ("truth", 3, "invalid literal (expected 'true')"),
    ("nul1", 3, "invalid literal (expected 'null')"),
    ("True", 0, "expected a JSON value, found 'T'"),
    ("// c\n{}", 0, "expected a JSON value, found '/'"),
    ("[1] // c", 4, "unexpected '/' after the JSON value (trailing data?)"),
    ("\"a\nb\"", 2, "unescaped control character 0x0A in a string (escape it)"),
    ("\"a\tb\"", 2, "unescaped control character 0x09 in a string (escape it)"),
    (#""\x""#, 1, #"invalid escape '\x' in a string"#),
    (#""\'""#, 1, #"invalid escape '\'' in a string"#),
    (#""\u12G4""#, 5, "invalid \\u escape: expected 4 hex digits, found 'G'"),
    ("'a'", 0, "expected a JSON value, found '''"),
    ("[\u{0}]", 1, "expected a JSON value, found byte 0x00"),
  ])
  func reportsWhereAndWhyReadingStopped(_ text: String, _ offset: Int, _ message: String) {
    #expect(throws: JSONParseError(offset: offset, message: message)) { try JSONParser.parse(text) }
  }

  @Test(
    arguments: [
      ([0x22, 0xFF, 0x22], 1),  // never valid
      ([0x22, 0xC0, 0x80, 0x22], 1),  // overlong NUL
      ([0x22, 0xE0, 0x80, 0x80, 0x22], 1),  // overlong
      ([0x22, 0xED, 0xA0, 0x80, 0x22], 1),  // encoded surrogate
      ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], 1),  // above U+10FFFF
      ([0x22, 0x61, 0x80, 0x22], 2),  // stray continuation byte
      ([0x22, 0xC3, 0x22], 1),  // sequence cut by the quote
      ([0x22, 0x5C, 0x6E, 0xC3, 0x28, 0x22], 3),  // after an escape (slow path)
    ] as [([UInt8], Int)])
  func refusesInvalidUTF8(_ bytes: [UInt8], _ offset: Int) {
    #expect(throws: JSONParseError(offset: offset, message: "invalid UTF-8")) {
      try JSONParser.parse(bytes)
    }
  }

  @Test func refusesBytesAboveASCIIOutsideStrings() {
    #expect(
      throws: JSONParseError(
        offset: 0, message: "a byte order mark is not allowed before JSON text")
    ) {
      try JSONParser.parse([0xEF, 0xBB, 0xBF, 0x7B, 0x7D])
    }
    #expect(throws: JSONParseError(offset: 1, message: "expected a JSON value, found byte 0xC3")) {
      try JSONParser.parse([0x5B, 0xC3, 0xA9, 0x5D])
    }
  }

  @Test func truncatedMultiByteCharacterIsTheEndOfInput() {
    #expect(throws: JSONParseError(offset: 3, message: "unexpected end of input (truncated?)")) {
      try JSONParser.parse([0x22, 0x61, 0xE2] as [UInt8])
    }
    #expect(throws: JSONParseError(offset: 4, message: "unexpected end of input (truncated?)")) {
      try JSONParser.parse([0x22, 0x61, 0xE2, 0x82] as [UInt8])
    }
  }

  @Test func describesErrorsOnOneLineWithTheOffset() {
    let error = JSONParseError(offset: 5, message: "unexpected end of input (truncated?)")
    #expect(error.description == "byte 5: unexpected end of input (truncated?)")
    do {
      _ = try JSONParser.parse("\"a\u{1}")
      Issue.record("parsed a control character")
    } catch {
      #expect(!error.description.contains("\n"))
      #expect(error.description.hasPrefix("byte 2: "))
    }
  }

  @Test func findsSpecialBytesAtEveryPositionOfAWord() throws {
    // The string scanner reads eight bytes at a time; each special byte is tried at every offset.
    let specials: [(String, String)] = [
      ("\\n", "\n"), ("\\\"", "\""), ("é", "é"), ("😀", "😀"), ("\\u00e9", "é"),
    ]
    for length in 0..<20 {
      for position in 0...length {
        for (raw, decoded) in specials {
          let prefix = String(repeating: "a", count: position)
          let suffix = String(repeating: "b", count: length - position)
          #expect(
            try JSONParser.parse("\"\(prefix)\(raw)\(suffix)\"")
              == .string(prefix + decoded + suffix))
        }
        let plain = String(repeating: "c", count: length)
        #expect(
          try JSONParser.parse(String(repeating: " ", count: position) + "\"\(plain)\"")
            == .string(plain))
        var control = Array("\"\(plain)x\"".utf8)
        control[position + 1] = 0x01
        #expect(
          throws: JSONParseError(
            offset: position + 1,
            message: "unescaped control character 0x01 in a string (escape it)")
        ) {
          try JSONParser.parse(control)
        }
      }
    }
  }

  @Test func bytesAndStringGiveTheSameResult() throws {
    let text = #"{"a":[1,"é",{"b":null}]}"#
    #expect(try JSONParser.parse(text) == JSONParser.parse(Array(text.utf8)))
  }
}
