import Testing

@testable import PodInject

/// What `apply` and `explain` accept: Kubernetes objects (with or without pods), AdmissionReviews, and
/// for explain a bare AdmissionRequest; anything else is one clear error naming the input and the
/// document.
struct OfflineInputTests {
  static func config() throws -> ConfigLoad { try ManifestsTests.loaded() }

  static func applyError(_ documents: [JSONValue]) throws -> ManifestError? {
    let config = try config()
    do {
      _ = try OfflineApply.run(
        documents, source: "in.yaml", format: .json, config: config, environment: Fixture.environment)
      return nil
    } catch {
      return error
    }
  }

  @Test(
    arguments: [
      (["foo": "bar"], "in.yaml: not a Kubernetes object: it has no apiVersion and no kind"),
      (["apiVersion": "v1"], "in.yaml: not a Kubernetes object: it has no kind"),
      ([1, 2], "in.yaml: not a Kubernetes object (found an array)"),
      (nil, "in.yaml: not a Kubernetes object (found null)"),
      (
        ["apiVersion": "v1", "kind": "List", "items": [["apiVersion": "v1", "kind": "Service"], "x"]],
        "in.yaml: item 2: not a Kubernetes object (found a string)"
      ),
      (
        ["apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"],
        "in.yaml: AdmissionReview has no request"
      ),
    ] as [(JSONValue?, String)])
  func inputThatIsNoManifestIsRefused(_ document: JSONValue?, _ message: String) throws {
    #expect(try Self.applyError([document ?? .null])?.message == message)
  }

  @Test func anInputWithoutDocumentsIsRefused() throws {
    #expect(try Self.applyError([])?.message == "in.yaml: empty: no Kubernetes object in it")
  }

  @Test func theDocumentAtFaultIsNamedInAMultiDocumentInput() throws {
    let error = try Self.applyError([ManifestsTests.deployment, ["foo": "bar"]])
    #expect(error?.message == "in.yaml: document 2: not a Kubernetes object: it has no apiVersion and no kind")
  }

  @Test func aBareAdmissionRequestIsRefusedByApplyWithAHint() throws {
    let request = try #require(Fixture.reviewJSON(pod: Fixture.pod)["request"])
    let message = try #require(try Self.applyError([request])?.message)
    #expect(message.hasPrefix("in.yaml: a bare AdmissionRequest, not a manifest: wrap it in an AdmissionReview"))
  }

  @Test func aManifestWithoutPodsIsPrintedUnchangedWithANote() throws {
    let service: JSONValue = ["apiVersion": "v1", "kind": "Service", "metadata": ["name": "web"]]
    let outcome = try OfflineApply.run(
      [service], source: "in.yaml", format: .json, config: try Self.config(), environment: Fixture.environment)
    #expect(try JSONParser.parse(outcome.output) == service)
    #expect(
      outcome.messages == ["podinject: in.yaml: no Pod, pod template or AdmissionReview in it: printed unchanged"])
    #expect(!outcome.denied)
  }

  @Test func anAdmissionReviewHasItsPodMutatedAndItsPatchRerooted() throws {
    let review = Fixture.reviewJSON(pod: Fixture.pod)
    var mutated = review
    let pods = try Manifests.apply(to: &mutated, config: try Self.config(), environment: Fixture.environment)
    let pod = try #require(pods.first)
    #expect(pods.count == 1)
    #expect(pod.location.owner == "AdmissionReview 705ab4f5-6393-11e8-b7cc-42010a800002")
    #expect(pod.result.request.namespace == "team-a")
    #expect(mutated["request"]?["object"] == pod.result.patchedObject)
    #expect(mutated["request"]?["object"]?["metadata"]?["labels"]?["example.com/traced"] == "true")
    let patch = Manifests.documentPatch(pod)
    #expect(patch.operations.allSatisfy { $0.path.tokens.starts(with: ["request", "object"]) })
    var patched = review
    try patch.apply(to: &patched)
    #expect(patched == mutated)
  }

  @Test func explainReadsABareAdmissionRequestAsTheRequestOfAV1Review() throws {
    let review = Fixture.reviewJSON(pod: Fixture.pod)
    let request = try #require(review["request"])
    let config = try Self.config()
    let bare = try OfflineExplain.run([request], source: "r.json", config: config, environment: Fixture.environment)
    let wrapped = try OfflineExplain.run([review], source: "r.json", config: config, environment: Fixture.environment)
    #expect(bare.hasPrefix("AdmissionRequest 705ab4f5-6393-11e8-b7cc-42010a800002: pod web-1 in namespace team-a"))
    #expect(bare.drop { $0 != ":" } == wrapped.drop { $0 != ":" })
  }

  @Test func explainRefusesAnInputWithoutAnyPod() throws {
    let service: JSONValue = ["apiVersion": "v1", "kind": "Service", "metadata": ["name": "web"]]
    #expect(
      throws: ManifestError(
        "in.yaml: nothing to explain: no Pod, pod template or AdmissionReview in it (found Service/web)")
    ) {
      try OfflineExplain.run([service], source: "in.yaml", config: try Self.config(), environment: Fixture.environment)
    }
    // Beside a pod, such a document gets a line of its own.
    let report = try OfflineExplain.run(
      [service, ManifestsTests.deployment], source: "in.yaml", config: try Self.config(),
      environment: Fixture.environment)
    #expect(report.hasPrefix("Service/web: no pod or pod template, nothing to explain\n\nDeployment/web: "))
  }
}
