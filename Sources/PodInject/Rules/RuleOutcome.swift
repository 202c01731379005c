/// Why a rule could not be applied; the names are the `reason` podinject reports everywhere.
public enum FailureReason: String, Sendable, Equatable {
  case templateValueMissing = "TemplateValueMissing"
  case conflict = "Conflict"
  case invalidValue = "InvalidValue"
  case unpatchablePod = "UnpatchablePod"
  case configInvalid = "ConfigInvalid"
}

/// A rule that failed, with the field it failed on (never a value: values may be secrets).
public struct RuleFailure: Error, Sendable, Equatable {
  /// The rule's name; `*` for a configuration that could not be used at all.
  public var rule: String
  public var reason: FailureReason
  /// Which field, path or item failed, e.g. `env FOO: .metadata.labels.app has no value`.
  public var detail: String
  public var policy: FailurePolicy

  public init(rule: String, reason: FailureReason, detail: String, policy: FailurePolicy) {
    self.rule = rule
    self.reason = reason
    self.detail = detail
    self.policy = policy
  }
}

/// Why a matching rule changed nothing on purpose.
public enum SkipReason: String, Sendable, Equatable {
  case alreadyInjected = "AlreadyInjected"
  case optedOut = "OptedOut"
}

/// One change a rule made to the pod, for `explain`: kept as its parts, and put into words only when
/// shown, since every admission records its changes and only `explain` ever prints them.
public struct RuleChange: Sendable, Equatable, CustomStringConvertible {
  /// "added", "set" or "replaced".
  public var verb: String
  /// What kind of item, e.g. "env", "sidecar", "label".
  public var what: String
  /// Its name or key; empty when it has none.
  public var name: String
  /// Where, e.g. "in container app"; empty when it goes to the pod itself.
  public var place: String

  public init(_ verb: String, _ what: String, _ name: String = "", _ place: String = "") {
    self.verb = verb
    self.what = what
    self.name = name
    self.place = place
  }

  public var description: String {
    var text = verb + " " + what
    if !name.isEmpty { text += " " + name }
    if !place.isEmpty { text += " " + place }
    return text
  }
}

/// What happened to one rule in one admission, in enough detail for `explain`.
public struct RuleTrace: Sendable, Equatable {
  /// The rule's decision.
  public enum Outcome: Sendable, Equatable {
    case notMatched(String)
    case skipped(SkipReason)
    case applied(changes: [RuleChange], keptPodValues: [String])
    case failed(RuleFailure)
  }

  public var rule: String
  public var outcome: Outcome

  public init(rule: String, outcome: Outcome) {
    self.rule = rule
    self.outcome = outcome
  }
}

/// A rule-level failure raised while planning, before the rule's policy is attached.
struct PlanError: Error {
  var reason: FailureReason
  var detail: String
}
