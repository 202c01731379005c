/// The texts of the never-silent signals: warnings, audit annotations, denial message and Events.
/// They name rules, fields and reasons, never values.
enum FailureSignals {
  /// `podinject: rule "NAME" not applied: REASON`, with the detail when it still fits in 120 characters.
  static func warning(_ failure: RuleFailure) -> String {
    let base =
      failure.reason == .configInvalid && failure.rule == "*"
      ? "podinject: configuration invalid, no rule applied: ConfigInvalid"
      : "podinject: rule \"\(failure.rule)\" not applied: \(failure.reason.rawValue)"
    let detailed = "\(base) (\(failure.detail))"
    return detailed.count <= 120 ? detailed : base
  }

  /// `failed-rules` and `error`; keys hold no `/` because the API server prefixes them with the webhook name.
  static func auditAnnotations(_ failures: [RuleFailure]) -> JSONObject {
    guard !failures.isEmpty else { return JSONObject() }
    let rules = failures.map(\.rule).joined(separator: ",")
    let errors = failures.map { "\($0.rule): \($0.reason.rawValue) (\($0.detail))" }.joined(separator: "; ")
    return JSONObject([("failed-rules", .string(rules)), ("error", .string(errors))])
  }

  /// The `status.message` of a denial: every rule that refused the pod, with its reason.
  static func denialMessage(_ denials: [RuleFailure]) -> String {
    denials.map { failure in
      failure.reason == .configInvalid && failure.rule == "*"
        ? "podinject: configuration invalid (\(failure.detail)); pods are refused until it is fixed"
        : "podinject: rule \"\(failure.rule)\" failed: \(failure.reason.rawValue) (\(failure.detail))"
    }.joined(separator: "; ")
  }

  /// The Warning Event for one failure.
  static func event(
    for failure: RuleFailure, refused: Bool, pod: JSONValue, podName: String, namespace: String,
    settings: InjectionConfig.EventSettings, environment: ReviewEnvironment
  ) -> InjectionEvent {
    let reason: EventReason =
      failure.reason == .configInvalid ? .configInvalid : refused ? .injectionDenied : .injectionFailed
    // The pod's fate, which another rule may have decided.
    let outcome =
      !refused
      ? "the pod was admitted without it"
      : failure.policy == .deny ? "the pod was refused" : "the pod was refused by another rule"
    let subject =
      failure.reason != .configInvalid
      ? "rule \"\(failure.rule)\" failed"
      : failure.rule == "*"
        ? "the podinject configuration is invalid" : "the configuration of rule \"\(failure.rule)\" is invalid"
    let note =
      "\(subject) for pod \(podName.isEmpty ? "(unnamed)" : podName) in namespace \(namespace): "
      + "\(failure.reason.rawValue): \(failure.detail); \(outcome)"
    return InjectionEvent(
      reason: reason, rule: failure.rule, failure: failure.reason,
      regarding: .regarding(pod: pod, namespace: namespace, policy: settings.regarding), note: note,
      time: environment.now, reportingController: settings.reportingController,
      reportingInstance: environment.reportingInstance)
  }
}
