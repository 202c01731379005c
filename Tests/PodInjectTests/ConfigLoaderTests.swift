import Testing

@testable import PodInject

struct ConfigLoaderTests {
  static let full = """
    apiVersion: podinject.dev/v1alpha1
    kind: InjectionConfig
    defaults:
      onError: Deny
      conflict: Override
    statusAnnotation: example.com/injected
    optOutAnnotation: example.com/inject
    events:
      api: events.k8s.io/v1
      reportingController: example.com/injector
      reportingInstance: injector-0
      regarding: Pod
      timeoutMilliseconds: 1500
      outbox: /var/spool/podinject
      logFile: /dev/stdout
    rules:
    - name: tracing
      match:
        operations: [CREATE, UPDATE]
        namespaces: ["team-*"]
        excludeNamespaces: [team-secret]
        labelSelector:
          matchLabels: {app: web}
          matchExpressions:
          - {key: tier, operator: In, values: [frontend]}
        annotations: {example.com/trace: "on"}
      onError: Allow
      conflict: Error
      containers: ["app", "web-*"]
      includeInitContainers: true
      env:
      - name: OTEL_SERVICE_NAME
        value: '{{ .metadata.labels.app | default "unknown" }}'
      envFrom:
      - configMapRef: {name: otel}
      volumeMounts:
      - name: otel-certs
        mountPath: /etc/otel
        readOnly: true
      initContainers:
      - name: otel-init
        image: busybox:1.36
        command: [sh, -c, "true"]
      initContainerPosition: First
      sidecars:
      - name: otel-agent
        image: otel/collector:0.100.0
        args: ["--config=/etc/otel/config.yaml"]
      volumes:
      - name: otel-certs
        secret: {secretName: otel-certs}
      labels: {example.com/traced: "true"}
      annotations: {example.com/team: '{{ index .metadata.annotations "example.com/team" }}'}
      imagePullSecrets:
      - name: regcred
      tolerations:
      - {key: dedicated, operator: Equal, value: tracing, effect: NoSchedule}
      nodeSelector: {kubernetes.io/os: linux}
    - name: minimal
      labels: {example.com/minimal: "yes"}
    """

