/// The configuration file: where it is (`--config`, else `$PODINJECT_CONFIG`, else the default
/// path) and loading it, through the cache of validated configurations when asked.
public struct ConfigFile {
  /// The file's path.
  public let path: String
  let host: any Host
  /// The cache entry `load` decoded last, kept as long as this value is (see `ConfigCache.config`).
  private let decoded = DecodedEntry()

  private final class DecodedEntry {
    var entry: JSONValue?
  }

  /// The file `option` names, else `$PODINJECT_CONFIG`, else `ConfigLoader.defaultPath`.
  public init(option: String?, host: any Host) {
    self.host = host
    if let option, !option.isEmpty {
      path = option
    } else if let fromEnvironment = host.environment("PODINJECT_CONFIG"), !fromEnvironment.isEmpty {
      path = fromEnvironment
    } else {
      path = ConfigLoader.defaultPath
    }
  }

  /// The configuration, or every reason it cannot be used (a missing file is one of them).
  /// With `cached`, a validated copy kept by an earlier admission is used when the file is unchanged.
  public func load(cached: Bool = false) -> ConfigLoad {
    let before = host.fingerprint(path)
    // Read only from a private directory: what is there was written by podinject itself.
    let directory = cached && before != nil ? cacheDirectory : nil
    var cache = directory.flatMap { try? PrivateDirectory.open($0, create: false) }
    let name = ConfigCache.fileName(for: path)
    if let cache, let before, let bytes = try? cache.read(name) {
      var entry: JSONValue?
      let config = ConfigCache.config(from: bytes, path: path, fingerprint: before, entry: &entry)
      decoded.entry = entry
      if let config { return .success(config) }
    }
    let bytes: [UInt8]
    do {
      bytes = try host.read(path)
    } catch {
      return .failure(
        ConfigError(diagnostics: [ConfigDiagnostic(file: path, line: nil, message: "cannot read: \(error.reason)")]))
    }
    do {
      let config = try ConfigLoader.load(bytes, file: path)
      // Kept only when the file did not change while it was read; a failed write only costs speed.
      if let directory, let before, host.fingerprint(path) == before {
        if cache == nil { cache = try? PrivateDirectory.open(directory, create: true) }
        _ = cache?.write(
          ConfigCache.entry(for: config, path: path, fingerprint: before), to: name,
          temporary: ".\(name).\(host.processID).tmp")
      }
      return .success(config)
    } catch {
      return .failure(error)
    }
  }

  /// Where validated configurations are kept: `$PODINJECT_CACHE_DIR` (empty: nowhere), else
  /// `/tmp/podinject-<euid>/cache`. Only a private directory is used (`PrivateDirectory`).
  public var cacheDirectory: String? {
    guard let configured = host.environment("PODINJECT_CACHE_DIR") else {
      return "/tmp/podinject-\(host.effectiveUserID)/cache"
    }
    return configured.isEmpty ? nil : configured
  }
}

extension ReviewEnvironment {
  /// The time now and the reporting instance: `events.reportingInstance`, else `$POD_NAME`, else
  /// the host name.
  public init(_ config: ConfigLoad, host: any Host) {
    var instance = config.eventSettings.reportingInstance
    if instance.isEmpty {
      instance = host.environment("POD_NAME").flatMap { $0.isEmpty ? nil : $0 } ?? host.hostName()
    }
    self.init(now: host.now(), reportingInstance: instance)
  }
}
