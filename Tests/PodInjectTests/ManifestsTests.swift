import Testing

@testable import PodInject

/// `podinject apply` without a cluster: pods inside workload manifests are mutated in place, and the
/// document patch applies to the manifest itself.
struct ManifestsTests {
  static let config = Fixture.configYAML(
    """
    rules:
    - name: r
      containers: [app]
      env: [{name: TEAM, value: '{{ .metadata.labels.app | default "none" }}'}]
      labels: {example.com/traced: "true"}
      volumes: [{name: certs, emptyDir: {}}]
    """)

  static func loaded() throws -> ConfigLoad {
    .success(try Fixture.load(config))
  }

  static let podSpec: JSONValue = ["containers": [["name": "app", "image": "nginx"]]]
  static let template: JSONValue = ["metadata": ["labels": ["app": "web"]], "spec": podSpec]

  static let deployment: JSONValue = [
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": ["name": "web", "namespace": "shop"],
    "spec": ["replicas": 3, "selector": ["matchLabels": ["app": "web"]], "template": template],
  ]

  static let statefulSet: JSONValue = [
    "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": ["name": "db"],
    "spec": [
      "serviceName": "db", "selector": ["matchLabels": ["app": "web"]], "template": template,
    ],
  ]

  static let cronJob: JSONValue = [
    "apiVersion": "batch/v1", "kind": "CronJob", "metadata": ["name": "nightly"],
    "spec": ["schedule": "0 3 * * *", "jobTemplate": ["spec": ["template": template]]],
  ]

  /// `document` after `apply`, and the pods found in it.
  static func mutated(_ document: JSONValue) throws -> (JSONValue, [OfflinePod]) {
    var copy = document
    let pods = try Manifests.apply(to: &copy, config: try loaded(), environment: Fixture.environment)
    return (copy, pods)
  }

