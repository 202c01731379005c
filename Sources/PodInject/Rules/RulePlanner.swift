/// Turns one rule into patch operations on the working copy of a pod: all of them, or none.
struct RulePlanner {
  let rule: Rule
  let conflict: ConflictPolicy
  /// What templates see: the pod as admitted, with `request` beside its fields.
  let templateRoot: JSONValue

  /// Changes made, for `explain`.
  private(set) var changes: [RuleChange] = []
  /// Conflicts resolved in the pod's favour under `Skip`, for `explain`.
  private(set) var keptPodValues: [String] = []

  init(rule: Rule, conflict: ConflictPolicy, templateRoot: JSONValue) {
    self.rule = rule
    self.conflict = conflict
    self.templateRoot = templateRoot
  }

  /// Applies the whole rule to `patcher`; on error `patcher` is left untouched.
  mutating func apply(to patcher: inout PodPatcher) throws(PlanError) {
    try patcher.checkRoom()
    var draft = patcher
    try injectIntoContainers(&draft)
    try injectContainers(rule.initContainers, into: "initContainers", what: "init container", &draft)
    try injectContainers(rule.sidecars, into: "containers", what: "sidecar", &draft)
    try injectNamedItems(rule.volumes, at: Paths.volumes, key: "name", type: .volume, what: "volume", &draft)
    try injectNamedItems(
      rule.imagePullSecrets, at: Paths.imagePullSecrets, key: "name", type: .localObjectReference,
      what: "imagePullSecret", &draft)
    try injectTolerations(&draft)
    try injectMap(rule.labels, at: Paths.labels, what: "label", valueRule: KubernetesValidation.labelValue, &draft)
    try injectMap(rule.annotations, at: Paths.annotations, what: "annotation", valueRule: nil, &draft)
    if !rule.annotations.isEmpty, let annotations = draft.pod[pointer: Paths.annotations]?.objectValue,
      let problem = KubernetesValidation.annotationsSize(annotations)
    {
      throw PlanError(reason: .invalidValue, detail: "annotations: \(problem)")
    }
    try injectMap(
      rule.nodeSelector, at: Paths.nodeSelector, what: "nodeSelector", valueRule: KubernetesValidation.labelValue,
      &draft)
    try checkMountedVolumes(before: patcher.pod, after: draft.pod)
    try checkHostPorts(draft.pod)
    patcher = draft
  }

  /// Two rendered items of one list with the same identity (templates may make them so) would make
  /// the API server refuse the pod.
  private func unique(_ items: [JSONValue], by key: String, what: String) throws(PlanError) -> [JSONValue] {
    var seen: [String] = []
    for item in items {
      guard let id = item[key]?.stringValue else { continue }
      if seen.contains(id) { throw PlanError(reason: .invalidValue, detail: "\(what) \(id) is given twice") }
      seen.append(id)
    }
    return items
  }

  /// The rule must not make the pod mount a volume it does not have: the API server refuses such a
  /// pod (`volumeMounts[0].name: Not found`). A dangling mount the pod already had is not the rule's.
  private func checkMountedVolumes(before: JSONValue, after: JSONValue) throws(PlanError) {
    let mounts =
      !rule.volumeMounts.isEmpty || rule.initContainers.contains { $0["volumeMounts"] != nil }
      || rule.sidecars.contains { $0["volumeMounts"] != nil }
    guard mounts else { return }
    let already = NameSet(Self.missingVolumes(before))
    if let name = Self.missingVolumes(after).first(where: { !already.contains($0) }) {
      throw PlanError(reason: .unpatchablePod, detail: "volumeMount of volume \(name): the pod has no such volume")
    }
  }

  /// A sidecar's host port must not be one another app container of the pod already binds (the API
  /// server refuses the pod: `hostPort: Duplicate value`).
  private func checkHostPorts(_ pod: JSONValue) throws(PlanError) {
    guard rule.sidecars.contains(where: { $0["ports"] != nil }) else { return }
    var seen: [String] = []
    for container in pod[pointer: Paths.spec.appending("containers")]?.arrayValue ?? [] {
      for port in container["ports"]?.arrayValue ?? [] {
        guard case .number(let number)? = port["hostPort"], number != "0" else { continue }
        let key = (port["hostIP"]?.stringValue ?? "") + "/" + number + "/" + (port["protocol"]?.stringValue ?? "TCP")
        if seen.contains(key) {
          throw PlanError(reason: .unpatchablePod, detail: "hostPort \(number): another container of the pod binds it")
        }
        seen.append(key)
      }
    }
  }