  @Test func fullConfigDecodesEveryField() throws {
    let config = try Fixture.load(Self.full)
    #expect(config.defaults.onError == .deny)
    #expect(config.defaults.conflict == .override)
    #expect(config.statusAnnotation == "example.com/injected")
    #expect(config.optOutAnnotation == "example.com/inject")
    #expect(config.events.api == .eventsV1)
    #expect(config.events.reportingController == "example.com/injector")
    #expect(config.events.reportingInstance == "injector-0")
    #expect(config.events.regarding == .pod)
    #expect(config.events.timeoutMilliseconds == 1500)
    #expect(config.events.outbox == "/var/spool/podinject")
    #expect(config.events.logFile == "/dev/stdout")
    #expect(config.rules.map(\.name) == ["tracing", "minimal"])

    let rule = try #require(config.rules.first)
    #expect(rule.match.operations == ["CREATE", "UPDATE"])
    #expect(rule.match.namespaces == [Glob("team-*")])
    #expect(rule.match.excludeNamespaces == [Glob("team-secret")])
    #expect(rule.match.labelSelector.matches(JSONObject([("app", "web"), ("tier", "frontend")])))
    #expect(!rule.match.labelSelector.matches(JSONObject([("app", "web"), ("tier", "backend")])))
    #expect(!rule.match.labelSelector.matches(JSONObject([("tier", "frontend")])))
    #expect(rule.match.annotations == JSONObject([("example.com/trace", "on")]))
    #expect(rule.onError == .allow)
    #expect(rule.conflict == .error)
    #expect(rule.containers == [Glob("app"), Glob("web-*")])
    #expect(rule.includeInitContainers)
    #expect(
      rule.env == [
        ["name": "OTEL_SERVICE_NAME", "value": #"{{ .metadata.labels.app | default "unknown" }}"#]
      ])
    #expect(rule.envFrom == [["configMapRef": ["name": "otel"]]])
    #expect(
      rule.volumeMounts == [["name": "otel-certs", "mountPath": "/etc/otel", "readOnly": true]])
    #expect(
      rule.initContainers == [
        ["name": "otel-init", "image": "busybox:1.36", "command": ["sh", "-c", "true"]]
      ])
    #expect(rule.initContainerPosition == .first)
    #expect(
      rule.sidecars == [
        [
          "name": "otel-agent", "image": "otel/collector:0.100.0",
          "args": ["--config=/etc/otel/config.yaml"],
        ]
      ])
    #expect(rule.volumes == [["name": "otel-certs", "secret": ["secretName": "otel-certs"]]])
    #expect(rule.labels == JSONObject([("example.com/traced", "true")]))
    #expect(
      rule.annotations
        == JSONObject([
          ("example.com/team", #"{{ index .metadata.annotations "example.com/team" }}"#)
        ]))
    #expect(rule.imagePullSecrets == [["name": "regcred"]])
    #expect(
      rule.tolerations == [
        ["key": "dedicated", "operator": "Equal", "value": "tracing", "effect": "NoSchedule"]
      ])
    #expect(rule.nodeSelector == JSONObject([("kubernetes.io/os", "linux")]))
    // Policies not set on a rule come from the defaults.
    let minimal = config.rules[1]
    #expect(minimal.failurePolicy(config.defaults) == .deny)
    #expect(minimal.conflictPolicy(config.defaults) == .override)
    #expect(rule.failurePolicy(config.defaults) == .allow)
    #expect(rule.conflictPolicy(config.defaults) == .error)
  }

  /// The defaults SPEC §2 documents.
  static func expectSpecDefaults(_ config: InjectionConfig) {
    #expect(config.defaults.onError == .allow)
    #expect(config.defaults.conflict == .skip)
    #expect(config.statusAnnotation == "podinject.dev/status")
    #expect(config.optOutAnnotation == "podinject.dev/inject")
    #expect(config.events.api == .coreV1)
    #expect(config.events.reportingController == "podinject.dev/webhook")
    #expect(config.events.reportingInstance == "")
    #expect(config.events.regarding == .owner)
    #expect(config.events.timeoutMilliseconds == 2000)
    #expect(config.events.outbox == Outbox.defaultDirectory)  // /tmp/podinject-<euid>/outbox (OutboxTests)
    #expect(config.events.logFile == "")
    #expect(config.rules.isEmpty)
  }

  @Test(arguments: [
    "apiVersion: podinject.dev/v1alpha1\nkind: InjectionConfig\n",
    #"{"apiVersion": "podinject.dev/v1alpha1", "kind": "InjectionConfig"}"#,
    "apiVersion: podinject.dev/v1alpha1\nkind: InjectionConfig\ndefaults: {}\nevents: {}\nrules: []\n",
    "apiVersion: podinject.dev/v1alpha1\nkind: InjectionConfig\ndefaults:\nevents:\n",
  ])
  func minimalConfigEqualsTheDefaults(_ yaml: String) throws {
    let config = try Fixture.load(yaml)
    Self.expectSpecDefaults(config)
    // And the code's own default value agrees with the SPEC.
    Self.expectSpecDefaults(InjectionConfig())
  }

  @Test func aRuleWithOnlyANameTakesTheDocumentedDefaults() throws {
    let config = try Fixture.load(Fixture.configYAML("rules:\n- name: bare\n"))
    let rule = try #require(config.rules.first)
    #expect(rule.match.operations == ["CREATE"])
    #expect(rule.match.namespaces == [Glob("*")])
    #expect(rule.match.excludeNamespaces.isEmpty)
    #expect(rule.match.labelSelector == .everything)
    #expect(rule.match.annotations.isEmpty)
    #expect(rule.onError == nil)
    #expect(rule.conflict == nil)
    #expect(rule.containers == [Glob("*")])
    #expect(!rule.includeInitContainers)
    #expect(rule.initContainerPosition == .last)
    #expect(
      rule.env.isEmpty && rule.sidecars.isEmpty && rule.labels.isEmpty && rule.nodeSelector.isEmpty)
  }

  @Test(arguments: [
    ("kind: InjectionConfig\n", "apiVersion"),
    ("apiVersion: podinject.dev/v1alpha1\n", "kind"),
    ("apiVersion: podinject.dev/v1beta9\nkind: InjectionConfig\n", "apiVersion"),
    ("apiVersion: podinject.dev/v1alpha1\nkind: Config\n", "kind"),
  ])
  func headerMustNameTheConfig(_ yaml: String, field: String) throws {
    let error = try #require(Fixture.loadError(yaml))
    #expect(error.diagnostics.contains { $0.message.contains(field) })
  }

  @Test(arguments: ["", "# only a comment\n", "a: 1\n---\nb: 2\n", "- a\n- b\n", "just text\n"])
  func aFileThatIsNotOneMappingIsRejected(_ yaml: String) {
    #expect(Fixture.loadError(yaml) != nil)
  }

  /// A config, the text of the line the diagnostic must point at, and a word the message must hold.
  struct Problem: CustomTestStringConvertible, Sendable {
    let name: String
    let yaml: String
    let marker: String
    let words: [String]
    init(_ name: String, _ body: String, at marker: String, _ words: String...) {
      self.name = name
      self.yaml = Fixture.configYAML(body)
      self.marker = marker
      self.words = words
    }
    var testDescription: String { name }
  }

  /// Every case must give a diagnostic on the marked line whose message holds all the words.
  static func expectDiagnostic(_ problem: Problem) throws {
    let error = try #require(Fixture.loadError(problem.yaml), "\(problem.name) loaded")
    let line = Fixture.line(of: problem.marker, in: problem.yaml)
    #expect(line > 0)
    let atLine = error.diagnostics.filter { $0.line == line }
    #expect(
      atLine.contains { diagnostic in problem.words.allSatisfy { diagnostic.message.contains($0) }
      },
      "expected a diagnostic at line \(line) with \(problem.words), got:\n\(error)")
    for diagnostic in error.diagnostics { #expect(diagnostic.file == "config.yaml") }
  }

  static let unknownKeys: [Problem] = [
    Problem("top level", "rule:\n- name: a\n", at: "rule:", "unknown", "\"rule\""),
    Problem(
      "in defaults", "defaults:\n  onError: Deny\n  onErorr: Allow\n", at: "onErorr", "unknown",
      "\"onErorr\""),
    Problem(
      "in events", "events:\n  api: v1\n  timeout: 5\n", at: "timeout:", "unknown", "\"timeout\""),
    Problem(
      "in a rule", "rules:\n- name: a\n  contaners: [app]\n  labels: {a: b}\n", at: "contaners",
      "unknown",
      "\"contaners\""),
    Problem(
      "in match", "rules:\n- name: a\n  match:\n    operations: [CREATE]\n    namespace: [x]\n",
      at: "namespace:",
      "unknown", "\"namespace\""),
    Problem(
      "in a labelSelector",
      "rules:\n- name: a\n  match:\n    labelSelector:\n      matchLabel: {app: web}\n",
      at: "matchLabel:", "matchLabel"),
    Problem(
      "a misspelled mountPath in a VolumeMount",
      "rules:\n- name: a\n  volumeMounts:\n  - name: certs\n    mountPth: /etc/certs\n",
      at: "mountPth",
      "unknown", "\"mountPth\""),
    Problem(
      "in an EnvVar", "rules:\n- name: a\n  env:\n  - name: A\n    valeu: x\n", at: "valeu",
      "unknown",
      "\"valeu\""),
    Problem(
      "in a sidecar Container",
      "rules:\n- name: a\n  sidecars:\n  - name: proxy\n    image: envoy\n    imagePolicy: Always\n",
      at: "imagePolicy", "unknown", "\"imagePolicy\""),
    Problem(
      "in an init Container",
      "rules:\n- name: a\n  initContainers:\n  - name: setup\n    image: busybox\n    comand: [true]\n",
      at: "comand", "unknown", "\"comand\""),
    Problem(
      "in an EnvFromSource",
      "rules:\n- name: a\n  envFrom:\n  - prefix: X_\n    configMap: {name: c}\n",
      at: "configMap:", "unknown", "\"configMap\""),
    Problem(
      "in a Toleration", "rules:\n- name: a\n  tolerations:\n  - key: a\n    operater: Exists\n",
      at: "operater",
      "unknown", "\"operater\""),
    Problem(
      "in a LocalObjectReference",
      "rules:\n- name: a\n  imagePullSecrets:\n  - name: r\n    namespace: x\n",
      at: "namespace: x", "unknown", "\"namespace\""),
  ]

  @Test(arguments: unknownKeys)
  func unknownKeysAreRejectedAtTheirLine(_ problem: Problem) throws {
    try Self.expectDiagnostic(problem)
  }

  /// A typo one level further down, in a container a rule injects, would be dropped by the API server
  /// without a word, as unknown fields in a patched object are.
  @Test func unknownKeysInsideAnInjectedContainerAreRejected() throws {
    try Self.expectDiagnostic(
      Problem(
        "nested VolumeMount in a sidecar",
        """
        rules:
        - name: a
          sidecars:
          - name: proxy
            image: envoy
            volumeMounts:
            - name: certs
              mountPth: /etc/certs
        """, at: "mountPth", "mountPth"))
  }

  static let duplicates: [Problem] = [
    Problem(
      "top level", "statusAnnotation: a.example/s\nstatusAnnotation: b.example/s\n",
      at: "b.example", "duplicate",
      "statusAnnotation"),
    Problem(
      "in defaults", "defaults:\n  onError: Deny\n  onError: Allow\n", at: "Allow", "duplicate",
      "onError"),
    Problem(
      "in a rule", "rules:\n- name: a\n  labels: {x: y}\n  labels: {z: w}\n", at: "{z: w}",
      "duplicate", "labels"),
    Problem(
      "in match", "rules:\n- name: a\n  match:\n    namespaces: [a]\n    namespaces: [b]\n",
      at: "[b]", "duplicate",
      "namespaces"),
    Problem(
      "in labels", "rules:\n- name: a\n  labels:\n    x: y\n    x: z\n", at: "x: z", "duplicate",
      "\"x\""),
    Problem(
      "in an EnvVar", "rules:\n- name: a\n  env:\n  - name: A\n    value: one\n    value: two\n",
      at: "value: two",
      "duplicate", "value"),
  ]

  @Test(arguments: duplicates)
  func duplicateKeysAreRejectedAtTheSecondOne(_ problem: Problem) throws {
    try Self.expectDiagnostic(problem)
  }

  @Test func duplicateRuleNamesAreRejectedNamingTheFirst() throws {
    let yaml = Fixture.configYAML(
      "rules:\n- name: tracing\n  labels: {a: b}\n- name: other\n  labels: {a: b}\n- name: tracing\n  labels: {c: d}\n"
    )
    let error = try #require(Fixture.loadError(yaml))
    let first = Fixture.line(of: "- name: tracing", in: yaml)
    let second = Fixture.line(of: "{c: d}", in: yaml) - 1
    let diagnostic = try #require(error.diagnostics.first { $0.message.contains("duplicate") })
    #expect(diagnostic.line == second)
    #expect(diagnostic.message.contains("\"tracing\""))
    #expect(diagnostic.message.contains("line \(first)"))
    #expect(error.diagnostics.count == 1)
  }

  static let wrongTypes: [Problem] = [
    Problem("rules a mapping", "rules: {}\n", at: "rules:", "list"),
    Problem("defaults a string", "defaults: Deny\n", at: "defaults:", "mapping"),
    Problem("onError not a choice", "defaults:\n  onError: Maybe\n", at: "Maybe", "Allow", "Deny"),
    Problem(
      "conflict not a choice", "defaults:\n  conflict: Merge\n", at: "Merge", "Skip", "Override",
      "Error"),
    Problem("events.api not a choice", "events:\n  api: v2\n", at: "v2", "events.k8s.io/v1"),
    Problem(
      "timeout not a number", "events:\n  timeoutMilliseconds: soon\n", at: "soon", "integer"),
    Problem(
      "timeout out of range", "events:\n  timeoutMilliseconds: 0\n", at: "timeoutMilliseconds",
      "between"),
    Problem("statusAnnotation a number", "statusAnnotation: 42\n", at: "42", "string"),
    Problem(
      "containers a string", "rules:\n- name: a\n  containers: app\n", at: "containers:", "list"),
    Problem(
      "includeInitContainers a string", "rules:\n- name: a\n  includeInitContainers: \"yes\"\n",
      at: "includeInit",
      "true or false"),
    Problem("env a mapping", "rules:\n- name: a\n  env: {name: A}\n", at: "env:", "list"),
    Problem("labels a list", "rules:\n- name: a\n  labels: [a, b]\n", at: "labels:", "mapping"),
    Problem(
      "an EnvVar value a number", "rules:\n- name: a\n  env:\n  - name: A\n    value: 42\n",
      at: "value: 42", "value"),
    Problem("an env item a string", "rules:\n- name: a\n  env:\n  - A=1\n", at: "- A=1", "object"),
    Problem(
      "a VolumeMount without mountPath", "rules:\n- name: a\n  volumeMounts:\n  - name: v\n",
      at: "- name: v", "mountPath"),
    Problem(
      "a sidecar without image", "rules:\n- name: a\n  sidecars:\n  - name: s\n", at: "- name: s",
      "image"),
    Problem(
      "an operation Kubernetes does not send for a pod",
      "rules:\n- name: a\n  match:\n    operations: [DELETE]\n", at: "DELETE", "CREATE, UPDATE, *"),
    Problem(
      "initContainerPosition", "rules:\n- name: a\n  initContainerPosition: Middle\n", at: "Middle",
      "First"),
    Problem("a rule without a name", "rules:\n- labels: {a: b}\n", at: "- labels", "name"),
    Problem(
      "an empty containers list with env",
      "rules:\n- name: a\n  containers: []\n  env: [{name: A, value: b}]\n",
      at: "- name: a", "containers"),
  ]

  @Test(arguments: wrongTypes)
  func wrongTypesAreRejectedAtTheirLine(_ problem: Problem) throws {
    try Self.expectDiagnostic(problem)
  }

  static let invalidNames: [Problem] = [
    Problem("rule name with capitals", "rules:\n- name: Tracing_1\n", at: "Tracing_1", "rule name"),
    Problem(
      "rule name over 63", "rules:\n- name: \(String(repeating: "a", count: 64))\n", at: "aaaa",
      "63"),
    Problem("label key", "rules:\n- name: a\n  labels:\n    -bad: x\n", at: "-bad", "\"-bad\""),
    Problem(
      "label value", "rules:\n- name: a\n  labels:\n    team: has space\n", at: "has space",
      "\"team\""),
    Problem(
      "nodeSelector value over 63",
      "rules:\n- name: a\n  nodeSelector:\n    zone: \(String(repeating: "z", count: 64))\n",
      at: "zone:", "63"),
    Problem(
      "annotation key", "rules:\n- name: a\n  annotations:\n    a/b/c: x\n", at: "a/b/c",
      "\"a/b/c\""),
    Problem(
      "sidecar name", "rules:\n- name: a\n  sidecars:\n  - name: Web\n    image: nginx\n",
      at: "- name: Web",
      "name"),
    Problem(
      "volume name", "rules:\n- name: a\n  volumes:\n  - name: Certs\n    emptyDir: {}\n",
      at: "- name: Certs",
      "name"),
    Problem(
      "env name", "rules:\n- name: a\n  env:\n  - name: A=B\n    value: x\n", at: "A=B", "name"),
    Problem("statusAnnotation", "statusAnnotation: not a key\n", at: "not a key", "annotation"),
    Problem(
      "reportingController", "events:\n  reportingController: bad controller\n",
      at: "bad controller", "reportingController"),
  ]

  @Test(arguments: invalidNames)
  func invalidNamesAreRejectedAtTheirLine(_ problem: Problem) throws {
    try Self.expectDiagnostic(problem)
  }

  static let templateErrors: [Problem] = [
    Problem(
      "unclosed action in an env value",
      "rules:\n- name: a\n  env:\n  - name: APP\n    value: '{{ .metadata.labels.app'\n",
      at: "value: '{{",
      "template"),
    Problem(
      "unknown function in a label",
      "rules:\n- name: a\n  labels:\n    app: '{{ upper .metadata.name }}'\n",
      at: "upper", "template", "upper"),
    Problem(
      "empty action in a sidecar argument",
      "rules:\n- name: a\n  sidecars:\n  - name: s\n    image: busybox\n    args:\n    - --name\n    - '{{ }}'\n",
      at: "'{{ }}'", "template"),
    Problem(
      "unclosed action in an annotation",
      "rules:\n- name: a\n  annotations:\n    example.com/x: 'a {{ index .metadata.labels'\n",
      at: "example.com/x",
      "template"),
  ]

  @Test(arguments: templateErrors)
  func templateSyntaxErrorsAreRejectedAtTheirLine(_ problem: Problem) throws {
    try Self.expectDiagnostic(problem)
  }

  @Test func templatesAndKubernetesReferencesLoad() throws {
    let config = try Fixture.load(
      Fixture.configYAML(
        """
        rules:
        - name: a
          env:
          - name: POD
            value: '$(POD_NAME)-{{ .metadata.labels.app | default "x" }}'
          labels:
            team: '{{ index .metadata.annotations "example.com/team" }}'
        """))
    #expect(
      config.rules.first?.env.first?["value"]
        == #"$(POD_NAME)-{{ .metadata.labels.app | default "x" }}"#)
  }

  @Test func everyProblemIsReportedNotOnlyTheFirst() throws {
    let yaml = Fixture.configYAML(
      "defaults:\n  onErorr: Deny\nrules:\n- name: Bad_Name\n  labels: {a: b}\n- name: ok\n  colour: red\n"
    )
    let error = try #require(Fixture.loadError(yaml))
    let lines = Set(error.diagnostics.map(\.line))
    #expect(lines.isSuperset(of: [4, 6, 9]), "\(error)")
    #expect(error.description.split(separator: "\n").count == error.diagnostics.count)
    #expect(error.summary == error.diagnostics[0].description)
  }

  @Test func diagnosticsPrintAsFileLineColumnMessage() {
    let diagnostic = ConfigDiagnostic(
      file: "/etc/podinject/config.yaml", line: 12, column: 3, message: "unknown key \"x\"")
    #expect(diagnostic.description == "/etc/podinject/config.yaml:12:3: unknown key \"x\"")
    let whole = ConfigDiagnostic(file: "/etc/podinject", line: nil, message: "cannot read: is a directory, not a file")
    #expect(whole.description == "/etc/podinject: cannot read: is a directory, not a file")
  }

  @Test func yamlSyntaxErrorsHaveALineAndNoFallback() throws {
    let yaml = Fixture.configYAML("defaults:\n  onError: Deny\nrules: [\n")
    let error = try #require(Fixture.loadError(yaml))
    #expect(error.diagnostics.count == 1)
    #expect((error.diagnostics[0].line ?? 0) >= 5)
    #expect(error.fallbackOnError == nil)
  }

  @Test(arguments: [
    ("defaults:\n  onError: Deny\nrules:\n- name: Bad_Name\n", FailurePolicy?.some(.deny)),
    ("rules:\n- name: a\n  bogus: 1\ndefaults:\n  onError: Deny\n", .deny),
    ("defaults:\n  onError: Allow\n  conflict: Sometimes\n", .allow),
    ("defaults:\n  onError: Deny\nevents:\n  api: smoke-signals\n", .deny),
    ("defaults:\n  onError: Refuse\nrules: {}\n", nil),
    ("rules: {}\n", nil),
  ])
  func fallbackOnErrorIsReadWhenTheRestIsBroken(_ body: String, expected: FailurePolicy?) throws {
    let error = try #require(Fixture.loadError(Fixture.configYAML(body)))
    #expect(error.fallbackOnError == expected)
  }

  @Test func theUsableConfigOfAResult() throws {
    let good: ConfigLoad = .success(InjectionConfig())
    let bad: ConfigLoad = .failure(ConfigError(diagnostics: []))
    #expect(good.usable != nil)
    #expect(bad.usable == nil)
    #expect(ConfigError(diagnostics: []).summary == "invalid configuration")
  }
}
