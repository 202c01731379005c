/// The configuration types, each described once (`ConfigSchema`): what YAML may say for every field
/// and what it must satisfy, and how the cache keeps it.
extension InjectionConfig: ConfigSchema {
  static var defaults: InjectionConfig { InjectionConfig() }

  nonisolated(unsafe) static let fields: [ConfigField<InjectionConfig>] = [
    ConfigField("defaults", \.defaults) { reader, node in reader.read(node, in: "defaults") },
    ConfigField("statusAnnotation", \.statusAnnotation) { reader, node in reader.annotationKey(node) },
    ConfigField("optOutAnnotation", \.optOutAnnotation) { reader, node in reader.annotationKey(node) },
    ConfigField("events", \.events) { reader, node, config in
      let problemsBefore = reader.diagnostics.count
      config.events = reader.read(node, in: "events")
      if reader.diagnostics.count == problemsBefore { reader.readableEvents = config.events }
    },
    ConfigField("rules", \.rules) { reader, node in reader.readRules(node) },
    .derived("diagnostics", \.diagnostics),
  ]
}

extension InjectionConfig.Defaults: ConfigSchema {
  static var defaults: InjectionConfig.Defaults { InjectionConfig.Defaults() }

  nonisolated(unsafe) static let fields: [ConfigField<InjectionConfig.Defaults>] = [
    ConfigField("onError", \.onError) { reader, node in
      let policy = reader.choice(node, FailurePolicy.self)
      if let policy { reader.readableOnError = policy }
      return policy
    },
    ConfigField("conflict", \.conflict) { reader, node in reader.choice(node, ConflictPolicy.self) },
  ]
}

extension InjectionConfig.EventSettings: ConfigSchema {
  static var defaults: InjectionConfig.EventSettings { InjectionConfig.EventSettings() }

  nonisolated(unsafe) static let fields: [ConfigField<InjectionConfig.EventSettings>] = [
    ConfigField("api", \.api) { reader, node in reader.choice(node, EventAPI.self) },
    ConfigField("reportingController", \.reportingController) { reader, node in
      guard let name = reader.string(node) else { return nil }
      if let problem = KubernetesValidation.qualifiedName(name) {
        reader.fail(node, "events.reportingController is invalid: \(problem)")
      }
      return name
    },
    ConfigField("reportingInstance", \.reportingInstance) { reader, node in
      guard let name = reader.string(node) else { return nil }
      if name.utf8.count > 128 { reader.fail(node, "events.reportingInstance must be at most 128 bytes") }
      return name
    },
    ConfigField("regarding", \.regarding) { reader, node in reader.choice(node, RegardingPolicy.self) },
    ConfigField("timeoutMilliseconds", \.timeoutMilliseconds) { reader, node in
      guard let ms = reader.integer(node) else { return nil }
      if ms < 1 || ms > 60_000 { reader.fail(node, "events.timeoutMilliseconds must be between 1 and 60000") }
      return ms
    },
    ConfigField("outbox", \.outbox) { reader, node in
      guard let path = reader.string(node) else { return nil }
      if path.isEmpty { reader.fail(node, "events.outbox must not be empty") }
      return path
    },
    ConfigField("logFile", \.logFile) { reader, node in reader.string(node) },
  ]
}

extension Rule: ConfigSchema {
  static var defaults: Rule { Rule(name: "") }

  nonisolated(unsafe) static let fields: [ConfigField<Rule>] = [
    // Read by `readRule` before any other field: a rule is known by its name.
    ConfigField("name", \.name) { _, _, _ in },
    ConfigField("match", \.match) { reader, node, rule in
      let before = reader.diagnostics.count
      rule.match = reader.read(node, in: "match")
      rule.matchIsValid = reader.diagnostics.count == before
    },
    ConfigField("onError", \.onError) { reader, node in reader.choice(node, FailurePolicy.self) },
    ConfigField("conflict", \.conflict) { reader, node in reader.choice(node, ConflictPolicy.self) },
    ConfigField("containers", \.containers) { reader, node in reader.stringList(node)?.map { Glob($0) } },
    ConfigField("includeInitContainers", \.includeInitContainers) { reader, node in reader.bool(node) },
    ConfigField("env", \.env) { reader, node in
      defer { reader.checkUnique(node, member: "name", what: "env name") }
      return reader.objects(node, .envVar)
    },
    ConfigField("envFrom", \.envFrom) { reader, node in reader.objects(node, .envFromSource) },
    ConfigField("volumeMounts", \.volumeMounts) { reader, node in
      defer { reader.checkUnique(node, member: "mountPath", what: "mountPath") }
      return reader.objects(node, .volumeMount)
    },
    ConfigField("initContainers", \.initContainers) { reader, node in
      reader.objects(node, .container, role: .initContainer)
    },
    ConfigField("initContainerPosition", \.initContainerPosition) { reader, node in
      reader.choice(node, InitContainerPosition.self)
    },
    ConfigField("sidecars", \.sidecars) { reader, node in reader.objects(node, .container, role: .sidecar) },
    ConfigField("volumes", \.volumes) { reader, node in
      defer { reader.checkUnique(node, member: "name", what: "volume name") }
      return reader.objects(node, .volume)
    },
    ConfigField("labels", \.labels) { reader, node in
      reader.stringMap(
        node, keyRule: KubernetesValidation.qualifiedName, valueRule: KubernetesValidation.labelValue, in: "labels")
    },
    ConfigField("annotations", \.annotations) { reader, node in
      reader.stringMap(node, keyRule: KubernetesValidation.annotationKey, valueRule: nil, in: "annotations")
    },
    ConfigField("imagePullSecrets", \.imagePullSecrets) { reader, node in
      defer { reader.checkUnique(node, member: "name", what: "imagePullSecret name") }
      return reader.objects(node, .localObjectReference)
    },
    ConfigField("tolerations", \.tolerations) { reader, node in reader.objects(node, .toleration) },
    ConfigField("nodeSelector", \.nodeSelector) { reader, node in
      reader.stringMap(
        node, keyRule: KubernetesValidation.qualifiedName, valueRule: KubernetesValidation.labelValue,
        in: "nodeSelector")
    },
    .derived("configProblem", \.configProblem),
    .derived("matchIsValid", \.matchIsValid),
  ]
}

extension RuleMatch: ConfigSchema {
  static var defaults: RuleMatch { RuleMatch() }

  nonisolated(unsafe) static let fields: [ConfigField<RuleMatch>] = [
    ConfigField("operations", \.operations) { reader, node in
      guard let operations = reader.stringList(node) else { return nil }
      for operation in operations where !["CREATE", "UPDATE", "*"].contains(operation) {
        reader.fail(node, "match.operations: each must be one of CREATE, UPDATE, *")
      }
      return operations
    },
    ConfigField("namespaces", \.namespaces) { reader, node in reader.stringList(node)?.map { Glob($0) } },
    ConfigField("excludeNamespaces", \.excludeNamespaces) { reader, node in reader.stringList(node)?.map { Glob($0) } },
    ConfigField("labelSelector", \.labelSelector) { (reader: inout ConfigReader, node: YAMLNode) -> LabelSelector? in
      guard let json = reader.json(node) else { return nil }
      do throws(RuleSyntaxError) {
        return try LabelSelector(json: json)
      } catch {
        reader.fail(node, "match.labelSelector: \(error.message)")
        return nil
      }
    },
    ConfigField("annotations", \.annotations) { reader, node in
      reader.stringMap(node, keyRule: nil, valueRule: nil, in: "match.annotations")
    },
  ]
}
