import Testing

@testable import PodInject

/// Templates in a rule's values, rendered against the pod as admitted and the request (SPEC §2, §3).
struct InjectedTemplateTests {
  /// The fixture pod as a controller sends it: no namespace in its metadata, two annotations.
  static let pod: JSONValue = {
    var pod = Fixture.pod
    try? JSONPatch.apply(
      .add(JSONPointer(tokens: ["metadata", "annotations", "example.com/spaced"]), "pay ments"),
      to: &pod)
    try? JSONPatch.apply(
      .add(JSONPointer(tokens: ["metadata", "annotations", "example.com/prefix"]), "A=B"), to: &pod)
    try? JSONPatch.apply(
      .add(JSONPointer(tokens: ["metadata", "labels", "shout"]), "Web"), to: &pod)
    return pod
  }()

  static func envRule(_ value: String) -> String {
    Fixture.configYAML(
      "rules:\n- name: r\n  containers: [app]\n  env:\n  - name: RENDERED\n    value: '\(value)'\n")
  }

  /// The value of the env var the rule injected into the first container.
  static func renderedEnv(_ result: ReviewResult) throws -> JSONValue? {
    let env = try Fixture.patchedPod(result)["spec"]?["containers"]?[
      pointer: JSONPointer(tokens: ["0", "env"])]
    return env?.arrayValue?.first { $0["name"] == "RENDERED" }?["value"]
  }

  @Test(arguments: [
    ("{{ .metadata.labels.app }}", "web"),
    (#"{{ index .metadata.annotations "example.com/team" }}"#, "payments"),
    (#"{{ .metadata.labels.tier | default "none" }}"#, "none"),
    (#"{{ index .metadata.annotations "example.com/owner" | default "nobody" }}"#, "nobody"),
    ("{{ .request.userInfo.username }}", "alice@example.com"),
    ("{{ .request.operation }}/{{ .request.namespace }}", "CREATE/team-a"),
    ("{{ .metadata.namespace }}", "team-a"),
    ("{{ .metadata.name }}.{{ .metadata.namespace }}.svc", "web-1.team-a.svc"),
    ("$(POD_NAME)-{{ .metadata.labels.app }}-$(NODE)", "$(POD_NAME)-web-$(NODE)"),
  ])
  func envValuesAreRendered(_ template: String, _ expected: String) throws {
    let result = try Fixture.run(Self.envRule(template), pod: Self.pod)
    #expect(result.failures.isEmpty, "\(result.failures)")
    #expect(try Self.renderedEnv(result) == .string(expected))
  }

  @Test func theNamespaceOfThePodWinsWhenItHasOne() throws {
    let pod = try Fixture.setting(Self.pod, "/metadata/namespace", "team-a")
    let result = try Fixture.run(Self.envRule("{{ .metadata.namespace }}"), pod: pod)
    #expect(try Self.renderedEnv(result) == "team-a")
  }

  @Test func templatesRenderInEveryKindOfValue() throws {
    let yaml = Fixture.configYAML(
      """
      rules:
      - name: r
        labels: {example.com/app: '{{ .metadata.labels.app }}'}
        annotations: {example.com/by: '{{ .request.userInfo.username }}'}
        nodeSelector: {example.com/team: '{{ index .metadata.annotations "example.com/team" }}'}
        sidecars:
        - name: '{{ .metadata.labels.app }}-proxy'
          image: envoy
          args: ['--cluster={{ .metadata.namespace }}', '--literal=$(HOST)']
        volumes:
        - name: '{{ .metadata.labels.app }}-certs'
          secret: {secretName: '{{ .metadata.labels.app }}-tls'}
        envFrom:
        - prefix: '{{ .metadata.labels.app }}_'
          configMapRef: {name: '{{ .metadata.labels.app }}-env'}
      """)
    let result = try Fixture.run(yaml, pod: Self.pod)
    #expect(result.failures.isEmpty, "\(result.failures)")
    let patched = try Fixture.patchedPod(result)
    #expect(patched["metadata"]?["labels"]?["example.com/app"] == "web")
    #expect(patched["metadata"]?["annotations"]?["example.com/by"] == "alice@example.com")
    #expect(patched["spec"]?["nodeSelector"] == ["example.com/team": "payments"])
    #expect(
      patched["spec"]?["containers"]?.arrayValue?.last
        == [
          "name": "web-proxy", "image": "envoy", "args": ["--cluster=team-a", "--literal=$(HOST)"],
        ])
    #expect(
      patched["spec"]?["volumes"] == [["name": "web-certs", "secret": ["secretName": "web-tls"]]])
    #expect(
      patched["spec"]?["containers"]?[pointer: JSONPointer(tokens: ["1", "envFrom"])]
        == [["prefix": "web_", "configMapRef": ["name": "web-env"]]])
  }

