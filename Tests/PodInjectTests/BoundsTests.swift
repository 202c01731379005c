import Testing

@testable import PodInject

/// Issue 12, finding 1: every bound one admission keeps, whatever its input. The time each parser
/// takes is tested end to end (`Tests/e2e/test_parsing.py`), on the CPU time of the process.
struct BoundsTests {
  // MARK: the patched pod stays storable

  /// A pod of `count` containers named c0, c1, ..., each with nothing but a name and an image.
  static func pod(containers count: Int) -> JSONValue {
    var containers: [JSONValue] = []
    for index in 0..<count { containers.append(["name": .string("c\(index)"), "image": "i"]) }
    return ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "p"], "spec": ["containers": .array(containers)]]
  }

  static let envRule = RulePlannerTests.oneRule(
    """
      env:
      - name: A
        value: "\(String(repeating: "x", count: 100))"
      - name: B
        value: b
      envFrom:
      - configMapRef:
          name: shared
      volumeMounts:
      - name: data
        mountPath: /data
      volumes:
      - name: data
        emptyDir: {}

    """)

  /// Plans the one rule of `configYAML` on `pod` against a limit of `maxBytes`.
  static func plan(_ configYAML: String, pod: JSONValue, maxBytes: Int) throws -> (PodPatcher, PlanError?) {
    let config = try Fixture.load(configYAML)
    let rule = try #require(config.rules.first)
    var patcher = PodPatcher(pod: pod, maxBytes: maxBytes)
    var planner = RulePlanner(rule: rule, conflict: rule.conflictPolicy(config.defaults), templateRoot: pod)
    do {
      try planner.apply(to: &patcher)
      return (patcher, nil)
    } catch {
      return (patcher, error)
    }
  }

  @Test func aRuleThatWouldMakeThePodTooLargeFailsBeforeAnyOperationIsBuilt() throws {
    let pod = Self.pod(containers: 2000)
    let (unbounded, noError) = try Self.plan(Self.envRule, pod: pod, maxBytes: .max)
    #expect(noError == nil)
    let podBytes = pod.serializedBytes().count
    // What the rule adds, counted as the patch writes it, and never less than the patch itself.
    let patchBytes = unbounded.patchBytes
    #expect(patchBytes >= JSONPatch(unbounded.operations).serializedBytes().count)

    // Exactly enough room: the rule applies. One byte less: it fails, and nothing is recorded.
    let (fits, fitsError) = try Self.plan(Self.envRule, pod: pod, maxBytes: podBytes + patchBytes)
    #expect(fitsError == nil)
    #expect(fits.operations.count == unbounded.operations.count)
    let (tooLarge, error) = try Self.plan(Self.envRule, pod: pod, maxBytes: podBytes + patchBytes - 1)
    #expect(error?.reason == .unpatchablePod)
    #expect(error?.detail.contains("more than the API server can store") == true)
    #expect(tooLarge.operations.isEmpty)
  }

  @Test func aPodOverTheLimitFailsEveryRuleThatChangesIt() throws {
    let pod = Self.pod(containers: 60_000)
    #expect(pod.serializedBytes().count > PodPatcher.maxPodBytes)
    let result = try Fixture.run(Self.envRule, pod: pod)
    #expect(result.failures.map(\.reason) == [.unpatchablePod, .unpatchablePod])
    #expect(result.failures.last?.detail.hasPrefix("status annotation") == true)
    #expect(result.response.patch.isEmpty)
    #expect(result.response.allowed)
  }

  @Test func theBoundCountsThePodAsSentWhenItsTextIsKnown() throws {
    // A 1.4 MB pod read from JSON text: the patch may still fill the room that is left, not more.
    let pod = Self.pod(containers: 45_000)
    let review = Fixture.reviewJSON(pod: pod).serializedBytes()
    let request = try AdmissionRequest.decode(review)
    #expect(request.objectBytesBound == review.count)
    let result = Review.run(request, config: .success(try Fixture.load(Self.envRule)), environment: Fixture.environment)
    #expect(result.failures.first?.reason == .unpatchablePod)
    let answer = result.response.review(apiVersion: request.reviewAPIVersion).serializedBytes()
    #expect(answer.count < 64 * 1024, "the answer of a failed rule is small, whatever the pod")
  }

  @Test func manyVolumesAndMountsAreCheckedByName() throws {
    var volumes: [JSONValue] = []
    var mounts: [JSONValue] = []
    for index in 0..<2000 {
      volumes.append(["name": .string("v\(index)"), "emptyDir": [:]])
      mounts.append(["name": .string("v\(index)"), "mountPath": .string("/m/\(index)")])
    }
    mounts.append(["name": "dangling", "mountPath": "/dangling"])
    let pod: JSONValue = [
      "metadata": ["name": "p"],
      "spec": [
        "volumes": .array(volumes), "containers": [["name": "app", "image": "i", "volumeMounts": .array(mounts)]],
      ],
    ]
    let config = RulePlannerTests.oneRule(
      """
        volumeMounts:
        - name: extra
          mountPath: /extra

      """)
    let result = try Fixture.run(config, pod: pod)
    // The pod's own dangling mount is not the rule's; the rule's mount of a volume the pod lacks is.
    #expect(result.failures.first?.reason == .unpatchablePod)
    #expect(result.failures.first?.detail == "volumeMount of volume extra: the pod has no such volume")
  }

  // MARK: memory of a parsed review

  @Test(arguments: ["[1]", "{\"a\":1}", "[]", "\"\"", "1", "\"a string too long to be inline\""])
  func aDocumentThatWouldTakeTooMuchMemoryIsRefused(_ unit: String) throws {
    // 10,000 of them take from 240 KB (numbers) to 1 MB (single-element arrays) as values, with what
    // the reader's stacks hold while it reads them. (A review's budget is tested end to end, on the
    // release build: `Tests/e2e/test_bounds.py`.)
    let bytes = Array(("{\"x\":[" + Array(repeating: unit, count: 10_000).joined(separator: ",") + "]}").utf8)
    _ = try JSONParser.parse(bytes, maxMemory: 4 * 1024 * 1024)
    #expect {
      _ = try JSONParser.parse(bytes, maxMemory: 256 * 1024)
    } throws: { error in
      (error as? JSONParseError)?.message == "more values than podinject holds (over 256 KiB in memory)"
    }
    #expect(AdmissionRequest.maxMemory == 40 * 1024 * 1024)
  }

  @Test func aLargeRealisticReviewFitsTheMemoryBudget() throws {
    // 100,000 containers: about 3 MiB of text, about half the budget.
    let review = Fixture.reviewJSON(pod: Self.pod(containers: 100_000)).serializedBytes()
    #expect(review.count > 2_800_000)
    _ = try AdmissionRequest.decode(review)
  }

  @Test func aYAMLReviewHasANodeBudget() throws {
    var text = "apiVersion: admission.k8s.io/v1\nkind: AdmissionReview\nrequest:\n  labels:\n"
    for index in 0..<130_000 { text += "    k\(index): v\n" }
    #expect {
      _ = try AdmissionRequest.decode(Array(text.utf8))
    } throws: { error in
      (error as? ReviewInputError)?.message.contains("more than 250000 nodes") == true
    }
  }
}

/// What the process answers when a limit (or a crash) stops it before it decided.
struct InterruptedAnswerTests {
  @Test(arguments: [false, true])
  func theAnswerIsAValidReviewWithTheReasonInItsSignals(_ deny: Bool) throws {
    let text = AdmissionResponse.interruptedReview(uid: "u-\"1\"", apiVersion: AdmissionRequest.v1beta1, deny: deny)
    #expect(text.filter { $0 == 0 }.count == 2)
    let reason = "stopped over its CPU time limit (4 s)"
    let review = try JSONParser.parse(
      text.split(separator: 0, omittingEmptySubsequences: false).joined(separator: Array(reason.utf8)).map { $0 })
    #expect(review["apiVersion"] == .string(AdmissionRequest.v1beta1))
    let response = try #require(review["response"])
    #expect(response["uid"] == "u-\"1\"")
    #expect(response["allowed"] == .bool(!deny))
    #expect(response["auditAnnotations"] == ["failed-rules": "*", "error": .string(reason)])
    let told = deny ? response["status"]?["message"] : response["warnings"]?.arrayValue?.first
    #expect(told == .string("podinject: no rule applied: " + reason))
    if deny { #expect(response["status"]?["code"] == 403) }
  }
}