  /// The volume names that some container of the pod mounts but the pod does not have, in order of
  /// first mount; names compare by bytes, as the API server compares them. Linear in the pod's size:
  /// many volumes are looked up in a hashed set.
  private static func missingVolumes(_ pod: JSONValue) -> [String] {
    var names: [String] = []
    for volume in pod[pointer: Paths.volumes]?.arrayValue ?? [] {
      if let name = volume["name"]?.stringValue { names.append(name) }
    }
    let volumes = NameSet(names)
    var missing: [String] = []
    var seen = NameSet([])
    for list in ["initContainers", "containers"] {
      for container in pod[pointer: Paths.spec.appending(list)]?.arrayValue ?? [] {
        for mount in container["volumeMounts"]?.arrayValue ?? [] {
          guard let name = mount["name"]?.stringValue, !volumes.contains(name), seen.insert(name) else { continue }
          missing.append(name)
        }
      }
    }
    return missing
  }

  // MARK: per-container items

  /// env, envFrom and volumeMounts for every selected container.
  ///
  /// Two passes: the first only reads the pod, working out what each container needs and exactly
  /// what the patch will take, so that a rule that cannot fit (or conflicts under `Error`) fails
  /// before a single operation is built, however many containers the pod has; the second makes the
  /// changes, in the order of one pass over the containers.
  private mutating func injectIntoContainers(_ patcher: inout PodPatcher) throws(PlanError) {
    guard !(rule.env.isEmpty && rule.envFrom.isEmpty && rule.volumeMounts.isEmpty) else { return }
    let env = try unique(rendered(rule.env, .envVar, what: "env"), by: "name", what: "env")
    // An envFrom item equal to an earlier one would be found in the pod once the first is added.
    var envFrom: [JSONValue] = []
    for item in try rendered(rule.envFrom, .envFromSource, what: "envFrom") where !envFrom.contains(item) {
      envFrom.append(item)
    }
    let mounts = try unique(
      rendered(rule.volumeMounts, .volumeMount, what: "volumeMount"), by: "mountPath", what: "volumeMount")
    let items = ContainerItems(env: env, envFrom: envFrom, mounts: mounts)
    let own = try ownContainerNames()
    var lists = ["containers"]
    if rule.includeInitContainers { lists.append("initContainers") }
    for list in lists {
      let listPath = Paths.spec.appending(list)
      let plan = try planContainers(patcher, listPath, items: items, own: own)
      for step in 0..<plan.count {
        let (index, name, item, existing) = plan.step(step, items)
        let field = ContainerItems.field(plan.field(step))
        let fieldPath = listPath.appending(index: index).appending(field.name)
        let place = "in container \(name)"
        let id = field.key.flatMap { item[$0]?.stringValue } ?? ""
        if let existing {
          try resolveConflict(
            at: fieldPath.appending(index: existing), with: item, what: "\(field.what) \(id) \(place)", &patcher)
        } else {
          try patcher.append(fieldPath, item)
          changes.append(
            field.key == nil
              ? RuleChange("added", "\(field.what) \(place)") : RuleChange("added", field.what, id, place))
        }
      }
    }
  }

  /// A rule's items for every selected container, by field: 0 env, 1 envFrom, 2 volumeMounts.
  private struct ContainerItems {
    let env: [JSONValue]
    let envFrom: [JSONValue]
    let mounts: [JSONValue]

    subscript(field: Int) -> [JSONValue] {
      switch field {
      case 0: return env
      case 1: return envFrom
      default: return mounts
      }
    }

    /// The container member that holds the field, what identifies an item (nil: only equal items are
    /// the same), and the item's kind in messages.
    static func field(_ field: Int) -> (name: String, key: String?, what: String) {
      switch field {
      case 0: return ("env", "name", "env")
      case 1: return ("envFrom", nil, "envFrom")
      default: return ("volumeMounts", "mountPath", "volumeMount")
      }
    }
  }

  /// What the first pass decided: each change to make, in order, as four numbers (the container's
  /// index in its list, the field, the item's position in the field, and the index of the pod's item
  /// it conflicts with or -1 to add it), and the selected containers' names. Flat arrays of types
  /// every admission already uses: each new generic type costs a short-lived process its metadata
  /// set-up.
  private struct ContainerPlan {
    var steps: [Int] = []
    var names: [String] = []

    var count: Int { names.count }

    func field(_ step: Int) -> Int { steps[4 * step + 1] }

