import Testing

@testable import PodInject

/// The whole pipeline: which requests are left alone, and how a failure is made visible (SPEC §3, §4).
struct ReviewTests {
  /// `good` applies; `bad` fails (TemplateValueMissing) under `policy`.
  static func twoRules(policy: String) -> String {
    Fixture.configYAML(
      """
      rules:
      - name: good
        labels: {tier: web}
      - name: bad
        onError: \(policy)
        env: [{name: OWNER, value: '{{ .metadata.labels.owner }}'}]
      """)
  }

  // MARK: requests left alone

  @Test func aNonPodKindIsAllowedUnchanged() throws {
    let deployment: JSONValue = [
      "apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "web"],
    ]
    let result = try Fixture.run(
      Self.twoRules(policy: "Deny"), pod: deployment,
      kind: ["group": "apps", "version": "v1", "kind": "Deployment"])
    Self.expectUntouched(result)
  }

  @Test func aPodOfAnotherGroupIsAllowedUnchanged() throws {
    let result = try Fixture.run(
      Self.twoRules(policy: "Deny"), kind: ["group": "example.com", "version": "v1", "kind": "Pod"])
    Self.expectUntouched(result)
  }

  @Test(arguments: [
    ("status", "UPDATE"), ("ephemeralcontainers", "UPDATE"), ("binding", "CREATE"),
    ("eviction", "CREATE"),
  ])
  func aSubresourceIsAllowedUnchanged(_ subresource: String, _ operation: String) throws {
    let anyOperation = Fixture.configYAML(
      "defaults: {onError: Deny}\nrules:\n- name: r\n  match: {operations: ['*']}\n  labels: {tier: web}\n"
    )
    // The same request on the pod itself is patched.
    #expect(try Fixture.run(anyOperation, operation: operation).applied == ["r"])
    let result = try Fixture.run(anyOperation, operation: operation, subResource: subresource)
    Self.expectUntouched(result)
  }

  @Test(arguments: ["UPDATE", "DELETE", "CONNECT"])
  func anOperationNoRuleMatchesIsAllowedUnchanged(_ operation: String) throws {
    let result = try Fixture.run(Self.twoRules(policy: "Deny"), operation: operation)
    Self.expectUntouched(result)
    #expect(result.traces.count == 2)
    for trace in result.traces {
      guard case .notMatched(let why) = trace.outcome else {
        Issue.record("\(trace.rule): \(trace.outcome)")
        continue
      }
      #expect(why.contains(operation))
    }
  }

  @Test func aDeleteWithoutAnObjectIsAllowed() throws {
    let request = try Fixture.request(pod: nil, operation: "DELETE")
    let config = try Fixture.load(Self.twoRules(policy: "Deny"))
    Self.expectUntouched(
      Review.run(request, config: .success(config), environment: Fixture.environment))
  }

  @Test func anUpdateIsPatchedWhenARuleAsksForIt() throws {
    let yaml = Fixture.configYAML(
      "rules:\n- name: r\n  match: {operations: [UPDATE]}\n  labels: {tier: web}\n")
    #expect(try Fixture.run(yaml, operation: "UPDATE").applied == ["r"])
    #expect(try Fixture.run(yaml, operation: "CREATE").applied.isEmpty)
    let any = Fixture.configYAML(
      "rules:\n- name: r\n  match: {operations: ['*']}\n  labels: {tier: web}\n")
    #expect(try Fixture.run(any, operation: "UPDATE").applied == ["r"])
  }

  static func expectUntouched(
    _ result: ReviewResult, sourceLocation: SourceLocation = #_sourceLocation
  ) {
    #expect(result.response.allowed, sourceLocation: sourceLocation)
    #expect(result.response.patch.isEmpty, sourceLocation: sourceLocation)
    #expect(result.response.warnings.isEmpty, sourceLocation: sourceLocation)
    #expect(result.response.auditAnnotations.isEmpty, sourceLocation: sourceLocation)
    #expect(result.failures.isEmpty, sourceLocation: sourceLocation)
    #expect(result.events.isEmpty, sourceLocation: sourceLocation)
    #expect(result.applied.isEmpty, sourceLocation: sourceLocation)
  }

