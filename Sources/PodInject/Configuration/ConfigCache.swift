/// The identity of a configuration file as the file system sees it: when any part changes, the file
/// may have changed.
public struct FileFingerprint: Sendable, Equatable {
  public var device: UInt64
  public var inode: UInt64
  public var size: Int64
  public var modified: Timestamp
  public var changed: Timestamp

  public init(device: UInt64, inode: UInt64, size: Int64, modified: Timestamp, changed: Timestamp) {
    self.device = device
    self.inode = inode
    self.size = size
    self.modified = modified
    self.changed = changed
  }

  /// The fingerprint as the cache stores it: seven plain numbers, cheap to compare.
  var cacheJSON: JSONValue { .array(fields.map { .number(String($0)) }) }

  /// Whether `stored` is this fingerprint's `cacheJSON`, read without formatting anything.
  func matches(_ stored: JSONValue?) -> Bool {
    let expected = fields
    guard case .array(let stored)? = stored, stored.count == expected.count else { return false }
    for (field, value) in zip(stored, expected) {
      guard case .number(let text) = field, UInt64(text) == value else { return false }
    }
    return true
  }

  private var fields: [UInt64] {
    [
      device, inode, UInt64(truncatingIfNeeded: size),
      UInt64(truncatingIfNeeded: modified.secondsSinceEpoch), UInt64(truncatingIfNeeded: modified.microseconds),
      UInt64(truncatingIfNeeded: changed.secondsSinceEpoch), UInt64(truncatingIfNeeded: changed.microseconds),
    ]
  }
}

/// A validated configuration kept beside the process, so that an admission does not parse and
/// validate the same YAML again: that was most of a CGI admission's own work. An entry is used only
/// for the same file (fingerprint), the same path and the same podinject version; anything else, or
/// anything unreadable, means parsing the file as usual. Entries are `BinaryJSON` after a magic line:
/// reading JSON text back was itself a quarter of an admission.
public enum ConfigCache {
  /// The first bytes of every entry; a different format gets a different magic.
  static let magic = Array("podinject-config-cache 3\n".utf8)

  /// The entry to store for `config`, loaded from `path` with `fingerprint`.
  public static func entry(
    for config: InjectionConfig, path: String, fingerprint: FileFingerprint,
    version: String = PodInjectVersion.current
  ) -> [UInt8] {
    magic
      + BinaryJSON.encode(
        .object(
          JSONObject([
            ("version", .string(version)), ("path", .string(path)), ("fingerprint", fingerprint.cacheJSON),
            ("config", config.cacheJSON),
          ])))
  }

  /// The cached configuration when `bytes` is an entry for exactly this file; else nil.
  public static func config(from bytes: [UInt8], path: String, fingerprint: FileFingerprint) -> InjectionConfig? {
    var decoded: JSONValue?
    return config(from: bytes, path: path, fingerprint: fingerprint, entry: &decoded)
  }

  /// As above; `decoded` receives the decoded entry, whose values the configuration shares. A caller
  /// that keeps it to the end of a short process spares freeing its containers one by one, which was
  /// over 1% of a cached admission's instructions.
  public static func config(
    from bytes: [UInt8], path: String, fingerprint: FileFingerprint, entry decoded: inout JSONValue?
  ) -> InjectionConfig? {
    decoded = bytes.starts(with: magic) ? BinaryJSON.decode(bytes, from: magic.count, maxDepth: 512) : nil
    guard let value = decoded, var entry = CacheReader(value),
      entry["version"]?.stringValue == PodInjectVersion.current, entry["path"]?.stringValue == path,
      fingerprint.matches(entry["fingerprint"]), let config = entry["config"]
    else { return nil }
    return InjectionConfig(cacheJSON: config)
  }

  /// The entry's file name for a configuration path.
  public static func fileName(for path: String) -> String { "config-\(FNV1a64.hex(path)).cache" }
}