  /// A rule, the failure reason it must give, and a field the detail must name.
  struct Failing: CustomTestStringConvertible, Sendable {
    let name: String
    let rule: String
    let reason: FailureReason
    let field: String
    var testDescription: String { name }
  }

  static let failing: [Failing] = [
    Failing(
      name: "missing label in an env value",
      rule: "  env: [{name: A, value: '{{ .metadata.labels.tier }}'}]\n",
      reason: .templateValueMissing, field: "metadata.labels.tier"),
    Failing(
      name: "missing annotation in a label",
      rule: "  labels: {team: '{{ index .metadata.annotations \"example.com/owner\" }}'}\n",
      reason: .templateValueMissing, field: "example.com/owner"),
    Failing(
      name: "missing request field in a sidecar argument",
      rule: "  sidecars: [{name: s, image: busybox, args: ['{{ .request.userInfo.uid }}']}]\n",
      reason: .templateValueMissing, field: "request.userInfo.uid"),
    Failing(
      name: "a label value with a space",
      rule: "  labels: {team: '{{ index .metadata.annotations \"example.com/spaced\" }}'}\n",
      reason: .invalidValue, field: "team"),
    Failing(
      name: "a label value over 63 characters",
      rule: "  labels: {team: '{{ .metadata.name }}-\(String(repeating: "x", count: 60))'}\n",
      reason: .invalidValue, field: "team"),
    Failing(
      name: "a nodeSelector value with a space",
      rule: "  nodeSelector: {team: '{{ index .metadata.annotations \"example.com/spaced\" }}'}\n",
      reason: .invalidValue, field: "team"),
    Failing(
      name: "an env name with =",
      rule:
        "  env: [{name: '{{ index .metadata.annotations \"example.com/prefix\" }}_HOST', value: x}]\n",
      reason: .invalidValue, field: "name"),
    Failing(
      name: "a container name with capitals",
      rule: "  sidecars: [{name: '{{ .metadata.labels.shout }}-proxy', image: envoy}]\n",
      reason: .invalidValue, field: "name"),
    Failing(
      name: "an init container name with capitals",
      rule: "  initContainers: [{name: '{{ .metadata.labels.shout }}', image: busybox}]\n",
      reason: .invalidValue,
      field: "name"),
    Failing(
      name: "a volume name with capitals",
      rule: "  volumes: [{name: '{{ .metadata.labels.shout }}', emptyDir: {}}]\n",
      reason: .invalidValue, field: "name"),
    Failing(
      name: "a path to an object",
      rule: "  annotations: {example.com/labels: '{{ .metadata.labels }}'}\n",
      reason: .invalidValue, field: "metadata.labels"),
  ]

  @Test(arguments: failing)
  func aTemplateThatCannotGiveAValidValueFailsTheRule(_ failing: Failing) throws {
    let yaml = Fixture.configYAML(
      "rules:\n- name: r\n" + failing.rule + "- name: other\n  labels: {tier: web}\n")
    let result = try Fixture.run(yaml, pod: Self.pod)
    let failure = try #require(result.failures.first)
    #expect(result.failures.count == 1)
    #expect(failure.rule == "r")
    #expect(failure.reason == failing.reason)
    #expect(failure.detail.contains(failing.field), "detail: \(failure.detail)")
    #expect(result.applied == ["other"])
    #expect(
      Fixture.ruleOperations(result) == [
        ["op": "add", "path": "/metadata/labels/tier", "value": "web"]
      ])
  }
}
