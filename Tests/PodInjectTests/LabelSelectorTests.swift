import Testing

@testable import PodInject

struct LabelSelectorTests {
  static let web: JSONObject = JSONObject([("app", "web"), ("tier", "frontend"), ("version", "2")])

  struct MatchCase: CustomTestStringConvertible, Sendable {
    let selector: JSONValue
    let labels: JSONObject?
    let matches: Bool
    let note: String
    var testDescription: String { note }
  }

  static let matchCases: [MatchCase] = [
    MatchCase(
      selector: [:], labels: web, matches: true, note: "empty selector matches labelled pod"),
    MatchCase(
      selector: [:], labels: nil, matches: true, note: "empty selector matches pod without labels"),
    MatchCase(selector: nil, labels: nil, matches: true, note: "null selector is the empty one"),
    MatchCase(
      selector: ["matchLabels": [:], "matchExpressions": []], labels: nil, matches: true,
      note: "empty lists"),
    MatchCase(
      selector: ["matchLabels": ["app": "web"]], labels: web, matches: true,
      note: "matchLabels equal"),
    MatchCase(
      selector: ["matchLabels": ["app": "api"]], labels: web, matches: false,
      note: "matchLabels differ"),
    MatchCase(
      selector: ["matchLabels": ["app": "web"]], labels: nil, matches: false,
      note: "matchLabels, no labels"),
    MatchCase(
      selector: ["matchLabels": ["app": "web", "tier": "backend"]], labels: web, matches: false,
      note: "matchLabels are ANDed"),
    MatchCase(
      selector: ["matchLabels": ["app": ""]], labels: JSONObject([("app", "")]), matches: true,
      note: "empty label value equals"),
    MatchCase(
      selector: ["matchLabels": ["app": ""]], labels: JSONObject(), matches: false,
      note: "empty label value needs the key"),
    MatchCase(
      selector: expr("tier", "In", ["frontend", "cache"]), labels: web, matches: true,
      note: "In hit"),
    MatchCase(
      selector: expr("tier", "In", ["backend"]), labels: web, matches: false, note: "In miss"),
    MatchCase(
      selector: expr("zone", "In", ["a"]), labels: web, matches: false, note: "In, key absent"),
    MatchCase(
      selector: expr("tier", "NotIn", ["backend"]), labels: web, matches: true,
      note: "NotIn, other value"),
    MatchCase(
      selector: expr("tier", "NotIn", ["frontend"]), labels: web, matches: false,
      note: "NotIn, listed value"),
    MatchCase(
      selector: expr("zone", "NotIn", ["a"]), labels: web, matches: true, note: "NotIn, key absent"),
    MatchCase(
      selector: expr("zone", "NotIn", ["a"]), labels: nil, matches: true, note: "NotIn, no labels"),
    MatchCase(selector: expr("app", "Exists"), labels: web, matches: true, note: "Exists"),
    MatchCase(
      selector: expr("debug", "Exists"), labels: web, matches: false, note: "Exists, absent"),
    MatchCase(
      selector: expr("debug", "DoesNotExist"), labels: web, matches: true, note: "DoesNotExist"),
    MatchCase(
      selector: expr("debug", "DoesNotExist"), labels: nil, matches: true,
      note: "DoesNotExist, no labels"),
    MatchCase(
      selector: expr("app", "DoesNotExist"), labels: web, matches: false,
      note: "DoesNotExist, present"),
    MatchCase(
      selector: expr("debug", "Exists", values: nil), labels: JSONObject([("debug", "")]),
      matches: true,
      note: "Exists with empty value and null values"),
    MatchCase(
      selector: [
        "matchLabels": ["app": "web"],
        "matchExpressions": [["key": "tier", "operator": "In", "values": ["backend"]]],
      ],
      labels: web, matches: false, note: "matchLabels AND matchExpressions"),
    MatchCase(
      selector: [
        "matchLabels": ["app": "web"],
        "matchExpressions": [["key": "debug", "operator": "DoesNotExist"]],
      ],
      labels: web, matches: true, note: "both hold"),
    MatchCase(
      selector: ["matchLabels": ["version": "2"]], labels: JSONObject([("version", 2)]),
      matches: false,
      note: "number label value never matches"),
    MatchCase(
      selector: expr("version", "NotIn", ["3"]), labels: JSONObject([("version", 2)]),
      matches: false,
      note: "number label value fails NotIn too"),
    MatchCase(
      selector: expr("version", "Exists"), labels: JSONObject([("version", true)]), matches: true,
      note: "Exists only needs the key"),
  ]

