import Testing

@testable import PodInject

/// Issue 12, finding 3: keys compare by their bytes (which keeps every lookup, and so parsing, linear:
/// see `Tests/e2e/test_parsing.py`), JSON means the same on every path, and the HTTP modes read JSON only.
struct JSONMeaningTests {
  /// Two orderings of the same combining marks: canonically equivalent Strings, different bytes.
  static let marks = ["\u{0334}\u{0301}", "\u{0301}\u{0334}"]

  @Test func keysThatDifferInTheirBytesAreDifferentKeys() throws {
    #expect(Self.marks[0] == Self.marks[1], "Swift's String calls them equal")
    for count in [2, 40] {
      // Small objects are searched, large ones indexed: both compare bytes.
      var members: [String] = []
      for index in 0..<count { members.append("\"a\(Self.marks[index % 2])\(index / 2)\":\(index)") }
      let value = try JSONParser.parse("{" + members.joined(separator: ",") + "}")
      #expect(value.objectValue?.count == count)
      let yaml = try #require(
        try YAML.parseJSONDocuments(Array(("{" + members.joined(separator: ",") + "}").utf8)).first)
      #expect(yaml.objectValue?.count == count)
    }
  }

  @Test func aRepeatedKeyKeepsItsFirstPlaceAndTheLastValueInLargeObjects() throws {
    var members: [String] = []
    for index in 0..<100 { members.append("\"k\(index)\":\(index)") }
    members.append("\"k3\":\"last\"")
    let text = "{" + members.joined(separator: ",") + "}"
    for value in [try JSONParser.parse(text), try #require(try YAML.parseJSONDocuments(Array(text.utf8)).first)] {
      let object = try #require(value.objectValue)
      #expect(object.count == 100)
      #expect(object.members[3].key == "k3")
      #expect(object.members[3].value == "last")
    }
    // In YAML too.
    var yaml = ""
    for index in 0..<100 { yaml += "k\(index): \(index)\n" }
    yaml += "k3: last\n"
    let object = try #require(try YAML.parseJSONDocuments(Array(yaml.utf8)).first?.objectValue)
    #expect(object.count == 100 && object.members[3].value == "last")
  }

  @Test func stringsAndObjectsCompareByBytes() throws {
    #expect(JSONValue.string(Self.marks[0]) != JSONValue.string(Self.marks[1]))
    var pairs: [(String, JSONValue)] = []
    for index in 0..<100 { pairs.append(("k\(index)", .number(String(index)))) }
    let forward = JSONObject(pairs)
    let backward = JSONObject(pairs.reversed())
    #expect(forward == backward)
    var changed = pairs
    changed[50].1 = "other"
    #expect(forward != JSONObject(changed.reversed()))
  }

  @Test func mergedKeysAreNamedByTheirBytes() throws {
    let yaml = """
      base: &base {"k\(Self.marks[0])": 1}
      merged:
        <<: *base
        "k\(Self.marks[1])": 2

      """
    let object = try #require(try YAML.parseJSONDocuments(Array(yaml.utf8)).first)
    #expect(object["merged"]?.objectValue?.count == 2)
  }

  @Test func jsonNumbersKeepTheirTextOnEveryPath() throws {
    let text = #"{"big":1e400,"negativeZero":-0,"float":0.10,"int":12345678901234567890123}"#
    let viaJSON = try JSONParser.parse(text)
    let viaYAML = try #require(try YAML.parseJSONDocuments(Array(text.utf8)).first)
    #expect(viaYAML.serialized() == viaJSON.serialized())
    #expect(viaYAML["big"] == .number("1e400"))
    // YAML text keeps YAML's meaning, as go-yaml reads it.
    let yaml = try #require(try YAML.parseJSONDocuments(Array("big: 1e400\nzero: -0\n".utf8)).first)
    #expect(yaml["big"] == "1e400")
    #expect(yaml["zero"] == .number("0"))
  }

  @Test func aByteOrderMarkIsRefusedBeforeJSONTextAndAllowedBeforeYAML() throws {
    let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
    #expect(throws: JSONParseError.self) { try JSONParser.parse(bom + Array("{}".utf8)) }
    #expect {
      try YAML.parseJSONDocuments(bom + Array(" {\"a\": 1}".utf8))
    } throws: { error in
      (error as? YAMLError)?.message == "a byte order mark is not allowed before JSON text"
    }
    #expect(try YAML.parseJSONDocuments(bom + Array("a: 1\n".utf8)).first?["a"] == .number("1"))
    let review = Fixture.reviewJSON(pod: Fixture.pod).serializedBytes()
    #expect {
      _ = try AdmissionRequest.decode(bom + review)
    } throws: { error in
      (error as? ReviewInputError)?.message
        == "not valid JSON: byte 0: a byte order mark is not allowed before JSON text"
    }
  }

  @Test func theHTTPModesReadJSONOnly() throws {
    let yaml = Array(YAML.render(Fixture.reviewJSON(pod: Fixture.pod)).utf8)
    _ = try AdmissionRequest.decode(yaml)
    #expect {
      _ = try AdmissionRequest.decode(yaml, allowingYAML: false)
    } throws: { error in
      (error as? ReviewInputError)?.message
        == "not valid JSON: byte 0: expected a JSON value, found 'a' (this mode reads JSON only)"
    }
  }
}
