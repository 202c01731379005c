import Testing

@testable import PodInject

/// What each kind of injection writes into the JSON Patch, and how conflicts, atomicity and
/// idempotency shape it. Patches are checked as operations and by applying them to the pod as sent.
struct RulePlannerTests {
  /// One rule named `r` with `body` (rule members, indented two spaces) and default policies.
  static func oneRule(_ body: String, defaults: String = "") -> String {
    Fixture.configYAML(defaults + "rules:\n- name: r\n" + body)
  }

  /// The same operations, in any order (the order of independent operations is not part of the contract).
  static func expectSameOperations(
    _ actual: [JSONValue], _ expectedJSON: String, sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let expected = try #require(try Fixture.json(expectedJSON).arrayValue)
    var remaining = actual
    for operation in expected {
      if let index = remaining.firstIndex(of: operation) {
        remaining.remove(at: index)
      } else {
        Issue.record(
          "missing \(operation.serialized()) in \(JSONValue.array(actual).serialized())",
          sourceLocation: sourceLocation)
      }
    }
    #expect(
      remaining.isEmpty, "unexpected \(JSONValue.array(remaining).serialized())",
      sourceLocation: sourceLocation)
  }

  struct Case: CustomTestStringConvertible, Sendable {
    let name: String
    let rule: String
    let operations: String
    init(_ name: String, _ rule: String, _ operations: String) {
      self.name = name
      self.rule = rule
      self.operations = operations
    }
    var testDescription: String { name }
  }

  static let kinds: [Case] = [
    Case(
      "env into every app container", "  env:\n  - {name: A, value: \"1\"}\n",
      #"""
      [{"op":"add","path":"/spec/containers/0/env/-","value":{"name":"A","value":"1"}},
       {"op":"add","path":"/spec/containers/1/env","value":[{"name":"A","value":"1"}]}]
      """#),
    Case(
      "env into the containers named", "  containers: [app]\n  env:\n  - {name: A, value: \"1\"}\n",
      #"[{"op":"add","path":"/spec/containers/0/env/-","value":{"name":"A","value":"1"}}]"#),
    Case(
      "env into the containers globbed",
      "  containers: [\"h*\", nope]\n  env:\n  - {name: A, value: \"1\"}\n",
      #"[{"op":"add","path":"/spec/containers/1/env","value":[{"name":"A","value":"1"}]}]"#),
    Case(
      "env into no container when no glob matches",
      "  containers: [\"db-*\"]\n  env:\n  - {name: A, value: \"1\"}\n",
      "[]"),
    Case(
      "env into init containers too",
      "  containers: [\"*t\"]\n  includeInitContainers: true\n  env:\n  - {name: A, value: \"1\"}\n",
      #"[{"op":"add","path":"/spec/initContainers/0/env","value":[{"name":"A","value":"1"}]}]"#),
    Case(
      "env with init containers and app containers",
      "  includeInitContainers: true\n  containers: [init, app]\n  env:\n  - {name: A, value: \"1\"}\n",
      #"""
      [{"op":"add","path":"/spec/containers/0/env/-","value":{"name":"A","value":"1"}},
       {"op":"add","path":"/spec/initContainers/0/env","value":[{"name":"A","value":"1"}]}]
      """#),
    Case(
      "env not into init containers by default",
      "  containers: [init]\n  env:\n  - {name: A, value: \"1\"}\n", "[]"),
    Case(
      "envFrom", "  containers: [app]\n  envFrom:\n  - configMapRef: {name: otel}\n",
      #"[{"op":"add","path":"/spec/containers/0/envFrom","value":[{"configMapRef":{"name":"otel"}}]}]"#
    ),
    Case(
      "volumeMounts",
      "  containers: [helper]\n  volumeMounts:\n  - {name: certs, mountPath: /etc/certs, readOnly: true}\n"
        + "  volumes: [{name: certs, emptyDir: {}}]\n",
      #"[{"op":"add","path":"/spec/containers/1/volumeMounts","value":[{"name":"certs","mountPath":"/etc/certs","readOnly":true}]},"#
        + #"{"op":"add","path":"/spec/volumes","value":[{"name":"certs","emptyDir":{}}]}]"#
    ),
    Case(
      "init container, Last", "  initContainers:\n  - {name: setup, image: busybox}\n",
      #"[{"op":"add","path":"/spec/initContainers/-","value":{"name":"setup","image":"busybox"}}]"#),
    Case(
      "init container, First",
      "  initContainerPosition: First\n  initContainers:\n  - {name: setup, image: busybox}\n",
      #"[{"op":"add","path":"/spec/initContainers/0","value":{"name":"setup","image":"busybox"}}]"#),
    Case(
      "sidecar",
      "  sidecars:\n  - {name: proxy, image: envoy, args: [--config, /etc/envoy.yaml]}\n",
      #"[{"op":"add","path":"/spec/containers/-","value":{"name":"proxy","image":"envoy","args":["--config","/etc/envoy.yaml"]}}]"#
    ),
    Case(
      "volume, no spec.volumes yet", "  volumes:\n  - {name: certs, secret: {secretName: certs}}\n",
      #"[{"op":"add","path":"/spec/volumes","value":[{"name":"certs","secret":{"secretName":"certs"}}]}]"#
    ),
    Case(
      "label with a prefixed key", "  labels: {example.com/team: payments}\n",
      #"[{"op":"add","path":"/metadata/labels/example.com~1team","value":"payments"}]"#),
    Case(
      "annotation with a prefixed key", "  annotations: {example.com/owner: ann}\n",
      #"[{"op":"add","path":"/metadata/annotations/example.com~1owner","value":"ann"}]"#),
    Case(
      "imagePullSecret", "  imagePullSecrets:\n  - name: regcred\n",
      #"[{"op":"add","path":"/spec/imagePullSecrets","value":[{"name":"regcred"}]}]"#),
    Case(
      "toleration",
      "  tolerations:\n  - {key: dedicated, operator: Equal, value: tracing, effect: NoSchedule}\n",
      #"[{"op":"add","path":"/spec/tolerations","value":[{"key":"dedicated","operator":"Equal","value":"tracing","effect":"NoSchedule"}]}]"#
    ),
    Case(
      "nodeSelector", "  nodeSelector: {kubernetes.io/os: linux}\n",
      #"[{"op":"add","path":"/spec/nodeSelector","value":{"kubernetes.io/os":"linux"}}]"#),
  ]

  @Test(arguments: kinds)
  func eachKindOfInjectionPatchesThePod(_ kind: Case) throws {
    let result = try Fixture.run(Self.oneRule(kind.rule))
    #expect(result.failures.isEmpty)
    #expect(result.applied == ["r"])
    #expect(result.response.allowed)
    try Self.expectSameOperations(Fixture.ruleOperations(result), kind.operations)
    // The patch applies to the object exactly as sent, and leaves what podinject does not touch.
    let patched = try Fixture.patchedPod(result)
    #expect(
      patched["spec"]?["containers"]?[pointer: JSONPointer(tokens: ["0", "image"])] == "nginx:1.27")
    #expect(patched == result.patchedObject)
  }

  @Test func annotationsOverTheAPIServersTotalLimitFailTheRule() throws {
    // 256 KiB of keys and values in all is what the API server accepts; past it the pod would be refused.
    let big = String(repeating: "x", count: 262_144)
    let result = try Fixture.run(Self.oneRule("  annotations: {example.com/big: \"\(big)\"}\n"))
    #expect(result.failures.map(\.reason) == [.invalidValue])
    #expect(result.failures.first?.detail.hasPrefix("annotations:") == true)
    #expect(!(result.failures.first?.detail.contains(big) ?? true))
    #expect(result.response.allowed)
    #expect(Fixture.ruleOperations(result).isEmpty)
  }

  @Test func appendsToListsThatExist() throws {
    var pod = try Fixture.setting(
      Fixture.pod, "/spec/volumes", [["name": "data", "emptyDir": [:]]])
    pod = try Fixture.setting(pod, "/spec/imagePullSecrets", [["name": "other"]])
    pod = try Fixture.setting(pod, "/spec/tolerations", [["key": "a", "operator": "Exists"]])
    pod = try Fixture.setting(pod, "/spec/nodeSelector", ["zone": "a"])
    let result = try Fixture.run(
      Self.oneRule(
        """
          volumes: [{name: certs, emptyDir: {}}]
          imagePullSecrets: [{name: regcred}]
          tolerations: [{key: b, operator: Exists}]
          nodeSelector: {kubernetes.io/os: linux}

        """), pod: pod)
    try Self.expectSameOperations(
      Fixture.ruleOperations(result),
      #"""
      [{"op":"add","path":"/spec/volumes/-","value":{"name":"certs","emptyDir":{}}},
       {"op":"add","path":"/spec/imagePullSecrets/-","value":{"name":"regcred"}},
       {"op":"add","path":"/spec/tolerations/-","value":{"key":"b","operator":"Exists"}},
       {"op":"add","path":"/spec/nodeSelector/kubernetes.io~1os","value":"linux"}]
      """#)
  }

  @Test func rfc6901EscapesTildeAndSlashInKeys() throws {
    // The loader refuses such keys, so the rule is built directly: the planner must still escape them.
    var config = InjectionConfig()
    var rule = Rule(name: "r")
    rule.annotations = JSONObject([("example.com/a~b", "x")])
    rule.labels = JSONObject([("~/", "y")])
    config.rules = [rule]
    let request = try Fixture.request(pod: Fixture.pod)
    let result = Review.run(request, config: .success(config), environment: Fixture.environment)
    try Self.expectSameOperations(
      Fixture.ruleOperations(result),
      #"""
      [{"op":"add","path":"/metadata/annotations/example.com~1a~0b","value":"x"},
       {"op":"add","path":"/metadata/labels/~0~1","value":"y"}]
      """#)
    let patched = try Fixture.patchedPod(result)
    #expect(patched["metadata"]?["annotations"]?["example.com/a~b"] == "x")
    #expect(patched["metadata"]?["labels"]?["~/"] == "y")
  }

  // MARK: missing parents

  @Test func createsMissingLabels() throws {
    let pod = try Fixture.removing(Fixture.pod, "/metadata/labels")
    let result = try Fixture.run(
      Self.oneRule("  labels: {example.com/team: payments, tier: web}\n"), pod: pod)
    let operations = Fixture.ruleOperations(result)
    #expect(
      operations.first == [
        "op": "add", "path": "/metadata/labels", "value": ["example.com/team": "payments"],
      ])
    let patched = try Fixture.patchedPod(result)
    #expect(patched["metadata"]?["labels"] == ["example.com/team": "payments", "tier": "web"])
  }

  @Test func replacesNullAnnotationsWithAMap() throws {
    let pod = try Fixture.setting(Fixture.pod, "/metadata/annotations", nil)
    let result = try Fixture.run(
      Self.oneRule("  annotations: {example.com/owner: ann}\n"), pod: pod)
    #expect(
      Fixture.operations(result).first
        == ["op": "add", "path": "/metadata/annotations", "value": ["example.com/owner": "ann"]])
    let patched = try Fixture.patchedPod(result)
    let annotations = try #require(patched["metadata"]?["annotations"]?.objectValue)
    #expect(annotations["example.com/owner"] == "ann")
    #expect(annotations[Fixture.statusKey] != nil)
  }

  @Test func createsAnnotationsForTheStatusWhenThePodHasNone() throws {
    let pod = try Fixture.removing(Fixture.pod, "/metadata/annotations")
    let result = try Fixture.run(Self.oneRule("  labels: {tier: web}\n"), pod: pod)
    let patched = try Fixture.patchedPod(result)
    let status = try #require(try Fixture.status(of: patched))
    #expect(status["applied"] == ["r"])
    #expect(patched["metadata"]?["labels"] == ["app": "web", "tier": "web"])
  }

  @Test func createsMetadataWhenThePodHasNone() throws {
    let pod = try Fixture.removing(Fixture.pod, "/metadata")
    let result = try Fixture.run(
      Self.oneRule("  labels: {tier: web}\n  annotations: {a: b}\n"), pod: pod)
    #expect(result.failures.isEmpty)
    let patched = try Fixture.patchedPod(result)
    #expect(patched["metadata"]?["labels"] == ["tier": "web"])
    #expect(patched["metadata"]?["annotations"]?["a"] == "b")
    #expect(try Fixture.status(of: patched)?["applied"] == ["r"])
  }

  @Test(arguments: [
    ("/spec/volumes", JSONValue.null), ("/spec/nodeSelector", .null), ("/spec/tolerations", .null),
    ("/spec/imagePullSecrets", .null), ("/spec/containers/0/env", .null),
    ("/spec/containers/0/volumeMounts", .null),
    ("/spec/initContainers", .null),
  ])
  func treatsNullListsAndMapsAsAbsent(_ pointer: String, _ value: JSONValue) throws {
    let pod = try Fixture.setting(Fixture.pod, pointer, value)
    let result = try Fixture.run(
      Self.oneRule(
        """
          containers: [app]
          env: [{name: A, value: "1"}]
          volumeMounts: [{name: certs, mountPath: /certs}]
          volumes: [{name: certs, emptyDir: {}}]
          nodeSelector: {kubernetes.io/os: linux}
          tolerations: [{key: a, operator: Exists}]
          imagePullSecrets: [{name: regcred}]
          initContainers: [{name: setup, image: busybox}]

        """), pod: pod)
    #expect(result.failures.isEmpty)
    let patched = try Fixture.patchedPod(result)
    #expect(
      patched[pointer: JSONPointer(tokens: ["spec", "volumes"])] == [
        ["name": "certs", "emptyDir": [:]]
      ])
    #expect(
      patched[pointer: JSONPointer(tokens: ["spec", "nodeSelector"])] == [
        "kubernetes.io/os": "linux"
      ])
    #expect(
      patched["spec"]?["containers"]?[pointer: JSONPointer(tokens: ["0", "volumeMounts"])] == [
        ["name": "certs", "mountPath": "/certs"]
      ])
    #expect(
      patched["spec"]?["containers"]?[pointer: JSONPointer(tokens: ["0", "env"])]?.arrayValue?.last
        == ["name": "A", "value": "1"])
    #expect(patched["spec"]?["imagePullSecrets"] == [["name": "regcred"]])
    #expect(patched["spec"]?["tolerations"] == [["key": "a", "operator": "Exists"]])
    #expect(
      patched["spec"]?["initContainers"]?.arrayValue?.last == ["name": "setup", "image": "busybox"])
  }

  // MARK: init container order

  static func initNames(_ result: ReviewResult) throws -> [String] {
    try Fixture.patchedPod(result)["spec"]?["initContainers"]?.arrayValue?.compactMap {
      $0["name"]?.stringValue
    } ?? []
  }

  @Test(arguments: [
    (InitContainerPosition.first, ["one", "two", "init"]), (.last, ["init", "one", "two"]),
  ])
  func initContainersGoFirstOrLastInTheirOrder(
    _ position: InitContainerPosition, _ expected: [String]
  ) throws {
    let rule =
      "  initContainerPosition: \(position.rawValue)\n  initContainers:\n  - {name: one, image: busybox}\n  - {name: two, image: busybox}\n"
    #expect(try Self.initNames(Fixture.run(Self.oneRule(rule))) == expected)
    // Without any init container in the pod, the order of the rule is kept.
    let bare = try Fixture.removing(Fixture.pod, "/spec/initContainers")
    #expect(try Self.initNames(Fixture.run(Self.oneRule(rule), pod: bare)) == ["one", "two"])
  }

  // MARK: conflicts

  /// An item the pod already holds under the rule's key, with different content.
  struct Conflict: CustomTestStringConvertible, Sendable {
    let name: String
    let rule: String
    /// Where the pod's own item is, before and after the patch.
    let pointer: String
    let podValue: JSONValue
    let ruleValue: JSONValue
    /// What to set in the fixture pod first, if anything.
    let setup: (String, JSONValue)?
    var testDescription: String { name }
  }

  static let conflicts: [Conflict] = [
    Conflict(
      name: "env var", rule: "  containers: [app]\n  env: [{name: EXISTING, value: \"2\"}]\n",
      pointer: "/spec/containers/0/env/0", podValue: ["name": "EXISTING", "value": "1"],
      ruleValue: ["name": "EXISTING", "value": "2"], setup: nil),
    Conflict(
      name: "volumeMount on the same path",
      rule: "  containers: [app]\n  volumeMounts: [{name: a, mountPath: /data, readOnly: true}]\n",
      pointer: "/spec/containers/0/volumeMounts/0", podValue: ["name": "a", "mountPath": "/data"],
      ruleValue: ["name": "a", "mountPath": "/data", "readOnly": true],
      setup: ("/spec/containers/0/volumeMounts", [["name": "a", "mountPath": "/data"]])),
    Conflict(
      name: "label", rule: "  labels: {app: shop}\n", pointer: "/metadata/labels/app",
      podValue: "web",
      ruleValue: "shop", setup: nil),
    Conflict(
      name: "annotation", rule: "  annotations: {example.com/team: billing}\n",
      pointer: "/metadata/annotations/example.com~1team", podValue: "payments",
      ruleValue: "billing", setup: nil),
    Conflict(
      name: "nodeSelector", rule: "  nodeSelector: {zone: b}\n", pointer: "/spec/nodeSelector/zone",
      podValue: "a",
      ruleValue: "b", setup: ("/spec/nodeSelector", ["zone": "a"])),
    Conflict(
      name: "volume", rule: "  volumes: [{name: data, hostPath: {path: /srv}}]\n",
      pointer: "/spec/volumes/0",
      podValue: ["name": "data", "emptyDir": [:]],
      ruleValue: ["name": "data", "hostPath": ["path": "/srv"]],
      setup: ("/spec/volumes", [["name": "data", "emptyDir": [:]]])),
    Conflict(
      name: "sidecar", rule: "  sidecars: [{name: helper, image: \"busybox:1.37\"}]\n",
      pointer: "/spec/containers/1",
      podValue: ["name": "helper", "image": "busybox:1.36"],
      ruleValue: ["name": "helper", "image": "busybox:1.37"],
      setup: nil),
    Conflict(
      name: "init container", rule: "  initContainers: [{name: init, image: alpine}]\n",
      pointer: "/spec/initContainers/0",
      podValue: ["name": "init", "image": "busybox:1.36"],
      ruleValue: ["name": "init", "image": "alpine"], setup: nil),
    Conflict(
      name: "image pull secret", rule: "  imagePullSecrets: [{name: regcred}]\n",
      pointer: "/spec/imagePullSecrets/0", podValue: ["name": "regcred", "extra": "x"],
      ruleValue: ["name": "regcred"],
      setup: ("/spec/imagePullSecrets", [["name": "regcred", "extra": "x"]])),
  ]

  static func pod(for conflict: Conflict) throws -> JSONValue {
    guard let (pointer, value) = conflict.setup else { return Fixture.pod }
    return try Fixture.setting(Fixture.pod, pointer, value)
  }

  @Test(arguments: conflicts)
  func skipKeepsThePodValueAndCountsTheRuleAsApplied(_ conflict: Conflict) throws {
    let result = try Fixture.run(
      Self.oneRule("  conflict: Skip\n" + conflict.rule), pod: Self.pod(for: conflict))
    #expect(result.failures.isEmpty)
    #expect(result.applied == ["r"])
    #expect(Fixture.ruleOperations(result).isEmpty)
    let patched = try Fixture.patchedPod(result)
    #expect(patched[pointer: try JSONPointer(parsing: conflict.pointer)] == conflict.podValue)
    #expect(try Fixture.status(of: patched)?["applied"] == ["r"])
  }

  @Test(arguments: conflicts)
  func overrideReplacesThePodValue(_ conflict: Conflict) throws {
    let result = try Fixture.run(
      Self.oneRule("  conflict: Override\n" + conflict.rule), pod: Self.pod(for: conflict))
    #expect(result.failures.isEmpty)
    #expect(result.applied == ["r"])
    let pointer = try JSONPointer(parsing: conflict.pointer)
    #expect(
      Fixture.ruleOperations(result) == [
        JSONPatchOperation.replace(pointer, conflict.ruleValue).json
      ])
    #expect(try Fixture.patchedPod(result)[pointer: pointer] == conflict.ruleValue)
  }

  @Test(arguments: conflicts)
  func errorFailsTheRuleWithConflict(_ conflict: Conflict) throws {
    let result = try Fixture.run(
      Self.oneRule("  conflict: Error\n" + conflict.rule), pod: Self.pod(for: conflict))
    #expect(result.failures.map(\.rule) == ["r"])
    #expect(result.failures.map(\.reason) == [.conflict])
    #expect(result.applied.isEmpty)
    #expect(result.response.allowed)
    #expect(Fixture.ruleOperations(result).isEmpty)
    let patched = try Fixture.patchedPod(result)
    #expect(patched[pointer: try JSONPointer(parsing: conflict.pointer)] == conflict.podValue)
  }

  @Test func theDefaultConflictPolicyApplies() throws {
    let rule = "  labels: {app: shop}\n"
    let error = try Fixture.run(Self.oneRule(rule, defaults: "defaults:\n  conflict: Error\n"))
    #expect(error.failures.map(\.reason) == [.conflict])
    let skip = try Fixture.run(Self.oneRule(rule))
    #expect(skip.failures.isEmpty && skip.applied == ["r"])
    let ruleWins = try Fixture.run(
      Self.oneRule("  conflict: Override\n" + rule, defaults: "defaults:\n  conflict: Error\n"))
    #expect(ruleWins.failures.isEmpty)
  }

  static let identicalItems: [String] = [
    "  containers: [app]\n  env: [{name: EXISTING, value: \"1\"}]\n",
    "  labels: {app: web}\n",
    "  annotations: {example.com/team: payments}\n",
    "  sidecars: [{name: helper, image: \"busybox:1.36\"}]\n",
    "  initContainers: [{name: init, image: \"busybox:1.36\"}]\n",
  ]

  @Test(arguments: identicalItems)
  func anIdenticalItemIsNotAConflict(_ rule: String) throws {
    let result = try Fixture.run(Self.oneRule("  conflict: Error\n" + rule))
    #expect(result.failures.isEmpty)
    #expect(result.applied == ["r"])
    #expect(Fixture.ruleOperations(result).isEmpty)
  }

  /// Container names are unique across init, app and ephemeral containers.
  @Test(arguments: [
    ("  sidecars: [{name: init, image: envoy}]\n", "sidecar named like an init container"),
    (
      "  initContainers: [{name: app, image: busybox}]\n",
      "init container named like an app container"
    ),
    ("  sidecars: [{name: debugger, image: envoy}]\n", "sidecar named like an ephemeral container"),
  ])
  func aContainerNameClashAcrossListsIsAConflict(_ rule: String, _ what: String) throws {
    let pod = try Fixture.setting(
      Fixture.pod, "/spec/ephemeralContainers", [["name": "debugger", "image": "busybox"]])
    let failing = try Fixture.run(Self.oneRule("  conflict: Error\n" + rule), pod: pod)
    #expect(failing.failures.map(\.reason) == [.conflict], "\(what)")
    #expect(Fixture.ruleOperations(failing).isEmpty)
    let skipping = try Fixture.run(Self.oneRule("  conflict: Skip\n" + rule), pod: pod)
    #expect(skipping.failures.isEmpty, "\(what)")
    #expect(skipping.applied == ["r"])
    #expect(Fixture.ruleOperations(skipping).isEmpty, "\(what): a second container of that name")
  }

  // MARK: atomicity

  @Test func aRuleFailingHalfWayLeavesNothingBehind() throws {
    let yaml = Fixture.configYAML(
      """
      rules:
      - name: half
        env: [{name: HALF, value: "1"}]
        initContainers: [{name: half-init, image: busybox}]
        sidecars: [{name: half-proxy, image: envoy}]
        volumes: [{name: shared, emptyDir: {}}]
        labels:
          tier: web
          owner: '{{ .metadata.labels.owner }}'
      - name: later
        conflict: Error
        volumes: [{name: shared, hostPath: {path: /srv}}]
        labels: {stage: later}
      """)
    let result = try Fixture.run(yaml)
    #expect(result.failures.map(\.rule) == ["half"])
    #expect(result.failures.map(\.reason) == [.templateValueMissing])
    #expect(result.applied == ["later"])
    #expect(result.response.allowed)
    let patched = try Fixture.patchedPod(result)
    let serialized = patched.serialized()
    for trace in ["HALF", "half-init", "half-proxy", "\"tier\""] {
      #expect(!serialized.contains(trace), "\(trace) of the failed rule is in the patched pod")
    }
    // The later rule saw the pod without the failed rule's volume: no conflict with it.
    #expect(patched["spec"]?["volumes"] == [["name": "shared", "hostPath": ["path": "/srv"]]])
    #expect(patched["metadata"]?["labels"]?["stage"] == "later")
  }

  @Test func aRuleFailingOnItsLastStepLeavesNothingBehind() throws {
    let pod = try Fixture.setting(Fixture.pod, "/spec/nodeSelector", ["zone": "a"])
    let yaml = Self.oneRule(
      """
        conflict: Error
        env: [{name: A, value: "1"}]
        envFrom: [{secretRef: {name: s}}]
        volumeMounts: [{name: v, mountPath: /v}]
        initContainers: [{name: setup, image: busybox}]
        sidecars: [{name: proxy, image: envoy}]
        volumes: [{name: v, emptyDir: {}}]
        imagePullSecrets: [{name: regcred}]
        tolerations: [{key: a, operator: Exists}]
        labels: {tier: web}
        annotations: {example.com/x: v}
        nodeSelector: {zone: b}

      """)
    let result = try Fixture.run(yaml, pod: pod)
    #expect(result.failures.map(\.reason) == [.conflict])
    #expect(Fixture.ruleOperations(result).isEmpty)
    #expect(try Fixture.patchedPod(result)["spec"] == pod["spec"])
  }

  // MARK: idempotency

  static let everything = Fixture.configYAML(
    """
    rules:
    - name: tracing
      conflict: Error
      containers: [app, helper, init]
      includeInitContainers: true
      env:
      - name: SERVICE
        value: '{{ .metadata.labels.app }}'
      - name: TEAM
        value: '{{ index .metadata.annotations "example.com/team" | default "none" }}'
      envFrom: [{configMapRef: {name: otel}}]
      volumeMounts: [{name: otel-certs, mountPath: /etc/otel}]
      initContainers: [{name: otel-init, image: busybox}]
      initContainerPosition: First
      sidecars: [{name: otel-agent, image: otel/collector, args: ['--service={{ .metadata.labels.app }}']}]
      volumes: [{name: otel-certs, secret: {secretName: otel-certs}}]
    - name: placement
      conflict: Error
      labels: {example.com/traced: "true"}
      annotations: {example.com/injected-by: '{{ .request.userInfo.username }}'}
      imagePullSecrets: [{name: regcred}]
      tolerations: [{key: dedicated, operator: Equal, value: tracing, effect: NoSchedule}]
      nodeSelector: {kubernetes.io/os: linux}
    """)

  @Test func reviewingThePatchedPodChangesNothing() throws {
    let first = try Fixture.run(Self.everything)
    #expect(first.failures.isEmpty)
    #expect(first.applied == ["tracing", "placement"])
    let patched = try Fixture.patchedPod(first)
    #expect(
      try Fixture.status(of: patched) == ["applied": ["tracing", "placement"], "failed": []])

    let second = try Fixture.run(Self.everything, pod: patched)
    #expect(second.response.patch.isEmpty)
    #expect(second.failures.isEmpty)
    #expect(second.response.warnings.isEmpty)
    #expect(second.skipped.map(\.rule) == ["tracing", "placement"])
    #expect(second.skipped.allSatisfy { $0.reason == .alreadyInjected })
  }

  @Test func withoutTheStatusAnnotationIdenticalItemsAreNotConflicts() throws {
    let first = try Fixture.run(Self.everything)
    let patched = try Fixture.removing(
      Fixture.patchedPod(first), "/metadata/annotations/podinject.dev~1status")
    let second = try Fixture.run(Self.everything, pod: patched)
    #expect(second.failures.isEmpty)
    #expect(second.applied == ["tracing", "placement"])
    #expect(Fixture.ruleOperations(second).isEmpty)
    #expect(
      try Fixture.status(of: Fixture.patchedPod(second)) == [
        "applied": ["tracing", "placement"], "failed": [],
      ])
  }

  /// A rule's own sidecar becomes an app container: a second pass must not treat it differently from the first.
  @Test func aRulesOwnContainersAreTreatedAlikeOnEveryPass() throws {
    let yaml = Self.oneRule(
      """
        conflict: Error
        env: [{name: A, value: "1"}]
        sidecars: [{name: proxy, image: envoy}]

      """)
    let first = try Fixture.run(yaml)
    let patched = try Fixture.removing(
      Fixture.patchedPod(first), "/metadata/annotations/podinject.dev~1status")
    let second = try Fixture.run(yaml, pod: patched)
    #expect(second.failures.isEmpty)
    #expect(
      Fixture.ruleOperations(second).isEmpty,
      "second pass: \(JSONValue.array(Fixture.ruleOperations(second)).serialized())")
  }

  @Test func aRuleListedInTheStatusAnnotationIsNotAppliedAgain() throws {
    let pod = try Fixture.setting(
      Fixture.pod, "/metadata/annotations/podinject.dev~1status",
      #"{"applied":["tracing"],"failed":[]}"#)
    let result = try Fixture.run(Self.everything, pod: pod)
    #expect(result.skipped.map(\.rule) == ["tracing"])
    #expect(result.skipped.map(\.reason) == [.alreadyInjected])
    #expect(result.applied == ["placement"])
    let patched = try Fixture.patchedPod(result)
    #expect(patched["spec"]?["initContainers"] == Fixture.pod["spec"]?["initContainers"])
    #expect(
      try Fixture.status(of: patched) == ["applied": ["tracing", "placement"], "failed": []])
  }

  @Test(arguments: ["not json", "", #"{"applied":"tracing"}"#, "[]"])
  func anUnreadableStatusAnnotationCountsAsNone(_ value: String) throws {
    let pod = try Fixture.setting(
      Fixture.pod, "/metadata/annotations/podinject.dev~1status", .string(value))
    let result = try Fixture.run(Self.oneRule("  labels: {tier: web}\n"), pod: pod)
    #expect(result.applied == ["r"])
    #expect(try Fixture.status(of: Fixture.patchedPod(result)) == ["applied": ["r"], "failed": []])
  }

  @Test func theStatusAnnotationKeyIsConfigurable() throws {
    let yaml = Fixture.configYAML(
      "statusAnnotation: example.com/injected\nrules:\n- name: r\n  labels: {tier: web}\n")
    let result = try Fixture.run(yaml)
    let patched = try Fixture.patchedPod(result)
    #expect(try Fixture.status(of: patched, key: "example.com/injected")?["applied"] == ["r"])
    #expect(patched["metadata"]?["annotations"]?[Fixture.statusKey] == nil)
  }

  @Test func optingOutSkipsEveryRule() throws {
    let pod = try Fixture.setting(
      Fixture.pod, "/metadata/annotations/podinject.dev~1inject", "false")
    let result = try Fixture.run(Self.everything, pod: pod)
    #expect(result.response.patch.isEmpty)
    #expect(result.response.allowed)
    #expect(result.failures.isEmpty)
    #expect(result.skipped.map(\.rule) == ["tracing", "placement"])
    #expect(result.skipped.allSatisfy { $0.reason == .optedOut })
  }

  @Test(arguments: ["true", "no", "False", ""])
  func onlyFalseOptsOut(_ value: String) throws {
    let pod = try Fixture.setting(
      Fixture.pod, "/metadata/annotations/podinject.dev~1inject", .string(value))
    let result = try Fixture.run(Self.everything, pod: pod)
    #expect(result.applied == ["tracing", "placement"])
  }

  @Test func theOptOutAnnotationKeyIsConfigurable() throws {
    let yaml = Fixture.configYAML(
      "optOutAnnotation: example.com/inject\nrules:\n- name: r\n  labels: {tier: web}\n")
    let opted = try Fixture.setting(
      Fixture.pod, "/metadata/annotations/example.com~1inject", "false")
    #expect(try Fixture.run(yaml, pod: opted).skipped.map(\.reason) == [.optedOut])
    let notOpted = try Fixture.setting(
      Fixture.pod, "/metadata/annotations/podinject.dev~1inject", "false")
    #expect(try Fixture.run(yaml, pod: notOpted).applied == ["r"])
  }
}