  static func expr(_ key: String, _ op: String, _ values: [String]) -> JSONValue {
    [
      "matchExpressions": [
        [
          "key": .string(key), "operator": .string(op),
          "values": .array(values.map { .string($0) }),
        ]
      ]
    ]
  }

  static func expr(_ key: String, _ op: String, values: JSONValue? = JSONValue?.none) -> JSONValue {
    var requirement: JSONObject = JSONObject([("key", .string(key)), ("operator", .string(op))])
    if let values { requirement["values"] = values }
    return ["matchExpressions": [.object(requirement)]]
  }

  @Test("matches with Kubernetes semantics", arguments: matchCases)
  func matching(_ c: MatchCase) throws {
    let selector = try LabelSelector(json: c.selector)
    #expect(selector.matches(c.labels) == c.matches)
  }

  @Test func everythingMatchesEverything() throws {
    #expect(LabelSelector.everything.matches(nil))
    #expect(LabelSelector.everything.matches(Self.web))
    #expect(LabelSelector.everything.summary == "")
    #expect(try LabelSelector(json: [:]) == .everything)
  }

  @Test func explainsTheFirstFailingTerm() throws {
    let selector = try LabelSelector(json: [
      "matchLabels": ["app": "web"],
      "matchExpressions": [["key": "tier", "operator": "In", "values": ["backend"]]],
    ])
    #expect(selector.firstUnmatched(Self.web)?.summary == "tier in (backend)")
    #expect(selector.firstUnmatched(JSONObject([("app", "web"), ("tier", "backend")])) == nil)
  }

  @Test func summaryReadsLikeKubectl() throws {
    let selector = try LabelSelector(json: [
      "matchExpressions": [
        ["key": "tier", "operator": "In", "values": ["b", "a", "b"]],
        ["key": "debug", "operator": "DoesNotExist"],
        ["key": "env", "operator": "NotIn", "values": ["prod"]],
        ["key": "canary", "operator": "Exists", "values": []],
      ],
      "matchLabels": ["app": "web"],
    ])
    #expect(selector.summary == "app=web,canary,!debug,env notin (prod),tier in (a,b)")
  }

  struct InvalidCase: CustomTestStringConvertible, Sendable {
    let selector: JSONValue
    let message: String
    var testDescription: String { message }
  }

