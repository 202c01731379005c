/// Where a pod lives inside a manifest: the document itself, or a workload's pod template.
public struct PodLocation: Sendable, Equatable {
  /// The pointer to the pod template inside the document; empty for a bare Pod.
  public var templatePath: JSONPointer
  /// `Kind/name` of the document holding it, for messages.
  public var owner: String
  /// The members the reviewed pod was given because its template lacks them (`metadata` absent or
  /// not a map, `spec` absent): the document patch must create them before it adds anything under them,
  /// as the webhook's patch creates the missing parents of a pod.
  public var missingMembers: [String] = []
}

/// One pod found in a manifest, mutated offline by `apply` or traced by `explain`.
public struct OfflinePod: Sendable {
  public var location: PodLocation
  public var result: ReviewResult
}

/// `podinject apply` and `explain` without a cluster: find the pods in manifests (Pods, and the pod
/// templates of Deployment, ReplicaSet, StatefulSet, DaemonSet, Job and CronJob, also inside `List`s),
/// run the same pipeline as the webhook, and write the result back into the manifest.
public enum Manifests {
  /// Pod template pointers by workload kind.
  static let templatePaths: [String: [String]] = [
    "Deployment": ["spec", "template"], "ReplicaSet": ["spec", "template"], "StatefulSet": ["spec", "template"],
    "DaemonSet": ["spec", "template"], "Job": ["spec", "template"], "ReplicationController": ["spec", "template"],
    "CronJob": ["spec", "jobTemplate", "spec", "template"],
  ]

  /// Mutates every pod of `document` in place; returns what happened to each (nothing for a Kubernetes
  /// object without pods). Throws for a document that is no Kubernetes object at all, and for an
  /// AdmissionReview that cannot be read.
  public static func apply(
    to document: inout JSONValue, config: ConfigLoad, environment: ReviewEnvironment
  ) throws(ManifestError) -> [OfflinePod] {
    guard case .object(var object) = document else {
      throw ManifestError("not a Kubernetes object (found \(document.typeNameWithArticle))")
    }
    if AdmissionRequest.isBare(document) { throw ManifestError.bareRequest }
    let kind = object["kind"]?.stringValue ?? ""
    if kind == "AdmissionReview" { return try applyToReview(&document, config: config, environment: environment) }
    let missing = ["apiVersion", "kind"].filter { (object[$0]?.stringValue ?? "").isEmpty }
    guard missing.isEmpty else {
      throw ManifestError("not a Kubernetes object: it has no \(missing.joined(separator: " and no "))")
    }
    if kind == "List" {
      var items: [JSONValue]
      switch object["items"] {
      case nil, .null?: return []
      case .array(let found)?: items = found
      case let other?: throw ManifestError("a List whose items are \(other.typeNameWithArticle), not a list")
      }
      var pods: [OfflinePod] = []
      for index in items.indices {
        let found: [OfflinePod]
        do {
          found = try apply(to: &items[index], config: config, environment: environment)
        } catch {
          throw error.within("item \(index + 1)")
        }
        for var pod in found {
          // Re-rooted at the item, so that the document patch applies to the List itself.
          pod.location.templatePath = JSONPointer(tokens: ["items", String(index)] + pod.location.templatePath.tokens)
          pods.append(pod)
        }
      }
      object["items"] = .array(items)
      document = .object(object)
      return pods
    }
    let namespace = document["metadata"]?["namespace"]?.stringValue ?? "default"
    let owner = name(of: document)
    if kind == "Pod" {
      let result = review(pod: document, namespace: namespace, config: config, environment: environment)
      if let patched = result.patchedObject, result.response.allowed { document = patched }
      return [OfflinePod(location: PodLocation(templatePath: JSONPointer(), owner: owner), result: result)]
    }
    guard let tokens = templatePaths[kind] else { return [] }
    let path = JSONPointer(tokens: tokens)
    guard case .object(let template)? = document[pointer: path] else { return [] }
    // The pod as the workload's controller would create it: named after the workload, owned by it,
    // so that would-be Events regard the workload.
    var pod = JSONObject([("apiVersion", "v1"), ("kind", "Pod")])
    var metadata = template["metadata"]?.objectValue ?? JSONObject()
    let workloadName = document["metadata"]?["name"]?.stringValue ?? ""
    for (key, value) in [
      ("namespace", JSONValue.string(namespace)), ("generateName", .string(workloadName + "-")),
      ("ownerReferences", ownerReference(of: document, kind: kind, name: workloadName)),
    ] where metadata[key] == nil {
      metadata[key] = value
    }
    pod["metadata"] = .object(metadata)
    pod["spec"] = template["spec"] ?? .object(JSONObject())
    let result = review(pod: .object(pod), namespace: namespace, config: config, environment: environment)
    let absent =
      (template["metadata"]?.objectValue == nil ? ["metadata"] : []) + (template["spec"] == nil ? ["spec"] : [])
    let found = OfflinePod(
      location: PodLocation(templatePath: path, owner: owner, missingMembers: absent), result: result)
    // The template is changed by its document patch and nothing else, so that what `-o json` prints and
    // what `-o patch` prints always agree, and a template nothing applies to is left exactly as it was.
    if result.response.allowed, !result.response.patch.isEmpty {
      do throws(JSONPatchError) {
        try documentPatch(found).apply(to: &document)
      } catch {
        throw ManifestError("\(owner): the patch does not apply to its pod template: \(error.message)")
      }
    }
    return [found]
  }