    func step(_ step: Int, _ items: ContainerItems) -> (index: Int, name: String, item: JSONValue, existing: Int?) {
      let base = 4 * step
      let existing = steps[base + 3]
      return (steps[base], names[step], items[steps[base + 1]][steps[base + 2]], existing < 0 ? nil : existing)
    }

    mutating func add(index: Int, name: String, field: Int, item: Int, existing: Int?) {
      steps.append(index)
      steps.append(field)
      steps.append(item)
      steps.append(existing ?? -1)
      names.append(name)
    }
  }

  /// The first pass over the list at `listPath`: reads the pod only, counts the bytes of every
  /// operation the second pass will write into the patch, and fails as soon as they would not fit.
  private func planContainers(
    _ patcher: PodPatcher, _ listPath: JSONPointer, items: ContainerItems, own: [String]
  ) throws(PlanError) -> ContainerPlan {
    var plan = ContainerPlan()
    guard let containers = try containerArray(patcher.pod, listPath) else { return plan }
    // Per item of the three fields in turn: its size and its identity.
    var sizes: [Int] = []
    var ids: [String] = []
    for field in 0..<3 {
      let key = ContainerItems.field(field).key
      for item in items[field] {
        sizes.append(item.serializedCount(upTo: .max))
        ids.append(key.flatMap { item[$0]?.stringValue } ?? "")
      }
    }
    // `,{"op":"add","path":"","value":}` and the path up to the list, each token with its slash; a
    // replace is 4 bytes longer; the patch's first operation has no comma.
    var listBytes = 32
    for token in listPath.tokens { listBytes += token.utf8.count + 1 }
    var bytes = patcher.text.isEmpty ? -1 : 0
    for (index, container) in containers.enumerated() {
      guard case .object(let object) = container else { continue }
      let name = object["name"]?.stringValue ?? ""
      guard !name.isEmpty, rule.containers.matchesAny(name), !own.contains(name) else { continue }
      let containerBytes = listBytes + Self.digits(index) + 1
      var first = 0
      for field in 0..<3 {
        let fieldItems = items[field]
        defer { first += fieldItems.count }
        guard !fieldItems.isEmpty else { continue }
        let (fieldName, key, what) = ContainerItems.field(field)
        let fieldBytes = containerBytes + fieldName.utf8.count + 1
        var existing: [JSONValue] = []
        switch object[fieldName] {
        case nil, .null?: break
        case .array(let items)?: existing = items
        case let other?:
          throw PlanError(
            reason: .unpatchablePod,
            detail: "\(listPath.appending(index: index).appending(fieldName)) is \(other.typeName), not an array")
        }
        for (position, item) in fieldItems.enumerated() {
          var conflictAt: Int? = nil
          if let key {
            let id = ids[first + position]
            if let found = existing.firstIndex(where: { $0.hasMember(key, equalTo: id) }) {
              if existing[found] == item { continue }
              switch conflict {
              case .skip: break
              case .override: bytes += fieldBytes + 4 + Self.digits(found) + 1 + sizes[first + position]
              case .error:
                throw PlanError(
                  reason: .conflict, detail: "\(what) \(id) in container \(name) already set differently")
              }
              conflictAt = found
            }
          } else if existing.contains(item) {
            continue
          }
          if conflictAt == nil {
            // Either `[item]` creating the list, or `item` appended at `-`: two bytes more either way.
            bytes += fieldBytes + sizes[first + position] + 2
          }
          plan.add(
            index: index, name: name, field: field, item: position, existing: conflictAt
          )
          try patcher.checkRoom(for: bytes)
        }
      }
    }
    return plan
  }

  /// The number of decimal digits of a non-negative `number`.
  private static func digits(_ number: Int) -> Int {
    var count = 1
    var rest = number / 10
    while rest > 0 {
      count += 1
      rest /= 10
    }
    return count
  }

  /// The names of the containers the rule adds itself: they are injected exactly as written, on the
  /// first pass (they are added after this step) and on every later one (when they are in the pod).
  private func ownContainerNames() throws(PlanError) -> [String] {
    guard !(rule.initContainers.isEmpty && rule.sidecars.isEmpty) else { return [] }
    let containers =
      try rendered(rule.initContainers, .container, role: .initContainer, what: "init container")
      + rendered(rule.sidecars, .container, role: .sidecar, what: "sidecar")
    return containers.compactMap { $0["name"]?.stringValue }
  }

