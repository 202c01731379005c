import Testing

@testable import PodInject

@Suite("YAML scalar resolution")
struct YAMLResolutionTests {
  /// Plain scalars as Kubernetes (sigs.k8s.io/yaml, go-yaml v2) reads them.
  static let plainScalars: [(String, JSONValue)] = [
    ("", nil), ("~", nil), ("null", nil), ("Null", nil), ("NULL", nil), ("nULL", "nULL"),
    ("true", true), ("True", true), ("TRUE", true), ("yes", true), ("Yes", true), ("YES", true),
    ("on", true), ("On", true), ("ON", true), ("y", true), ("Y", true),
    ("false", false), ("False", false), ("FALSE", false), ("no", false), ("No", false),
    ("NO", false), ("off", false), ("Off", false), ("OFF", false), ("n", false), ("N", false),
    ("tRUE", "tRUE"), ("yep", "yep"), ("nope", "nope"),
    ("42", .number("42")), ("-7", .number("-7")), ("+12", .number("12")), ("0", .number("0")),
    ("-0", .number("0")), ("1_000", .number("1000")), ("0x1F", .number("31")),
    ("0X1f", .number("31")), ("-0x1F", .number("-31")), ("0o17", .number("15")),
    ("017", .number("15")), ("0b101", .number("5")), ("-0b101", .number("-5")),
    ("9223372036854775807", .number("9223372036854775807")),
    ("-9223372036854775808", .number("-9223372036854775808")),
    ("18446744073709551615", .number("18446744073709551615")),
    ("99999999999999999999", .number("99999999999999999999")),
    ("0x", "0x"), ("0xG", "0xG"), ("0x1_0000_0000_0000_0000", "0x1_0000_0000_0000_0000"),
    ("08", .number("8")), ("09.5", .number("9.5")),
    ("1.5", .number("1.5")), ("0.10", .number("0.10")), ("1e3", .number("1e3")),
    ("1E+3", .number("1E+3")), ("-2.5e-3", .number("-2.5e-3")), (".5", .number("0.5")),
    ("-.5", .number("-0.5")), ("+.5e2", .number("0.5e2")), ("1.", .number("1")),
    ("1.e2", .number("1e2")), ("3.14_15", .number("3.1415")), ("1e999", "1e999"),
    (".inf", ".inf"), ("-.Inf", "-.Inf"), ("+.INF", "+.INF"), (".nan", ".nan"), (".NaN", ".NaN"),
    (".", "."), ("+", "+"), ("-x", "-x"), ("1e", "1e"), ("e3", "e3"), ("1.2.3", "1.2.3"),
    ("._5", "._5"), ("_1", "_1"),
    ("190:20:30", "190:20:30"), ("2024-01-02", "2024-01-02"),
    ("2024-01-02T10:00:00Z", "2024-01-02T10:00:00Z"), ("10.0.0.1", "10.0.0.1"),
    ("100m", "100m"), ("64Mi", "64Mi"), ("1.5Gi", "1.5Gi"), ("<<", "<<"), ("=", "="),
    ("nginx:1.25", "nginx:1.25"),
  ]

  @Test(arguments: plainScalars)
  func plainScalarResolvesAsKubernetesDoes(text: String, expected: JSONValue) throws {
    let value = try YAMLFixture.json("value: \(text)\n")["value"]
    #expect(YAMLFixture.identical(try #require(value), expected))
  }

  @Test func everyNumberIsValidJSONNumberText() throws {
    for (text, _) in Self.plainScalars {
      guard case .number(let number) = try YAMLFixture.json("v: \(text)")["v"] else { continue }
      #expect(Self.isJSONNumber(number), "\(text) became \(number)")
    }
  }

  @Test(arguments: ["'true'", "\"42\"", "'~'", "\"\"", "|\n  1\n", ">-\n  yes\n"])
  func quotedAndBlockScalarsAreStrings(text: String) throws {
    #expect(try YAMLFixture.json("v: \(text)")["v"]?.stringValue != nil)
  }

  @Test func explicitTagsAreHonoured() throws {
    let value = try YAMLFixture.json(
      """
      str: !!str 42
      int: !!int "0x10"
      float: !!float 1
      bool: !!bool "yes"
      null: !!null ""
      inf: !!float .inf
      nonSpecific: ! 12
      local: !thing 12
      timestamp: !!timestamp 2024-01-02
      """)
    let expected: JSONValue = [
      "str": "42", "int": 16, "float": 1, "bool": true, "null": nil, "inf": ".inf",
      "nonSpecific": "12", "local": "12", "timestamp": "2024-01-02",
    ]
    #expect(YAMLFixture.identical(value, expected))
  }

  @Test func mismatchedExplicitTagIsAnError() throws {
    let error = try #require(YAMLFixture.error("a: 1\nb: !!int twelve\n"))
    #expect((error.line, error.column) == (2, 4))
    #expect(error.message == "the value tagged !!int is not an integer")
    #expect(!error.description.contains("twelve"), "the scalar may be a secret: position and type only")
  }

  @Test func nodesKeepTheScalarStyleAndTag() throws {
    let node = try YAMLFixture.node("[plain, 'quoted', !!str tagged]")
    guard case .sequence(let items) = node.kind else {
      Issue.record("expected a sequence")
      return
    }
    let scalars = items.compactMap { item -> YAMLScalar? in
      if case .scalar(let scalar) = item.kind { return scalar }
      return nil
    }
    #expect(scalars.map(\.isPlain) == [true, false, false])
    #expect(scalars.map(\.tag) == [nil, nil, "tag:yaml.org,2002:str"])
  }

  @Test func nonStringKeysBecomeTheirText() throws {
    let value = try YAMLFixture.json("1: a\ntrue: b\n~: c\n0x10: d\n")
    #expect(value.objectValue?.keys == ["1", "true", "~", "0x10"])
  }

  @Test func collectionKeysCannotBecomeJSON() throws {
    let error = try #require(YAMLFixture.error("? [a, b]\n: c\n"))
    #expect(error.line == 1)
  }

  /// RFC 8259 number syntax.
  static func isJSONNumber(_ text: String) -> Bool {
    var bytes = Array(text.utf8)[...]
    func digits() -> Int {
      let count = bytes.prefix(while: { $0 >= 0x30 && $0 <= 0x39 }).count
      bytes = bytes.dropFirst(count)
      return count
    }
    if bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
    if bytes.first == UInt8(ascii: "0") {
      bytes = bytes.dropFirst()
    } else if digits() == 0 {
      return false
    }
    if bytes.first == UInt8(ascii: ".") {
      bytes = bytes.dropFirst()
      if digits() == 0 { return false }
    }
    if let e = bytes.first, e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
      bytes = bytes.dropFirst()
      if let sign = bytes.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
        bytes = bytes.dropFirst()
      }
      if digits() == 0 { return false }
    }
    return bytes.isEmpty
  }
}
