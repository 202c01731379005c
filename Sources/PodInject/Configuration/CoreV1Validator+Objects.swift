/// The API server's rules for the objects a rule injects, one method per type.
extension Rules {
  mutating func container(_ role: ContainerRole?) {
    name("name", KubernetesValidation.containerName, required: true)
    if !isTemplated("image") {
      if let image = text("image"), !image.isEmpty {
        if image.first!.isWhitespace || image.last!.isWhitespace {
          fail("image", "must not have leading or trailing whitespace")
        }
      } else {
        if isSet("image") { fail("image", "must not be empty") } else { fail(nil, "needs \"image\"") }
      }
    }
    oneOf("imagePullPolicy", ["Always", "Never", "IfNotPresent"])
    oneOf("terminationMessagePolicy", ["File", "FallbackToLogsOnError"])
    let sidecarInit = role == .initContainer && text("restartPolicy") == "Always"
    if isSet("restartPolicy") {
      switch role {
      case .initContainer?: oneOf("restartPolicy", ["Always"])
      default: fail("restartPolicy", "may be set only on init containers (Always, a native sidecar)")
      }
    }
    if role == .initContainer && !sidecarInit {
      for key in ["lifecycle", "livenessProbe", "readinessProbe", "startupProbe"] where isSet(key) {
        fail(key, "may not be set for init containers without restartPolicy Always")
      }
    }
    for key in ["livenessProbe", "startupProbe"] {
      if let threshold = object[key]?["successThreshold"], case .number(let text) = threshold, text != "1" {
        problems.append(
          SchemaProblem(
            path: path + [key, "successThreshold"], message: "\(typeName).\(key).successThreshold must be 1"))
      }
    }
    uniqueNames(in: "ports", member: "name", what: "port name")
  }

  /// Items of a list whose `member` must be unique when set (port names within a container).
  mutating func uniqueNames(in list: String, member: String, what: String) {
    guard let items = object[list]?.arrayValue else { return }
    var seen: [String] = []
    for (index, item) in items.enumerated() {
      guard let name = item[member]?.stringValue, !name.isEmpty, !name.holdsTemplateAction else { continue }
      if seen.contains(name) {
        problems.append(
          SchemaProblem(
            path: path + [list, String(index), member],
            message: "\(typeName).\(list)[\(index)] repeats the \(what) of an earlier item"))
      }
      seen.append(name)
    }
  }

  mutating func containerPort() {
    range("containerPort", 1...65535)
    if let host = integer("hostPort"), host != 0 { range("hostPort", 1...65535) }
    oneOf("protocol", ["TCP", "UDP", "SCTP"])
    name("name", KubernetesValidation.portName)
    if let ip = text("hostIP"), !ip.isEmpty, !KubernetesValidation.isIP(ip) {
      fail("hostIP", "must be a valid IP address")
    }
  }

  mutating func envVar() {
    name("name", KubernetesValidation.envVarName, required: true)
    if isSet("valueFrom"), let value = object["value"]?.stringValue, !value.isEmpty {
      fail("valueFrom", "may not be set when value is not empty")
    }
  }

  mutating func envVarSource() {
    exactlyOne(["fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef", "fileKeyRef"], what: "source")
  }

  mutating func envFromSource() {
    exactlyOne(["configMapRef", "secretRef"], what: "source")
    if let prefix = text("prefix"), !prefix.isEmpty, let problem = KubernetesValidation.envVarName(prefix) {
      fail("prefix", "is invalid: \(problem)")
    }
  }

