import Glibc
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

extension Fixture {
  /// The shipped sample AdmissionReviews, as bytes, with their file names.
  static func sampleReviews() throws -> [([UInt8], String)] {
    let names = LocalFiles.names(in: TestFiles.root + "/samples").filter { $0.hasPrefix("review-") }.sorted()
    #expect(names.count >= 8)
    return names.compactMap { name in
      guard let bytes = try? LocalFiles.read(TestFiles.root + "/samples/" + name) else { return nil }
      return (bytes, name)
    }
  }

  /// The rows of a table in `Tests/PodInjectTests/Fixtures/<name>` (a YAML list); empty when it cannot be
  /// read, which the table's guard test reports.
  static func table(_ name: String) -> [JSONValue] {
    let bytes = TestFiles.read(TestFiles.fixtures + "/" + name)
    guard let document = try? YAML.parseDocuments(bytes).first else { return [] }
    return (try? document.toJSON().arrayValue) ?? []
  }
}

/// Helpers shared by the YAML test files.
enum YAMLFixture {
  /// The single document of `text`, as JSON.
  static func json(_ text: String) throws -> JSONValue {
    let documents = try YAML.parseJSONDocuments(Array(text.utf8))
    try #require(documents.count == 1)
    return documents[0]
  }

  /// The single document of `text`, as a node tree.
  static func node(_ text: String) throws -> YAMLNode {
    let documents = try YAML.parseDocuments(Array(text.utf8))
    try #require(documents.count == 1)
    return documents[0]
  }

  /// The error parsing and converting `text` throws, if any.
  static func error(_ text: String) -> YAMLError? {
    error(Array(text.utf8))
  }

  static func error(_ bytes: [UInt8]) -> YAMLError? {
    do {
      _ = try YAML.parseJSONDocuments(bytes)
      return nil
    } catch {
      return error
    }
  }

  /// Equality that also requires numbers to keep the same text (`JSONValue.==` compares values).
  static func identical(_ lhs: JSONValue, _ rhs: JSONValue) -> Bool {
    switch (lhs, rhs) {
    case (.number(let a), .number(let b)): return a == b
    case (.array(let a), .array(let b)):
      return a.count == b.count && zip(a, b).allSatisfy { identical($0, $1) }
    case (.object(let a), .object(let b)):
      return a.keys == b.keys
        && zip(a.members, b.members).allSatisfy { identical($0.value, $1.value) }
    default: return lhs == rhs
    }
  }
}

/// Where the tests' files are: the repository they were compiled from, found from this file's path.
enum TestFiles {
  /// The repository root (this file is <root>/Tests/PodInjectTests/TestSupport.swift).
  static let root: String = {
    var path = "\(#filePath)"
    for _ in 0..<3 { path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }
    return path
  }()

  /// The folder of the table files beside the tests.
  static let fixtures = root + "/Tests/PodInjectTests/Fixtures"

  /// The bytes of `path`; empty when it cannot be read (a guard test then fails).
  static func read(_ path: String) -> [UInt8] {
    (try? LocalFiles.read(path)) ?? []
  }

  /// Whether `path` is a directory this process can open (the shared corpus may be absent).
  static func isDirectory(_ path: String) -> Bool {
    guard let directory = opendir(path) else { return false }
    closedir(directory)
    return true
  }
}

/// The corpus of real manifests and reviews: the subset vendored in `Tests/fixtures/corpus`, always, and
/// the shared corpus (`../shared/corpus` beside the repository, or `$PODINJECT_CORPUS`) in addition when
/// it is there. A file of the same name is read once, from the vendored copy.
enum Corpus {
  /// One file of the corpus, named in test results as `folder/name`.
  struct File: Sendable, Hashable, CustomTestStringConvertible {
    let folder: String
    let name: String
    let path: String
    var testDescription: String { folder + "/" + name }
    var bytes: [UInt8] { TestFiles.read(path) }
  }

  static let vendored = TestFiles.root + "/Tests/fixtures/corpus"
  static let shared = getenv("PODINJECT_CORPUS").map { String(cString: $0) } ?? TestFiles.root + "/../shared/corpus"
  /// The corpora present: the vendored one, then the shared one.
  static let roots = [vendored] + (TestFiles.isDirectory(shared) ? [shared] : [])

  /// Every file of `folder` (`pods` or `admissionreview`), sorted by name.
  static func files(in folder: String) -> [File] {
    var byName: [String: File] = [:]
    for root in roots {
      for name in LocalFiles.names(in: root + "/" + folder) where !name.hasPrefix(".") && byName[name] == nil {
        byName[name] = File(folder: folder, name: name, path: root + "/" + folder + "/" + name)
      }
    }
    return byName.keys.sorted().map { byName[$0]! }
  }

  /// The corpus file `folder/name` (tests that need one particular file use a vendored one).
  static func file(_ folder: String, _ name: String) throws -> File {
    try #require(files(in: folder).first { $0.name == name }, "no \(folder)/\(name) in \(roots)")
  }

  /// The Notes column of every file listed in the PROVENANCE.md of the corpora present, by
  /// `folder/name`: what the corpus holds, written when the files were collected.
  static let provenanceNotes: [String: String] = {
    var notes: [String: String] = [:]
    for root in roots {
      let text = String(decoding: TestFiles.read(root + "/PROVENANCE.md"), as: UTF8.self)
      for line in text.split(separator: "\n") where line.hasPrefix("| `") {
        let cells = line.split(separator: "|", omittingEmptySubsequences: false).map {
          $0.trimmingCharacters(in: " `")
        }
        if cells.count >= 9, notes[cells[1]] == nil { notes[cells[1]] = cells[8] }
      }
    }
    return notes
  }()

  /// The names PROVENANCE.md lists in `folder`: what `files(in:)` must find.
  static func listed(in folder: String) -> [String] {
    provenanceNotes.keys.filter { $0.hasPrefix(folder + "/") }.map { String($0.dropFirst(folder.count + 1)) }.sorted()
  }
}

extension Substring {
  fileprivate func trimmingCharacters(in set: String) -> String {
    String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
  }
}

/// A small deterministic generator (SplitMix64), so that a failing fuzz case can be replayed.
struct SplitMix64: RandomNumberGenerator {
  private var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
