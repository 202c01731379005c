import PodInject

/// Finds and loads the configuration: `--config`, else `$PODINJECT_CONFIG`, else the default path.
enum ConfigSource {
  static func path(_ option: String?) -> String {
    if let option, !option.isEmpty { return option }
    if let fromEnvironment = IO.env("PODINJECT_CONFIG"), !fromEnvironment.isEmpty { return fromEnvironment }
    return ConfigLoader.defaultPath
  }

  /// The configuration, or every reason it cannot be used (a missing file is one of them).
  static func load(_ option: String?) -> Result<InjectionConfig, ConfigError> {
    let path = path(option)
    switch IO.readFile(path) {
    case .failure(let error):
      return .failure(
        ConfigError(diagnostics: [ConfigDiagnostic(file: path, line: 0, message: "cannot read: \(error.reason)")]))
    case .success(let bytes):
      return Result { () throws(ConfigError) in try ConfigLoader.load(bytes, file: path) }
    }
  }

  /// `events.reportingInstance`, else `$POD_NAME`, else the host name.
  static func reportingInstance(_ config: Result<InjectionConfig, ConfigError>) -> String {
    let configured = config.eventSettings.reportingInstance
    if !configured.isEmpty { return configured }
    if let pod = IO.env("POD_NAME"), !pod.isEmpty { return pod }
    return IO.hostName()
  }

  static func environment(_ config: Result<InjectionConfig, ConfigError>) -> ReviewEnvironment {
    ReviewEnvironment(now: IO.now(), reportingInstance: reportingInstance(config))
  }
}
