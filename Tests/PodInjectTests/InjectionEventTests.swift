import Testing

@testable import PodInject

/// The Warning Event of a failed rule: its deterministic name, what it regards, its two API bodies (SPEC §5).
struct InjectionEventTests {
  static let replicaSet = ObjectReference(
    apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-7d4b9c", namespace: "team-a",
    uid: "rs-uid-1")

  static func event(
    reason: EventReason = .injectionFailed, rule: String = "tracing",
    regarding: ObjectReference = replicaSet,
    note: String = "rule \"tracing\" failed", time: Timestamp = Fixture.now,
    controller: String = "podinject.dev/webhook", instance: String = "podinject-0"
  ) -> InjectionEvent {
    InjectionEvent(
      reason: reason, rule: rule, failure: .templateValueMissing, regarding: regarding, note: note,
      time: time,
      reportingController: controller, reportingInstance: instance)
  }

  // MARK: the name

  @Test func fnv1a64MatchesItsReferenceVectors() {
    #expect(FNV1a64.hex("") == "cbf29ce484222325")
    #expect(FNV1a64.hex("a") == "af63dc4c8601ec8c")
    #expect(FNV1a64.hex("foobar") == "85944171f73967e8")
    // Leading zero digits are kept: always 16 of them.
    #expect(FNV1a64.hex("k9000") == "00a93efcb6745273")
  }

