/// The configuration types, each described once (`ConfigSchema`): what YAML may say for every field
/// and what it must satisfy, and how the cache keeps it.
extension InjectionConfig: ConfigSchema {
  static var defaults: InjectionConfig { InjectionConfig() }

  nonisolated(unsafe) static let fields: [ConfigField] = [
    field(
      "defaults", get: { $0.defaults }, set: { $0.defaults = $1 },
      read: { reader, node in
        reader.read(node, in: "defaults")
      }),
    field(
      "statusAnnotation", get: { $0.statusAnnotation }, set: { $0.statusAnnotation = $1 },
      read: { reader, node in
        reader.annotationKey(node)
      }),
    field(
      "optOutAnnotation", get: { $0.optOutAnnotation }, set: { $0.optOutAnnotation = $1 },
      read: { reader, node in
        reader.annotationKey(node)
      }),
    field(
      "events", get: { $0.events }, set: { $0.events = $1 },
      readInto: { reader, node, config in
        let problemsBefore = reader.diagnostics.count
        config.events = reader.read(node, in: "events")
        if reader.diagnostics.count == problemsBefore { reader.readableEvents = config.events }
      }),
    field("rules", get: { $0.rules }, set: { $0.rules = $1 }, read: { reader, node in reader.readRules(node) }),
    derived("diagnostics", get: { $0.diagnostics }, set: { $0.diagnostics = $1 }),
  ]
}

extension InjectionConfig.Defaults: ConfigSchema {
  static var defaults: InjectionConfig.Defaults { InjectionConfig.Defaults() }

  nonisolated(unsafe) static let fields: [ConfigField] = [
    field(
      "onError", get: { $0.onError }, set: { $0.onError = $1 },
      read: { reader, node in
        let policy = reader.choice(node, FailurePolicy.self)
        if let policy { reader.readableOnError = policy }
        return policy
      }),
    field(
      "conflict", get: { $0.conflict }, set: { $0.conflict = $1 },
      read: { reader, node in
        reader.choice(node, ConflictPolicy.self)
      }),
  ]
}

extension InjectionConfig.EventSettings: ConfigSchema {
  static var defaults: InjectionConfig.EventSettings { InjectionConfig.EventSettings() }

  nonisolated(unsafe) static let fields: [ConfigField] = [
    field(
      "api", get: { $0.api }, set: { $0.api = $1 }, read: { reader, node in reader.choice(node, EventAPI.self) }),
    field(
      "reportingController", get: { $0.reportingController }, set: { $0.reportingController = $1 },
      read: {
        reader, node in
        guard let name = reader.string(node) else { return nil }
        if let problem = KubernetesValidation.qualifiedName(name) {
          reader.fail(node, "events.reportingController is invalid: \(problem)")
        }
        return name
      }),
    field(
      "reportingInstance", get: { $0.reportingInstance }, set: { $0.reportingInstance = $1 },
      read: {
        reader, node in
        guard let name = reader.string(node) else { return nil }
        if name.utf8.count > 128 { reader.fail(node, "events.reportingInstance must be at most 128 bytes") }
        return name
      }),
    field(
      "regarding", get: { $0.regarding }, set: { $0.regarding = $1 },
      read: { reader, node in
        reader.choice(node, RegardingPolicy.self)
      }),
    field(
      "timeoutMilliseconds", get: { $0.timeoutMilliseconds }, set: { $0.timeoutMilliseconds = $1 },
      read: {
        reader, node in
        guard let ms = reader.integer(node) else { return nil }
        if ms < 1 || ms > 60_000 { reader.fail(node, "events.timeoutMilliseconds must be between 1 and 60000") }
        return ms
      }),
    field(
      "outbox", get: { $0.outbox }, set: { $0.outbox = $1 },
      read: { reader, node in
        guard let path = reader.string(node) else { return nil }
        if path.isEmpty { reader.fail(node, "events.outbox must not be empty") }
        return path
      }),
    field(
      "logFile", get: { $0.logFile }, set: { $0.logFile = $1 }, read: { reader, node in reader.string(node) }),
  ]
}

extension Rule: ConfigSchema {
  static var defaults: Rule { Rule(name: "") }

