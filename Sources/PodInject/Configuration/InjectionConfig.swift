/// What to do with a pod when one of its rules cannot be applied.
public enum FailurePolicy: String, Sendable, CaseIterable {
  case allow = "Allow"
  case deny = "Deny"
}

/// What to do when the pod already holds an item of the same name with different content.
public enum ConflictPolicy: String, Sendable, CaseIterable {
  case skip = "Skip"
  case override = "Override"
  case error = "Error"
}

/// Which Events API podinject writes to.
public enum EventAPI: String, Sendable, CaseIterable {
  case coreV1 = "v1"
  case eventsV1 = "events.k8s.io/v1"
  case none = "none"
}

/// Which object an Event is about.
public enum RegardingPolicy: String, Sendable, CaseIterable {
  case owner = "Owner"
  case pod = "Pod"
}

/// Where a rule's init containers go among the pod's own.
public enum InitContainerPosition: String, Sendable, CaseIterable {
  case first = "First"
  case last = "Last"
}

/// The whole `InjectionConfig` document (SPEC §2).
public struct InjectionConfig: Sendable, Equatable {
  public static let apiVersion = "podinject.dev/v1alpha1"
  public static let kind = "InjectionConfig"

  public var defaults = Defaults()
  public var statusAnnotation = "podinject.dev/status"
  public var optOutAnnotation = "podinject.dev/inject"
  public var events = EventSettings()
  public var rules: [Rule] = []
  /// Problems inside rules, each of which fails only its rule (`check-config` still reports them all).
  public var diagnostics: [ConfigDiagnostic] = []

  public init() {}

  /// Policies a rule inherits unless it sets its own.
  public struct Defaults: Sendable, Equatable {
    public var onError: FailurePolicy = .allow
    public var conflict: ConflictPolicy = .skip
    public init() {}
  }

  /// How failures are reported to the API server.
  public struct EventSettings: Sendable, Equatable {
    public var api: EventAPI = .coreV1
    public var reportingController = "podinject.dev/webhook"
    /// Empty means `$POD_NAME`, else the host name.
    public var reportingInstance = ""
    public var regarding: RegardingPolicy = .owner
    public var timeoutMilliseconds = 2000
    public var outbox = Outbox.defaultDirectory
    public var logFile = ""
    public init() {}
  }
}

/// One named injection: when it applies, what it adds, and how its failures are handled.
public struct Rule: Sendable, Equatable {
  public var name: String
  public var match = RuleMatch()
  public var onError: FailurePolicy?
  public var conflict: ConflictPolicy?
  public var containers: [Glob] = Glob.everythingList
  public var includeInitContainers = false
  public var env: [JSONValue] = []
  public var envFrom: [JSONValue] = []
  public var volumeMounts: [JSONValue] = []
  public var initContainers: [JSONValue] = []
  public var initContainerPosition: InitContainerPosition = .last
  public var sidecars: [JSONValue] = []
  public var volumes: [JSONValue] = []
  public var labels = JSONObject()
  public var annotations = JSONObject()
  public var imagePullSecrets: [JSONValue] = []
  public var tolerations: [JSONValue] = []
  public var nodeSelector = JSONObject()
  /// Why the configuration of this rule is invalid (its first diagnostic), nil when it is valid. An
  /// invalid rule fails with `ConfigInvalid` wherever it would apply; the other rules still do.
  public var configProblem: String?
  /// Whether `match` was read without a problem; when not, an invalid rule stands for every pod CREATE.
  public var matchIsValid = true

  public init(name: String) { self.name = name }

  /// The failure policy in force for this rule.
  public func failurePolicy(_ defaults: InjectionConfig.Defaults) -> FailurePolicy {
    onError ?? defaults.onError
  }

  /// The conflict policy in force for this rule.
  public func conflictPolicy(_ defaults: InjectionConfig.Defaults) -> ConflictPolicy {
    conflict ?? defaults.conflict
  }
}

/// Which admission requests a rule applies to.
public struct RuleMatch: Sendable, Equatable {
  public var operations: [String] = RuleMatch.createOnly
  public var namespaces: [Glob] = Glob.everythingList
  public var excludeNamespaces: [Glob] = []
  public var labelSelector = LabelSelector.everything
  public var annotations = JSONObject()
  public init() {}

  /// The default `operations`, built once: every rule of a configuration starts from the defaults.
  static let createOnly = ["CREATE"]
}
