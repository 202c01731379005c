/// Reads an `InjectionConfig` from YAML or JSON, rejecting unknown keys with their line numbers.
public enum ConfigLoader {
  /// Where the configuration is read from when nothing else is said.
  public static let defaultPath = "/etc/podinject/config.yaml"

  /// Parses and validates a configuration; every problem found is reported, not only the first.
  public static func load(_ bytes: [UInt8], file: String) throws(ConfigError) -> InjectionConfig {
    let documents: [YAMLNode]
    do {
      documents = try YAML.parseDocuments(bytes)
    } catch {
      throw ConfigError(
        diagnostics: [ConfigDiagnostic(file: file, line: error.line, column: error.column, message: error.message)])
    }
    guard documents.count == 1, let root = documents.first else {
      let message = documents.isEmpty ? "the file holds no document" : "expected one document, found \(documents.count)"
      throw ConfigError(diagnostics: [ConfigDiagnostic(file: file, line: 1, column: 1, message: message)])
    }
    var reader = ConfigReader(file: file)
    var config = reader.readConfig(root)
    // A problem inside one named rule fails that rule only; anything else fails the whole configuration.
    guard reader.diagnostics.isEmpty else {
      let all = (reader.diagnostics + reader.ruleDiagnostics).sorted {
        ($0.line ?? 0, $0.column ?? 0) < ($1.line ?? 0, $1.column ?? 0)
      }
      throw ConfigError(
        diagnostics: all, fallbackOnError: reader.readableOnError, fallbackEvents: reader.readableEvents)
    }
    config.diagnostics = reader.ruleDiagnostics.sorted {
      ($0.line ?? 0, $0.column ?? 0) < ($1.line ?? 0, $1.column ?? 0)
    }
    return config
  }
}

/// Walks the YAML tree, collecting diagnostics as it builds the configuration.
struct ConfigReader {
  let file: String
  var diagnostics: [ConfigDiagnostic] = []
  /// Problems inside rules that are otherwise identified (a valid, unique name): they fail only their rule.
  var ruleDiagnostics: [ConfigDiagnostic] = []
  /// `defaults.onError` once read successfully.
  var readableOnError: FailurePolicy?
  /// The `events` section once read without a problem.
  var readableEvents: InjectionConfig.EventSettings?

  init(file: String) { self.file = file }

  mutating func fail(_ node: YAMLNode, _ message: String) {
    diagnostics.append(ConfigDiagnostic(file: file, line: node.line, column: node.column, message: message))
  }

  /// The whole document: `apiVersion` and `kind`, then every field `InjectionConfig.fields` describes.
  mutating func readConfig(_ root: YAMLNode) -> InjectionConfig {
    var config = InjectionConfig()
    let keys = InjectionConfig.yamlKeys.union(["apiVersion", "kind"])
    guard let members = mapping(root, allowed: keys, in: "InjectionConfig") else { return config }
    var sawAPIVersion = false
    var sawKind = false
    for (key, _, node) in members {
      switch key {
      case "apiVersion":
        sawAPIVersion = true
        if let value = string(node), value != InjectionConfig.apiVersion {
          fail(node, "apiVersion must be \(InjectionConfig.apiVersion)")
        }
      case "kind":
        sawKind = true
        if let value = string(node), value != InjectionConfig.kind {
          fail(node, "kind must be \(InjectionConfig.kind)")
        }
      default: readField(key, node, into: &config)
      }
    }
    if !sawAPIVersion { fail(root, "missing apiVersion (\(InjectionConfig.apiVersion))") }
    if !sawKind { fail(root, "missing kind (\(InjectionConfig.kind))") }
    return config
  }

  /// A mapping read field by field, as `Value.fields` describes; unknown keys are reported.
  mutating func read<Value: ConfigSchema>(_ node: YAMLNode, in context: String) -> Value {
    var value = Value.defaults
    for (key, _, member) in mapping(node, allowed: Value.yamlKeys, in: context) ?? [] {
      readField(key, member, into: &value)
    }
    return value
  }

  /// Reads the member `key` into `value`, by its field's description.
  mutating func readField<Value: ConfigSchema>(_ key: String, _ node: YAMLNode, into value: inout Value) {
    guard let field = Value.fields.first(where: { $0.key == key && $0.inYAML }) else { return }
    field.read(&self, node, &value)
  }