  mutating func volumeMount() {
    name("name", KubernetesValidation.volumeName, required: true)
    nonEmpty("mountPath")
    if isSet("subPath") && isSet("subPathExpr") { fail("subPathExpr", "may not be set together with subPath") }
    for key in ["subPath", "subPathExpr"] {
      guard let value = text(key), !value.isEmpty else { continue }
      if value.hasPrefix("/") { fail(key, "must be a relative path") } else { noBacksteps(key) }
    }
    oneOf("mountPropagation", ["None", "HostToContainer", "Bidirectional"])
    oneOf("recursiveReadOnly", ["Disabled", "IfPossible", "Enabled"])
    if let recursive = text("recursiveReadOnly"), recursive != "Disabled" {
      if bool("readOnly") != true { fail("recursiveReadOnly", "may be \(recursive) only with readOnly: true") }
      if let propagation = text("mountPropagation"), propagation != "None" {
        fail("recursiveReadOnly", "may be \(recursive) only with mountPropagation None")
      }
    }
  }

  /// Every member of a Volume but its name is a source; exactly one must be set.
  mutating func volume() {
    name("name", KubernetesValidation.volumeName, required: true)
    let sources = object.members.map(\.key).filter { $0 != "name" && isSet($0) }
    if sources.isEmpty {
      fail(nil, "needs one volume source, such as emptyDir, configMap, secret or persistentVolumeClaim")
    } else if sources.count > 1 {
      fail(sources[1], "may not have more than one volume source (\(sources.joined(separator: " and ")))")
    }
  }

  mutating func toleration() {
    let op = text("operator")
    if let key = text("key"), !key.isEmpty, let problem = KubernetesValidation.qualifiedName(key) {
      fail("key", "is invalid: \(problem)")
    }
    if isSet("operator") && !isTemplated("operator") {
      oneOf("operator", ["Equal", "Exists"])
    }
    let keyEmpty = (object["key"]?.stringValue ?? "").isEmpty
    if keyEmpty && !isTemplated("operator") && op != "Exists" {
      fail("operator", "must be Exists when key is empty")
    }
    if op == "Exists", let value = object["value"]?.stringValue, !value.isEmpty {
      fail("value", "must be empty when operator is Exists")
    }
    if op != "Exists", let value = text("value"), let problem = KubernetesValidation.labelValue(value) {
      fail("value", "is invalid: \(problem)")
    }
    oneOf("effect", ["", "NoSchedule", "PreferNoSchedule", "NoExecute"])
    if isSet("tolerationSeconds"), !isTemplated("effect"), text("effect") != "NoExecute" {
      fail("tolerationSeconds", "may be set only with effect NoExecute")
    }
  }

  mutating func probe() {
    exactlyOne(["exec", "httpGet", "tcpSocket", "grpc"], what: "handler")
    nonNegative("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold")
    if let grace = integer("terminationGracePeriodSeconds"), grace <= 0 {
      fail("terminationGracePeriodSeconds", "must be greater than 0")
    }
  }

  mutating func resources() {
    var requests: [(String, Quantity)] = []
    var limits: [(String, Quantity)] = []
    for (key, into) in [("requests", 0), ("limits", 1)] {
      guard let entries = object[key]?.objectValue else { continue }
      for member in entries.members {
        let at = path + [key, member.key]
        if let problem = KubernetesValidation.containerResourceName(member.key) {
          problems.append(SchemaProblem(path: at, message: "\(typeName).\(key) resource name is invalid: \(problem)"))
          continue
        }
        let text: String?
        switch member.value {
        case .string(let value) where !value.holdsTemplateAction: text = value
        case .number(let value): text = value
        default: text = nil
        }
        guard let text, let quantity = Quantity(text) else { continue }
        if quantity.value < 0 {
          problems.append(SchemaProblem(path: at, message: "\(typeName).\(key) must be greater than or equal to 0"))
        }
        if member.key.containsText("/") && !quantity.isWhole {
          problems.append(SchemaProblem(path: at, message: "\(typeName).\(key) of an extended resource must be whole"))
        }
        if into == 0 { requests.append((member.key, quantity)) } else { limits.append((member.key, quantity)) }
      }
    }
    for (name, request) in requests {
      guard let limit = limits.first(where: { $0.0 == name })?.1 else {
        if name.containsText("/") || name.hasPrefix("hugepages-") {
          problems.append(
            SchemaProblem(
              path: path + ["requests", name], message: "\(typeName).requests of this resource needs a limit too"))
        }
        continue
      }
      if request.value > limit.value {
        problems.append(
          SchemaProblem(
            path: path + ["requests", name], message: "\(typeName).requests must be less than or equal to limits"))
      } else if (name.containsText("/") || name.hasPrefix("hugepages-")) && request.value != limit.value {
        problems.append(
          SchemaProblem(
            path: path + ["requests", name], message: "\(typeName).requests must equal limits for this resource"))
      }
    }
  }