  @Test(arguments: [
    ("  match: {namespaces: ['prod-*']}\n", "namespace"),
    ("  match: {excludeNamespaces: ['team-*']}\n", "excluded"),
    ("  match: {labelSelector: {matchLabels: {app: db}}}\n", "labels"),
    ("  match: {annotations: {example.com/team: billing}}\n", "example.com/team"),
  ])
  func aRuleThatDoesNotMatchSaysWhy(_ match: String, _ word: String) throws {
    let result = try Fixture.run(
      Fixture.configYAML("rules:\n- name: r\n" + match + "  labels: {tier: web}\n"))
    Self.expectUntouched(result)
    guard case .notMatched(let why) = result.traces.first?.outcome else {
      Issue.record("\(result.traces)")
      return
    }
    #expect(why.contains(word), "\(why)")
  }

  @Test func matchingRulesApply() throws {
    let yaml = Fixture.configYAML(
      """
      rules:
      - name: r
        match:
          namespaces: ['team-*']
          excludeNamespaces: [team-b]
          labelSelector: {matchExpressions: [{key: app, operator: In, values: [web, api]}]}
          annotations: {example.com/team: payments}
        labels: {tier: web}
      """)
    #expect(try Fixture.run(yaml, namespace: "team-a").applied == ["r"])
    #expect(try Fixture.run(yaml, namespace: "team-b").applied.isEmpty)
  }

  // MARK: onError