  /// The container list at `path` (nil when absent); anything but an array of objects cannot be patched.
  private func containerArray(_ pod: JSONValue, _ path: JSONPointer) throws(PlanError) -> [JSONValue]? {
    switch pod[pointer: path] {
    case nil, .null?: return nil
    case .array(let items)?:
      for item in items where item.objectValue == nil {
        throw PlanError(reason: .unpatchablePod, detail: "\(path) holds \(item.typeName), not containers")
      }
      return items
    case let other?: throw PlanError(reason: .unpatchablePod, detail: "\(path) is \(other.typeName), not an array")
    }
  }

  // MARK: containers

  /// Init containers or sidecars; a name must be unique across every container list of the pod.
  private mutating func injectContainers(
    _ items: [JSONValue], into list: String, what: String, _ patcher: inout PodPatcher
  ) throws(PlanError) {
    guard !items.isEmpty else { return }
    let role: ContainerRole = list == "initContainers" ? .initContainer : .sidecar
    let containers = try rendered(items, .container, role: role, what: what)
    var insertAt = 0
    for container in containers {
      let name = container["name"]?.stringValue ?? ""
      let home = Paths.spec.appending(list)
      if let (foundList, index, existing) = try findContainer(named: name, in: patcher.pod) {
        if existing == container { continue }
        guard foundList == list else {
          if conflict == .skip {
            keptPodValues.append("\(what) \(name): the pod has a \(foundList) entry of that name")
            continue
          }
          throw PlanError(reason: .conflict, detail: "\(what) \(name): the pod's \(foundList) has that name")
        }
        try resolveConflict(at: home.appending(index: index), with: container, what: "\(what) \(name)", &patcher)
        continue
      }
      if list == "initContainers" && rule.initContainerPosition == .first {
        try patcher.insert(home, at: insertAt, container)
        insertAt += 1
      } else {
        try patcher.append(home, container)
      }
      changes.append(RuleChange("added", what, name))
    }
  }

  /// Where a container of this name already is, among init, app and ephemeral containers.
  private func findContainer(named name: String, in pod: JSONValue) throws(PlanError) -> (String, Int, JSONValue)? {
    for list in ["initContainers", "containers", "ephemeralContainers"] {
      guard let items = try containerArray(pod, Paths.spec.appending(list)) else { continue }
      if let index = items.firstIndex(where: { $0["name"]?.stringValue == name }) {
        return (list, index, items[index])
      }
    }
    return nil
  }

  // MARK: named items

  /// Volumes and image pull secrets: one per name in the pod spec.
  private mutating func injectNamedItems(
    _ items: [JSONValue], at path: JSONPointer, key: String, type: CoreV1Type, what: String,
    _ patcher: inout PodPatcher
  ) throws(PlanError) {
    guard !items.isEmpty else { return }
    for item in try rendered(items, type, what: what) {
      try injectItem(item, at: path, key: key, what: what, place: nil, &patcher)
    }
  }

  /// Adds `item` to the list at `path` unless an item with the same `key` is there: equal is fine,
  /// different is a conflict.
  private mutating func injectItem(
    _ item: JSONValue, at path: JSONPointer, key: String, what: String, place: String?,
    _ patcher: inout PodPatcher
  ) throws(PlanError) {
    let id = item[key]?.stringValue ?? ""
    switch try match(item, in: patcher.pod, at: path, key: key, id: id) {
    case .identical: return
    case .differs(let index):
      let label = place.map { "\(what) \(id) \($0)" } ?? "\(what) \(id)"
      try resolveConflict(at: path.appending(index: index), with: item, what: label, &patcher)
      return
    case .none: break
    }
    try patcher.append(path, item)
    changes.append(RuleChange("added", what, id, place ?? ""))
  }

  /// How an item compares with the pod's item of the same identity.
  private enum Match {
    case none
    case identical
    case differs(at: Int)
  }

  /// Finds the pod's item whose `key` is `id`; returns no reference into the pod, so that changing
  /// the pod afterwards copies nothing.
  private func match(_ item: JSONValue, in pod: JSONValue, at path: JSONPointer, key: String, id: String)
    throws(PlanError) -> Match
  {
    let existing = try list(pod, path)
    guard let index = existing.firstIndex(where: { $0.hasMember(key, equalTo: id) }) else { return .none }
    return existing[index] == item ? .identical : .differs(at: index)
  }

  /// Adds `item` unless an equal one is there (envFrom and tolerations have no name to clash on).
  private mutating func injectUnnamed(
    _ item: JSONValue, at path: JSONPointer, what: String, _ patcher: inout PodPatcher
  )
    throws(PlanError)
  {
    guard !(try list(patcher.pod, path)).contains(item) else { return }
    try patcher.append(path, item)
    changes.append(RuleChange("added", what))
  }