  mutating func securityContext() {
    range("runAsUser", 0...Int64(Int32.max))
    range("runAsGroup", 0...Int64(Int32.max))
    oneOf("procMount", ["Default", "Unmasked"])
    if bool("allowPrivilegeEscalation") == false {
      if bool("privileged") == true {
        fail("allowPrivilegeEscalation", "cannot be false when privileged is true")
      }
      let added = object["capabilities"]?["add"]?.arrayValue ?? []
      if added.contains(.string("SYS_ADMIN")) || added.contains(.string("CAP_SYS_ADMIN")) {
        fail("allowPrivilegeEscalation", "cannot be false when capability SYS_ADMIN is added")
      }
    }
  }

  /// seccompProfile and appArmorProfile: a type, and a localhostProfile exactly when it is Localhost.
  mutating func profile() {
    oneOf("type", ["Unconfined", "RuntimeDefault", "Localhost"])
    guard let type = text("type") else { return }
    if type == "Localhost" {
      if (object["localhostProfile"]?.stringValue ?? "").isEmpty {
        fail(nil, "needs \"localhostProfile\" when type is Localhost")
      }
    } else if isSet("localhostProfile") {
      fail("localhostProfile", "may be set only when type is Localhost")
    }
  }

  mutating func emptyDirMedium() {
    guard let medium = text("medium"), !["", "Memory", "HugePages"].contains(medium) else { return }
    if medium.hasPrefix("HugePages-"), let size = Quantity(String(medium.dropFirst(10))), size.value > 0 { return }
    fail("medium", "must be empty, Memory, HugePages or HugePages-<size>")
  }

  /// The pod fields the downward API can expose.
  mutating func fieldPath() {
    guard let value = text("fieldPath") else {
      if !isSet("fieldPath") { fail(nil, "needs \"fieldPath\"") }
      return
    }
    if let version = text("apiVersion"), !version.isEmpty, version != "v1" {
      fail("apiVersion", "must be v1")
    }
    let plain = [
      "metadata.name", "metadata.namespace", "metadata.uid", "metadata.labels", "metadata.annotations",
      "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP",
      "status.podIPs",
    ]
    if plain.contains(value) { return }
    for prefix in ["metadata.labels['", "metadata.annotations['"] where value.hasPrefix(prefix) && value.hasSuffix("']")
    {
      let key = String(value.dropFirst(prefix.count).dropLast(2))
      let problem =
        prefix.containsText("labels")
        ? KubernetesValidation.qualifiedName(key) : KubernetesValidation.annotationKey(key)
      if let problem { fail("fieldPath", "is invalid: \(problem)") }
      return
    }
    fail("fieldPath", "is not a pod field the downward API supports")
  }

  mutating func resourceFieldRef() {
    guard let resource = text("resource") else {
      if !isSet("resource") { fail(nil, "needs \"resource\"") }
      return
    }
    let known = [
      "limits.cpu", "limits.memory", "limits.ephemeral-storage", "requests.cpu", "requests.memory",
      "requests.ephemeral-storage",
    ]
    let hugePages = resource.hasPrefix("limits.hugepages-") || resource.hasPrefix("requests.hugepages-")
    if !known.contains(resource) && !hugePages { fail("resource", "is not a resource the downward API supports") }
    nonNegativeQuantity("divisor")
  }
}
