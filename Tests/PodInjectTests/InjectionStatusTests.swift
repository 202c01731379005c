import Testing

@testable import PodInject

/// The status annotation's text (SPEC §4) and how a later pass reads it back.
struct InjectionStatusTests {
  @Test func theAnnotationValueIsTheDocumentedJSON() {
    let status = InjectionStatus(
      applied: ["a"], failed: [(rule: "b", reason: .templateValueMissing)])
    #expect(
      status.annotationValue
        == #"{"applied":["a"],"failed":[{"rule":"b","reason":"TemplateValueMissing"}]}"#)
  }

  @Test func anEmptyStatusHasEmptyLists() {
    #expect(InjectionStatus().annotationValue == #"{"applied":[],"failed":[]}"#)
  }

  @Test(arguments: [
    (#"{"applied":["a","b"],"failed":[{"rule":"c","reason":"Conflict"}]}"#, ["a", "b"]),
    (#"{"applied":[]}"#, []),
    (#"{"failed":[]}"#, []),
    (#"{"applied":["a",1,null,"b"]}"#, ["a", "b"]),
    (#"{"applied":"a"}"#, []),
    ("[]", []),
    ("not json", []),
    ("", []),
  ])
  func appliedRulesAreReadBackLeniently(_ value: String, _ expected: [String]) {
    #expect(InjectionStatus.appliedRules(in: value) == expected)
  }

  @Test func noAnnotationMeansNoRuleApplied() {
    #expect(InjectionStatus.appliedRules(in: nil).isEmpty)
  }

  @Test func theValueReadsBackAsWritten() {
    let status = InjectionStatus(
      applied: ["tracing", "placement"], failed: [(rule: "x", reason: .conflict)])
    #expect(InjectionStatus.appliedRules(in: status.annotationValue) == ["tracing", "placement"])
  }
}
