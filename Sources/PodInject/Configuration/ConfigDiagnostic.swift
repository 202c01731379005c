/// One problem found in a configuration file, printed as `file:line:column: message`, or as
/// `file: message` when it is about the file as a whole (unreadable, a directory).
public struct ConfigDiagnostic: Sendable, Equatable, CustomStringConvertible {
  public var file: String
  /// 1-based; nil when the problem has no place in the file.
  public var line: Int?
  /// 1-based, in characters; nil when unknown.
  public var column: Int?
  public var message: String

  public init(file: String, line: Int?, column: Int? = nil, message: String) {
    self.file = file
    self.line = line
    self.column = column
    self.message = message
  }

  public var description: String {
    guard let line else { return "\(file): \(message)" }
    guard let column else { return "\(file):\(line): \(message)" }
    return "\(file):\(line):\(column): \(message)"
  }
}

/// Why a configuration could not be used, and the failure policy still readable from it.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
  public var diagnostics: [ConfigDiagnostic]
  /// `defaults.onError` when the file was readable enough to tell; decisions fall back to it.
  public var fallbackOnError: FailurePolicy?
  /// The `events` section when it was valid on its own, so ConfigInvalid Events still go where the
  /// operator said.
  public var fallbackEvents: InjectionConfig.EventSettings?

  public init(
    diagnostics: [ConfigDiagnostic], fallbackOnError: FailurePolicy? = nil,
    fallbackEvents: InjectionConfig.EventSettings? = nil
  ) {
    self.diagnostics = diagnostics
    self.fallbackOnError = fallbackOnError
    self.fallbackEvents = fallbackEvents
  }

  /// The first diagnostic, for one-line signals.
  public var summary: String { diagnostics.first?.description ?? "invalid configuration" }

  public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// A configuration as loaded: usable, or every reason it is not. Not `Result`: instantiating
/// `Result<_, ConfigError>` costs a scan of every protocol conformance in the executable, at every start.
public enum ConfigLoad: Sendable {
  case success(InjectionConfig)
  case failure(ConfigError)

  /// The configuration when it can be used, else nil.
  public var usable: InjectionConfig? {
    if case .success(let value) = self { return value }
    return nil
  }

  /// The Event settings in force: the config's, else its still-valid `events` section, else the defaults.
  public var eventSettings: InjectionConfig.EventSettings {
    switch self {
    case .success(let config): return config.events
    case .failure(let error): return error.fallbackEvents ?? InjectionConfig.EventSettings()
    }
  }
}

extension ConfigLoad {
  /// What a decision falls back to when no rule can be applied: `defaults.onError`, as far as it
  /// could be read (SPEC §4).
  public var fallbackPolicy: FailurePolicy {
    switch self {
    case .success(let config): return config.defaults.onError
    case .failure(let error): return error.fallbackOnError ?? .allow
    }
  }
}