  static let invalidCases: [InvalidCase] = [
    InvalidCase(
      selector: "app=web",
      message: "must be an object with matchLabels and/or matchExpressions, not string"),
    InvalidCase(
      selector: ["matchLabel": ["app": "web"]],
      message: "unknown field \"matchLabel\"; a label selector has matchLabels and matchExpressions"
    ),
    InvalidCase(
      selector: ["matchLabels": ["app", "web"]],
      message: "matchLabels: must be an object of label keys and values, not array"),
    InvalidCase(
      selector: ["matchLabels": ["app": 1]],
      message: "matchLabels[\"app\"]: must be a string, not number"),
    InvalidCase(
      selector: ["matchLabels": ["app": "web site"]],
      message: "matchLabels[\"app\"]: invalid value \"web site\": "
        + KubernetesValidation.labelValue("web site")!),
    InvalidCase(
      selector: ["matchLabels": ["bad key": "web"]],
      message: "matchLabels[\"bad key\"]: invalid key: " + KubernetesValidation.qualifiedName(
        "bad key")!),
    InvalidCase(
      selector: ["matchExpressions": ["key": "app"]],
      message: "matchExpressions: must be an array, not object"),
    InvalidCase(
      selector: ["matchExpressions": ["app"]],
      message: "matchExpressions[0]: must be an object with key, operator and values, not string"),
    InvalidCase(
      selector: expr("app", "In", []),
      message: "matchExpressions[0].values: must be specified when `operator` is 'In' or 'NotIn'"),
    InvalidCase(
      selector: expr("app", "NotIn", values: nil),
      message: "matchExpressions[0].values: must be specified when `operator` is 'In' or 'NotIn'"),
    InvalidCase(
      selector: expr("app", "Exists", ["web"]),
      message:
        "matchExpressions[0].values: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
    ),
    InvalidCase(
      selector: expr("app", "DoesNotExist", ["web"]),
      message:
        "matchExpressions[0].values: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
    ),
    InvalidCase(
      selector: expr("app", "in", ["web"]),
      message:
        "matchExpressions[0].operator: \"in\" is not a valid selector operator (In, NotIn, Exists, DoesNotExist)"
    ),
    InvalidCase(
      selector: expr("app", "=", ["web"]),
      message:
        "matchExpressions[0].operator: \"=\" is not a valid selector operator (In, NotIn, Exists, DoesNotExist)"
    ),
    InvalidCase(
      selector: ["matchExpressions": [["key": "app", "values": ["web"]]]],
      message: "matchExpressions[0].operator: required (In, NotIn, Exists or DoesNotExist)"),
    InvalidCase(
      selector: ["matchExpressions": [["operator": "Exists"]]],
      message: "matchExpressions[0].key: required"),
    InvalidCase(
      selector: expr("", "Exists"), message: "matchExpressions[0].key: must be non-empty"),
    InvalidCase(
      selector: expr("Example.com/app", "Exists"),
      message: "matchExpressions[0].key: " + KubernetesValidation.qualifiedName("Example.com/app")!),
    InvalidCase(
      selector: ["matchExpressions": [["key": "app", "operator": "Exists", "value": "x"]]],
      message:
        "matchExpressions[0]: unknown field \"value\"; an expression has key, operator and values"),
    InvalidCase(
      selector: expr("app", "In", values: ["web", 2]),
      message: "matchExpressions[0].values[1]: must be a string, not number"),
    InvalidCase(
      selector: expr("app", "In", values: [2]),
      message: "matchExpressions[0].values[0]: must be a string, not number"),
    InvalidCase(
      selector: expr("app", "In", values: "web"),
      message: "matchExpressions[0].values: must be an array of strings, not string"),
    InvalidCase(
      selector: expr("app", "In", ["-web"]),
      message: "matchExpressions[0].values[0]: invalid value \"-web\": "
        + KubernetesValidation.labelValue("-web")!),
    InvalidCase(
      selector: [
        "matchLabels": ["a/b/c": "x"],
        "matchExpressions": [["key": "x", "operator": "Exists", "values": ["y"]]],
      ],
      message: "matchLabels[\"a/b/c\"]: invalid key: " + KubernetesValidation.qualifiedName(
        "a/b/c")!
        + "; matchExpressions[0].values: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
    ),
  ]

  @Test("validates like the API server", arguments: invalidCases)
  func invalid(_ c: InvalidCase) {
    #expect(throws: RuleSyntaxError(message: c.message)) { try LabelSelector(json: c.selector) }
  }

  @Test func acceptsValidKeysAndValues() throws {
    let selector = try LabelSelector(json: [
      "matchLabels": ["app.kubernetes.io/name": "web", "Team_Name": "A.b-c"],
      "matchExpressions": [["key": "example.com/tier", "operator": "In", "values": ["", "x"]]],
    ])
    #expect(selector.requirements.count == 3)
    #expect(
      selector.matches(
        JSONObject([
          ("app.kubernetes.io/name", "web"), ("Team_Name", "A.b-c"), ("example.com/tier", ""),
        ])))
  }

  @Test func requirementsAreSortedByKeyLikeKubernetes() throws {
    let selector = try LabelSelector(json: [
      "matchExpressions": [
        ["key": "b", "operator": "Exists"], ["key": "a", "operator": "In", "values": ["1"]],
      ],
      "matchLabels": ["a": "2"],
    ])
    #expect(selector.requirements.map(\.key) == ["a", "a", "b"])
    #expect(selector.summary == "a in (1),a=2,b")
  }
}