  @Test func allowAdmitsWithTheOtherRulesAndRecordsTheFailure() throws {
    let result = try Fixture.run(Self.twoRules(policy: "Allow"))
    #expect(result.response.allowed)
    #expect(result.response.status == nil)
    #expect(result.applied == ["good"])
    #expect(result.failures.map(\.rule) == ["bad"])
    #expect(result.failures.map(\.reason) == [.templateValueMissing])
    let patched = try Fixture.patchedPod(result)
    #expect(patched["metadata"]?["labels"]?["tier"] == "web")
    #expect(
      try Fixture.status(of: patched)
        == ["applied": ["good"], "failed": [["rule": "bad", "reason": "TemplateValueMissing"]]])
    Self.expectSignals(result, rule: "bad", reason: "TemplateValueMissing")
    #expect(result.events.map(\.reason) == [.injectionFailed])
  }

  @Test func denyRefusesThePodWithoutAPatch() throws {
    let result = try Fixture.run(Self.twoRules(policy: "Deny"))
    #expect(!result.response.allowed)
    let status = try #require(result.response.status)
    #expect(status.code == 403)
    #expect(status.message.contains("\"bad\"") || status.message.contains(" bad "))
    #expect(status.message.contains("TemplateValueMissing"))
    #expect(!status.message.contains("good"))
    #expect(result.response.patch.isEmpty)
    let review = result.response.review(apiVersion: AdmissionRequest.v1)
    #expect(review["response"]?["patch"] == nil)
    #expect(review["response"]?["patchType"] == nil)
    #expect(review["response"]?["allowed"] == false)
    #expect(review["response"]?["status"]?["code"] == 403)
    Self.expectSignals(result, rule: "bad", reason: "TemplateValueMissing")
    #expect(result.events.map(\.reason) == [.injectionDenied])
  }

  @Test func oneDenyAmongAllowsRefusesThePod() throws {
    let yaml = Fixture.configYAML(
      """
      defaults: {onError: Deny}
      rules:
      - name: soft
        onError: Allow
        labels: {owner: '{{ .metadata.labels.owner }}'}
      - name: hard
        conflict: Error
        labels: {app: other}
      """)
    let result = try Fixture.run(yaml)
    #expect(!result.response.allowed)
    #expect(result.failures.map(\.rule) == ["soft", "hard"])
    #expect(result.events.map(\.rule) == ["soft", "hard"])
    #expect(result.events.last?.reason == .injectionDenied)
    #expect(result.response.warnings.count == 2)
    #expect(result.response.status?.message.contains("hard") == true)
    #expect(result.response.status?.message.contains("Conflict") == true)
    #expect(result.response.auditAnnotations["failed-rules"] == "soft,hard")
  }

  /// SPEC §4: `InjectionFailed` is "admitted without the rule", `InjectionDenied` "pod refused". When another
  /// rule refuses the pod, the Event of a rule under `onError: Allow` must not tell the operator it was admitted.
  @Test func whenThePodIsRefusedNoEventSaysItWasAdmitted() throws {
    let yaml = Fixture.configYAML(
      """
      rules:
      - name: soft
        onError: Allow
        labels: {owner: '{{ .metadata.labels.owner }}'}
      - name: hard
        onError: Deny
        labels: {team: '{{ .metadata.labels.team }}'}
      """)
    let result = try Fixture.run(yaml)
    #expect(!result.response.allowed)
    #expect(result.events.count == 2)
    for event in result.events {
      #expect(event.reason == .injectionDenied, "rule \(event.rule)")
      #expect(!event.note.contains("admitted"), "rule \(event.rule): \(event.note)")
    }
  }

  /// The warning, audit annotations and event SPEC §4 asks for, for one failed rule.
  static func expectSignals(
    _ result: ReviewResult, rule: String, reason: String,
    sourceLocation: SourceLocation = #_sourceLocation
  ) {
    let warnings = result.response.warnings
    #expect(warnings.count == 1, sourceLocation: sourceLocation)
    let prefix = "podinject: rule \"\(rule)\" not applied: \(reason)"
    #expect(
      warnings.first?.hasPrefix(prefix) == true, "\(warnings)", sourceLocation: sourceLocation)
    #expect(warnings.allSatisfy { $0.count <= 120 }, sourceLocation: sourceLocation)
    let audit = result.response.auditAnnotations
    #expect(Set(audit.keys) == ["failed-rules", "error"], sourceLocation: sourceLocation)
    #expect(audit.keys.allSatisfy { !$0.contains("/") }, sourceLocation: sourceLocation)
    #expect(audit["failed-rules"] == .string(rule), sourceLocation: sourceLocation)
    let error = audit["error"]?.stringValue ?? ""
    #expect(
      error.contains(rule) && error.contains(reason), "\(error)", sourceLocation: sourceLocation)
    #expect(result.events.count == 1, sourceLocation: sourceLocation)
    #expect(result.events.first?.rule == rule, sourceLocation: sourceLocation)
    #expect(result.events.first?.note.contains(reason) == true, sourceLocation: sourceLocation)
  }

  @Test func aLongDetailStillGivesAWarningWithinTheLimit() throws {
    let longName = String(repeating: "r", count: 63)
    let yaml = Fixture.configYAML(
      "rules:\n- name: \(longName)\n  labels:\n    example.com/\(String(repeating: "k", count: 60)): '{{ .metadata.labels.missing }}'\n"
    )
    let result = try Fixture.run(yaml)
    let warning = try #require(result.response.warnings.first)
    #expect(warning.hasPrefix("podinject: rule \"\(longName)\" not applied: TemplateValueMissing"))
    #expect(warning.count <= 120)
  }

  // MARK: configuration failures

  static let brokenConfig = Fixture.configYAML(
    "defaults:\n  onError: Deny\nrules:\n- name: Not_Valid\n")

  static func configFailure(_ yaml: String) throws -> ConfigError {
    try #require(Fixture.loadError(yaml))
  }

  @Test func anInvalidConfigFallsBackToItsReadableOnError() throws {
    let error = try Self.configFailure(Self.brokenConfig)
    let request = try Fixture.request(pod: Fixture.pod)
    let result = Review.run(request, config: .failure(error), environment: Fixture.environment)
    #expect(!result.response.allowed)
    #expect(result.response.status?.code == 403)
    #expect(result.failures.map(\.reason) == [.configInvalid])
    #expect(result.events.map(\.reason) == [.configInvalid])
    #expect(result.response.warnings.count == 1)
    #expect(result.response.warnings.first?.hasPrefix("podinject: ") == true)
    #expect(result.response.warnings.first?.contains("ConfigInvalid") == true)
    #expect(
      result.response.auditAnnotations["error"]?.stringValue?.contains("ConfigInvalid") == true)
    #expect(result.response.patch.isEmpty)
  }

  @Test(arguments: [
    "defaults:\n  onError: Allow\nrules: {}\n",
    "rules: {}\n",
    "defaults: [\n",
  ])
  func anInvalidConfigWithoutDenyAdmits(_ body: String) throws {
    let error = try Self.configFailure(Fixture.configYAML(body))
    let request = try Fixture.request(pod: Fixture.pod)
    let result = Review.run(request, config: .failure(error), environment: Fixture.environment)
    #expect(result.response.allowed)
    #expect(result.failures.map(\.reason) == [.configInvalid])
    #expect(result.events.map(\.reason) == [.configInvalid])
    #expect(result.response.warnings.first?.contains("ConfigInvalid") == true)
    // Nothing of the pod changes but the status annotation, which records the failure.
    let patched = try Fixture.patchedPod(result)
    #expect(patched["spec"] == Fixture.pod["spec"])
    #expect(patched["metadata"]?["labels"] == Fixture.pod["metadata"]?["labels"])
    #expect(
      try Fixture.status(of: patched)?["failed"]?.arrayValue?.first?["reason"] == "ConfigInvalid")
  }

  @Test func configInvalidEventsFollowAnEventsSectionThatIsValidOnItsOwn() throws {
    let valid = try Self.configFailure(
      Fixture.configYAML(
        "events: {api: events.k8s.io/v1, reportingController: example.com/injector}\nrules:\n- name: Not_Valid\n"
      ))
    let request = try Fixture.request(pod: Fixture.pod)
    let result = Review.run(request, config: .failure(valid), environment: Fixture.environment)
    #expect(result.eventAPI == .eventsV1)
    #expect(result.events.map(\.reportingController) == ["example.com/injector"])
    let broken = try Self.configFailure(
      Fixture.configYAML(
        "events: {api: events.k8s.io/v1, reportingController: 'not valid'}\nrules: {}\n"))
    let fallback = Review.run(request, config: .failure(broken), environment: Fixture.environment)
    #expect(fallback.eventAPI == .coreV1)
    #expect(fallback.events.map(\.reportingController) == ["podinject.dev/webhook"])
  }

  @Test func aMissingConfigIsAConfigFailureThatAdmits() throws {
    let error = ConfigError(diagnostics: [
      ConfigDiagnostic(file: "/etc/podinject/config.yaml", line: 0, message: "no such file")
    ])
    let request = try Fixture.request(pod: Fixture.pod)
    let result = Review.run(request, config: .failure(error), environment: Fixture.environment)
    #expect(result.response.allowed)
    #expect(result.failures.map(\.reason) == [.configInvalid])
  }

  // MARK: dry run

  @Test(arguments: ["Allow", "Deny"])
  func aDryRunGetsTheSameAnswerButNoEvents(_ policy: String) throws {
    let wet = try Fixture.run(Self.twoRules(policy: policy))
    let dry = try Fixture.run(Self.twoRules(policy: policy), dryRun: true)
    #expect(wet.events.count == 1)
    #expect(dry.events.isEmpty)
    #expect(
      dry.response.review(apiVersion: AdmissionRequest.v1)
        == wet.response.review(apiVersion: AdmissionRequest.v1))
  }

  @Test func aDryRunWithAnInvalidConfigSendsNoEvent() throws {
    let error = try Self.configFailure(Self.brokenConfig)
    let request = try Fixture.request(pod: Fixture.pod, dryRun: true)
    let result = Review.run(request, config: .failure(error), environment: Fixture.environment)
    #expect(result.events.isEmpty)
    #expect(!result.response.allowed)
  }

  // MARK: secrets

  static let configCanary = "CANARY-CONFIG-7f3a9e"
  static let podCanary = "CANARY-POD-91bc44"

  /// Rules that fail in every way while holding secrets, against a pod holding secrets.
  static func secretConfig(policy: String) -> String {
    Fixture.configYAML(
      """
      defaults: {onError: \(policy)}
      rules:
      - name: clash
        conflict: Error
        containers: [app]
        env: [{name: API_TOKEN, value: \(configCanary)}]
      - name: missing
        sidecars:
        - name: vault-agent
          image: vault
          args: ['--token=\(configCanary)', '{{ .metadata.labels.vaultrole }}']
      - name: invalid
        labels: {secret-note: '{{ index .metadata.annotations "example.com/note" }}'}
      - name: applied
        env: [{name: DB_PASSWORD, value: \(configCanary)}]
      """)
  }

  static let secretPod: JSONValue = [
    "apiVersion": "v1", "kind": "Pod",
    "metadata": [
      "name": "web-1", "labels": ["app": "web"],
      "annotations": ["example.com/note": .string("the token is \(podCanary)")],
    ],
    "spec": [
      "containers": [
        [
          "name": "app", "image": "nginx", "args": [.string("--password=\(podCanary)")],
          "env": [["name": "API_TOKEN", "value": .string(podCanary)]],
        ]
      ]
    ],
  ]

  @Test(arguments: ["Allow", "Deny"])
  func noSecretLeavesThePod(_ policy: String) throws {
    let result = try Fixture.run(Self.secretConfig(policy: policy), pod: Self.secretPod)
    #expect(Set(result.failures.map(\.rule)) == ["clash", "missing", "invalid"])
    var signals: [String] = result.response.warnings
    signals.append(JSONValue.object(result.response.auditAnnotations).serialized())
    signals.append(result.response.status?.message ?? "")
    for event in result.events {
      signals.append(event.note)
      signals.append(event.body(api: .coreV1).serialized())
      signals.append(event.body(api: .eventsV1).serialized())
      signals.append(OutboxEntry(api: .coreV1, event: event).json.serialized())
    }
    signals.append(
      LogLine.review(
        result, events: EventCounts(spooled: result.events.count), durationMs: 1.25,
        time: Fixture.now))
    if result.response.allowed {
      let patched = try Fixture.patchedPod(result)
      signals.append(patched["metadata"]?["annotations"]?[Fixture.statusKey]?.stringValue ?? "")
    }
    #expect(result.events.count == 3)
    for signal in signals {
      #expect(!signal.contains(Self.configCanary), "\(signal)")
      #expect(!signal.contains(Self.podCanary), "\(signal)")
      #expect(!signal.contains("the token is"), "\(signal)")
    }
  }

  // MARK: the log line

  @Test func theLogLineHasTheFieldsOfSpecSection7() throws {
    let result = try Fixture.run(Self.twoRules(policy: "Allow"))
    let line = LogLine.review(
      result, events: EventCounts(sent: 1, aggregated: 2, spooled: 3, dropped: 4),
      durationMs: 12.3456,
      time: Fixture.now)
    #expect(!line.contains("\n"))
    let log = try JSONParser.parse(line)
    #expect(log["time"] == "2026-11-29T05:19:29.000123Z")
    #expect(log["level"] == "warning")
    #expect(log["uid"] == "705ab4f5-6393-11e8-b7cc-42010a800002")
    #expect(log["namespace"] == "team-a")
    #expect(log["pod"] == "web-1")
    #expect(log["operation"] == "CREATE")
    #expect(log["dryRun"] == false)
    #expect(log["allowed"] == true)
    #expect(log["applied"] == ["good"])
    #expect(log["skipped"] == [])
    #expect(log["failed"] == [["rule": "bad", "reason": "TemplateValueMissing"]])
    #expect(log["events"] == ["sent": 1, "aggregated": 2, "spooled": 3, "dropped": 4])
    #expect(log["durationMs"] == .number("12.346"))
  }

  @Test func theLogLineOfACleanAdmissionIsInfoAndNamesAGeneratedPod() throws {
    var pod = try Fixture.removing(Fixture.pod, "/metadata/name")
    pod = try Fixture.setting(pod, "/metadata/generateName", "web-7d4b9c-")
    pod = try Fixture.setting(
      pod, "/metadata/annotations/podinject.dev~1status", #"{"applied":["good"]}"#)
    let result = try Fixture.run(
      Fixture.configYAML("rules:\n- name: good\n  labels: {tier: web}\n"), pod: pod)
    let log = try JSONParser.parse(
      LogLine.review(result, events: EventCounts(), durationMs: 0, time: Fixture.now))
    #expect(log["level"] == "info")
    #expect(log["pod"] == "web-7d4b9c-")
    #expect(log["skipped"] == [["rule": "good", "reason": "AlreadyInjected"]])
    #expect(log["failed"] == [])
    #expect(log["durationMs"] == .number("0.000"))
  }
}