  /// An AdmissionReview: its pod is mutated as the webhook would, with the review's own request (user,
  /// namespace, operation, dry run).
  static func applyToReview(
    _ document: inout JSONValue, config: ConfigLoad, environment: ReviewEnvironment
  ) throws(ManifestError) -> [OfflinePod] {
    let request: AdmissionRequest
    do {
      request = try AdmissionRequest.decode(review: document)
    } catch {
      throw ManifestError(error.message)
    }
    let result = Review.run(request, config: config, environment: environment)
    let path = JSONPointer(tokens: ["request", "object"])
    if result.response.allowed, !result.response.patch.isEmpty, let patched = result.patchedObject {
      try? JSONPatch.apply(.replace(path, patched), to: &document)
    }
    return [
      OfflinePod(location: PodLocation(templatePath: path, owner: "AdmissionReview \(request.uid)"), result: result)
    ]
  }

  /// `Kind/name` of a manifest document, for messages.
  public static func name(of document: JSONValue) -> String {
    "\(document["kind"]?.stringValue ?? "")/\(document["metadata"]?["name"]?.stringValue ?? "")"
  }

  /// A controller ownerReference to the workload (no uid: it is not in a cluster).
  static func ownerReference(of document: JSONValue, kind: String, name: String) -> JSONValue {
    .array([
      .object(
        JSONObject([
          ("apiVersion", .string(document["apiVersion"]?.stringValue ?? "")), ("kind", .string(kind)),
          ("name", .string(name)), ("controller", true),
        ]))
    ])
  }

  /// Runs the webhook pipeline on a pod as a CREATE by an unnamed user.
  static func review(
    pod: JSONValue, namespace: String, config: ConfigLoad, environment: ReviewEnvironment
  ) -> ReviewResult {
    let raw: JSONValue = .object(
      JSONObject([
        ("uid", "offline"), ("kind", .object(JSONObject([("group", ""), ("version", "v1"), ("kind", "Pod")]))),
        ("operation", "CREATE"), ("namespace", .string(namespace)), ("userInfo", .object(JSONObject())),
        ("object", pod), ("dryRun", true),
      ]))
    let request = AdmissionRequest(
      reviewAPIVersion: AdmissionRequest.v1, uid: "offline", kind: "Pod", group: "", subResource: "",
      operation: "CREATE", namespace: namespace, object: pod, dryRun: false, raw: raw)
    return Review.run(request, config: config, environment: environment)
  }

  /// One JSON Patch for a whole manifest document: the patches of all its `pods`, each re-rooted.
  public static func documentPatch(_ pods: [OfflinePod]) -> JSONPatch {
    JSONPatch(pods.flatMap { documentPatch($0).operations })
  }

  /// The patch of `pod`, re-rooted so it applies to the manifest document itself.
  public static func documentPatch(_ pod: OfflinePod) -> JSONPatch {
    let prefix = pod.location.templatePath.tokens
    guard !prefix.isEmpty else { return pod.result.response.patch }
    let operations = pod.result.response.patch.operations
    let created: [JSONPatchOperation] = pod.location.missingMembers.filter { member in
      operations.contains { $0.path.tokens.count > 1 && $0.path.tokens.first == member }
    }.map { .add(JSONPointer(tokens: prefix + [$0]), .object(JSONObject())) }
    return JSONPatch(
      created
        + operations.map { operation in
          func moved(_ path: JSONPointer) -> JSONPointer { JSONPointer(tokens: prefix + path.tokens) }
          switch operation {
          case .add(let path, let value): return .add(moved(path), value)
          case .remove(let path): return .remove(moved(path))
          case .replace(let path, let value): return .replace(moved(path), value)
          case .test(let path, let value): return .test(moved(path), value)
          }
        })
  }
}
