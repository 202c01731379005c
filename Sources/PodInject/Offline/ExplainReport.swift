/// The readable per-rule trace `podinject explain` prints.
public enum ExplainReport {
  public static func render(_ result: ReviewResult, title: String, config: ConfigLoad)
    -> String
  {
    switch config {
    case .success: return render(result, title: title, problems: [])
    case .failure(let error): return render(result, title: title, problems: error.diagnostics)
    }
  }

  static func render(
    _ result: ReviewResult, title: String, problems: [ConfigDiagnostic]
  ) -> String {
    var lines: [String] = []
    let request = result.request
    let pod = request.podName.isEmpty ? "(unnamed)" : request.podName
    lines.append(
      "\(title): pod \(pod) in namespace \(request.namespace.isEmpty ? "default" : request.namespace), \(request.operation)"
    )
    if !request.isPod {
      lines.append("  not a Pod (\(request.kind.isEmpty ? "unknown kind" : request.kind)): allowed, nothing to do")
    }
    if !problems.isEmpty {
      lines.append("  configuration unusable:")
      for diagnostic in problems { lines.append("    \(diagnostic)") }
    }
    for trace in result.traces {
      switch trace.outcome {
      case .notMatched(let why):
        lines.append("  rule \(trace.rule): not matched: \(why)")
      case .skipped(let reason):
        let why = reason == .optedOut ? "the pod opted out" : "already applied (status annotation)"
        lines.append("  rule \(trace.rule): skipped: \(why)")
      case .applied(let changes, let kept):
        lines.append(
          "  rule \(trace.rule): applied\(changes.isEmpty && kept.isEmpty ? " (nothing left to change)" : "")")
        for change in changes { lines.append("    + \(change)") }
        for value in kept { lines.append("    = kept the pod's \(value) (conflict: Skip)") }
      case .failed(let failure):
        let outcome =
          failure.policy == .deny ? "onError Deny: the pod is refused" : "onError Allow: admitted without it"
        lines.append("  rule \(trace.rule): FAILED \(failure.reason.rawValue): \(failure.detail) (\(outcome))")
      }
    }
    for failure in result.failures where failure.rule == "*" {
      lines.append("  \(failure.reason.rawValue): \(failure.detail)")
    }
    let response = result.response
    if response.allowed {
      lines.append("decision: allowed, \(response.patch.operations.count) patch operation(s)")
    } else {
      lines.append("decision: DENIED (403): \(response.status?.message ?? "")")
    }
    for warning in response.warnings { lines.append("warning: \(warning)") }
    for event in result.events {
      lines.append(
        "event: Warning \(event.reason.rawValue) regarding \(event.regarding.kind)/\(event.regarding.name): \(event.note)"
      )
    }
    return lines.joined(separator: "\n")
  }
}
