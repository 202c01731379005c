import Testing

@testable import PodInject

struct Base64Tests {
  /// RFC 4648 §10.
  static let vectors: [(String, String)] = [
    ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
    ("fooba", "Zm9vYmE="),
    ("foobar", "Zm9vYmFy"),
  ]

  @Test(arguments: vectors)
  func encodesTheRFC4648Vectors(_ plain: String, _ encoded: String) {
    #expect(Base64.encode(Array(plain.utf8)) == encoded)
  }

  @Test(arguments: vectors)
  func decodesTheRFC4648Vectors(_ plain: String, _ encoded: String) {
    #expect(Base64.decode(encoded) == Array(plain.utf8))
    let unpadded = String(encoded.prefix { $0 != "=" })
    #expect(Base64.decode(unpadded) == Array(plain.utf8))
  }

  @Test func usesTheStandardAlphabetNotTheURLOne() {
    #expect(Base64.encode([0xFB, 0xFF, 0xBF]) == "+/+/")
    #expect(Base64.decode("+/+/") == [0xFB, 0xFF, 0xBF])
    #expect(Base64.decode("-_-_") == nil)
  }

  @Test(arguments: ["Zm9v!", "Zm 9v", "Zm9v\n", "é"])
  func refusesCharactersOutsideTheAlphabet(_ text: String) {
    #expect(Base64.decode(text) == nil)
  }

  @Test func roundTripsEveryLengthAndByte() {
    var random = SplitMix64(seed: 4648)
    for length in 0..<300 {
      let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
      let encoded = Base64.encode(bytes)
      #expect(encoded.utf8.count == (length + 2) / 3 * 4)
      #expect(Base64.decode(encoded) == bytes, "length \(length)")
    }
    let all = (0...255).map(UInt8.init)
    #expect(Base64.decode(Base64.encode(all)) == all)
  }
}
