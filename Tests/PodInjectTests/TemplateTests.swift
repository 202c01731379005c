import Testing

@testable import PodInject

struct TemplateTests {
  static let pod: JSONValue = [
    "metadata": [
      "name": "web-1",
      "namespace": "team-a",
      "labels": ["app": "web", "app.kubernetes.io/name": "shop", "empty": "", "café": "crème"],
      "annotations": ["example.com/team": "payments", "owner": "ann", "say \"hi\"": "quoted"],
    ],
    "spec": [
      "containers": [["name": "app", "image": "nginx:1.27"], ["name": "sidecar"]],
      "replicas": 3,
      "priority": .number("1e3"),
      "hostNetwork": false,
    ],
    "request": ["userInfo": ["username": "system:serviceaccount:apps:deployer"], "dryRun": true],
    "nothing": nil,
  ]

  struct RenderCase: CustomTestStringConvertible, Sendable {
    let template: String
    let expected: String
    init(_ template: String, _ expected: String) {
      self.template = template
      self.expected = expected
    }
    var testDescription: String { template }
  }

  static let renderCases: [RenderCase] = [
    RenderCase("plain text", "plain text"),
    RenderCase("", ""),
    RenderCase("{{ .metadata.labels.app }}", "web"),
    RenderCase("{{.metadata.labels.app}}", "web"),
    RenderCase("{{\n\t.metadata.name\n}}", "web-1"),
    RenderCase(
      "app={{ .metadata.labels.app }}, ns={{ .metadata.namespace }}", "app=web, ns=team-a"),
    RenderCase("{{ .request.userInfo.username }}", "system:serviceaccount:apps:deployer"),
    RenderCase("{{ .metadata.annotations.owner }}", "ann"),
    RenderCase(#"{{ index .metadata.annotations "example.com/team" }}"#, "payments"),
    RenderCase(#"{{ index .metadata.labels "app.kubernetes.io/name" }}"#, "shop"),
    RenderCase(#"{{ index .metadata.annotations "say \"hi\"" }}"#, "quoted"),
    RenderCase("{{ index .metadata.annotations `example.com/team` }}", "payments"),
    RenderCase(#"{{ index .metadata "annotations" "example.com/team" }}"#, "payments"),
    RenderCase(#"{{ index .spec.containers 1 "name" }}"#, "sidecar"),
    RenderCase(#"{{ index (index .spec.containers 0) "image" }}"#, "nginx:1.27"),
    RenderCase("{{ (index .spec.containers 0).name }}", "app"),
    RenderCase("{{ (.metadata.labels).app }}", "web"),
    RenderCase("{{ index .metadata.name }}", "web-1"),
    RenderCase(#"{{ .metadata.labels.missing | default "none" }}"#, "none"),
    RenderCase(#"{{ .metadata.labels.missing|default "none" }}"#, "none"),
    RenderCase(#"{{ default "none" .metadata.labels.missing }}"#, "none"),
    RenderCase(#"{{ default "none" .metadata.labels.app }}"#, "web"),
    RenderCase(#"{{ default "none" (index .metadata.annotations "example.com/owner") }}"#, "none"),
    RenderCase(
      #"{{ index .metadata.annotations "example.com/owner" | default "nobody" }}"#, "nobody"),
    RenderCase(#"{{ index .spec.containers 9 "name" | default "none" }}"#, "none"),
    RenderCase(
      #"{{ .metadata.name.first | default "scalar has no members" }}"#, "scalar has no members"),
    RenderCase(#"{{ .nothing | default "was null" }}"#, "was null"),
    RenderCase(#"{{ .metadata.labels.app | default "x" | default "y" }}"#, "web"),
    RenderCase(#"{{ default "x" "y" }}"#, "y"),
    // A present empty string is used as it is (unlike Helm's default, which would replace it).
    RenderCase(#"[{{ .metadata.labels.empty | default "x" }}]"#, "[]"),
    RenderCase(#"{{ .metadata.labels.café | default "none" }}"#, "crème"),
    RenderCase("{{ .spec.replicas }}", "3"),
    RenderCase("{{ .spec.priority }}", "1e3"),
    RenderCase("{{ .spec.hostNetwork }}/{{ .request.dryRun }}", "false/true"),
    RenderCase(#"{{ "literal" }}"#, "literal"),
    RenderCase(#"{{ "a\"b\\c\nd\te" }}"#, "a\"b\\c\nd\te"),
    RenderCase(#"{{ "\u00e9\U0001F680" }}"#, "é🚀"),
    RenderCase("{{ `raw \\n` }}", "raw \\n"),
    RenderCase(#"{{ "}}" }}"#, "}}"),
    RenderCase("$(POD_NAME)-{{ .metadata.name }}", "$(POD_NAME)-web-1"),
    RenderCase("$(VAR) and $$(ESCAPED)", "$(VAR) and $$(ESCAPED)"),
    RenderCase("a }} b {{ .metadata.name }}", "a }} b web-1"),
    RenderCase("{ .metadata.name } {x}", "{ .metadata.name } {x}"),
    RenderCase("naïve {{ .metadata.name }} ✓", "naïve web-1 ✓"),
    RenderCase("x  {{- .metadata.name -}}  y", "xweb-1y"),
    RenderCase("x \n {{- .metadata.name }} \n y", "xweb-1 \n y"),
    RenderCase("x {{ .metadata.name -}}\n\ty", "x web-1y"),
    RenderCase("{{-  .metadata.name  -}}", "web-1"),
    RenderCase("a{{/* a comment, with }} inside */}}b", "ab"),
    RenderCase("a {{- /* trimmed */ -}} b", "ab"),
    RenderCase("line1\n{{ .metadata.name }}\n", "line1\nweb-1\n"),
  ]

  @Test("renders", arguments: renderCases)
  func rendering(_ c: RenderCase) throws {
    let template = try Template.parse(c.template)
    #expect(try template.render(Self.pod) == c.expected)
  }

  struct FailureCase: CustomTestStringConvertible, Sendable {
    let template: String
    let error: TemplateError
    init(_ template: String, _ error: TemplateError) {
      self.template = template
      self.error = error
    }
    var testDescription: String { template }
  }

  static let failureCases: [FailureCase] = [
    FailureCase("{{ .metadata.labels.missing }}", .valueMissing(path: ".metadata.labels.missing")),
    FailureCase("x-{{ .nothing }}", .valueMissing(path: ".nothing")),
    FailureCase("{{ .metadata.name.first }}", .valueMissing(path: ".metadata.name.first")),
    FailureCase("{{ .nothing.deeper }}", .valueMissing(path: ".nothing.deeper")),
    FailureCase(
      #"{{ index .spec.containers 5 "name" }}"#, .valueMissing(path: ".spec.containers[5].name")),
    FailureCase(
      #"{{ index .spec.containers "0" }}"#, .valueMissing(path: #".spec.containers["0"]"#)),
    FailureCase("{{ index .metadata.labels 0 }}", .valueMissing(path: ".metadata.labels[0]")),
    FailureCase(
      #"{{ index .metadata.annotations "example.com/owner" }}"#,
      .valueMissing(path: #".metadata.annotations["example.com/owner"]"#)),
    FailureCase("{{ .metadata.labels }}", .notAScalar(path: ".metadata.labels")),
    FailureCase("{{ . }}", .notAScalar(path: ".")),
    FailureCase("{{ index .spec.containers 0 }}", .notAScalar(path: ".spec.containers[0]")),
    // A default stands in for a missing value, not for a mistaken path to an object.
    FailureCase(#"{{ .spec.containers | default "x" }}"#, .notAScalar(path: ".spec.containers")),
    FailureCase("{{ .metadata.name }} {{ .missing }}", .valueMissing(path: ".missing")),
  ]

  @Test("fails to render", arguments: failureCases)
  func failing(_ c: FailureCase) throws {
    let template = try Template.parse(c.template)
    #expect(throws: c.error) { try template.render(Self.pod) }
  }

  @Test func rendersAgainstAnyRoot() throws {
    #expect(throws: TemplateError.valueMissing(path: ".a")) {
      try Template.parse("{{ .a }}").render(nil)
    }
    #expect(try Template.parse("{{ . }}").render("root") == "root")
    #expect(try Template.parse("no actions").render(nil) == "no actions")
  }

  @Test func describesFailuresWithoutValues() {
    #expect(
      TemplateError.valueMissing(path: ".metadata.labels.app").description
        == "no value at .metadata.labels.app and no default")
    #expect(
      TemplateError.notAScalar(path: ".spec").description
        == ".spec is an object or array, not a string, number or boolean")
  }

  @Test(
    "knows literal text",
    arguments: [
      ("plain", true), ("", true), ("$(VAR)", true), ("a{b}c {", true), ("}}", true),
      ("{{ .a }}", false), ("{{/* c */}}", false), (#"{{ "x" }}"#, false),
    ])
  func literal(_ text: String, _ isLiteral: Bool) throws {
    let template = try Template.parse(text)
    #expect(template.isLiteral == isLiteral)
    #expect(template.text == text)
  }

  @Test(
    "lists the paths it reads",
    arguments: [
      ("plain", []),
      (#"{{ "lit" }}"#, []),
      ("{{ . }}", ["."]),
      ("{{ .metadata.labels.app }}", [".metadata.labels.app"]),
      (#"{{ index .metadata.labels "app" }}"#, [".metadata.labels.app"]),
      (
        #"{{ .metadata.labels.app }}-{{ index .metadata.annotations "example.com/team" }}-{{ .metadata.labels.app }}"#,
        [".metadata.labels.app", #".metadata.annotations["example.com/team"]"#]
      ),
      (#"{{ index .spec.containers 0 "name" }}"#, [".spec.containers[0].name"]),
      ("{{ (index .spec.containers 0).image }}", [".spec.containers[0].image"]),
      (#"{{ default "x" .a.b }}{{ .c | default "y" }}"#, [".a.b", ".c"]),
      (#"{{ index .metadata.labels "" "9lives" }}"#, [#".metadata.labels[""]["9lives"]"#]),
    ] as [(String, [String])])
  func references(_ text: String, _ references: [String]) throws {
    #expect(try Template.parse(text).references == references)
  }

  @Test func equalTemplatesCompareEqual() throws {
    #expect(try Template.parse("{{ .a }}") == Template.parse("{{ .a }}"))
    #expect(try Template.parse("{{ .a }}") != Template.parse("{{.a}}"))
  }

  struct SyntaxCase: CustomTestStringConvertible, Sendable {
    let template: String
    let message: String
    init(_ template: String, _ message: String) {
      self.template = template
      self.message = message
    }
    var testDescription: String { template }
  }

  static let unclosed = "unclosed action: '{{' without a matching '}}'"
  static let onlyIndexAndDefault = "templates support field paths, index and default"

  static let syntaxCases: [SyntaxCase] = [
    SyntaxCase("{{ .metadata.name", "column 1: " + unclosed),
    SyntaxCase("{{", "column 1: " + unclosed),
    SyntaxCase("abc {{ .a }} {{", "column 14: " + unclosed),
    SyntaxCase("{{ .a }} {{ index .b", "column 10: " + unclosed),
    SyntaxCase("{{ .a | default ", "column 1: " + unclosed),
    SyntaxCase("{{ }}", "column 4: empty action; write a field path such as .metadata.name"),
    SyntaxCase("{{- }}", "column 5: empty action; write a field path such as .metadata.name"),
    SyntaxCase("{{ upper .a }}", "column 4: unknown function \"upper\"; " + onlyIndexAndDefault),
    SyntaxCase("{{ .a | quote }}", "column 9: unknown function \"quote\"; " + onlyIndexAndDefault),
    SyntaxCase(
      "{{ if .a }}x{{ end }}",
      "column 4: \"if\" is not supported; templates hold field paths, index and default"),
    SyntaxCase(
      "héllo {{ upper }}", "column 10: unknown function \"upper\"; " + onlyIndexAndDefault),
    SyntaxCase(
      "{{ .metadata.labels.app-name }}",
      #"column 24: '-' cannot appear in a field name; use index for such keys, as in index .metadata.annotations "example.com/team""#
    ),
    SyntaxCase(
      "{{ .metadata.annotations.example.com/team }}",
      #"column 37: '/' cannot appear in a field name; use index for such keys, as in index .metadata.annotations "example.com/team""#
    ),
    SyntaxCase(
      "first line\n  {{ .a-b }}",
      #"line 2, column 8: '-' cannot appear in a field name; use index for such keys, as in index .metadata.annotations "example.com/team""#
    ),
    SyntaxCase(
      "{{ .spec.containers.0.name }}",
      "column 21: a field name cannot start with a digit; use index for array elements and such keys, as in index .spec.containers 0"
    ),
    SyntaxCase("{{ .a. }}", "column 7: missing field name after '.'"),
    SyntaxCase("{{ .a..b }}", "column 7: missing field name after '.'"),
    SyntaxCase(
      #"{{ index .metadata.annotations "team }}"#, "column 32: unterminated quoted string"),
    SyntaxCase("{{ \"a\nb\" }}", "line 1, column 4: unterminated quoted string"),
    SyntaxCase("{{ `raw }}", "column 4: unterminated raw string"),
    SyntaxCase(
      #"{{ "a\qb" }}"#, #"column 6: unknown escape sequence '\q'; use \", \\, \n, \t, \r or \u"#),
    SyntaxCase(
      #"{{ "\x41" }}"#, #"column 5: unknown escape sequence '\x'; use \", \\, \n, \t, \r or \u"#),
    SyntaxCase(#"{{ "\u12" }}"#, #"column 5: \u needs 4 hexadecimal digits"#),
    SyntaxCase(#"{{ "\uD800" }}"#, "column 5: escape sequence is not a valid Unicode code point"),
    SyntaxCase(
      "{{ index .spec.containers -1 }}", "column 27: an array index must be a non-negative integer"),
    SyntaxCase(
      "{{ index .spec.containers 007 }}",
      "column 27: an array index must be written without leading zeros"),
    SyntaxCase("{{ index .a 12345678901 }}", "column 13: array index is too large"),
    SyntaxCase(
      "{{ index .a .b }}",
      "column 13: index keys must be quoted strings or non-negative integers, not '.'"),
    SyntaxCase(
      "{{ index .a key }}",
      "column 13: index keys must be quoted strings or non-negative integers, not 'k'"),
    SyntaxCase(
      "{{ index }}",
      #"column 4: index needs a field path and keys, as in index .metadata.annotations "example.com/team""#
    ),
    SyntaxCase(
      #"{{ index "x" "y" }}"#,
      #"column 10: index needs a field path to look into, as in index .metadata.annotations "example.com/team""#
    ),
    SyntaxCase(
      #"{{ index ("x") "y" }}"#, "column 10: index needs a field path to look into, not a text"),
    SyntaxCase(#"{{ index .a"b" }}"#, "column 12: unexpected '\"'; separate arguments with spaces"),
    SyntaxCase(
      #"{{ .a | default }}"#, #"column 17: default needs a quoted string, as in | default "text""#),
    SyntaxCase(
      #"{{ .a | default .b }}"#,
      #"column 17: default needs a quoted string, as in | default "text""#),
    SyntaxCase(
      #"{{ default .a }}"#,
      #"column 12: default needs a quoted string first, as in default "text" .metadata.labels.app"#),
    SyntaxCase(
      #"{{ default "x" }}"#,
      #"column 4: default needs a value after the text, as in default "text" .metadata.labels.app"#),
    SyntaxCase(
      #"{{ default "x" index .a "b" }}"#,
      #"column 16: put index in parentheses here, as in default "text" (index .metadata.labels "app")"#
    ),
    SyntaxCase(
      "{{ .a .b }}",
      "column 7: unexpected '.' in action; expected '|' or '}}' (only index and default take arguments)"
    ),
    SyntaxCase(
      #"{{ .a | default "x" "y" }}"#,
      "column 21: unexpected '\"' in action; expected '|' or '}}' (only index and default take arguments)"
    ),
    SyntaxCase(
      "{{ $x }}", "column 4: variables are not supported; write a field path such as .metadata.name"
    ),
    SyntaxCase(
      "{{ 3 }}", "column 4: numbers are not supported as values; quote them as text, as in \"3\""),
    SyntaxCase(
      "{{ .a | }}",
      "column 9: missing function after '|'; only default can be piped, as in | default \"text\""),
    SyntaxCase("{{ | default \"x\" }}", "column 4: missing value before '|'"),
    SyntaxCase("{{ (.a }}", "column 8: expected ')' to close the '(' at column 4, found '}'"),
    SyntaxCase(
      #"{{ (default "x" .a).b }}"#, "column 20: only a field path can be followed by more fields"),
    SyntaxCase(
      "{{ .a}x }}",
      "column 6: '}' cannot appear in a field name; use index for such keys, as in index .metadata.annotations \"example.com/team\""
    ),
    SyntaxCase(
      "{{ .a }x }}",
      "column 7: unexpected '}' in action; expected '|' or '}}' (only index and default take arguments)"
    ),
    SyntaxCase("{{/* unclosed }}", "column 1: unclosed comment"),
  ]

  @Test("refuses bad syntax, naming the column", arguments: syntaxCases)
  func syntaxErrors(_ c: SyntaxCase) {
    #expect(throws: RuleSyntaxError(message: c.message)) { try Template.parse(c.template) }
  }
}
