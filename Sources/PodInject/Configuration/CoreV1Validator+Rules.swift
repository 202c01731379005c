/// The rules of the API server's `pkg/apis/core/validation/validation.go` (Kubernetes 1.37) that the
/// OpenAPI schema cannot say: formats, enums, ranges and one-of rules. Where a rule depends on a feature
/// gate that is off by default, podinject refuses what the gate would allow: check-config may be stricter
/// than the API server, never laxer.
extension CoreV1Validator {
  mutating func checkRules(_ type: CoreV1Type, _ object: JSONObject, at path: [String]) {
    var rules = Rules(object: object, path: path, typeName: type.name)
    switch type {
    case .container: rules.container(role)
    case .containerPort: rules.containerPort()
    case .containerResizePolicy:
      rules.oneOf("resourceName", ["cpu", "memory"])
      rules.oneOf("restartPolicy", ["NotRequired", "RestartContainer"])
    case .envVar: rules.envVar()
    case .envVarSource: rules.envVarSource()
    case .envFromSource: rules.envFromSource()
    case .volumeMount: rules.volumeMount()
    case .volumeDevice: rules.nonEmpty("name", "devicePath")
    case .volume: rules.volume()
    case .toleration: rules.toleration()
    case .localObjectReference: rules.name("name", KubernetesValidation.dns1123Subdomain)
    case .probe: rules.probe()
    case .lifecycle:
      rules.oneOf("stopSignal", [])  // needs spec.os.name, which a rule cannot set
    case .lifecycleHandler: rules.exactlyOne(["exec", "httpGet", "tcpSocket", "sleep"], what: "handler")
    case .httpGetAction:
      rules.port("port", namedAllowed: true)
      rules.oneOf("scheme", ["HTTP", "HTTPS"])
    case .httpHeader: rules.name("name", KubernetesValidation.httpHeaderName)
    case .tcpSocketAction: rules.port("port", namedAllowed: true)
    case .grpcAction: rules.port("port", namedAllowed: false)
    case .sleepAction: rules.range("seconds", 0...Int64(Int32.max))
    case .execAction: break
    case .resourceRequirements: rules.resources()
    case .securityContext: rules.securityContext()
    case .seccompProfile, .appArmorProfile: rules.profile()
    case .capabilities: break
    case .emptyDirVolumeSource:
      rules.emptyDirMedium()
      rules.nonNegativeQuantity("sizeLimit")
    case .hostPathVolumeSource:
      rules.nonEmpty("path")
      rules.noBacksteps("path")
      rules.oneOf(
        "type", ["", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice"])
    case .configMapVolumeSource, .configMapProjection:
      rules.name("name", KubernetesValidation.dns1123Subdomain, required: type == .configMapVolumeSource)
      rules.fileMode("defaultMode")
    case .secretVolumeSource:
      rules.name("secretName", KubernetesValidation.dns1123Subdomain, required: true)
      rules.fileMode("defaultMode")
    case .secretProjection: rules.name("name", KubernetesValidation.dns1123Subdomain)
    case .keyToPath:
      rules.name("key", KubernetesValidation.configMapKey)
      rules.relativePath("path")
      rules.fileMode("mode")
    case .downwardAPIVolumeSource, .projectedVolumeSource: rules.fileMode("defaultMode")
    case .downwardAPIVolumeFile:
      rules.relativePath("path")
      rules.fileMode("mode")
      rules.exactlyOne(["fieldRef", "resourceFieldRef"], what: "source")
      // A volume has no container of its own to take the resource from.
      if let reference = object["resourceFieldRef"]?.objectValue,
        (reference["containerName"]?.stringValue ?? "").isEmpty
      {
        rules.fail("resourceFieldRef", "needs \"containerName\" in a volume")
      }
    case .volumeProjection:
      rules.exactlyOne(
        ["secret", "configMap", "downwardAPI", "serviceAccountToken", "clusterTrustBundle", "podCertificate"],
        what: "projection")
    case .serviceAccountTokenProjection:
      rules.relativePath("path")
      rules.range("expirationSeconds", 600...(1 << 32))
    case .clusterTrustBundleProjection, .podCertificateProjection: rules.relativePath("path")
    case .objectFieldSelector: rules.fieldPath()
    case .resourceFieldSelector: rules.resourceFieldRef()
    case .configMapKeySelector, .secretKeySelector:
      rules.name("name", KubernetesValidation.dns1123Subdomain, required: true)
      rules.name("key", KubernetesValidation.configMapKey)
    case .configMapEnvSource, .secretEnvSource:
      rules.name("name", KubernetesValidation.dns1123Subdomain, required: true)
    case .fileKeySelector: rules.refuse("is behind the EnvFiles feature gate, off by default")
    case .persistentVolumeClaimVolumeSource: rules.nonEmpty("claimName")
    case .csiVolumeSource: rules.nonEmpty("driver")
    case .nfsVolumeSource: rules.nonEmpty("server", "path")
    case .imageVolumeSource: rules.oneOf("pullPolicy", ["Always", "Never", "IfNotPresent"])
    case .ephemeralVolumeSource: rules.required("volumeClaimTemplate")
    case .containerRestartRule, .containerRestartRuleOnExitCodes:
      rules.refuse("is behind the ContainerRestartRules feature gate, off by default")
    default: break
    }
    problems += rules.problems
  }
}

/// The rule checks of one object, reading its members as the types the schema already confirmed.
struct Rules {
  let object: JSONObject
  let path: [String]
  let typeName: String
  var problems: [SchemaProblem] = []

  init(object: JSONObject, path: [String], typeName: String) {
    self.object = object
    self.path = path
    self.typeName = typeName
  }

  mutating func fail(_ key: String?, _ message: String) {
    let at = key.map { path + [$0] } ?? path
    let subject = key.map { "\(typeName).\($0)" } ?? typeName
    problems.append(SchemaProblem(path: at, message: "\(subject) \(message)"))
  }

  /// Whether the member is present and not null.
  func isSet(_ key: String) -> Bool { !(object[key]?.isNull ?? true) }

  /// The member's text, when it is a string that holds no template (a template is checked once rendered).
  func text(_ key: String) -> String? {
    guard let text = object[key]?.stringValue, !text.holdsTemplateAction else { return nil }
    return text
  }

  /// Whether the member is a string still holding a template.
  func isTemplated(_ key: String) -> Bool { object[key]?.stringValue?.holdsTemplateAction ?? false }

  func integer(_ key: String) -> Int64? {
    guard case .number(let text)? = object[key] else { return nil }
    return Int64(text)
  }

  func bool(_ key: String) -> Bool? {
    guard case .bool(let flag)? = object[key] else { return nil }
    return flag
  }

  // MARK: generic rules

  mutating func required(_ keys: String...) {
    for key in keys where !isSet(key) { fail(nil, "needs \"\(key)\"") }
  }

  /// Members that must be present and not empty strings.
  mutating func nonEmpty(_ keys: String...) {
    for key in keys where !isTemplated(key) {
      if let value = text(key), !value.isEmpty { continue }
      if isSet(key) { fail(key, "must not be empty") } else { fail(nil, "needs \"\(key)\"") }
    }
  }

  /// A string member that must be one of `values` when set (empty `values`: must not be set at all).
  mutating func oneOf(_ key: String, _ values: [String]) {
    guard isSet(key) else { return }
    if values.isEmpty {
      fail(key, "cannot be set by an injection (it needs the pod's spec.os.name)")
      return
    }
    guard let value = text(key) else { return }
    if !values.contains(value) { fail(key, "must be one of \(values.filter { !$0.isEmpty }.joined(separator: ", "))") }
  }

  /// Exactly one of `keys` must be set.
  mutating func exactlyOne(_ keys: [String], what: String) {
    let set = object.members.map(\.key).filter { keys.contains($0) && isSet($0) }
    if set.count == 1 { return }
    if set.isEmpty {
      fail(nil, "needs one \(what): one of \(keys.joined(separator: ", "))")
    } else {
      fail(set[1], "may not have more than one \(what) (\(set.joined(separator: " and ")))")
    }
  }

  /// A name member validated by `rule`; with `required`, it must be present.
  mutating func name(_ key: String, _ rule: (String) -> String?, required: Bool = false) {
    if !isSet(key) {
      if required { fail(nil, "needs \"\(key)\"") }
      return
    }
    guard let value = text(key) else { return }
    if let problem = rule(value) { fail(key, "is invalid: \(problem)") }
  }

  mutating func range(_ key: String, _ range: ClosedRange<Int64>) {
    guard let value = integer(key) else { return }
    if !range.contains(value) { fail(key, "must be between \(range.lowerBound) and \(range.upperBound)") }
  }

  mutating func nonNegative(_ keys: String...) {
    for key in keys {
      if let value = integer(key), value < 0 { fail(key, "must be greater than or equal to 0") }
    }
  }

  /// A file mode: 0 to 0777.
  mutating func fileMode(_ key: String) {
    guard let value = integer(key) else { return }
    if !(0...0o777).contains(value) { fail(key, "must be a file mode between 0 and 0777 (octal), 511 (decimal)") }
  }

  mutating func nonNegativeQuantity(_ key: String) {
    guard let text = quantityText(key), let quantity = Quantity(text) else { return }
    if quantity.value < 0 { fail(key, "must be greater than or equal to 0") }
  }

  func quantityText(_ key: String) -> String? {
    switch object[key] {
    case .string(let text)? where !text.holdsTemplateAction: return text
    case .number(let text)?: return text
    default: return nil
    }
  }

  /// A path with no `..` element.
  mutating func noBacksteps(_ key: String) {
    guard let value = text(key) else { return }
    if value.split(separator: "/", omittingEmptySubsequences: false).contains("..") {
      fail(key, "must not contain '..'")
    }
  }

  /// A non-empty relative path with no `..` element.
  mutating func relativePath(_ key: String) {
    guard let value = text(key) else { return }
    if value.isEmpty {
      fail(key, "must not be empty")
    } else if value.hasPrefix("/") {
      fail(key, "must be a relative path")
    } else {
      noBacksteps(key)
    }
  }

  /// A port number (1-65535), or with `namedAllowed` an IANA service name.
  mutating func port(_ key: String, namedAllowed: Bool) {
    switch object[key] {
    case .number?:
      range(key, 1...65535)
    case .string(let name)? where !name.holdsTemplateAction:
      if !namedAllowed {
        fail(key, "must be a port number")
      } else if let problem = KubernetesValidation.portName(name) {
        fail(key, "is invalid: \(problem)")
      }
    default: return
    }
  }

  /// The member must not be there at all.
  mutating func refuse(_ why: String) {
    fail(nil, why)
  }
}
