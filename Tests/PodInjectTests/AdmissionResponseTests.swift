import Testing

@testable import PodInject

/// The AdmissionReview answer: echoes, patch encoding, denials (SPEC §4, §6), and reading the request.
struct AdmissionResponseTests {
  static let labelRule = Fixture.configYAML(
    "rules:\n- name: r\n  labels: {example.com/team: payments}\n")

  @Test(arguments: [AdmissionRequest.v1, AdmissionRequest.v1beta1])
  func theAnswerEchoesTheRequestAndCarriesThePatch(_ apiVersion: String) throws {
    let request = try Fixture.request(pod: Fixture.pod, uid: "b1e5-42", apiVersion: apiVersion)
    #expect(request.reviewAPIVersion == apiVersion)
    let result = Review.run(
      request, config: .success(try Fixture.load(Self.labelRule)), environment: Fixture.environment)
    let review = result.response.review(apiVersion: request.reviewAPIVersion)
    #expect(review["apiVersion"] == .string(apiVersion))
    #expect(review["kind"] == "AdmissionReview")
    let response = try #require(review["response"])
    #expect(response["uid"] == "b1e5-42")
    #expect(response["allowed"] == true)
    #expect(response["patchType"] == "JSONPatch")
    let encoded = try #require(response["patch"]?.stringValue)
    let bytes = try #require(Base64.decode(encoded))
    let patch = try JSONPatch(json: JSONParser.parse(bytes))
    #expect(patch == result.response.patch)
    #expect(
      patch.operations.contains(
        .add(JSONPointer(tokens: ["metadata", "labels", "example.com/team"]), "payments")))
    // The answer is plain JSON text that parses back to itself.
    #expect(try JSONParser.parse(review.serialized()) == review)
  }

  @Test func anAnswerWithoutChangesHasNoPatchMembers() {
    let review = AdmissionResponse.allowed(uid: "u-1").review(apiVersion: AdmissionRequest.v1)
    #expect(
      review == [
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "response": ["uid": "u-1", "allowed": true],
      ])
  }

  @Test func aDenialIs403WithAMessageAndNoPatch() {
    var response = AdmissionResponse.denied(
      uid: "u-2", message: "podinject: rule \"r\" failed: Conflict (label app)")
    response.patch = JSONPatch([.add(JSONPointer(tokens: ["metadata", "labels", "x"]), "y")])
    response.warnings = ["podinject: rule \"r\" not applied: Conflict"]
    response.auditAnnotations = JSONObject([("failed-rules", "r"), ("error", "r: Conflict")])
    let review = response.review(apiVersion: AdmissionRequest.v1beta1)
    #expect(review["apiVersion"] == "admission.k8s.io/v1beta1")
    let body = review["response"]
    #expect(body?["uid"] == "u-2")
    #expect(body?["allowed"] == false)
    #expect(body?["patch"] == nil)
    #expect(body?["patchType"] == nil)
    #expect(body?["status"]?["code"] == 403)
    #expect(body?["status"]?["message"] == "podinject: rule \"r\" failed: Conflict (label app)")
    #expect(body?["warnings"] == ["podinject: rule \"r\" not applied: Conflict"])
    #expect(body?["auditAnnotations"] == ["failed-rules": "r", "error": "r: Conflict"])
  }

  // MARK: reading the request

  @Test func aRequestIsReadFromJSONAndFromYAML() throws {
    let json = Fixture.reviewJSON(pod: Fixture.pod, uid: "abc", namespace: "team-a", dryRun: true)
    let fromJSON = try AdmissionRequest.decode(json.serializedBytes())
    let fromYAML = try AdmissionRequest.decode(Array(YAML.render(json).utf8))
    for request in [fromJSON, fromYAML] {
      #expect(request.uid == "abc")
      #expect(request.kind == "Pod")
      #expect(request.group == "")
      #expect(request.isPod)
      #expect(request.operation == "CREATE")
      #expect(request.namespace == "team-a")
      #expect(request.dryRun)
      #expect(request.podName == "web-1")
      #expect(request.object == Fixture.pod)
      #expect(request.raw["userInfo"]?["username"] == "alice@example.com")
    }
  }

  @Test func aPodKnownByItsGenerateNameIsNamedByIt() throws {
    var pod = try Fixture.removing(Fixture.pod, "/metadata/name")
    pod = try Fixture.setting(pod, "/metadata/generateName", "web-7d4b9c-")
    #expect(try Fixture.request(pod: pod).podName == "web-7d4b9c-")
  }

  @Test(arguments: [
    "",
    "   \n",
    "{",
    #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"1"}"#,
    "[]",
    #""text""#,
    #"{"apiVersion":"v1","kind":"AdmissionReview","request":{"uid":"1"}}"#,
    #"{"apiVersion":"admission.k8s.io/v1","kind":"Pod","request":{"uid":"1"}}"#,
    #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#,
    #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"operation":"CREATE"}}"#,
    #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":""}}"#,
    #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":[]}"#,
    "a: [1\n",
    "a: 1\n---\nb: 2\n",
  ])
  func inputThatIsNotAnAdmissionReviewIsRefused(_ text: String) {
    #expect(throws: ReviewInputError.self) { try AdmissionRequest.decode(Array(text.utf8)) }
  }

  /// controller-runtime reads an AdmissionReview without `apiVersion` as admission.k8s.io/v1 (SPEC §6).
  @Test(arguments: [
    #"{"kind":"AdmissionReview","request":{"uid":"1"}}"#,
    #"{"apiVersion":null,"kind":"AdmissionReview","request":{"uid":"1"}}"#,
    #"{"apiVersion":"","kind":"AdmissionReview","request":{"uid":"1"}}"#,
    "kind: AdmissionReview\nrequest: {uid: '1'}\n",
  ])
  func aReviewWithoutAPIVersionIsReadAsV1(_ text: String) throws {
    let request = try AdmissionRequest.decode(Array(text.utf8))
    #expect(request.reviewAPIVersion == AdmissionRequest.v1)
    #expect(request.uid == "1")
  }

  @Test func nestingDeeperThanTheLimitIsRefused() {
    let deep = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
    let text =
      #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"1","object":"#
      + deep + "}}"
    #expect(throws: ReviewInputError.self) { try AdmissionRequest.decode(Array(text.utf8)) }
  }

  @Test func aTruncatedInputIsReportedWithItsByteOffset() throws {
    let text = #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"#
    do {
      _ = try AdmissionRequest.decode(Array(text.utf8))
      Issue.record("accepted a truncated review")
    } catch {
      #expect(error.message.contains("byte \(text.utf8.count)"), "\(error.message)")
    }
  }
}
