import Testing

@testable import PodInject

/// Each configuration type is described once (`ConfigSchema`); the cache keeps every field of it.
struct ConfigSchemaTests {
  /// A configuration in which every field differs from its default.
  static var everyFieldSet: InjectionConfig {
    var config = InjectionConfig()
    config.defaults.onError = .deny
    config.defaults.conflict = .override
    config.statusAnnotation = "example.com/status"
    config.optOutAnnotation = "example.com/inject"
    config.events.api = .eventsV1
    config.events.reportingController = "example.com/webhook"
    config.events.reportingInstance = "instance-1"
    config.events.regarding = .pod
    config.events.timeoutMilliseconds = 1234
    config.events.outbox = "/run/outbox"
    config.events.logFile = "/run/log"
    config.rules = [everyRuleFieldSet]
    config.diagnostics = [ConfigDiagnostic(file: "c.yaml", line: 7, column: 3, message: "labels value is invalid")]
    return config
  }

  /// A rule in which every field differs from its default.
  static var everyRuleFieldSet: Rule {
    var rule = Rule(name: "tracing")
    rule.match.operations = ["CREATE", "UPDATE"]
    rule.match.namespaces = [Glob("team-*")]
    rule.match.excludeNamespaces = [Glob("kube-system")]
    rule.match.labelSelector = LabelSelector(requirements: [
      .init(key: "app", operator: .equals, values: ["web"]), .init(key: "tier", operator: .in, values: ["a", "b"]),
    ])
    rule.match.annotations = JSONObject([("example.com/trace", "yes")])
    rule.onError = .deny
    rule.conflict = .error
    rule.containers = [Glob("app"), Glob("side*")]
    rule.includeInitContainers = true
    rule.env = [["name": "A", "value": "1"]]
    rule.envFrom = [["configMapRef": ["name": "cm"]]]
    rule.volumeMounts = [["name": "v", "mountPath": "/v"]]
    rule.initContainers = [["name": "init", "image": "busybox"]]
    rule.initContainerPosition = .first
    rule.sidecars = [["name": "agent", "image": "agent:1"]]
    rule.volumes = [["name": "v", "emptyDir": [:]]]
    rule.labels = JSONObject([("team", "a")])
    rule.annotations = JSONObject([("example.com/a", "b")])
    rule.imagePullSecrets = [["name": "pull"]]
    rule.tolerations = [["key": "k", "operator": "Exists"]]
    rule.nodeSelector = JSONObject([("disk", "ssd")])
    rule.configProblem = "c.yaml:7:3: labels value is invalid"
    rule.matchIsValid = false
    return rule
  }

  static func roundTrip(_ config: InjectionConfig) -> InjectionConfig? {
    let entry = ConfigCache.entry(for: config, path: "/c.yaml", fingerprint: ConfigCacheTests.fingerprint)
    return ConfigCache.config(from: entry, path: "/c.yaml", fingerprint: ConfigCacheTests.fingerprint)
  }

  @Test func everyFieldComesBackFromTheCache() throws {
    let config = Self.everyFieldSet
    let cached = try #require(Self.roundTrip(config))
    #expect(cached == config)
    #expect(cached.rules.first == Self.everyRuleFieldSet)
  }

  @Test func theDefaultsComeBackFromTheCache() throws {
    var config = InjectionConfig()
    config.rules = [Rule(name: "plain")]
    #expect(try #require(Self.roundTrip(config)) == config)
  }

  /// The round trip above proves something only for fields its configuration sets.
  @Test func theRoundTripSetsEveryDescribedFieldApartFromItsDefault() {
    func unset<Value: ConfigSchema>(_ value: Value) -> [String] {
      Value.fields.filter { $0.encode(value) == $0.encode(Value.defaults) }.map(\.key)
    }
    let config = Self.everyFieldSet
    #expect(unset(config) == [])
    #expect(unset(config.defaults) == [])
    #expect(unset(config.events) == [])
    #expect(unset(Self.everyRuleFieldSet) == [])
    #expect(unset(Self.everyRuleFieldSet.match) == [])
  }

  /// A stored property without a description would be dropped from the cache (and unknown to YAML).
  @Test func everyStoredPropertyIsDescribed() {
    func check<Value: ConfigSchema>(_: Value.Type, sourceLocation: SourceLocation = #_sourceLocation) {
      let properties = Mirror(reflecting: Value.defaults).children.compactMap(\.label)
      #expect(Set(properties) == Set(Value.fields.map(\.property)), sourceLocation: sourceLocation)
      #expect(properties.count == Value.fields.count, sourceLocation: sourceLocation)
    }
    check(InjectionConfig.self)
    check(InjectionConfig.Defaults.self)
    check(InjectionConfig.EventSettings.self)
    check(Rule.self)
    check(RuleMatch.self)
  }

  @Test func yamlMayHoldEveryDescribedKeyButTheDerivedOnes() {
    #expect(InjectionConfig.yamlKeys == ["defaults", "statusAnnotation", "optOutAnnotation", "events", "rules"])
    #expect(!Rule.yamlKeys.contains("configProblem"))
    #expect(!Rule.yamlKeys.contains("matchIsValid"))
    #expect(Rule.yamlKeys.count == 18)
  }

  @Test func aFieldOfTheWrongShapeMakesTheWholeEntryUnusable() throws {
    var object = try #require(Self.everyFieldSet.cacheJSON.objectValue)
    object["statusAnnotation"] = .number("1")
    #expect(InjectionConfig(cacheJSON: .object(object)) == nil)
    object = try #require(Self.everyFieldSet.cacheJSON.objectValue)
    object["events"] = .object(JSONObject())
    #expect(InjectionConfig(cacheJSON: .object(object)) == nil)
  }
}
