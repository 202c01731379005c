/// What the review pipeline needs from the outside world, passed in so every decision stays pure.
public struct ReviewEnvironment: Sendable {
  public var now: Timestamp
  /// `events.reportingInstance`, already resolved (config, else `$POD_NAME`, else the host name).
  public var reportingInstance: String

  public init(now: Timestamp, reportingInstance: String) {
    self.now = now
    self.reportingInstance = reportingInstance
  }
}

/// Everything one admission decided: the answer, a per-rule trace, and the Events to deliver.
public struct ReviewResult: Sendable {
  public var request: AdmissionRequest
  public var response: AdmissionResponse
  public var traces: [RuleTrace]
  public var failures: [RuleFailure]
  /// The pod with the patch applied (the object unchanged when nothing applies).
  public var patchedObject: JSONValue?
  /// Events to create; none for a dry run.
  public var events: [InjectionEvent]
  /// The events API in force (from the config, `.coreV1` when the config is unusable).
  public var eventAPI: EventAPI

  /// Rules applied in this pass.
  public var applied: [String] {
    traces.compactMap { if case .applied = $0.outcome { $0.rule } else { nil } }
  }

  /// Rules that matched but were skipped on purpose, with why.
  public var skipped: [(rule: String, reason: SkipReason)] {
    traces.compactMap { if case .skipped(let reason) = $0.outcome { ($0.rule, reason) } else { nil } }
  }
}

/// The pipeline on one screen: select rules, plan each atomically, build the answer and the Events.
public enum Review {
  public static func run(
    _ request: AdmissionRequest, config: ConfigLoad, environment: ReviewEnvironment
  ) -> ReviewResult {
    var result = ReviewResult(
      request: request, response: .allowed(uid: request.uid), traces: [], failures: [],
      patchedObject: request.object, events: [], eventAPI: config.eventSettings.api)
    guard request.isPod, let pod = request.object, pod.objectValue != nil else { return result }

    let namespace = request.namespace.isEmpty ? "default" : request.namespace
    var settings: InjectionConfig
    var patcher = PodPatcher(pod: pod, sizeBound: request.objectBytesBound)
    switch config {
    case .failure(let error):
      // Nothing can be matched without a configuration, so it stands for every pod CREATE.
      guard request.operation == "CREATE" else { return result }
      settings = InjectionConfig()
      settings.events = config.eventSettings
      let policy = error.fallbackOnError ?? .allow
      result.failures = [RuleFailure(rule: "*", reason: .configInvalid, detail: error.summary, policy: policy)]
    case .success(let config):
      settings = config
      plan(config, request: request, namespace: namespace, pod: pod, patcher: &patcher, into: &result)
    }

    let denials = result.failures.filter { $0.policy == .deny }
    if denials.isEmpty {
      recordStatus(settings, previous: pod, patcher: &patcher, result: &result)
      result.response.patch = patcher.patch
      result.patchedObject = patcher.pod
    } else {
      result.response = .denied(uid: request.uid, message: FailureSignals.denialMessage(denials))
    }
    result.response.warnings = result.failures.map(FailureSignals.warning)
    result.response.auditAnnotations = FailureSignals.auditAnnotations(result.failures)
    if !request.dryRun && !result.failures.isEmpty {
      result.events = result.failures.map { failure in
        FailureSignals.event(
          for: failure, refused: !denials.isEmpty, pod: pod, podName: request.podName, namespace: namespace,
          settings: settings.events, environment: environment)
      }
    }
    return result
  }

  /// Matches and applies each rule in order, recording a trace per rule.
  private static func plan(
    _ config: InjectionConfig, request: AdmissionRequest, namespace: String, pod: JSONValue,
    patcher: inout PodPatcher, into result: inout ReviewResult
  ) {
    let annotations = pod["metadata"]?["annotations"]
    let optedOut = annotations?[config.optOutAnnotation]?.stringValue == "false"
    let alreadyApplied = InjectionStatus.appliedRules(in: annotations?[config.statusAnnotation]?.stringValue)
    var root = pod.objectValue ?? JSONObject()
    var metadata = root["metadata"]?.objectValue ?? JSONObject()
    if metadata["namespace"]?.stringValue?.isEmpty ?? true { metadata["namespace"] = .string(namespace) }
    root["metadata"] = .object(metadata)
    root["request"] = request.raw
    let templateRoot = JSONValue.object(root)

    for rule in config.rules {
      if !rule.matchIsValid {
        // Nothing can be matched without the rule's match, so it stands for every pod CREATE.
        if request.operation != "CREATE" {
          result.traces.append(RuleTrace(rule: rule.name, outcome: .notMatched("its match is invalid")))
          continue
        }
      } else if let why = RuleMatcher.mismatch(
        rule.match, operation: request.operation, namespace: namespace, pod: pod)
      {
        result.traces.append(RuleTrace(rule: rule.name, outcome: .notMatched(why)))
        continue
      }
      if optedOut {
        result.traces.append(RuleTrace(rule: rule.name, outcome: .skipped(.optedOut)))
        continue
      }
      if alreadyApplied.contains(rule.name) {
        result.traces.append(RuleTrace(rule: rule.name, outcome: .skipped(.alreadyInjected)))
        continue
      }
      if let problem = rule.configProblem {
        let failure = RuleFailure(
          rule: rule.name, reason: .configInvalid, detail: problem, policy: rule.failurePolicy(config.defaults))
        result.failures.append(failure)
        result.traces.append(RuleTrace(rule: rule.name, outcome: .failed(failure)))
        continue
      }
      var planner = RulePlanner(rule: rule, conflict: rule.conflictPolicy(config.defaults), templateRoot: templateRoot)
      do {
        try planner.apply(to: &patcher)
        result.traces.append(
          RuleTrace(rule: rule.name, outcome: .applied(changes: planner.changes, keptPodValues: planner.keptPodValues)))
      } catch {
        let failure = RuleFailure(
          rule: rule.name, reason: error.reason, detail: error.detail, policy: rule.failurePolicy(config.defaults))
        result.failures.append(failure)
        result.traces.append(RuleTrace(rule: rule.name, outcome: .failed(failure)))
      }
    }
  }

  /// Writes the status annotation when this pass applied or failed something and the value changes.
  private static func recordStatus(
    _ config: InjectionConfig, previous pod: JSONValue, patcher: inout PodPatcher, result: inout ReviewResult
  ) {
    let current = pod["metadata"]?["annotations"]?[config.statusAnnotation]?.stringValue
    var applied = InjectionStatus.appliedRules(in: current)
    for rule in result.applied where !applied.contains(rule) { applied.append(rule) }
    let status = InjectionStatus(applied: applied, failed: result.failures.map { ($0.rule, $0.reason) })
    guard !(result.applied.isEmpty && result.failures.isEmpty) else { return }
    let value = status.annotationValue
    guard value != current else { return }
    do {
      try patcher.setMember(Paths.annotations, config.statusAnnotation, .string(value))
    } catch {
      // The pod's annotations are not a map: report it, but keep the rules already planned.
      result.failures.append(
        RuleFailure(rule: "*", reason: error.reason, detail: "status annotation: \(error.detail)", policy: .allow))
    }
  }
}
