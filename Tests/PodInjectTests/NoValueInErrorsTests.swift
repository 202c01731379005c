import Testing

@testable import PodInject

/// Issue 12, finding 4: an error names a position and a type, never the input's text.
struct NoValueInErrorsTests {
  static let canary = "CANARY-5e1f0a9b7c3d"

  @Test(arguments: ["int", "float", "bool", "null"])
  func aTagThatDoesNotFitItsScalarIsReportedWithoutTheScalar(_ tag: String) throws {
    let config = RulePlannerTests.oneRule(
      """
        env:
        - name: SECRET
          value: !!\(tag) \(Self.canary)

      """)
    let error = try #require(Fixture.loadError(config))
    let text = error.diagnostics.map(\.description).joined(separator: "\n")
    #expect(text.contains("the value tagged !!\(tag) is not"))
    #expect(!text.contains(Self.canary))
    // The rule fails alone, and what it says reaches the Event, the warning and the audit annotation.
    let result = try Fixture.run(config)
    let signals =
      result.failures.map(\.detail) + result.response.warnings
      + result.response.auditAnnotations.members.compactMap(\.value.stringValue)
    #expect(!signals.isEmpty)
    for signal in signals { #expect(!signal.contains(Self.canary)) }
  }

  @Test(arguments: [
    "apiVersion: \(canary)\nkind: AdmissionReview\nrequest: {uid: u}\n",
    "apiVersion: admission.k8s.io/v1\nkind: \(canary)\nrequest: {uid: u}\n",
    "apiVersion: admission.k8s.io/v1\nkind: AdmissionReview\nrequest: {uid: !!int \(canary)}\n",
    "apiVersion: admission.k8s.io/v1\nkind: AdmissionReview\nrequest: {uid: *\(canary)}\n",
    "apiVersion: admission.k8s.io/v1\nkind: AdmissionReview\nrequest: [\(canary)\n",
    "{\"apiVersion\":\"\(canary)\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"u\"}}",
    "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"\(canary)\",\"request\":{\"uid\":\"u\"}}",
    "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"\(canary)\"",
  ])
  func aReviewThatCannotBeReadIsNotEchoed(_ text: String) throws {
    for allowingYAML in [true, false] {
      do {
        _ = try AdmissionRequest.decode(Array(text.utf8), allowingYAML: allowingYAML)
        Issue.record("decoded: \(text)")
      } catch {
        #expect(!error.message.contains(Self.canary), "\(error.message)")
        #expect(!error.message.contains("\n"))
      }
    }
  }
}
