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
  static let magic = Array("podinject-config-cache 2\n".utf8)

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
    guard bytes.starts(with: magic), let value = BinaryJSON.decode(bytes, from: magic.count, maxDepth: 512),
      var entry = CacheReader(value),
      entry["version"]?.stringValue == PodInjectVersion.current, entry["path"]?.stringValue == path,
      fingerprint.matches(entry["fingerprint"]), let config = entry["config"]
    else { return nil }
    return InjectionConfig(cacheJSON: config)
  }

  /// The entry's file name for a configuration path.
  public static func fileName(for path: String) -> String { "config-\(FNV1a64.hex(path)).cache" }
}

extension InjectionConfig {
  /// Everything the configuration holds, already validated, as JSON.
  var cacheJSON: JSONValue {
    .object(
      JSONObject([
        ("onError", .string(defaults.onError.rawValue)), ("conflict", .string(defaults.conflict.rawValue)),
        ("statusAnnotation", .string(statusAnnotation)), ("optOutAnnotation", .string(optOutAnnotation)),
        ("api", .string(events.api.rawValue)), ("reportingController", .string(events.reportingController)),
        ("reportingInstance", .string(events.reportingInstance)), ("regarding", .string(events.regarding.rawValue)),
        ("timeoutMilliseconds", .number(String(events.timeoutMilliseconds))), ("outbox", .string(events.outbox)),
        ("logFile", .string(events.logFile)), ("rules", .array(rules.map(\.cacheJSON))),
      ]))
  }

  /// Rebuilds a configuration from `cacheJSON`; nil when anything is missing or odd.
  init?(cacheJSON value: JSONValue) {
    self.init()
    guard var json = CacheReader(value) else { return nil }
    guard let onError = json["onError"]?.stringValue.flatMap(FailurePolicy.init),
      let conflict = json["conflict"]?.stringValue.flatMap(ConflictPolicy.init),
      let statusAnnotation = json["statusAnnotation"]?.stringValue,
      let optOutAnnotation = json["optOutAnnotation"]?.stringValue,
      let api = json["api"]?.stringValue.flatMap(EventAPI.init),
      let reportingController = json["reportingController"]?.stringValue,
      let reportingInstance = json["reportingInstance"]?.stringValue,
      let regarding = json["regarding"]?.stringValue.flatMap(RegardingPolicy.init),
      case .number(let timeout)? = json["timeoutMilliseconds"], let timeoutMilliseconds = Int(timeout),
      let outbox = json["outbox"]?.stringValue, let logFile = json["logFile"]?.stringValue,
      let rules = json["rules"]?.arrayValue
    else { return nil }
    defaults.onError = onError
    defaults.conflict = conflict
    self.statusAnnotation = statusAnnotation
    self.optOutAnnotation = optOutAnnotation
    events.api = api
    events.reportingController = reportingController
    events.reportingInstance = reportingInstance
    events.regarding = regarding
    events.timeoutMilliseconds = timeoutMilliseconds
    events.outbox = outbox
    events.logFile = logFile
    var decoded: [Rule] = []
    for rule in rules {
      guard let rule = Rule(cacheJSON: rule) else { return nil }
      decoded.append(rule)
    }
    self.rules = decoded
  }
}