  static func expectWellFormedName(
    _ name: String, prefix: String, sourceLocation: SourceLocation = #_sourceLocation
  ) {
    let parts = name.split(separator: ".", omittingEmptySubsequences: false)
    let hash = parts.last.map(String.init) ?? ""
    #expect(hash.count == 16, "\(name)", sourceLocation: sourceLocation)
    #expect(
      hash.allSatisfy { "0123456789abcdef".contains($0) }, "\(name)", sourceLocation: sourceLocation
    )
    #expect(name == prefix + "." + hash, sourceLocation: sourceLocation)
    #expect(
      KubernetesValidation.dns1123Subdomain(name) == nil, "\(name)", sourceLocation: sourceLocation)
  }

  @Test func theNameIsTheRegardedNameAndSixteenHexDigits() {
    Self.expectWellFormedName(Self.event().name, prefix: "web-7d4b9c")
  }

  @Test func theSameFailureAnywhereHasTheSameName() {
    let first = Self.event()
    let repeated = Self.event(
      note: "another text", time: Timestamp(secondsSinceEpoch: 1),
      instance: "podinject-other-replica")
    #expect(first.name == repeated.name)
  }

  @Test(arguments: [
    ("rule", event(rule: "other")),
    ("reason", event(reason: .injectionDenied)),
    (
      "uid",
      event(
        regarding: ObjectReference(
          apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-7d4b9c", namespace: "team-a",
          uid: "rs-uid-2"))
    ),
    (
      "namespace",
      event(
        regarding: ObjectReference(
          apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-7d4b9c", namespace: "team-b",
          uid: "rs-uid-1"))
    ),
    (
      "kind",
      event(
        regarding: ObjectReference(
          apiVersion: "apps/v1", kind: "StatefulSet", name: "web-7d4b9c", namespace: "team-a",
          uid: "rs-uid-1"))
    ),
    ("reportingController", event(controller: "example.com/other")),
  ])
  func anyPartOfTheIdentityChangesTheName(_ part: String, _ other: InjectionEvent) {
    #expect(other.name != Self.event().name, "changing \(part)")
    Self.expectWellFormedName(other.name, prefix: other.regarding.name)
  }

  @Test(arguments: [
    ("web-7d4b9c-", "web-7d4b9c"),
    ("web-7d4b9c-x2k4q", "web-7d4b9c-x2k4q"),
    ("-.web.-", "web"),
    ("Web_App", "webapp"),
    ("", "pod"),
    ("---", "pod"),
  ])
  func theNamePrefixIsAValidSubdomain(_ regarded: String, _ prefix: String) {
    let event = Self.event(
      regarding: ObjectReference(
        apiVersion: "v1", kind: "Pod", name: regarded, namespace: "team-a", uid: ""))
    Self.expectWellFormedName(event.name, prefix: prefix)
  }

  @Test func aLongRegardedNameStillGivesAValidName() {
    let long = String(repeating: "a", count: 250) + "-"
    let event = Self.event(
      regarding: ObjectReference(
        apiVersion: "v1", kind: "Pod", name: long, namespace: "team-a", uid: ""))
    #expect(event.name.utf8.count <= 253)
    #expect(KubernetesValidation.dns1123Subdomain(event.name) == nil)
  }

  // MARK: what it regards

  static let ownedPod: JSONValue = [
    "metadata": [
      "generateName": "web-7d4b9c-",
      "uid": "pod-uid",
      "ownerReferences": [
        ["apiVersion": "v1", "kind": "ConfigMap", "name": "not-the-controller", "uid": "cm-uid"],
        [
          "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b9c", "uid": "rs-uid-1",
          "controller": true,
        ],
      ],
    ]
  ]

  @Test func ownerRegardsTheControllingOwner() {
    let reference = ObjectReference.regarding(
      pod: Self.ownedPod, namespace: "team-a", policy: .owner)
    #expect(reference == Self.replicaSet)
  }

  @Test func podRegardsThePodEvenWithAnOwner() {
    let reference = ObjectReference.regarding(pod: Self.ownedPod, namespace: "team-a", policy: .pod)
    #expect(
      reference
        == ObjectReference(
          apiVersion: "v1", kind: "Pod", name: "web-7d4b9c-", namespace: "team-a", uid: "pod-uid"))
  }

  @Test func ownerRegardsThePodWithoutAControllingOwner() throws {
    let pod = try Fixture.setting(
      Self.ownedPod, "/metadata/ownerReferences/1/controller", false)
    let reference = ObjectReference.regarding(pod: pod, namespace: "team-a", policy: .owner)
    #expect(reference.kind == "Pod")
    #expect(reference.name == "web-7d4b9c-")
    let named: JSONValue = ["metadata": ["name": "web-1", "generateName": "web-"]]
    #expect(
      ObjectReference.regarding(pod: named, namespace: "team-a", policy: .owner).name == "web-1")
  }

  @Test func podsOfOneReplicaSetFailingTheSameRuleShareOneEvent() throws {
    let config = Fixture.configYAML(
      "rules:\n- name: tracing\n  labels: {owner: '{{ .metadata.labels.owner }}'}\n")
    var names: [String] = []
    for suffix in ["x2k4q", "p9z7m"] {
      var pod = try Fixture.setting(
        Self.ownedPod, "/metadata/name", .string("web-7d4b9c-" + suffix))
      pod = try Fixture.setting(pod, "/metadata/uid", .string("uid-" + suffix))
      let result = try Fixture.run(config, pod: pod)
      let event = try #require(result.events.first)
      #expect(event.regarding == Self.replicaSet)
      #expect(event.note.contains("web-7d4b9c-" + suffix))
      names.append(event.name)
    }
    #expect(names[0] == names[1])
    Self.expectWellFormedName(names[0], prefix: "web-7d4b9c")
  }

  @Test func aGeneratedPodWithoutOwnerGivesAValidEventName() throws {
    var pod = try Fixture.removing(Fixture.pod, "/metadata/name")
    pod = try Fixture.setting(pod, "/metadata/generateName", "web-7d4b9c-")
    let result = try Fixture.run(
      Fixture.configYAML(
        "rules:\n- name: tracing\n  labels: {owner: '{{ .metadata.labels.owner }}'}\n"), pod: pod)
    let event = try #require(result.events.first)
    #expect(event.regarding.kind == "Pod")
    #expect(event.regarding.name == "web-7d4b9c-")
    #expect(event.namespace == "team-a")
    Self.expectWellFormedName(event.name, prefix: "web-7d4b9c")
  }

  @Test func theRegardingPolicyComesFromTheConfig() throws {
    let config = Fixture.configYAML(
      "events: {regarding: Pod}\nrules:\n- name: tracing\n  labels: {owner: '{{ .metadata.labels.owner }}'}\n"
    )
    let pod = try Fixture.setting(Self.ownedPod, "/metadata/name", "web-7d4b9c-x2k4q")
    let event = try #require(try Fixture.run(config, pod: pod).events.first)
    #expect(event.regarding.kind == "Pod")
    #expect(event.regarding.name == "web-7d4b9c-x2k4q")
  }

  // MARK: the note

  @Test func aNoteWithinTheLimitIsKept() {
    let note = String(repeating: "n", count: 1024)
    #expect(Self.event(note: note).note == note)
  }

  @Test(arguments: [
    String(repeating: "n", count: 1025),
    "a" + String(repeating: "é", count: 600),
    String(repeating: "🚀", count: 300),
    String(repeating: "ab€", count: 400),
  ])
  func aLongNoteIsCutWithoutSplittingACharacter(_ note: String) {
    let cut = Self.event(note: note).note
    #expect(cut.utf8.count <= 1024)
    #expect(cut.utf8.count > 1024 - 4 - 4, "cut more than one character too early")
    #expect(cut.hasSuffix(" ..."))
    let kept = cut.dropLast(4)
    #expect(note.hasPrefix(kept))
    // Every byte kept decodes: no half character.
    #expect(String(validating: Array(kept.utf8), as: UTF8.self) != nil)
  }

  @Test func theNoteNamesThePodTheRuleAndTheReason() throws {
    let result = try Fixture.run(
      Fixture.configYAML(
        "rules:\n- name: tracing\n  labels: {owner: '{{ .metadata.labels.owner }}'}\n"))
    let note = try #require(result.events.first?.note)
    #expect(note.contains("web-1"))
    #expect(note.contains("team-a"))
    #expect(note.contains("\"tracing\""))
    #expect(note.contains("TemplateValueMissing"))
  }

  // MARK: the bodies

  @Test func theCoreV1BodyHasTheLegacyFields() {
    let event = Self.event(note: "the note")
    let body = event.body(api: .coreV1)
    #expect(body["apiVersion"] == "v1")
    #expect(body["kind"] == "Event")
    #expect(body["metadata"] == ["name": .string(event.name), "namespace": "team-a"])
    #expect(
      body["involvedObject"]
        == [
          "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b9c",
          "namespace": "team-a", "uid": "rs-uid-1",
        ])
    #expect(body["type"] == "Warning")
    #expect(body["reason"] == "InjectionFailed")
    #expect(body["message"] == "the note")
    #expect(body["source"] == ["component": "podinject.dev/webhook"])
    #expect(body["reportingComponent"] == "podinject.dev/webhook")
    #expect(body["reportingInstance"] == "podinject-0")
    #expect(body["firstTimestamp"] == "2026-11-29T05:19:29Z")
    #expect(body["lastTimestamp"] == "2026-11-29T05:19:29Z")
    #expect(body["count"] == 1)
    for field in ["regarding", "note", "action", "deprecatedSource", "series"] {
      #expect(body[field] == nil, "\(field) in a core/v1 Event")
    }
  }

  @Test func theEventsV1BodyHasTheNewFieldsOnly() throws {
    let event = Self.event(reason: .injectionDenied, note: "the note")
    let body = event.body(api: .eventsV1)
    #expect(body["apiVersion"] == "events.k8s.io/v1")
    #expect(body["kind"] == "Event")
    #expect(body["metadata"] == ["name": .string(event.name), "namespace": "team-a"])
    #expect(
      body["regarding"]
        == [
          "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b9c",
          "namespace": "team-a", "uid": "rs-uid-1",
        ])
    #expect(body["type"] == "Warning")
    #expect(body["reason"] == "InjectionDenied")
    #expect(body["note"] == "the note")
    #expect(body["action"] == "Inject")
    #expect(body["reportingController"] == "podinject.dev/webhook")
    #expect(body["reportingInstance"] == "podinject-0")
    let eventTime = try #require(body["eventTime"]?.stringValue)
    #expect(eventTime == "2026-11-29T05:19:29.000123Z")
    let fraction = try #require(eventTime.split(separator: ".").last)
    #expect(fraction.count == 7 && fraction.hasSuffix("Z"))
    let keys = Set(body.objectValue?.keys ?? [])
    for field in [
      "deprecatedSource", "deprecatedFirstTimestamp", "deprecatedLastTimestamp", "deprecatedCount",
      "message",
      "involvedObject", "source", "firstTimestamp", "lastTimestamp", "count", "reportingComponent",
    ] {
      #expect(!keys.contains(field), "\(field) in an events.k8s.io/v1 Event")
    }
  }

  @Test func anEventOfAnObjectWithoutNamespaceGoesToDefault() {
    let event = Self.event(
      regarding: ObjectReference(apiVersion: "v1", kind: "Pod", name: "p", namespace: "", uid: ""))
    #expect(event.namespace == "default")
    #expect(event.body(api: .coreV1)["metadata"]?["namespace"] == "default")
  }

  @Test func theEventsOfAReviewUseTheConfiguredReportingAndClock() throws {
    let config = Fixture.configYAML(
      "events: {reportingController: example.com/injector}\nrules:\n- name: r\n  labels: {o: '{{ .metadata.labels.o }}'}\n"
    )
    let event = try #require(try Fixture.run(config).events.first)
    #expect(event.reportingController == "example.com/injector")
    #expect(event.reportingInstance == Fixture.environment.reportingInstance)
    #expect(event.time == Fixture.now)
    #expect(event.failure == .templateValueMissing)
  }

  @Test(arguments: [
    ("Allow", EventReason.injectionFailed), ("Deny", .injectionDenied),
  ])
  func theReasonSaysWhetherThePodWasAdmitted(_ policy: String, _ reason: EventReason) throws {
    let config = Fixture.configYAML(
      "rules:\n- name: r\n  onError: \(policy)\n  labels: {o: '{{ .metadata.labels.o }}'}\n")
    let event = try #require(try Fixture.run(config).events.first)
    #expect(event.reason == reason)
    #expect(event.note.contains(policy == "Deny" ? "refused" : "admitted"))
  }
}
