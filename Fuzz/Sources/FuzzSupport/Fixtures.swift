import PodInject

/// The fixed inputs every target shares: real files from this repository (read once, at start-up,
/// from the source tree the target was built from) and one configuration that uses every feature.
public enum Fixtures {
  /// The repository root: this file is `<root>/Fuzz/Sources/FuzzSupport/Fixtures.swift`.
  public static let repository: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(4)
    return parts.joined(separator: "/")
  }()

  /// The bytes of `path`, relative to the repository root; a missing fixture ends the run.
  public static func read(_ path: String) -> [UInt8] {
    do {
      return try LocalFiles.read(repository + "/" + path)
    } catch {
      fatal("fuzz fixture: \(error)")
    }
  }

  /// One fixed clock and instance, as the unit tests use.
  public static let environment = ReviewEnvironment(
    now: Timestamp(secondsSinceEpoch: 1_795_929_569, microseconds: 123), reportingInstance: "podinject-fuzz")

  /// The configurations a review is run against: the shipped sample, the shipped deployment's, one that
  /// uses every feature (with a rule that is invalid and a match that is invalid), and an unusable one.
  public static let configs: [(name: String, load: ConfigLoad)] = [
    ("samples/config.yaml", .success(load("samples/config.yaml"))),
    ("deploy/kubernetes/base/config.yaml", .success(load("deploy/kubernetes/base/config.yaml"))),
    ("every-feature.yaml", .success(load(Array(everyFeature.utf8), file: "every-feature.yaml", ruleProblems: 2))),
    ("unusable.yaml", unusable),
  ]

  /// The sample AdmissionReview the README admits (`make sample`).
  public static let review: AdmissionRequest = {
    do {
      return try AdmissionRequest.decode(read("samples/review-plain-pod.json"))
    } catch {
      fatal("fuzz fixture: samples/review-plain-pod.json: \(error)")
    }
  }()

  /// What templates see for `review`: the pod, its namespace filled in, and the request (as `Review.run`
  /// builds it), then the same with odd shapes where fields are expected.
  public static let templateRoots: [JSONValue] = {
    var root = review.object?.objectValue ?? JSONObject()
    var metadata = root["metadata"]?.objectValue ?? JSONObject()
    if metadata["namespace"] == nil { metadata["namespace"] = .string(review.namespace) }
    root["metadata"] = .object(metadata)
    root["request"] = review.raw
    let odd: JSONValue = [
      "metadata": ["labels": ["app", "web"], "annotations": nil, "name": 7, "namespace": ["a": ["b": [true]]]],
      "spec": "none", "": ["": ""], "request": ["userInfo": ["username": "", "groups": [[], [:]]]],
    ]
    return [.object(root), odd, .null]
  }()

  /// The cache entry's identity the cache target checks against (any fixed values do).
  public static let cachePath = "/etc/podinject/config.yaml"
  public static let fingerprint = FileFingerprint(
    device: 2049, inode: 1_048_611, size: 4096,
    modified: Timestamp(secondsSinceEpoch: 1_795_929_000, microseconds: 5),
    changed: Timestamp(secondsSinceEpoch: 1_795_929_001, microseconds: 6))

  private static func load(_ path: String) -> InjectionConfig {
    load(read(path), file: path, ruleProblems: 0)
  }

  private static func load(_ bytes: [UInt8], file: String, ruleProblems: Int) -> InjectionConfig {
    do {
      let config = try ConfigLoader.load(bytes, file: file)
      guard config.diagnostics.count == ruleProblems else {
        fatal("fuzz fixture: \(file): \(config.diagnostics.map(\.description))")
      }
      return config
    } catch {
      fatal("fuzz fixture: \(file): \(error)")
    }
  }

  private static let unusable: ConfigLoad = {
    do throws(ConfigError) {
      _ = try ConfigLoader.load(Array("defaults: {onError: Deny}\nrules: 7\n".utf8), file: "unusable.yaml")
      fatal("fuzz fixture: unusable.yaml loaded")
    } catch {
      return .failure(error)
    }
  }()

  /// Every kind of change, every policy, templates in names, values, labels and annotations.
  private static let everyFeature = """
    apiVersion: podinject.dev/v1alpha1
    kind: InjectionConfig
    defaults: {onError: Deny, conflict: Override}
    statusAnnotation: example.com/injected
    optOutAnnotation: example.com/inject
    events: {api: events.k8s.io/v1, reportingController: example.com/injector, regarding: Pod}
    rules:
    - name: everything
      match:
        operations: ["*"]
        namespaces: ["*"]
        excludeNamespaces: [kube-system, "z?"]
        labelSelector:
          matchExpressions:
          - {key: example.com/skip, operator: DoesNotExist}
          - {key: tier, operator: NotIn, values: [batch]}
      onError: Allow
      containers: ["*"]
      includeInitContainers: true
      env:
      - name: POD_APP
        value: '{{ .metadata.labels.app | default "none" }}'
      - name: POD_TEAM
        value: '{{ index .metadata.annotations "example.com/team" | default "unowned" }}'
      - name: CALLER
        value: '{{ default "anonymous" .request.userInfo.username }}'
      - name: FIRST_CONTAINER
        value: '{{ (index .spec.containers 0).name }}'
      - name: NODE
        valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
      envFrom:
      - configMapRef: {name: '{{ .metadata.namespace }}-settings', optional: true}
      volumeMounts:
      - {name: shared, mountPath: /var/run/shared, readOnly: true}
      initContainers:
      - name: prepare
        image: busybox:1.36
        command: [sh, -c, 'echo {{ .metadata.name | default "unnamed" }}']
        volumeMounts: [{name: shared, mountPath: /shared}]
      initContainerPosition: First
      sidecars:
      - name: agent
        image: registry.example.com/agent:1.0
        ports: [{name: metrics, containerPort: 9090}]
        resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {memory: 32Mi}}
      volumes:
      - {name: shared, emptyDir: {}}
      labels: {example.com/app: '{{ .metadata.labels.app | default "none" }}'}
      annotations: {example.com/injected-for: '{{ .metadata.namespace }}'}
      imagePullSecrets: [{name: registry-example-com}]
      tolerations: [{key: dedicated, operator: Equal, value: agents, effect: NoSchedule}]
      nodeSelector: {kubernetes.io/os: linux}
    - name: conflicting
      conflict: Error
      onError: Deny
      match: {annotations: {example.com/strict: "true"}}
      env: [{name: POD_APP, value: fixed}]
      labels: {app: other}
    - name: skipping
      conflict: Skip
      match: {labelSelector: {matchLabels: {app: web}}}
      env: [{name: EXISTING, value: "2"}]
      nodeSelector: {kubernetes.io/os: windows}
    - name: missing-value
      onError: Allow
      env: [{name: NEEDS, value: "{{ .metadata.labels.missing }}"}]
    - name: invalid-match
      onError: Allow
      match: {labelSelector: {matchExpressions: [{key: a, operator: Near}]}}
      labels: {example.com/x: y}
    - name: invalid-rule
      onError: Allow
      env: [{name: "1-not-a-name", value: x}]
    """
}