  mutating func readRules(_ node: YAMLNode) -> [Rule] {
    guard case .sequence(let items) = node.kind else {
      fail(node, "rules must be a list")
      return []
    }
    var rules: [Rule] = []
    var seen: [String: Int] = [:]
    for item in items {
      let before = diagnostics.count
      guard var rule = readRule(item) else { continue }
      if let line = seen[rule.name] {
        fail(item, "duplicate rule name \"\(rule.name)\" (first at line \(line))")
        continue
      }
      seen[rule.name] = item.line
      // The rule is named and unique, so its own problems can fail it alone.
      if diagnostics.count > before, KubernetesValidation.dns1123Label(rule.name) == nil {
        let own = diagnostics[before...]
        rule.configProblem = own.first?.description
        ruleDiagnostics += own
        diagnostics.removeSubrange(before...)
      }
      rules.append(rule)
    }
    return rules
  }

  /// One rule: its name first (a rule is known by it), then every other field `Rule.fields` describes.
  mutating func readRule(_ node: YAMLNode) -> Rule? {
    guard let members = mapping(node, allowed: Rule.yamlKeys, in: "rule") else { return nil }
    guard let nameNode = members.first(where: { $0.key == "name" })?.value, let name = string(nameNode) else {
      fail(node, "rule needs a name")
      return nil
    }
    if let problem = KubernetesValidation.dns1123Label(name) { fail(nameNode, "rule name is invalid: \(problem)") }
    var rule = Rule(name: name)
    for (key, _, value) in members { readField(key, value, into: &rule) }
    checkContainerNames(members)
    if rule.containers.isEmpty && !(rule.env.isEmpty && rule.envFrom.isEmpty && rule.volumeMounts.isEmpty) {
      fail(node, "rule \"\(name)\" injects into containers but its containers list is empty")
    }
    return rule
  }

  // MARK: typed readers

  /// One member of a mapping: its key, where the key is, and its value.
  typealias Member = (key: String, keyNode: YAMLNode, value: YAMLNode)

  /// The members of a mapping with string keys, rejecting unknown and repeated keys.
  mutating func mapping(_ node: YAMLNode, allowed: Set<String>?, in context: String) -> [Member]? {
    guard case .mapping(let pairs) = node.kind else {
      if case .scalar(let scalar) = node.kind, scalar.isPlain, ["", "~", "null"].contains(scalar.text) { return [] }
      fail(node, "\(context) must be a mapping")
      return nil
    }
    var members: [Member] = []
    var seen: Set<String> = []
    for (keyNode, value) in pairs {
      guard let key = keyNode.scalarText else {
        fail(keyNode, "\(context): keys must be strings")
        continue
      }
      if let allowed, !allowed.contains(key) {
        fail(keyNode, "unknown key \"\(key)\" in \(context)")
        continue
      }
      if !seen.insert(key).inserted {
        fail(keyNode, "duplicate key \"\(key)\" in \(context)")
        continue
      }
      members.append((key, keyNode, value))
    }
    return members
  }

  mutating func json(_ node: YAMLNode) -> JSONValue? {
    do {
      return try node.toJSON()
    } catch {
      fail(node, error.message)
      return nil
    }
  }

  mutating func string(_ node: YAMLNode) -> String? {
    guard let value = json(node) else { return nil }
    guard case .string(let text) = value else {
      fail(node, "expected a string, found \(value.typeName)")
      return nil
    }
    return text
  }

  mutating func bool(_ node: YAMLNode) -> Bool? {
    guard let value = json(node) else { return nil }
    guard case .bool(let flag) = value else {
      fail(node, "expected true or false, found \(value.typeName)")
      return nil
    }
    return flag
  }

  mutating func integer(_ node: YAMLNode) -> Int? {
    guard let value = json(node) else { return nil }
    guard case .number(let text) = value, let number = Int(text) else {
      fail(node, "expected an integer, found \(value.typeName)")
      return nil
    }
    return number
  }

  mutating func choice<Choice: RawRepresentable & CaseIterable>(_ node: YAMLNode, _: Choice.Type) -> Choice?
  where Choice.RawValue == String {
    guard let text = string(node) else { return nil }
    guard let value = Choice(rawValue: text) else {
      let options = Choice.allCases.map(\.rawValue).joined(separator: ", ")
      // The value itself is not repeated: no input text goes into a message.
      fail(node, "must be one of \(options)")
      return nil
    }
    return value
  }

  mutating func stringList(_ node: YAMLNode) -> [String]? {
    guard case .sequence(let items) = node.kind else {
      fail(node, "expected a list of strings")
      return nil
    }
    return items.compactMap { string($0) }
  }

  /// A list of core/v1 objects, each checked against the API server's schema and rules and for
  /// template syntax.
  mutating func objects(_ node: YAMLNode, _ type: CoreV1Type, role: ContainerRole? = nil) -> [JSONValue] {
    guard case .sequence(let items) = node.kind else {
      fail(node, "expected a list of \(type.name)")
      return []
    }
    var values: [JSONValue] = []
    for item in items {
      checkTemplates(item)
      checkRepeatedKeys(item, in: type.name)
      guard let value = json(item) else { continue }
      for problem in CoreV1Validator.problems(in: value, as: type, role: role) {
        fail(Self.node(at: problem.path, in: item), problem.message)
      }
      values.append(value)
    }
    return values
  }

