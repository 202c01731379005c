/// A working copy of the pod that records every change as a JSON Patch operation against the object
/// exactly as sent, creating missing parents first so the API server can always apply the patch.
struct PodPatcher {
  private(set) var pod: JSONValue
  private(set) var operations: [JSONPatchOperation] = []

  init(pod: JSONValue) { self.pod = pod }

  /// Records `operation` and applies it to the working copy.
  private mutating func record(_ operation: JSONPatchOperation) throws(PlanError) {
    do {
      try JSONPatch.apply(operation, to: &pod)
    } catch {
      throw PlanError(reason: .unpatchablePod, detail: error.message)
    }
    operations.append(operation)
  }

  /// Sets `key` in the object at `object`, creating the object (and its parents) when absent or null.
  mutating func setMember(_ object: JSONPointer, _ key: String, _ value: JSONValue) throws(PlanError) {
    switch pod[pointer: object] {
    case .object?: try record(.add(object.appending(key), value))
    case nil, .null?: try create(object, .object(JSONObject([(key, value)])))
    case let other?: throw PlanError(reason: .unpatchablePod, detail: "\(object) is \(other.typeName), not an object")
    }
  }

  /// Appends `item` to the array at `array`, creating the array when absent or null.
  mutating func append(_ array: JSONPointer, _ item: JSONValue) throws(PlanError) {
    switch pod[pointer: array] {
    case .array?: try record(.add(array.appendingEnd(), item))
    case nil, .null?: try create(array, .array([item]))
    case let other?: throw PlanError(reason: .unpatchablePod, detail: "\(array) is \(other.typeName), not an array")
    }
  }

  /// Inserts `item` at `index` of the array at `array`, creating the array when absent or null.
  mutating func insert(_ array: JSONPointer, at index: Int, _ item: JSONValue) throws(PlanError) {
    switch pod[pointer: array] {
    case .array(let items)?:
      let operation = index >= items.count ? array.appendingEnd() : array.appending(index: index)
      try record(.add(operation, item))
    case nil, .null?: try create(array, .array([item]))
    case let other?: throw PlanError(reason: .unpatchablePod, detail: "\(array) is \(other.typeName), not an array")
    }
  }

  /// Replaces the value at `path`, which must exist.
  mutating func replace(_ path: JSONPointer, _ value: JSONValue) throws(PlanError) {
    try record(.replace(path, value))
  }

  /// Adds `value` at `path`, first creating the nearest missing ancestors as one nested object.
  private mutating func create(_ path: JSONPointer, _ value: JSONValue) throws(PlanError) {
    var target = path
    var nested = value
    while target.tokens.count > 1 {
      let parent = JSONPointer(tokens: Array(target.tokens.dropLast()))
      switch pod[pointer: parent] {
      case .object?: return try record(.add(target, nested))
      case nil, .null?:
        nested = .object(JSONObject([(target.tokens.last!, nested)]))
        target = parent
      case let other?:
        throw PlanError(reason: .unpatchablePod, detail: "\(parent) is \(other.typeName), not an object")
      }
    }
    try record(.add(target, nested))
  }
}
