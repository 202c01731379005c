import Testing

@testable import PodInject

@Suite struct JSONSerializationTests {
  @Test(arguments: [
    #"{"b":1,"a":[true,false,null,"x",{}],"c":{"d":[]}}"#,
    #"[1.0,-0,1e400,0.10,2147483647]"#,
    #""é✓😀""#,
    #"{"":""}"#,
    "null",
    "[[[[]]]]",
  ])
  func compactTextRoundTripsExactly(_ text: String) throws {
    #expect(try JSONParser.parse(text).serialized() == text)
  }

  @Test func escapesQuotesBackslashesAndControlCharacters() throws {
    let value: JSONValue = .string("q\"b\\s/n\nr\rt\tb\u{8}f\u{C}z\u{0}e\u{1F}d\u{7F}é\u{2028}")
    #expect(value.serialized() == #""q\"b\\s/n\nr\rt\tb\bf\fz\u0000e\u001fd"# + "\u{7F}é\u{2028}\"")
    #expect(try JSONParser.parse(value.serialized()) == value)
  }

  @Test func escapesAtEveryPositionOfAWord() throws {
    for length in 0..<20 {
      for position in 0...length {
        for (raw, escaped) in [
          ("\n", "\\n"), ("\"", "\\\""), ("\\", "\\\\"), ("\u{1}", "\\u0001"), ("é", "é"),
        ] {
          let prefix = String(repeating: "a", count: position)
          let suffix = String(repeating: "b", count: length - position)
          #expect(
            JSONValue.string(prefix + raw + suffix).serialized()
              == "\"\(prefix)\(escaped)\(suffix)\"")
        }
      }
    }
  }

  @Test func escapesKeysToo() {
    let value: JSONValue = ["a\"b\n": 1]
    #expect(value.serialized() == #"{"a\"b\n":1}"#)
  }

  @Test func serializedBytesAreTheUTF8OfSerialized() {
    let value: JSONValue = ["k": ["é", 1, nil]]
    #expect(value.serializedBytes() == Array(value.serialized().utf8))
  }

  @Test func writesNumbersThatAreNotJSONAsSomethingValid() {
    #expect(JSONValue.number("NaN").serialized() == "null")
    #expect(JSONValue.number("").serialized() == "null")
    #expect(JSONValue.number("+5").serialized() == "5.0")
    #expect(JSONValue.number("01").serialized() == "1.0")
    #expect(JSONValue.number("12").serialized() == "12")
    #expect(JSONValue.number("-1.5E+10").serialized() == "-1.5E+10")
  }

  @Test func prettyPrintsWithTwoSpaces() throws {
    let value = try JSONParser.parse(#"{"a":1,"b":[true,{"c":"d"}],"e":{},"f":[]}"#)
    #expect(
      value.prettyPrinted() == """
        {
          "a": 1,
          "b": [
            true,
            {
              "c": "d"
            }
          ],
          "e": {},
          "f": []
        }
        """)
    #expect(try JSONParser.parse(value.prettyPrinted()) == value)
    #expect(JSONValue.string("x").prettyPrinted() == #""x""#)
  }
}
