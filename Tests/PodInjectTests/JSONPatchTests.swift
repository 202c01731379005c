import Testing

@testable import PodInject

@Suite struct JSONPatchTests {
  /// RFC 6902 Appendix A: document, patch, and the result (nil when the patch must fail).
  static let appendixA: [(String, String, String, String?)] = [
    (
      "A.1", #"{"foo":"bar"}"#, #"[{"op":"add","path":"/baz","value":"qux"}]"#,
      #"{"foo":"bar","baz":"qux"}"#
    ),
    (
      "A.2", #"{"foo":["bar","baz"]}"#, #"[{"op":"add","path":"/foo/1","value":"qux"}]"#,
      #"{"foo":["bar","qux","baz"]}"#
    ),
    ("A.3", #"{"baz":"qux","foo":"bar"}"#, #"[{"op":"remove","path":"/baz"}]"#, #"{"foo":"bar"}"#),
    (
      "A.4", #"{"foo":["bar","qux","baz"]}"#, #"[{"op":"remove","path":"/foo/1"}]"#,
      #"{"foo":["bar","baz"]}"#
    ),
    (
      "A.5", #"{"baz":"qux","foo":"bar"}"#, #"[{"op":"replace","path":"/baz","value":"boo"}]"#,
      #"{"baz":"boo","foo":"bar"}"#
    ),
    (
      "A.8", #"{"baz":"qux","foo":["a",2,"c"]}"#,
      #"[{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}]"#,
      #"{"baz":"qux","foo":["a",2,"c"]}"#
    ),
    ("A.9", #"{"baz":"qux"}"#, #"[{"op":"test","path":"/baz","value":"bar"}]"#, nil),
    (
      "A.10", #"{"foo":"bar"}"#, #"[{"op":"add","path":"/child","value":{"grandchild":{}}}]"#,
      #"{"foo":"bar","child":{"grandchild":{}}}"#
    ),
    (
      "A.11", #"{"foo":"bar"}"#, #"[{"op":"add","path":"/baz","value":"qux","xyz":123}]"#,
      #"{"foo":"bar","baz":"qux"}"#
    ),
    ("A.12", #"{"foo":"bar"}"#, #"[{"op":"add","path":"/baz/bat","value":"qux"}]"#, nil),
    (
      "A.14", #"{"/":9,"~1":10}"#, #"[{"op":"test","path":"/~01","value":10}]"#, #"{"/":9,"~1":10}"#
    ),
    ("A.15", #"{"/":9,"~1":10}"#, #"[{"op":"test","path":"/~01","value":"10"}]"#, nil),
    (
      "A.16", #"{"foo":["bar"]}"#, #"[{"op":"add","path":"/foo/-","value":["abc","def"]}]"#,
      #"{"foo":["bar",["abc","def"]]}"#
    ),
  ]

  @Test(arguments: appendixA)
  func followsRFC6902AppendixA(_ example: (String, String, String, String?)) throws {
    let (name, documentText, patchText, expectedText) = example
    var document = try JSONParser.parse(documentText)
    let original = document
    let patch = try JSONPatch(json: try JSONParser.parse(patchText))
    if let expectedText {
      try patch.apply(to: &document)
      // Serialized text, not ==, so that member order counts too.
      #expect(document.serialized() == expectedText, "\(name)")
    } else {
      #expect(throws: JSONPatchError.self, "\(name)") { try patch.apply(to: &document) }
      #expect(document.serialized() == original.serialized(), "\(name)")
    }
  }

  @Test(arguments: appendixA)
  func writesItsOwnTextExactlyAsItsJSONValueWould(_ example: (String, String, String, String?)) throws {
    let patch = try JSONPatch(json: try JSONParser.parse(example.2))
    #expect(String(decoding: patch.serializedBytes(), as: UTF8.self) == patch.json.serialized(), "\(example.0)")
    #expect(try JSONPatch(json: try JSONParser.parse(patch.serializedBytes())) == patch)
  }

  @Test func writesEscapedPathsAndAnEmptyPatch() throws {
    let patch = JSONPatch([
      .add(JSONPointer(tokens: ["metadata", "annotations", "example.com/a~b"]), "v\"x"),
      .remove(JSONPointer(tokens: ["spec", "x"])), .replace(JSONPointer(tokens: ["n"]), ["k": [1, nil, true]]),
    ])
    #expect(String(decoding: patch.serializedBytes(), as: UTF8.self) == patch.json.serialized())
    #expect(String(decoding: JSONPatch().serializedBytes(), as: UTF8.self) == "[]")
  }

  @Test func leavesTheDocumentUnchangedWhenAnyOperationFails() throws {
    let text = #"{"metadata":{"labels":{"a":"1"}},"spec":{"containers":[{"name":"app"}]}}"#
    var document = try JSONParser.parse(text)
    let patch = JSONPatch([
      .add(try JSONPointer(parsing: "/metadata/labels/b"), "2"),
      .remove(try JSONPointer(parsing: "/metadata/labels/a")),
      .add(try JSONPointer(parsing: "/spec/containers/-"), ["name": "sidecar"]),
      .replace(try JSONPointer(parsing: "/spec/containers/0/name"), "renamed"),
      .add(try JSONPointer(parsing: "/spec/volumes/0"), ["name": "v"]),
    ])
    #expect(throws: JSONPatchError.self) { try patch.apply(to: &document) }
    #expect(document.serialized() == text)

    try JSONPatch(patch.operations.dropLast()).apply(to: &document)
    #expect(
      document.serialized()
        == #"{"metadata":{"labels":{"b":"2"}},"spec":{"containers":[{"name":"renamed"},{"name":"sidecar"}]}}"#
    )
  }

  @Test func leavesTheDocumentUnchangedWhenOneOperationFails() throws {
    let text = #"{"a":{"b":[1,2,{"c":true}]}}"#
    var document = try JSONParser.parse(text)
    let failing: [JSONPatchOperation] = [
      .add(try JSONPointer(parsing: "/a/b/4"), 0),
      .add(try JSONPointer(parsing: "/a/b/2/c/d"), 0),
      .add(try JSONPointer(parsing: "/a/b/01"), 0),
      .add(try JSONPointer(parsing: "/a/x/y"), 0),
      .remove(try JSONPointer(parsing: "/a/b/3")),
      .remove(try JSONPointer(parsing: "/a/b/-")),
      .remove(try JSONPointer(parsing: "/a/nope")),
      .remove(JSONPointer()),
      .replace(try JSONPointer(parsing: "/a/nope"), 1),
      .replace(try JSONPointer(parsing: "/a/b/2/c/d"), 1),
      .test(try JSONPointer(parsing: "/a/b/0"), 2),
      .test(try JSONPointer(parsing: "/a/z"), nil),
    ]
    for operation in failing {
      #expect(throws: JSONPatchError.self, "\(operation)") {
        try JSONPatch.apply(operation, to: &document)
      }
      #expect(document.serialized() == text, "\(operation)")
    }
  }

  @Test func addsAtEveryArrayPositionIncludingTheEnd() throws {
    var document: JSONValue = ["x": [1, 2]]
    try JSONPatch.apply(.add(try JSONPointer(parsing: "/x/0"), 0), to: &document)
    try JSONPatch.apply(.add(try JSONPointer(parsing: "/x/3"), 3), to: &document)
    try JSONPatch.apply(.add(try JSONPointer(parsing: "/x/-"), 4), to: &document)
    #expect(document.serialized() == #"{"x":[0,1,2,3,4]}"#)
  }

  @Test func addToAnExistingMemberReplacesItInPlace() throws {
    var document: JSONValue = ["a": 1, "b": 2]
    try JSONPatch.apply(.add(try JSONPointer(parsing: "/a"), "new"), to: &document)
    #expect(document.serialized() == #"{"a":"new","b":2}"#)
  }

  @Test func replacesOrAddsTheWholeDocument() throws {
    var document: JSONValue = ["a": 1]
    try JSONPatch.apply(.replace(JSONPointer(), [1]), to: &document)
    #expect(document == [1])
    try JSONPatch.apply(.add(JSONPointer(), "s"), to: &document)
    #expect(document == "s")
  }

  @Test func removesMembersAndElements() throws {
    var document: JSONValue = ["a": [1, 2, 3], "b": nil]
    try JSONPatch.apply(.remove(try JSONPointer(parsing: "/b")), to: &document)
    try JSONPatch.apply(.remove(try JSONPointer(parsing: "/a/1")), to: &document)
    #expect(document.serialized() == #"{"a":[1,3]}"#)
  }

  @Test func testComparesNumbersByValueAndObjectsInAnyOrder() throws {
    var document = try JSONParser.parse(#"{"n":1.0,"o":{"x":1,"y":2}}"#)
    try JSONPatch([
      .test(try JSONPointer(parsing: "/n"), 1),
      .test(try JSONPointer(parsing: "/o"), ["y": 2, "x": 1]),
    ]).apply(to: &document)
  }

  @Test func errorsNameTheOperationAndPathButNotValues() throws {
    var document: JSONValue = ["env": [["name": "TOKEN", "value": "s3cret"]]]
    let test = JSONPatch([.test(try JSONPointer(parsing: "/env/0/value"), "guess")])
    let failed = try #require(throws: JSONPatchError.self) { try test.apply(to: &document) }
    #expect(failed.message.contains("operation 0"))
    #expect(failed.message.contains("/env/0/value"))
    #expect(!failed.message.contains("s3cret") && !failed.message.contains("guess"))

    let add = JSONPatchOperation.add(try JSONPointer(parsing: "/spec/volumes/-"), 1)
    let missing = try #require(throws: JSONPatchError.self) {
      try JSONPatch.apply(add, to: &document)
    }
    #expect(
      missing.description == #"add "/spec/volumes/-": "/spec" does not exist (create it first)"#)
  }

  @Test func encodesOperationsInRFCOrder() throws {
    let patch = JSONPatch([
      .add(
        try JSONPointer(parsing: "/metadata/annotations/podinject.dev~1status"), ["applied": ["a"]]),
      .remove(try JSONPointer(parsing: "/a")),
      .replace(JSONPointer(tokens: ["m~n"]), 1),
      .test(JSONPointer(), nil),
    ])
    #expect(
      patch.json.serialized()
        == #"[{"op":"add","path":"/metadata/annotations/podinject.dev~1status","value":{"applied":["a"]}},"#
        + #"{"op":"remove","path":"/a"},{"op":"replace","path":"/m~0n","value":1},"#
        + #"{"op":"test","path":"","value":null}]"#)
    #expect(try JSONPatch(json: patch.json) == patch)
    #expect(JSONPatch().isEmpty && !patch.isEmpty)
    #expect(JSONPatch().json.serialized() == "[]")
  }

  @Test(arguments: [
    #"{}"#,
    #"[1]"#,
    #"[{"path":"/a"}]"#,
    #"[{"op":"add","value":1}]"#,
    #"[{"op":"add","path":"/a"}]"#,
    #"[{"op":"add","path":"a","value":1}]"#,
    #"[{"op":"move","from":"/a","path":"/b"}]"#,
    #"[{"op":"copy","from":"/a","path":"/b"}]"#,
    #"[{"op":"merge","path":"/b","value":1}]"#,
    #"[{"op":1,"path":"/b"}]"#,
  ])
  func refusesMalformedPatches(_ text: String) throws {
    let json = try JSONParser.parse(text)
    #expect(throws: JSONPatchError.self) { try JSONPatch(json: json) }
  }
}