  nonisolated(unsafe) static let fields: [ConfigField] = [
    // Read by `readRule` before any other field: a rule is known by its name.
    field("name", get: { $0.name }, set: { $0.name = $1 }, readInto: { _, _, _ in }),
    field(
      "match", get: { $0.match }, set: { $0.match = $1 },
      readInto: { reader, node, rule in
        let before = reader.diagnostics.count
        rule.match = reader.read(node, in: "match")
        rule.matchIsValid = reader.diagnostics.count == before
      }),
    field(
      "onError", get: { $0.onError }, set: { $0.onError = $1 },
      read: { reader, node in
        reader.choice(node, FailurePolicy.self)
      }),
    field(
      "conflict", get: { $0.conflict }, set: { $0.conflict = $1 },
      read: { reader, node in
        reader.choice(node, ConflictPolicy.self)
      }),
    field(
      "containers", get: { $0.containers }, set: { $0.containers = $1 },
      read: { reader, node in
        reader.stringList(node)?.map { Glob($0) }
      }),
    field(
      "includeInitContainers", get: { $0.includeInitContainers }, set: { $0.includeInitContainers = $1 },
      read: {
        reader, node in reader.bool(node)
      }),
    field(
      "env", get: { $0.env }, set: { $0.env = $1 },
      read: { reader, node in
        defer { reader.checkUnique(node, member: "name", what: "env name") }
        return reader.objects(node, .envVar)
      }),
    field(
      "envFrom", get: { $0.envFrom }, set: { $0.envFrom = $1 },
      read: { reader, node in
        reader.objects(node, .envFromSource)
      }),
    field(
      "volumeMounts", get: { $0.volumeMounts }, set: { $0.volumeMounts = $1 },
      read: { reader, node in
        defer { reader.checkUnique(node, member: "mountPath", what: "mountPath") }
        return reader.objects(node, .volumeMount)
      }),
    field(
      "initContainers", get: { $0.initContainers }, set: { $0.initContainers = $1 },
      read: { reader, node in
        reader.objects(node, .container, role: .initContainer)
      }),
    field(
      "initContainerPosition", get: { $0.initContainerPosition }, set: { $0.initContainerPosition = $1 },
      read: {
        reader, node in
        reader.choice(node, InitContainerPosition.self)
      }),
    field(
      "sidecars", get: { $0.sidecars }, set: { $0.sidecars = $1 },
      read: { reader, node in
        reader.objects(node, .container, role: .sidecar)
      }),
    field(
      "volumes", get: { $0.volumes }, set: { $0.volumes = $1 },
      read: { reader, node in
        defer { reader.checkUnique(node, member: "name", what: "volume name") }
        return reader.objects(node, .volume)
      }),
    field(
      "labels", get: { $0.labels }, set: { $0.labels = $1 },
      read: { reader, node in
        reader.stringMap(
          node, keyRule: KubernetesValidation.qualifiedName, valueRule: KubernetesValidation.labelValue, in: "labels")
      }),
    field(
      "annotations", get: { $0.annotations }, set: { $0.annotations = $1 },
      read: { reader, node in
        reader.stringMap(node, keyRule: KubernetesValidation.annotationKey, valueRule: nil, in: "annotations")
      }),
    field(
      "imagePullSecrets", get: { $0.imagePullSecrets }, set: { $0.imagePullSecrets = $1 },
      read: { reader, node in
        defer { reader.checkUnique(node, member: "name", what: "imagePullSecret name") }
        return reader.objects(node, .localObjectReference)
      }),
    field(
      "tolerations", get: { $0.tolerations }, set: { $0.tolerations = $1 },
      read: { reader, node in
        reader.objects(node, .toleration)
      }),
    field(
      "nodeSelector", get: { $0.nodeSelector }, set: { $0.nodeSelector = $1 },
      read: { reader, node in
        reader.stringMap(
          node, keyRule: KubernetesValidation.qualifiedName, valueRule: KubernetesValidation.labelValue,
          in: "nodeSelector")
      }),
    derived("configProblem", get: { $0.configProblem }, set: { $0.configProblem = $1 }),
    derived("matchIsValid", get: { $0.matchIsValid }, set: { $0.matchIsValid = $1 }),
  ]
}

extension RuleMatch: ConfigSchema {
  static var defaults: RuleMatch { RuleMatch() }

  nonisolated(unsafe) static let fields: [ConfigField] = [
    field(
      "operations", get: { $0.operations }, set: { $0.operations = $1 },
      read: { reader, node in
        guard let operations = reader.stringList(node) else { return nil }
        for operation in operations where !["CREATE", "UPDATE", "*"].contains(operation) {
          reader.fail(node, "match.operations: each must be one of CREATE, UPDATE, *")
        }
        return operations
      }),
    field(
      "namespaces", get: { $0.namespaces }, set: { $0.namespaces = $1 },
      read: { reader, node in
        reader.stringList(node)?.map { Glob($0) }
      }),
    field(
      "excludeNamespaces", get: { $0.excludeNamespaces }, set: { $0.excludeNamespaces = $1 },
      read: {
        reader, node in reader.stringList(node)?.map { Glob($0) }
      }),
    field(
      "labelSelector", get: { $0.labelSelector }, set: { $0.labelSelector = $1 },
      read: {
        (reader: inout ConfigReader, node: YAMLNode) -> LabelSelector? in
        guard let json = reader.json(node) else { return nil }
        do throws(RuleSyntaxError) {
          return try LabelSelector(json: json)
        } catch {
          reader.fail(node, "match.labelSelector: \(error.message)")
          return nil
        }
      }),
    field(
      "annotations", get: { $0.annotations }, set: { $0.annotations = $1 },
      read: { reader, node in
        reader.stringMap(node, keyRule: nil, valueRule: nil, in: "match.annotations")
      }),
  ]
}