/// A rule whose own configuration is invalid fails alone, with ConfigInvalid and its own policy.
struct InvalidRuleTests {
  static let config = Fixture.configYAML(
    """
    rules:
    - name: broken
      onError: Deny
      match:
        namespaces: [team-*]
      sidecars: [{name: s, image: x, ports: [{containerPort: "80"}]}]
    - name: labels
      labels: {team: a}
    """)

  @Test func theOtherRulesStillApply() throws {
    let result = try Fixture.run(Self.config.replacing("onError: Deny", with: "onError: Allow"))
    #expect(result.applied == ["labels"])
    #expect(result.failures.map(\.rule) == ["broken"])
    #expect(result.failures.first?.reason == .configInvalid)
    #expect(result.failures.first?.detail.hasPrefix("config.yaml:") == true)
    #expect(result.response.allowed)
    #expect(result.response.warnings == ["podinject: rule \"broken\" not applied: ConfigInvalid"])
    #expect(result.events.map(\.reason) == [.configInvalid])
  }

  @Test func itsOwnPolicyDecides() throws {
    let result = try Fixture.run(Self.config)
    #expect(!result.response.allowed)
    #expect(result.response.status?.code == 403)
  }

  @Test func itsValidMatchStillSelects() throws {
    let result = try Fixture.run(Self.config, namespace: "other")
    #expect(result.failures.isEmpty)
    #expect(result.applied == ["labels"])
  }