  static func expectInjected(
    _ template: JSONValue?, sourceLocation: SourceLocation = #_sourceLocation
  ) {
    #expect(
      template?["metadata"]?["labels"] == ["app": "web", "example.com/traced": "true"],
      sourceLocation: sourceLocation)
    #expect(
      template?["spec"]?["containers"]?[pointer: JSONPointer(tokens: ["0", "env"])] == [
        ["name": "TEAM", "value": "web"]
      ],
      sourceLocation: sourceLocation)
    #expect(
      template?["spec"]?["volumes"] == [["name": "certs", "emptyDir": [:]]],
      sourceLocation: sourceLocation)
    // Offline, the template is not given a namespace it did not have.
    #expect(template?["metadata"]?["namespace"] == nil, sourceLocation: sourceLocation)
  }

  @Test(arguments: [
    ("Deployment", deployment, ["spec", "template"]),
    ("StatefulSet", statefulSet, ["spec", "template"]),
    ("CronJob", cronJob, ["spec", "jobTemplate", "spec", "template"]),
  ])
  func workloadTemplatesAreMutatedInPlace(_ kind: String, _ document: JSONValue, _ path: [String])
    throws
  {
    let (mutated, pods) = try Self.mutated(document)
    #expect(pods.count == 1)
    let pod = try #require(pods.first)
    #expect(pod.location.templatePath == JSONPointer(tokens: path))
    #expect(pod.location.owner.hasPrefix(kind + "/"))
    #expect(pod.result.applied == ["r"])
    Self.expectInjected(mutated[pointer: JSONPointer(tokens: path)])
    // Everything outside the pod template is as it was.
    var outside = mutated
    var original = document
    try JSONPatch.apply(.remove(JSONPointer(tokens: path)), to: &outside)
    try JSONPatch.apply(.remove(JSONPointer(tokens: path)), to: &original)
    #expect(outside == original)
  }

  @Test(arguments: [
    ("Deployment", deployment, ["spec", "template"]),
    ("StatefulSet", statefulSet, ["spec", "template"]),
    ("CronJob", cronJob, ["spec", "jobTemplate", "spec", "template"]),
  ])
  func theDocumentPatchIsRerootedUnderTheTemplate(
    _ kind: String, _ document: JSONValue, _ path: [String]
  ) throws {
    let (mutated, pods) = try Self.mutated(document)
    let patch = Manifests.documentPatch(try #require(pods.first))
    #expect(!patch.isEmpty)
    let prefix = JSONPointer(tokens: path).description + "/"
    for operation in patch.operations {
      #expect(operation.path.description.hasPrefix(prefix), "\(kind): \(operation.path)")
    }
    var patched = document
    try patch.apply(to: &patched)
    #expect(patched == mutated)
  }

  /// Job and CronJob templates often have no metadata at all.
  @Test func theDocumentPatchAppliesToATemplateWithoutMetadata() throws {
    let job: JSONValue = [
      "apiVersion": "batch/v1", "kind": "Job", "metadata": ["name": "once"],
      "spec": [
        "template": [
          "spec": ["restartPolicy": "Never", "containers": [["name": "app", "image": "busybox"]]]
        ]
      ],
    ]
    var mutated = job
    let pods = try Manifests.apply(
      to: &mutated, config: try Self.loaded(), environment: Fixture.environment)
    let pod = try #require(pods.first)
    #expect(pod.result.applied == ["r"])
    #expect(mutated["spec"]?["template"]?["metadata"]?["labels"]?["example.com/traced"] == "true")
    var patched = job
    do {
      try Manifests.documentPatch(pod).apply(to: &patched)
    } catch {
      Issue.record("the document patch does not apply to the Job: \(error.message)")
    }
    #expect(patched == mutated)
  }

  /// A misspelled `spce`: the reviewed pod has an empty spec, so the webhook's patch adds under it; the
  /// document patch must create `spec` in the template first, as the webhook creates missing parents.
  @Test func theDocumentPatchCreatesAMissingTemplateSpec() throws {
    let deployment = try Fixture.removing(
      try Fixture.setting(Self.deployment, "/spec/template/spce", Self.podSpec), "/spec/template/spec")
    var mutated = deployment
    let pod = try #require(
      try Manifests.apply(to: &mutated, config: try Self.loaded(), environment: Fixture.environment).first)
    let patch = Manifests.documentPatch(pod)
    #expect(patch.operations.first == .add(JSONPointer(tokens: ["spec", "template", "spec"]), [:]))
    #expect(mutated["spec"]?["template"]?["spec"]?["volumes"] == [["name": "certs", "emptyDir": [:]]])
    var patched = deployment
    try patch.apply(to: &patched)
    #expect(patched == mutated)
  }

  /// Nothing applies: the manifest is printed as given, without an empty metadata or spec added.
  @Test func aTemplateNothingAppliesToIsLeftExactlyAsItWas() throws {
    let job: JSONValue = [
      "apiVersion": "batch/v1", "kind": "Job", "metadata": ["name": "once"],
      "spec": ["template": ["metadata": nil]],
    ]
    var document = job
    let pods = try Manifests.apply(
      to: &document, config: .success(try Fixture.load(Fixture.configYAML("rules: []\n"))),
      environment: Fixture.environment)
    #expect(pods.count == 1)
    #expect(document == job)
  }

  @Test func aPodDocumentIsMutatedAndItsPatchIsThePodPatch() throws {
    var document = try Fixture.setting(Fixture.pod, "/metadata/namespace", "shop")
    let original = document
    let pods = try Manifests.apply(
      to: &document, config: try Self.loaded(), environment: Fixture.environment)
    let pod = try #require(pods.first)
    #expect(pod.location.templatePath == JSONPointer())
    #expect(pod.location.owner == "Pod/web-1")
    #expect(Manifests.documentPatch(pod) == pod.result.response.patch)
    #expect(document["metadata"]?["labels"]?["example.com/traced"] == "true")
    var patched = original
    try Manifests.documentPatch(pod).apply(to: &patched)
    #expect(patched == document)
    // The namespace of the document is the request's.
    #expect(pod.result.request.namespace == "shop")
  }

  @Test func everyItemOfAListIsMutated() throws {
    var list: JSONValue = [
      "apiVersion": "v1", "kind": "List",
      "items": [
        Self.deployment, ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "c"]],
        Self.cronJob,
      ],
    ]
    let pods = try Manifests.apply(
      to: &list, config: try Self.loaded(), environment: Fixture.environment)
    #expect(pods.count == 2)
    #expect(pods.map(\.location.owner) == ["Deployment/web", "CronJob/nightly"])
    let items = try #require(list["items"]?.arrayValue)
    Self.expectInjected(items[0][pointer: JSONPointer(tokens: ["spec", "template"])])
    #expect(items[1] == ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "c"]])
    Self.expectInjected(
      items[2][pointer: JSONPointer(tokens: ["spec", "jobTemplate", "spec", "template"])])
  }

  @Test func aDocumentWithoutPodsIsLeftAlone() throws {
    var document: JSONValue = ["apiVersion": "v1", "kind": "Service", "metadata": ["name": "web"]]
    let original = document
    #expect(
      try Manifests.apply(to: &document, config: try Self.loaded(), environment: Fixture.environment)
        .isEmpty)
    #expect(document == original)
  }

  @Test func aDeniedPodLeavesTheDocumentAsItWas() throws {
    let config = Fixture.configYAML(
      "rules:\n- name: r\n  onError: Deny\n  labels: {owner: '{{ .metadata.labels.owner }}'}\n")
    var document = Self.deployment
    let pods = try Manifests.apply(
      to: &document, config: .success(try Fixture.load(config)), environment: Fixture.environment)
    #expect(pods.first?.result.response.allowed == false)
    #expect(document == Self.deployment)
    #expect(Manifests.documentPatch(try #require(pods.first)).isEmpty)
  }

  @Test func wouldBeEventsRegardTheWorkloadAndNothingSynthesizedLeaks() throws {
    let config = Fixture.configYAML(
      "rules:\n- name: r\n  labels: {owner: '{{ .metadata.labels.owner }}'}\n  annotations: {a: b}\n"
    )
    var document = Self.deployment
    let pods = try Manifests.apply(
      to: &document, config: .success(try Fixture.load(config)), environment: Fixture.environment)
    let event = try #require(pods.first?.result.events.first)
    #expect(event.regarding.kind == "Deployment")
    #expect(event.regarding.name == "web")
    #expect(event.namespace == "shop")
    let metadata = try #require(
      document[pointer: JSONPointer(tokens: ["spec", "template", "metadata"])])
    for key in ["namespace", "generateName", "ownerReferences", "name"] {
      #expect(metadata[key] == nil, "\(key) leaked into the template")
    }
    #expect(metadata["labels"] == ["app": "web"])
  }

  @Test func templatesSeeTheNamespaceOfTheWorkload() throws {
    let config = Fixture.configYAML(
      "rules:\n- name: r\n  env: [{name: NS, value: '{{ .metadata.namespace }}'}]\n")
    var document = Self.deployment
    _ = try Manifests.apply(
      to: &document, config: .success(try Fixture.load(config)), environment: Fixture.environment)
    #expect(
      document[
        pointer: JSONPointer(tokens: ["spec", "template", "spec", "containers", "0", "env"])]
        == [["name": "NS", "value": "shop"]])
  }
}
