import Testing

@testable import PodInject

/// The binary form of the config cache gives back exactly the value written, and never crashes on bad bytes.
struct BinaryJSONTests {
  static let sample: JSONValue = [
    "text": "héllo \u{0}\"quoted\"", "number": .number("1e400"), "zero": 0, "flags": [true, false, nil],
    "empty": [:], "list": [], "nested": ["deeper": ["a", ["b": .number("-0.10")]]],
    "long": .string(String(repeating: "x", count: 300)),
  ]

  @Test func aValueComesBackExactly() throws {
    let bytes = BinaryJSON.encode(Self.sample)
    let decoded = try #require(BinaryJSON.decode(bytes))
    // Same members in the same order, numbers with the same text.
    #expect(decoded.serialized() == Self.sample.serialized())
  }

  @Test func anOffsetSkipsAHeader() throws {
    let bytes = Array("header".utf8) + BinaryJSON.encode(Self.sample)
    #expect(BinaryJSON.decode(bytes, from: 6)?.serialized() == Self.sample.serialized())
    #expect(BinaryJSON.decode(bytes, from: bytes.count + 1) == nil)
  }

  @Test func truncatedTrailingOrCorruptBytesGiveNil() throws {
    let bytes = BinaryJSON.encode(Self.sample)
    for end in 0..<bytes.count {
      #expect(BinaryJSON.decode(Array(bytes[..<end])) == nil, "cut at \(end)")
    }
    #expect(BinaryJSON.decode(bytes + [0]) == nil)
    #expect(BinaryJSON.decode([9]) == nil)
    // A count far beyond the bytes left is refused before anything is reserved for it.
    #expect(BinaryJSON.decode([5, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]) == nil)
    #expect(BinaryJSON.decode([4, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]) == nil)
  }

  /// Found by the cache fuzz target: a damaged entry turned the string "20m" into a number, which the
  /// answer's patch then carried as null.
  @Test(arguments: ["20m", "", "+1", "01", "1.", ".5", "0x1F", "NaN", "1e", " 1", "1 "])
  func aNumberWhoseTextIsNotJSONGivesNil(text: String) throws {
    #expect(BinaryJSON.decode(BinaryJSON.encode(["cpu": .number(text)])) == nil)
  }

  @Test func nestingPastTheLimitGivesNil() throws {
    var value: JSONValue = "leaf"
    for _ in 0..<20 { value = [value] }
    let bytes = BinaryJSON.encode(value)
    #expect(BinaryJSON.decode(bytes, maxDepth: 19) == nil)
    #expect(BinaryJSON.decode(bytes, maxDepth: 20) == value)
  }
}