  private mutating func injectTolerations(_ patcher: inout PodPatcher) throws(PlanError) {
    guard !rule.tolerations.isEmpty else { return }
    for item in try rendered(rule.tolerations, .toleration, what: "toleration") {
      try injectUnnamed(item, at: Paths.tolerations, what: "toleration", &patcher)
    }
  }

  /// The array at `path`, empty when absent or null.
  private func list(_ pod: JSONValue, _ path: JSONPointer) throws(PlanError) -> [JSONValue] {
    switch pod[pointer: path] {
    case nil, .null?: return []
    case .array(let items)?: return items
    case let other?: throw PlanError(reason: .unpatchablePod, detail: "\(path) is \(other.typeName), not an array")
    }
  }

  // MARK: maps

  /// Labels, annotations and the node selector: one value per key.
  private mutating func injectMap(
    _ entries: JSONObject, at path: JSONPointer, what: String, valueRule: ((String) -> String?)?,
    _ patcher: inout PodPatcher
  ) throws(PlanError) {
    for member in entries.members {
      let key = member.key
      var value = member.value.stringValue ?? ""
      if value.holdsTemplateAction {
        value = try renderTemplateField(value, field: "\(what) \(key)")
      }
      if let valueRule, let problem = valueRule(value) {
        throw PlanError(reason: .invalidValue, detail: "\(what) \(key): \(problem)")
      }
      let current: JSONValue?
      switch patcher.pod[pointer: path] {
      case .object(let object)?: current = object[key]
      case nil, .null?: current = nil
      case let other?: throw PlanError(reason: .unpatchablePod, detail: "\(path) is \(other.typeName), not an object")
      }
      if let current {
        if current == .string(value) { continue }
        try resolveConflict(at: path.appending(key), with: .string(value), what: "\(what) \(key)", &patcher)
        continue
      }
      try patcher.setMember(path, key, .string(value))
      changes.append(RuleChange("set", what, key))
    }
  }

  // MARK: shared steps

  /// Applies the conflict policy to an item the pod already holds with different content.
  private mutating func resolveConflict(
    at path: JSONPointer, with value: JSONValue, what: String, _ patcher: inout PodPatcher
  ) throws(PlanError) {
    switch conflict {
    case .skip: keptPodValues.append(what)
    case .override:
      try patcher.replace(path, value)
      changes.append(RuleChange("replaced", what))
    case .error: throw PlanError(reason: .conflict, detail: "\(what) already set differently")
    }
  }

  /// Renders a rule's items and validates the results as the API server would.
  private func rendered(
    _ items: [JSONValue], _ type: CoreV1Type, role: ContainerRole? = nil, what: String
  ) throws(PlanError) -> [JSONValue] {
    var result: [JSONValue] = []
    result.reserveCapacity(items.count)
    for (index, item) in items.enumerated() {
      // Named in errors only, so put into words only for one.
      func field() -> String { "\(what)[\(index)]" + (item["name"]?.stringValue.map { " \($0)" } ?? "") }
      let rendered: JSONValue?
      do {
        rendered = try item.renderedTemplates(templateRoot)
      } catch {
        throw PlanError(reason: error.reason, detail: "\(field()): \(error.detail)")
      }
      // An item without templates was validated with the configuration; a rendered one is checked now.
      guard let rendered else {
        result.append(item)
        continue
      }
      if let problem = CoreV1Validator.problems(in: rendered, as: type, role: role).first {
        throw PlanError(reason: .invalidValue, detail: "\(field()): \(problem.message)")
      }
      result.append(rendered)
    }
    return result
  }

  private func renderTemplateField(_ text: String, field: String) throws(PlanError) -> String {
    do {
      return try renderTemplate(text, templateRoot)
    } catch {
      throw PlanError(reason: error.reason, detail: "\(field): \(error.detail)")
    }
  }
}

/// Pointers into a pod that rules write to.
enum Paths {
  static let spec = JSONPointer(tokens: ["spec"])
  static let volumes = JSONPointer(tokens: ["spec", "volumes"])
  static let imagePullSecrets = JSONPointer(tokens: ["spec", "imagePullSecrets"])
  static let tolerations = JSONPointer(tokens: ["spec", "tolerations"])
  static let nodeSelector = JSONPointer(tokens: ["spec", "nodeSelector"])
  static let labels = JSONPointer(tokens: ["metadata", "labels"])
  static let annotations = JSONPointer(tokens: ["metadata", "annotations"])
}