  @Test func anInvalidMatchStandsForEveryCreate() throws {
    let yaml = Self.config.replacing("namespaces: [team-*]", with: "namespaces: team")
    #expect(try Fixture.run(yaml, namespace: "other").failures.map(\.rule) == ["broken"])
    #expect(try Fixture.run(yaml, operation: "UPDATE").failures.isEmpty)
  }
}

/// Neighbours of the issue's findings: a rule that would make the API server refuse the pod fails
/// instead, by its own policy.
struct PodLevelRefusalTests {
  @Test func aSidecarOnAHostPortThePodBindsFails() throws {
    let pod = try Fixture.setting(
      Fixture.pod, "/spec/containers/0/ports", [["containerPort": 80, "hostPort": 8080]])
    let yaml = Fixture.configYAML(
      "rules:\n- name: r\n  sidecars: [{name: s, image: x, ports: [{containerPort: 81, hostPort: 8080}]}]\n")
    let result = try Fixture.run(yaml, pod: pod)
    #expect(result.failures.map(\.reason) == [.unpatchablePod])
    #expect(try Fixture.run(yaml.replacing("hostPort: 8080", with: "hostPort: 8081"), pod: pod).failures.isEmpty)
  }

  @Test func mountingAVolumeThePodLacksFails() throws {
    let yaml = Fixture.configYAML("rules:\n- name: r\n  volumeMounts: [{name: certs, mountPath: /certs}]\n")
    let result = try Fixture.run(yaml)
    #expect(result.failures.map(\.reason) == [.unpatchablePod])
    #expect(result.failures.first?.detail.contains("certs") == true)
    let withVolume = yaml + "  volumes: [{name: certs, emptyDir: {}}]\n"
    #expect(try Fixture.run(withVolume).failures.isEmpty)
  }

  @Test func templatesThatRenderTwoEnvVarsOfOneNameFail() throws {
    let yaml = Fixture.configYAML(
      """
      rules:
      - name: r
        env:
        - {name: "{{ .metadata.labels.app }}", value: "1"}
        - {name: web, value: "2"}
      """)
    let result = try Fixture.run(yaml)
    #expect(result.failures.map(\.reason) == [.invalidValue])
  }
}
