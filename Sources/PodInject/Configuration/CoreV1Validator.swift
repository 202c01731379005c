/// One problem in an injected object: the member path that leads to it (keys and list indexes from the
/// object; empty for the object itself), so that a diagnostic can point at the offending key, and what is
/// wrong. Messages name types and fields, never a value: values may be secrets.
public struct SchemaProblem: Sendable, Equatable {
  public var path: [String]
  public var message: String

  public init(path: [String], message: String) {
    self.path = path
    self.message = message
  }
}

/// Where a container is injected: the API server allows `restartPolicy: Always` (a native sidecar),
/// probes and lifecycle hooks on an init container only with that policy, and no restart policy on an
/// app container.
public enum ContainerRole: Sendable {
  case initContainer, sidecar
}

/// Checks an object a rule injects as strictly as the API server would: first the Kubernetes 1.37
/// schema (types, fields, required members, list keys; CoreV1Schema+Generated.swift), then the rules of
/// `pkg/apis/core/validation` that a schema cannot say (CoreV1Validator+Rules.swift).
///
/// A string that still holds a template is checked for its type only; its format is checked once it is
/// rendered, at admission, by the same code.
struct CoreV1Validator {
  var problems: [SchemaProblem] = []
  /// The role of the container being checked, if it is one.
  let role: ContainerRole?

  init(role: ContainerRole? = nil) { self.role = role }

  /// Every problem with `value` as an object of `type`.
  static func problems(in value: JSONValue, as type: CoreV1Type, role: ContainerRole? = nil) -> [SchemaProblem] {
    var validator = CoreV1Validator(role: role)
    validator.check(value, as: type, at: [])
    return validator.problems
  }

  mutating func fail(_ path: [String], _ message: String) {
    problems.append(SchemaProblem(path: path, message: message))
  }

  /// Checks an object against its type's fields, then against the API server's rules for the type.
  mutating func check(_ value: JSONValue, as type: CoreV1Type, at path: [String]) {
    guard case .object(let object) = value else {
      fail(path, "\(type.name) must be an object, not \(value.typeName)")
      return
    }
    let before = problems.count
    for member in object.members {
      guard let field = type.field(member.key) else {
        fail(path + [member.key], "unknown field \"\(member.key)\" in \(type.name)")
        continue
      }
      check(member.value, field, at: Site(parent: path, type: type, key: member.key))
    }
    for key in type.required where object[key]?.isNull ?? true {
      fail(path, "\(type.name) needs \"\(key)\"")
    }
    // The API server's own rules read typed values; on a badly typed object they would only repeat it.
    guard problems.count == before else { return }
    checkRules(type, object, at: path)
  }

  /// Where a value is: its object's path, the field, and the item within the field. The path and the
  /// label are put together only for a problem or a nested object: most values have neither.
  struct Site {
    enum Item {
      case index(Int)
      case member(String)
    }

    var parent: [String]
    var type: CoreV1Type
    var key: String
    var item: Item?

    func element(_ item: Item) -> Site { Site(parent: parent, type: type, key: key, item: item) }

    var path: [String] {
      switch item {
      case nil: return parent + [key]
      case .index(let index)?: return parent + [key, String(index)]
      case .member(let member)?: return parent + [key, member]
      }
    }

    var label: String {
      switch item {
      case nil: return "\(type.name).\(key)"
      case .index(let index)?: return "\(type.name).\(key)[\(index)]"
      case .member(let member)?: return "\(type.name).\(key)[\"\(member)\"]"
      }
    }
  }

  private mutating func check(_ value: JSONValue, _ field: CoreV1Field, at site: Site) {
    if case .null = value {
      if !field.nullable { fail(site.path, "\(site.label) must not be null") }
      return
    }
    switch field.layout {
    case .single:
      check(value, field.value, at: site)
    case .list:
      guard case .array(let items) = value else {
        fail(site.path, "\(site.label) must be a list, not \(value.typeName)")
        return
      }
      for (index, item) in items.enumerated() { check(item, field.value, at: site.element(.index(index))) }
      if !field.keys.isEmpty { checkUniqueKeys(items, field.keys, at: site) }
    case .map:
      guard case .object(let entries) = value else {
        fail(site.path, "\(site.label) must be a map, not \(value.typeName)")
        return
      }
      for member in entries.members { check(member.value, field.value, at: site.element(.member(member.key))) }
    }
  }

  private mutating func check(_ value: JSONValue, _ kind: CoreV1Field.Value, at site: Site) {
    switch kind {
    case .string, .time:
      if case .string = value { return }
      fail(site.path, "\(site.label) must be a string, not \(value.typeName)")
    case .boolean:
      if case .bool = value { return }
      fail(site.path, "\(site.label) must be true or false, not \(value.typeName)")
    case .int32:
      checkInteger(value, bits: 32, at: site)
    case .int64:
      checkInteger(value, bits: 64, at: site)
    case .number:
      if case .number = value { return }
      fail(site.path, "\(site.label) must be a number, not \(value.typeName)")
    case .quantity:
      switch value {
      case .string(let text):
        if !text.holdsTemplateAction && Quantity(text) == nil {
          fail(site.path, "\(site.label) must be a quantity such as 500m, 128Mi or 2")
        }
      case .number(let text):
        if Quantity(text) == nil { fail(site.path, "\(site.label) must be a quantity such as 500m, 128Mi or 2") }
      default:
        fail(site.path, "\(site.label) must be a quantity (a string such as 500m or 128Mi), not \(value.typeName)")
      }
    case .intOrString:
      if case .string = value { return }
      checkInteger(value, bits: 32, at: site, orString: true)
    case .anyObject:
      if case .object = value { return }
      fail(site.path, "\(site.label) must be an object, not \(value.typeName)")
    case .object(let type):
      check(value, as: type, at: site.path)
    }
  }

  private mutating func checkInteger(_ value: JSONValue, bits: Int, at site: Site, orString: Bool = false) {
    let expected = orString ? "an integer or a string" : "an integer"
    guard case .number(let text) = value else {
      fail(site.path, "\(site.label) must be \(expected), not \(value.typeName)")
      return
    }
    // Go decodes only integer text into an int field: 1.0 and 1e3 are refused.
    guard let number = Int64(text) else {
      fail(site.path, "\(site.label) must be \(expected) written without a fraction or exponent, in range")
      return
    }
    if bits == 32 && (number < Int64(Int32.min) || number > Int64(Int32.max)) {
      fail(site.path, "\(site.label) must fit in 32 bits")
    }
  }

  /// Items of a keyed list (env by name, ports by port and protocol, mounts by path) must be unique.
  private mutating func checkUniqueKeys(_ items: [JSONValue], _ keys: [String], at site: Site) {
    var seen: [[JSONValue?]] = []
    for (index, item) in items.enumerated() {
      guard case .object(let object) = item else { continue }
      let identity = keys.map { key -> JSONValue? in
        // A port's protocol defaults to TCP, so an omitted one is TCP when comparing.
        if key == "protocol" && object[key] == nil { return .string("TCP") }
        return object[key]
      }
      if seen.contains(where: { $0 == identity }) {
        let what = keys.joined(separator: " and ")
        fail(
          site.element(.index(index)).path,
          "\(site.element(.index(index)).label) repeats the \(what) of an earlier item")
      } else {
        seen.append(identity)
      }
    }
  }
}
