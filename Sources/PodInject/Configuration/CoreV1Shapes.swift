/// The members podinject accepts in each core/v1 object a rule injects, so typos fail `check-config`
/// instead of reaching the API server.
enum CoreV1Shape: String, Sendable {
  case envVar = "EnvVar"
  case envFromSource = "EnvFromSource"
  case volumeMount = "VolumeMount"
  case container = "Container"
  case volume = "Volume"
  case localObjectReference = "LocalObjectReference"
  case toleration = "Toleration"

  /// Members that must be present.
  var required: [String] {
    switch self {
    case .envVar, .volume, .localObjectReference: return ["name"]
    case .volumeMount: return ["name", "mountPath"]
    case .container: return ["name", "image"]
    case .envFromSource, .toleration: return []
    }
  }

  /// Members allowed; nil when any member is (volume sources are many and versioned). An array, not a
  /// Set: short lists, checked on every admission.
  var allowed: [String]? {
    switch self {
    case .envVar: return ["name", "value", "valueFrom"]
    case .envFromSource: return ["prefix", "configMapRef", "secretRef"]
    case .volumeMount:
      return ["name", "mountPath", "readOnly", "recursiveReadOnly", "subPath", "subPathExpr", "mountPropagation"]
    case .localObjectReference: return ["name"]
    case .toleration: return ["key", "operator", "value", "effect", "tolerationSeconds"]
    case .volume: return nil
    case .container:
      return [
        "name", "image", "command", "args", "workingDir", "ports", "envFrom", "env", "resources",
        "resizePolicy", "restartPolicy", "restartPolicyRules", "volumeMounts", "volumeDevices",
        "livenessProbe", "readinessProbe", "startupProbe", "lifecycle", "terminationMessagePath",
        "terminationMessagePolicy", "imagePullPolicy", "securityContext", "stdin", "stdinOnce", "tty",
      ]
    }
  }

  /// Members whose value must be a string when present.
  var stringMembers: [String] {
    switch self {
    case .envVar: return ["name", "value"]
    case .envFromSource: return ["prefix"]
    case .volumeMount: return ["name", "mountPath", "subPath", "subPathExpr", "mountPropagation", "recursiveReadOnly"]
    case .container: return ["name", "image", "workingDir", "imagePullPolicy", "restartPolicy"]
    case .volume, .localObjectReference: return ["name"]
    case .toleration: return ["key", "operator", "value", "effect"]
    }
  }

  /// Problems with an item's members and the validity of its names; values are never echoed.
  func problems(in item: JSONValue) -> [String] { located(in: item).map(\.message) }

  /// One problem and where it is: the member path from the item (empty: the item itself).
  struct Problem {
    var path: [String]
    var message: String
  }

  /// Lists of core/v1 objects inside this shape, checked item by item: the API server drops unknown
  /// fields of a patched object without a word, so a typo there must fail here too.
  var nested: [(member: String, shape: CoreV1Shape)] {
    self == .container ? [("env", .envVar), ("envFrom", .envFromSource), ("volumeMounts", .volumeMount)] : []
  }

  /// Problems with their member path, so that a diagnostic can point at the member's own line.
  func located(in item: JSONValue) -> [Problem] {
    guard case .object(let object) = item else {
      return [Problem(path: [], message: "\(rawValue) must be an object, not \(item.typeName)")]
    }
    var problems: [Problem] = []
    for key in required where object[key] == nil {
      problems.append(Problem(path: [], message: "\(rawValue) needs \"\(key)\""))
    }
    if let allowed {
      for key in object.keys where !allowed.contains(key) {
        problems.append(Problem(path: [key], message: "unknown field \"\(key)\" in \(rawValue)"))
      }
    }
    for key in stringMembers {
      if let value = object[key], value.stringValue == nil {
        problems.append(Problem(path: [key], message: "\(rawValue).\(key) must be a string, not \(value.typeName)"))
      }
    }
    problems += nameProblems(object)
    for (member, shape) in nested {
      guard let items = object[member]?.arrayValue else { continue }
      for (index, element) in items.enumerated() {
        problems += shape.located(in: element).map {
          Problem(path: [member, String(index)] + $0.path, message: $0.message)
        }
      }
    }
    return problems
  }

  /// Validates names the API server would reject, skipping values still holding a template.
  private func nameProblems(_ object: JSONObject) -> [Problem] {
    func check(_ key: String, _ rule: (String) -> String?) -> [Problem] {
      guard let value = object[key]?.stringValue, !value.holdsTemplateAction else { return [] }
      return rule(value).map { [Problem(path: [key], message: "\(rawValue).\(key) is invalid: \($0)")] } ?? []
    }
    switch self {
    case .envVar: return check("name", KubernetesValidation.envVarName)
    case .container: return check("name", KubernetesValidation.containerName)
    case .volume: return check("name", KubernetesValidation.volumeName)
    case .volumeMount: return check("mountPath", KubernetesValidation.mountPath)
    default: return []
    }
  }
}