extension Rule {
  var cacheJSON: JSONValue {
    func patterns(_ globs: [Glob]) -> JSONValue { .array(globs.map { .string($0.pattern) }) }
    // matchLabels come back as `=` requirements, which only matchLabels can express again.
    var matchLabels = JSONObject()
    var expressions: [JSONValue] = []
    for requirement in match.labelSelector.requirements {
      if requirement.operator == .equals, let value = requirement.values.first {
        matchLabels[requirement.key] = .string(value)
      } else {
        expressions.append(
          .object(
            JSONObject([
              ("key", .string(requirement.key)), ("operator", .string(requirement.operator.rawValue)),
              ("values", .array(requirement.values.map(JSONValue.string))),
            ])))
      }
    }
    let selector: JSONValue = .object(
      JSONObject([("matchLabels", .object(matchLabels)), ("matchExpressions", .array(expressions))]))
    var object = JSONObject([
      ("name", .string(name)), ("operations", .array(match.operations.map(JSONValue.string))),
      ("namespaces", patterns(match.namespaces)), ("excludeNamespaces", patterns(match.excludeNamespaces)),
      ("labelSelector", selector), ("matchAnnotations", .object(match.annotations)),
      ("containers", patterns(containers)), ("includeInitContainers", .bool(includeInitContainers)),
      ("env", .array(env)), ("envFrom", .array(envFrom)), ("volumeMounts", .array(volumeMounts)),
      ("initContainers", .array(initContainers)), ("initContainerPosition", .string(initContainerPosition.rawValue)),
      ("sidecars", .array(sidecars)), ("volumes", .array(volumes)), ("labels", .object(labels)),
      ("annotations", .object(annotations)), ("imagePullSecrets", .array(imagePullSecrets)),
      ("tolerations", .array(tolerations)), ("nodeSelector", .object(nodeSelector)),
      // Always written, in the order they are read: a member the reader misses costs a scan of all.
      ("configProblem", configProblem.map(JSONValue.string) ?? .null), ("matchIsValid", .bool(matchIsValid)),
    ])
    if let onError { object["onError"] = .string(onError.rawValue) }
    if let conflict { object["conflict"] = .string(conflict.rawValue) }
    return .object(object)
  }

  init?(cacheJSON value: JSONValue) {
    guard var json = CacheReader(value) else { return nil }
    func strings(_ key: String) -> [String]? { json[key]?.arrayValue?.compactMap(\.stringValue) }
    guard let name = json["name"]?.stringValue, let operations = strings("operations"),
      let namespaces = strings("namespaces"), let excluded = strings("excludeNamespaces"),
      let selectorJSON = json["labelSelector"], let selector = try? LabelSelector(json: selectorJSON),
      let matchAnnotations = json["matchAnnotations"]?.objectValue, let containers = strings("containers"),
      let includeInit = json["includeInitContainers"]?.boolValue,
      let position = json["initContainerPosition"]?.stringValue.flatMap(InitContainerPosition.init),
      let labels = json["labels"]?.objectValue, let annotations = json["annotations"]?.objectValue,
      let nodeSelector = json["nodeSelector"]?.objectValue
    else { return nil }
    self.init(name: name)
    match.operations = operations
    match.namespaces = namespaces.map(Glob.init)
    match.excludeNamespaces = excluded.map(Glob.init)
    match.labelSelector = selector
    match.annotations = matchAnnotations
    onError = json["onError"]?.stringValue.flatMap(FailurePolicy.init)
    conflict = json["conflict"]?.stringValue.flatMap(ConflictPolicy.init)
    self.containers = containers.map(Glob.init)
    includeInitContainers = includeInit
    env = json["env"]?.arrayValue ?? []
    envFrom = json["envFrom"]?.arrayValue ?? []
    volumeMounts = json["volumeMounts"]?.arrayValue ?? []
    initContainers = json["initContainers"]?.arrayValue ?? []
    initContainerPosition = position
    sidecars = json["sidecars"]?.arrayValue ?? []
    volumes = json["volumes"]?.arrayValue ?? []
    self.labels = labels
    self.annotations = annotations
    imagePullSecrets = json["imagePullSecrets"]?.arrayValue ?? []
    tolerations = json["tolerations"]?.arrayValue ?? []
    self.nodeSelector = nodeSelector
    configProblem = json["configProblem"]?.stringValue
    matchIsValid = json["matchIsValid"]?.boolValue ?? true
  }
}

/// Reads back an object of the cache. Its members are looked up in about the order they were
/// written, so the search starts after the last one found: one comparison per lookup instead of a
/// scan of twenty-odd keys, which was a fifth of loading a cached configuration.
struct CacheReader {
  private let members: [JSONObject.Member]
  private var next = 0

  init?(_ value: JSONValue) {
    guard case .object(let object) = value else { return nil }
    members = object.members
  }

  subscript(key: String) -> JSONValue? {
    mutating get {
      for step in 0..<members.count {
        let index = (next + step) % members.count
        if JSONObject.sameKey(members[index].key, key) {
          next = index + 1
          return members[index].value
        }
      }
      return nil
    }
  }
}
