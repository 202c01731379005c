import PodInject

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Finds and loads the configuration: `--config`, else `$PODINJECT_CONFIG`, else the default path.
enum ConfigSource {
  static func path(_ option: String?) -> String {
    if let option, !option.isEmpty { return option }
    if let fromEnvironment = IO.env("PODINJECT_CONFIG"), !fromEnvironment.isEmpty { return fromEnvironment }
    return ConfigLoader.defaultPath
  }

  /// The configuration, or every reason it cannot be used (a missing file is one of them).
  /// With `cached`, a validated copy kept by an earlier admission is used when the file is unchanged.
  static func load(_ option: String?, cached: Bool = false) -> ConfigLoad {
    let path = path(option)
    let before = LocalFiles.fingerprint(path)
    // Read only from a private directory: what is there was written by podinject itself.
    let directory = cached && before != nil ? cacheDirectory() : nil
    var cache = directory.flatMap { try? PrivateDirectory.open($0, create: false) }
    let name = ConfigCache.fileName(for: path)
    if let cache, let before, let bytes = try? cache.read(name),
      let config = ConfigCache.config(from: bytes, path: path, fingerprint: before)
    {
      return .success(config)
    }
    let bytes: [UInt8]
    do {
      bytes = try LocalFiles.read(path)
    } catch {
      return .failure(
        ConfigError(diagnostics: [ConfigDiagnostic(file: path, line: nil, message: "cannot read: \(error.reason)")]))
    }
    do {
      let config = try ConfigLoader.load(bytes, file: path)
      // Kept only when the file did not change while it was read; a failed write only costs speed.
      if let directory, let before, LocalFiles.fingerprint(path) == before {
        if cache == nil { cache = try? PrivateDirectory.open(directory, create: true) }
        _ = cache?.write(
          ConfigCache.entry(for: config, path: path, fingerprint: before), to: name,
          temporary: ".\(name).\(getpid()).tmp")
      }
      return .success(config)
    } catch {
      return .failure(error)
    }
  }

  /// Where validated configurations are kept: `$PODINJECT_CACHE_DIR` (empty: nowhere), else
  /// `/tmp/podinject-<euid>/cache`. Only a private directory is used (`PrivateDirectory`).
  static func cacheDirectory() -> String? {
    guard let configured = IO.env("PODINJECT_CACHE_DIR") else { return "/tmp/podinject-\(geteuid())/cache" }
    return configured.isEmpty ? nil : configured
  }

  /// `events.reportingInstance`, else `$POD_NAME`, else the host name.
  static func reportingInstance(_ config: ConfigLoad) -> String {
    let configured = config.eventSettings.reportingInstance
    if !configured.isEmpty { return configured }
    if let pod = IO.env("POD_NAME"), !pod.isEmpty { return pod }
    return IO.hostName()
  }

  static func environment(_ config: ConfigLoad) -> ReviewEnvironment {
    ReviewEnvironment(now: IO.now(), reportingInstance: reportingInstance(config))
  }
}
