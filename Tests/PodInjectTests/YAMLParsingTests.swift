import Testing

@testable import PodInject

@Suite("YAML parsing")
struct YAMLParsingTests {
  @Test func blockAndFlowCollectionsNest() throws {
    let value = try YAMLFixture.json(
      """
      kind: Pod   # a comment
      spec:
        containers:
        - name: app
          args: [--port, "8080", {k: v}]
        - {name: side, ports: [{containerPort: 80}]}
      """)
    let expected: JSONValue = [
      "kind": "Pod",
      "spec": [
        "containers": [
          ["name": "app", "args": ["--port", "8080", ["k": "v"]]],
          ["name": "side", "ports": [["containerPort": 80]]],
        ]
      ],
    ]
    #expect(YAMLFixture.identical(value, expected))
  }

  @Test func multiDocumentStreamSkipsEmptyDocuments() throws {
    let text = """
      # only a comment
      ---
      ---
      a: 1
      ---
      # nothing here either
      ...
      --- b
      --- ~
      ---
      """
    let documents = try YAML.parseJSONDocuments(Array(text.utf8))
    #expect(documents == [["a": 1], "b", nil])
    #expect(try YAML.parseDocuments([]).isEmpty)
    #expect(try YAML.parseDocuments(Array("# just a comment\n".utf8)).isEmpty)
  }

  @Test func blockScalarsHonourChomping() throws {
    let value = try YAMLFixture.json(
      """
      clip: |
        line 1
          indented
        line 3

      strip: |-
        text

      keep: |+
        text

      folded: >
        a
        b

        c
      explicitIndent: |2
          two spaces kept
      last: end
      """)
    #expect(value["clip"] == "line 1\n  indented\nline 3\n")
    #expect(value["strip"] == "text")
    #expect(value["keep"] == "text\n\n")
    #expect(value["folded"] == "a b\nc\n")
    #expect(value["explicitIndent"] == "  two spaces kept\n")
  }

