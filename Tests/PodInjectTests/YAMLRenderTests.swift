import Testing

@testable import PodInject

@Suite("YAML rendering")
struct YAMLRenderTests {
  @Test func rendersBlockStyleLikeKubectl() {
    let pod: JSONValue = [
      "apiVersion": "v1",
      "metadata": ["name": "web", "labels": [:], "annotations": ["example.com/on": "true"]],
      "spec": [
        "containers": [
          ["name": "app", "args": ["--port=80", "-v"], "ports": [["containerPort": 80]]]
        ],
        "volumes": [],
        "matrix": [["a", "b"], []],
        "script": "set -e\necho hi\n",
        "priority": nil,
        "hostNetwork": false,
      ],
    ]
    #expect(
      YAML.render(pod) == """
        apiVersion: v1
        metadata:
          name: web
          labels: {}
          annotations:
            example.com/on: "true"
        spec:
          containers:
          - name: app
            args:
            - --port=80
            - -v
            ports:
            - containerPort: 80
          volumes: []
          matrix:
          - - a
            - b
          - []
          script: |
            set -e
            echo hi
          priority: null
          hostNetwork: false

        """)
  }

  @Test func rendersScalarDocuments() {
    #expect(YAML.render("hello") == "hello\n")
    #expect(YAML.render(.number("1e3")) == "1e3\n")
    #expect(YAML.render([:]) == "{}\n")
    #expect(YAML.render("a\nb") == "|-\n  a\n  b\n")
  }

  /// Strings that would read back as something else, or not at all, if written plainly.
  static let trickyStrings: [String] = [
    "", " ", "  padded  ", "true", "True", "yes", "y", "n", "NO", "on", "off", "null", "~", "Null",
    "1", "-1", "+1", "1.5", "1e3", ".5", "0x1F", "0o17", "08", "1_000", ".inf", "-.inf", ".nan",
    "2024-01-02", "2024-01-02T10:00:00Z", "12:30", "190:20:30", "a: b", "a:b", "a #b", "a#b", "#x",
    "- a", "-", "-a", "--port=80", "---", "--- a", "...", "... a", "? x", "?x", ":x", ":", "key:",
    "[a]", "]", "{a}", "}", ",a", "*a", "&a", "!a", "!!str", "|", ">", "'q'", "\"q\"", "%x", "@x",
    "`x`", "<<", "=", "a\tb", "\t", "a,b", "a[0]", "{{ .metadata.name }}", "$(VAR)",
    "line1\nline2", "line1\nline2\n", "a\n\n", "a\n\n\n", "\n", "\n\n", "\nx", " leading\nx",
    "x\n leading", "\tx\ny", "tab\tin\nliteral", "a\n\tb", "a\n   ", "a\n   \nb", "a\n\n b\n",
    "trailing \nspace ", "crlf\r\nx", "cr\rx",
    "nul\u{0}x", "bell\u{7}", "del\u{7F}", "nel\u{85}x", "ls\u{2028}x", "ps\u{2029}x",
    "bom\u{FEFF}x", "café ☕ 日本", "emoji 😀", "a\n---\nb", "a\n...\n", "# not a comment\nx",
    "quote\"and\\backslash", "\u{A0}nbsp\u{A0}", "c1\u{9B}x",
    String(repeating: "long ", count: 300),
  ]

  @Test(arguments: trickyStrings)
  func stringsSurviveARoundTrip(text: String) throws {
    let values: [JSONValue] = [
      .string(text), ["key": .string(text)], [.string(text)], [text: "value"],
      [["nested": [text: .string(text)]]],
    ]
    for value in values {
      let rendered = YAML.render(value)
      let parsed = try YAML.parseJSONDocuments(Array(rendered.utf8))
      #expect(parsed == [value], "rendered as:\n\(rendered)")
    }
  }

  @Test func stringsArePlainWhenThatIsSafe() {
    #expect(
      YAML.render(["image": "nginx:1.25", "cmd": "--port=80", "q": "100m"])
        == "image: nginx:1.25\ncmd: --port=80\nq: 100m\n")
    #expect(YAML.render(["a": "true", "b": "1", "c": ""]) == "a: \"true\"\nb: \"1\"\nc: \"\"\n")
  }

  @Test func veryLongKeysUseExplicitKeySyntax() throws {
    let key = String(repeating: "k", count: 2000)
    let value: JSONValue = [key: ["a", "b"], "short": 1]
    let rendered = YAML.render(value)
    #expect(rendered.hasPrefix("? "))
    #expect(try YAML.parseJSONDocuments(Array(rendered.utf8)) == [value])
  }

  @Test func numbersAndLiteralsRoundTrip() throws {
    let value: JSONValue = [
      "n": [
        .number("0.10"), .number("-1e-3"), .number("12345678901234567890"), 0, true, false, nil,
      ]
    ]
    let parsed = try YAML.parseJSONDocuments(Array(YAML.render(value).utf8))
    #expect(parsed.count == 1)
    #expect(YAMLFixture.identical(parsed[0], value))
  }
}
