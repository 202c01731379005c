import Testing

@testable import PodInject

@Suite struct JSONPointerTests {
  @Test(
    arguments: [
      ("", []),
      ("/", [""]),
      ("/foo", ["foo"]),
      ("/foo/0", ["foo", "0"]),
      ("/a~1b", ["a/b"]),
      ("/m~0n", ["m~n"]),
      ("/~01", ["~1"]),
      ("/~10", ["/0"]),
      (
        "/metadata/annotations/podinject.dev~1status",
        ["metadata", "annotations", "podinject.dev/status"]
      ),
      ("/ /c%d/e^f/g|h/i\\j/k\"l", [" ", "c%d", "e^f", "g|h", "i\\j", "k\"l"]),
      ("//x/", ["", "x", ""]),
      ("/é~1😀", ["é/😀"]),
    ] as [(String, [String])])
  func parsesAndPrintsPointers(_ text: String, _ tokens: [String]) throws {
    let pointer = try JSONPointer(parsing: text)
    #expect(pointer.tokens == tokens)
    #expect(pointer.description == text)
  }

  @Test(arguments: ["foo", "~0", "/~", "/a~2", "/a~/b", "/~\u{301}"])
  func refusesMalformedPointers(_ text: String) {
    #expect(throws: JSONPointerError.self) { try JSONPointer(parsing: text) }
  }

  @Test func escapesTildeBeforeSlash() {
    #expect(JSONPointer.escape("~1") == "~01")
    #expect(JSONPointer.escape("a/b~c") == "a~1b~0c")
    #expect(JSONPointer.escape("plain") == "plain")
    #expect(JSONPointer(tokens: ["~/", "x"]).description == "/~0~1/x")
  }

  @Test func appendsTokens() {
    let pointer = JSONPointer().appending("spec").appending("containers").appending(index: 2)
    #expect(pointer.description == "/spec/containers/2")
    #expect(pointer.appendingEnd().description == "/spec/containers/2/-")
    #expect(JSONPointer().appending("a/b").description == "/a~1b")
  }

  @Test func findsValuesInADocument() throws {
    // RFC 6901 section 5.
    let document = try JSONParser.parse(
      #"{"foo":["bar","baz"],"":0,"a/b":1,"c%d":2,"e^f":3,"g|h":4,"i\\j":5,"k\"l":6," ":7,"m~n":8}"#
    )
    let cases: [(String, JSONValue)] = [
      ("", document), ("/foo", ["bar", "baz"]), ("/foo/0", "bar"), ("/", 0), ("/a~1b", 1),
      ("/c%d", 2), ("/e^f", 3), ("/g|h", 4), ("/i\\j", 5), ("/k\"l", 6), ("/ ", 7), ("/m~0n", 8),
    ]
    for (text, expected) in cases {
      #expect(document[pointer: try JSONPointer(parsing: text)] == expected, "\(text)")
    }
    for text in [
      "/foo/2", "/foo/-", "/foo/01", "/foo/-1", "/foo/bar", "/nope", "/foo/0/x", "/a~1b/c",
    ] {
      #expect(document[pointer: try JSONPointer(parsing: text)] == nil, "\(text)")
    }
  }
}