  @Test func quotedScalarsDecodeEscapes() throws {
    let value = try YAMLFixture.json(#"[ "a\tb\u00e9\n", 'it''s', "\/" ]"#)
    #expect(value == ["a\tbé\n", "it's", "/"])
  }

  @Test func aliasesCopyTheAnchoredNode() throws {
    let value = try YAMLFixture.json(
      """
      base: &res {cpu: 100m, memory: 64Mi}
      list: &names [a, b]
      copy: *res
      names: *names
      scalar: &s hello
      again: *s
      """)
    #expect(value["copy"] == ["cpu": "100m", "memory": "64Mi"])
    #expect(value["names"] == ["a", "b"])
    #expect(value["again"] == "hello")
  }

  @Test func mergeKeysLetExplicitKeysWin() throws {
    let value = try YAMLFixture.json(
      """
      base: &base {a: 1, b: 1, c: 1}
      extra: &extra {c: 2, d: 2}
      one:
        b: explicit-before
        <<: *base
        c: explicit-after
      many:
        <<: [*extra, *base]
        a: mine
      inline:
        <<: {x: 1}
      """)
    #expect(value["one"] == ["b": "explicit-before", "a": 1, "c": "explicit-after"])
    #expect(value["one"]?.objectValue?.keys == ["b", "a", "c"])
    // Earlier mappings in the list win over later ones.
    #expect(value["many"] == ["c": 2, "d": 2, "a": "mine", "b": 1])
    #expect(value["inline"] == ["x": 1])
  }

  @Test func quotedMergeKeyIsAnOrdinaryKey() throws {
    #expect(try YAMLFixture.json(#"{"<<": {a: 1}}"#) == ["<<": ["a": 1]])
  }

  @Test func mergingAScalarIsAnError() throws {
    let error = try #require(YAMLFixture.error("a: 1\nb:\n  <<: 5\n"))
    #expect(error.line == 3)
    #expect(error.message.contains("merge"))
  }

  @Test func duplicateKeysStayInNodesAndTheLastWinsInJSON() throws {
    let text = "name: first\nimage: nginx\nname: second\n"
    let node = try YAMLFixture.node(text)
    guard case .mapping(let pairs) = node.kind else {
      Issue.record("expected a mapping")
      return
    }
    #expect(pairs.map { $0.key.scalarText } == ["name", "image", "name"])
    #expect(pairs.map(\.key.line) == [1, 2, 3])
    let value = try YAMLFixture.json(text)
    #expect(value == ["name": "second", "image": "nginx"])
    #expect(value.objectValue?.keys == ["name", "image"])
  }

  @Test func nodesKnowWhereNestedKeysStart() throws {
    let node = try YAMLFixture.node(
      """
      apiVersion: v1
      spec:
        containers:
          - name: app
            image: nginx
      """)
    guard case .mapping(let top) = node.kind,
      case .mapping(let spec) = top[1].value.kind,
      case .sequence(let containers) = spec[0].value.kind,
      case .mapping(let container) = containers[0].kind
    else {
      Issue.record("unexpected shape")
      return
    }
    #expect((top[1].key.line, top[1].key.column) == (2, 1))
    #expect((spec[0].key.line, spec[0].key.column) == (3, 3))
    #expect((containers[0].line, containers[0].column) == (4, 7))
    #expect((container[1].key.line, container[1].key.column) == (5, 7))
    #expect((container[1].value.line, container[1].value.column) == (5, 14))
    #expect(container[1].value.scalarText == "nginx")
  }

  @Test func syntaxErrorsCarryLineAndColumn() throws {
    let error = try #require(YAMLFixture.error("a: 1\nb:\n  c: 2\n d: 3\n"))
    #expect(error.line == 4)
    #expect(error.column == 2)
    #expect(error.description.hasPrefix("line 4, column 2: "))

    let unclosed = try #require(YAMLFixture.error("a: [1, 2\n"))
    #expect(unclosed.line == 2)
    #expect(unclosed.message.contains("flow sequence"))
  }

  @Test func unknownAnchorsAreErrors() throws {
    let error = try #require(YAMLFixture.error("a: 1\nb: *nowhere\n"))
    #expect((error.line, error.column) == (2, 4))
    #expect(error.message == "alias to an anchor that is not defined before it")
    #expect(!error.description.contains("nowhere"), "the anchor's name is input text")
  }

  @Test(
    arguments: [
      [0x61, 0x3A, 0x20, 0xFF, 0x0A],  // a stray byte
      [0x61, 0x3A, 0x20, 0xC3],  // a truncated sequence
      [0xFF, 0xFE, 0x61, 0x00],  // UTF-16 with its byte order mark
      [0x61, 0x3A, 0x20, 0x01],  // a control character
    ] as [[UInt8]])
  func nonUTF8InputIsAnError(bytes: [UInt8]) {
    #expect(YAMLFixture.error(bytes) != nil)
  }

  @Test func utf8ByteOrderMarkIsAccepted() throws {
    #expect(try YAML.parseJSONDocuments([0xEF, 0xBB, 0xBF] + Array("a: 1".utf8)) == [["a": 1]])
    #expect(try YAML.parseJSONDocuments([0xEF, 0xBB, 0xBF] + Array("a: 1\nb: 2\n".utf8)) == [["a": 1, "b": 2]])
  }

  @Test func jsonIsYAML() throws {
    let json = "{\"a\": 1, \"b\": [true, null, -1.5e3, \"x\"],\t\"c\":\t{}\n,\n\t\"d\": []}"
    let value = try YAMLFixture.json(json)
    #expect(
      YAMLFixture.identical(
        value, ["a": 1, "b": [true, nil, .number("-1.5e3"), "x"], "c": [:], "d": []]))
  }

  @Test func nestingIsLimitedTo256Levels() throws {
    let deepest = String(repeating: "[", count: 256) + String(repeating: "]", count: 256)
    #expect(YAMLFixture.error(deepest) == nil)
    let tooDeep = String(repeating: "[", count: 257) + String(repeating: "]", count: 257)
    #expect(YAMLFixture.error(tooDeep)?.message == "nesting deeper than 256")
    let hugelyDeep = String(repeating: "[", count: 100_000)
    #expect(YAMLFixture.error(hugelyDeep)?.message == "nesting deeper than 256")
  }

  @Test func aliasesCannotExceedTheNestingLimit() {
    let anchored =
      "a: &deep " + String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
    let nested =
      "\nb: " + String(repeating: "[", count: 100) + "*deep" + String(repeating: "]", count: 100)
    #expect(YAMLFixture.error(anchored + "\nb: *deep") == nil)
    #expect(YAMLFixture.error(anchored + nested)?.message == "nesting deeper than 256")
  }

  @Test func aliasBombsAreRefused() {
    var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    for level in 1...9 {
      let previous = "*a\(level - 1)"
      let items = Array(repeating: previous, count: 10).joined(separator: ", ")
      text += "a\(level): &a\(level) [\(items)]\n"
    }
    let error = YAMLFixture.error(text)
    #expect(error?.message.contains("nodes") == true)
  }
}
