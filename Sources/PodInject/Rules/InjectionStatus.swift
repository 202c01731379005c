/// The status annotation podinject leaves on a pod: which rules it applied and which failed, and why.
/// It is what makes a second pass change nothing.
struct InjectionStatus: Equatable {
  var applied: [String] = []
  var failed: [(rule: String, reason: FailureReason)] = []

  static func == (lhs: InjectionStatus, rhs: InjectionStatus) -> Bool {
    lhs.applied == rhs.applied && lhs.failed.elementsEqual(rhs.failed) { $0.rule == $1.rule && $0.reason == $1.reason }
  }

  /// The rules an earlier pass recorded as applied; an unreadable annotation counts as none.
  static func appliedRules(in annotationValue: String?) -> [String] {
    guard let annotationValue, let value = try? JSONParser.parse(annotationValue, maxDepth: 8) else { return [] }
    return value["applied"]?.arrayValue?.compactMap(\.stringValue) ?? []
  }

  /// The annotation value: `{"applied":["a"],"failed":[{"rule":"b","reason":"TemplateValueMissing"}]}`.
  var annotationValue: String {
    let failures = failed.map { failure -> JSONValue in
      .object(
        JSONObject(uniqueMembers: [
          .init("rule", .string(failure.rule)), .init("reason", .string(failure.reason.rawValue)),
        ]))
    }
    return JSONValue.object(
      JSONObject(uniqueMembers: [
        .init("applied", .array(applied.map(JSONValue.string))), .init("failed", .array(failures)),
      ])
    ).serialized()
  }
}
