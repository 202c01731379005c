import Testing

@testable import PodInject

/// Builders shared by the tests of the admission pipeline: configs from YAML text, AdmissionReviews
/// around a pod, one fixed clock, and the pod as the API server would see it after the patch.
enum Fixture {
  /// 2026-11-29T05:19:29.000123Z.
  static let now = Timestamp(secondsSinceEpoch: 1_795_929_569, microseconds: 123)
  static let environment = ReviewEnvironment(now: now, reportingInstance: "podinject-6f7c9-x2k4q")
  static let statusKey = "podinject.dev/status"
  static let podKind: JSONValue = ["group": "", "version": "v1", "kind": "Pod"]

  /// A config document: the header, then `body` (top-level YAML).
  static func configYAML(_ body: String) -> String {
    "apiVersion: podinject.dev/v1alpha1\nkind: InjectionConfig\n" + body
  }

  static func load(_ yaml: String) throws(ConfigError) -> InjectionConfig {
    try ConfigLoader.load(Array(yaml.utf8), file: "config.yaml")
  }

  /// The config error of `yaml`, or nil when it loads.
  /// Every problem `check-config` reports: the whole configuration's, or those of its rules (which a
  /// usable configuration carries, each failing only its rule).
  static func loadError(_ yaml: String) -> ConfigError? {
    do {
      let config = try load(yaml)
      if config.diagnostics.isEmpty { return nil }
      return ConfigError(
        diagnostics: config.diagnostics, fallbackOnError: config.defaults.onError, fallbackEvents: config.events)
    } catch {
      return error
    }
  }

  /// The 1-based number of the first line of `text` containing `needle` (0 when none does).
  static func line(of needle: String, in text: String) -> Int {
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    return (lines.firstIndex { $0.contains(needle) } ?? -1) + 1
  }

  static func json(_ text: String) throws -> JSONValue {
    try JSONParser.parse(text)
  }

  /// A pod as a controller would send it: named, labelled, one init and two app containers.
  static let pod: JSONValue = [
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": [
      "name": "web-1",
      "labels": ["app": "web"],
      "annotations": ["example.com/team": "payments"],
    ],
    "spec": [
      "initContainers": [["name": "init", "image": "busybox:1.36"]],
      "containers": [
        ["name": "app", "image": "nginx:1.27", "env": [["name": "EXISTING", "value": "1"]]],
        ["name": "helper", "image": "busybox:1.36"],
      ],
    ],
  ]

  /// The AdmissionReview the API server would send for `pod`.
  static func reviewJSON(
    pod: JSONValue?, uid: String = "705ab4f5-6393-11e8-b7cc-42010a800002",
    operation: String = "CREATE",
    namespace: String = "team-a", dryRun: Bool = false, apiVersion: String = AdmissionRequest.v1,
    kind: JSONValue = podKind, subResource: String? = nil, username: String = "alice@example.com"
  ) -> JSONValue {
    var request = JSONObject([
      ("uid", .string(uid)), ("kind", kind),
      ("resource", ["group": "", "version": "v1", "resource": "pods"]),
      ("namespace", .string(namespace)), ("operation", .string(operation)),
      ("userInfo", ["username": .string(username), "groups": ["system:authenticated"]]),
      ("object", pod ?? .null), ("dryRun", .bool(dryRun)),
    ])
    if let subResource { request["subResource"] = .string(subResource) }
    return [
      "apiVersion": .string(apiVersion), "kind": "AdmissionReview", "request": .object(request),
    ]
  }

  static func request(
    pod: JSONValue?, uid: String = "705ab4f5-6393-11e8-b7cc-42010a800002",
    operation: String = "CREATE",
    namespace: String = "team-a", dryRun: Bool = false, apiVersion: String = AdmissionRequest.v1,
    kind: JSONValue = podKind, subResource: String? = nil, username: String = "alice@example.com"
  ) throws -> AdmissionRequest {
    try AdmissionRequest.decode(
      review: reviewJSON(
        pod: pod, uid: uid, operation: operation, namespace: namespace, dryRun: dryRun,
        apiVersion: apiVersion,
        kind: kind, subResource: subResource, username: username))
  }

  /// Loads `configYAML` and reviews a CREATE of `pod` (or whatever the arguments say).
  static func run(
    _ configYAML: String, pod: JSONValue = pod, operation: String = "CREATE",
    namespace: String = "team-a",
    dryRun: Bool = false, apiVersion: String = AdmissionRequest.v1, kind: JSONValue = podKind,
    subResource: String? = nil, username: String = "alice@example.com"
  ) throws -> ReviewResult {
    let config = try load(configYAML)
    let request = try request(
      pod: pod, operation: operation, namespace: namespace, dryRun: dryRun, apiVersion: apiVersion,
      kind: kind,
      subResource: subResource, username: username)
    return Review.run(request, config: .success(config), environment: environment)
  }

  /// The pod as the API server has it after applying the response's patch to the object as sent.
  static func patchedPod(_ result: ReviewResult) throws -> JSONValue {
    var pod = try #require(result.request.object)
    try result.response.patch.apply(to: &pod)
    return pod
  }

  /// The operations of the response, as JSON.
  static func operations(_ result: ReviewResult) -> [JSONValue] {
    result.response.patch.json.arrayValue ?? []
  }

  /// The operations of the response, without the one writing the status annotation.
  static func ruleOperations(_ result: ReviewResult) -> [JSONValue] {
    let statusPath = "/metadata/annotations/" + JSONPointer.escape(statusKey)
    return operations(result).filter { $0["path"]?.stringValue != statusPath }
  }

  /// The status annotation of `pod`, parsed.
  static func status(of pod: JSONValue, key: String = statusKey) throws -> JSONValue? {
    guard let text = pod["metadata"]?["annotations"]?[key]?.stringValue else { return nil }
    return try JSONParser.parse(text)
  }

  /// `pod` with `value` at `pointer` (parents must exist).
  static func setting(_ pod: JSONValue, _ pointer: String, _ value: JSONValue) throws -> JSONValue {
    var copy = pod
    try JSONPatch.apply(.add(JSONPointer(parsing: pointer), value), to: &copy)
    return copy
  }

  /// `pod` without the member at `pointer`.
  static func removing(_ pod: JSONValue, _ pointer: String) throws -> JSONValue {
    var copy = pod
    try JSONPatch.apply(.remove(JSONPointer(parsing: pointer)), to: &copy)
    return copy
  }
}
