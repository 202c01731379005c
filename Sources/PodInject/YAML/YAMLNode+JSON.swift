extension YAMLNode {
  private static let tagPrefix = "tag:yaml.org,2002:"

  /// Converts to JSON with YAML 1.1 scalar resolution as Kubernetes' sigs.k8s.io/yaml (go-yaml v2)
  /// does; duplicate mapping keys (by bytes): the last value wins, in the place of the first, as in the
  /// JSON parser; non-string keys become their text. Linear in the size of the tree; recursive, and the
  /// parser keeps every tree at most 256 levels deep.
  public func toJSON() throws(YAMLError) -> JSONValue {
    switch kind {
    case .scalar(let scalar):
      return try jsonValue(of: scalar)
    case .sequence(let items):
      var array: [JSONValue] = []
      array.reserveCapacity(items.count)
      for item in items { array.append(try item.toJSON()) }
      return .array(array)
    case .mapping(let pairs):
      var object = JSONObject.Builder(capacity: pairs.count)
      for pair in pairs {
        guard let key = pair.key.scalarText else {
          throw YAMLError(
            line: pair.key.line, column: pair.key.column,
            message: "a mapping key must be a scalar to become a JSON object key")
        }
        object.set(key, try pair.value.toJSON())
      }
      return .object(object.object)
    }
  }

  private func jsonValue(of scalar: YAMLScalar) throws(YAMLError) -> JSONValue {
    if scalar.isJSONNumber { return .number(scalar.text) }
    guard let tag = scalar.tag else {
      return scalar.isPlain
        ? JSONValue(ResolvedScalar(plain: scalar.text), text: scalar.text) : .string(scalar.text)
    }
    guard tag.hasPrefix(Self.tagPrefix) else {
      // Local tags (`!thing`, and the non-specific `!`) mean nothing to JSON: keep the text,
      // as go-yaml does for a tag it cannot resolve.
      return .string(scalar.text)
    }
    let name = tag.dropFirst(Self.tagPrefix.count)
    let resolved = ResolvedScalar(plain: scalar.text)
    switch (name, resolved) {
    case ("str", _):
      return .string(scalar.text)
    case ("int", .integer), ("bool", .bool), ("null", .null), ("float", .integer),
      ("float", .float), ("float", .nonFiniteFloat):
      return JSONValue(resolved, text: scalar.text)
    case ("int", _), ("float", _), ("bool", _), ("null", _):
      // Position and type only: the text may be a secret that was meant to be a string.
      throw YAMLError(line: line, column: column, message: "the value tagged !!\(name) is not \(Self.expected(name))")
    default:
      // !!timestamp, !!binary, ...: kept as written, as Kubernetes keeps timestamps.
      return .string(scalar.text)
    }
  }
}

extension YAMLNode {
  /// What a core tag's value must be, in words.
  fileprivate static func expected(_ tag: Substring) -> String {
    switch tag {
    case "int": return "an integer"
    case "float": return "a number"
    case "bool": return "true or false"
    default: return "null"
    }
  }
}

extension JSONValue {
  /// The JSON form of a resolved scalar; floats JSON cannot carry stay text.
  fileprivate init(_ resolved: ResolvedScalar, text: String) {
    switch resolved {
    case .null: self = .null
    case .bool(let value): self = .bool(value)
    case .integer(let number), .float(let number): self = .number(number)
    case .nonFiniteFloat, .string: self = .string(text)
    }
  }
}