  /// Items of one list in a rule whose `member` repeats an earlier item's: the second would always
  /// conflict with the first at admission.
  mutating func checkUnique(_ node: YAMLNode, member: String, what: String) {
    guard case .sequence(let items) = node.kind else { return }
    var seen: [String: Int] = [:]
    for item in items {
      guard let keyed = Self.member(member, of: item), let text = keyed.value.scalarText else { continue }
      if let line = seen[text] {
        fail(keyed.key, "duplicate \(what) in this rule (first at line \(line))")
      } else {
        seen[text] = keyed.key.line
      }
    }
  }

  /// Container names must be unique across a rule's init containers and sidecars: they share the
  /// pod's name space.
  mutating func checkContainerNames(_ members: [Member]) {
    var seen: [String: Int] = [:]
    for (key, _, list) in members where key == "initContainers" || key == "sidecars" {
      guard case .sequence(let items) = list.kind else { continue }
      for item in items {
        guard let keyed = Self.member("name", of: item), let name = keyed.value.scalarText else { continue }
        if let line = seen[name] {
          fail(keyed.key, "duplicate container name in this rule (first at line \(line))")
        } else {
          seen[name] = keyed.key.line
        }
      }
    }
  }

  /// The key and value nodes of a mapping's member.
  static func member(_ key: String, of node: YAMLNode) -> (key: YAMLNode, value: YAMLNode)? {
    guard case .mapping(let pairs) = node.kind else { return nil }
    return pairs.last { $0.key.scalarText == key }
  }

  /// The node of a member path (keys and list indexes) under `node`, or the deepest one found.
  static func node(at path: [String], in node: YAMLNode) -> YAMLNode {
    guard let first = path.first else { return node }
    switch node.kind {
    case .mapping(let pairs):
      guard let pair = pairs.last(where: { $0.key.scalarText == first }) else { return node }
      return path.count == 1 ? pair.key : Self.node(at: Array(path.dropFirst()), in: pair.value)
    case .sequence(let items):
      guard let index = Int(first), items.indices.contains(index) else { return node }
      return Self.node(at: Array(path.dropFirst()), in: items[index])
    case .scalar: return node
    }
  }

  /// Reports a key repeated in any mapping under `node`: the JSON conversion would keep the last one silently.
  mutating func checkRepeatedKeys(_ node: YAMLNode, in context: String) {
    switch node.kind {
    case .scalar: return
    case .sequence(let items): for item in items { checkRepeatedKeys(item, in: context) }
    case .mapping(let pairs):
      var seen: Set<String> = []
      for (key, value) in pairs {
        if let text = key.scalarText, !seen.insert(text).inserted {
          fail(key, "duplicate key \"\(text)\" in \(context)")
        }
        checkRepeatedKeys(value, in: context)
      }
    }
  }

  /// A string-to-string map such as labels, with its keys and (untemplated) values validated.
  mutating func stringMap(
    _ node: YAMLNode, keyRule: ((String) -> String?)?, valueRule: ((String) -> String?)?, in context: String
  ) -> JSONObject {
    var result = JSONObject()
    for (key, keyNode, valueNode) in mapping(node, allowed: nil, in: context) ?? [] {
      if let keyRule, let problem = keyRule(key) { fail(keyNode, "\(context) key \"\(key)\" is invalid: \(problem)") }
      checkTemplates(valueNode)
      guard let value = string(valueNode) else { continue }
      if let valueRule, !value.holdsTemplateAction, let problem = valueRule(value) {
        fail(valueNode, "\(context) value for \"\(key)\" is invalid: \(problem)")
      }
      result[key] = .string(value)
    }
    return result
  }

  mutating func annotationKey(_ node: YAMLNode) -> String? {
    guard let key = string(node) else { return nil }
    if let problem = KubernetesValidation.annotationKey(key) {
      fail(node, "annotation key is invalid: \(problem)")
      return nil
    }
    return key
  }

  /// Reports template syntax errors anywhere under `node`, with the line of the string holding them.
  mutating func checkTemplates(_ node: YAMLNode) {
    switch node.kind {
    case .scalar(let scalar):
      guard scalar.text.holdsTemplateAction else { return }
      do {
        _ = try Template.parse(scalar.text)
      } catch {
        fail(node, "template: \(error.message)")
      }
    case .sequence(let items): for item in items { checkTemplates(item) }
    case .mapping(let pairs): for (_, value) in pairs { checkTemplates(value) }
    }
  }
}
