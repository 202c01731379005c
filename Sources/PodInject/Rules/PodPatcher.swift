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

  /// What is at a path, without holding on to it: a held reference would make every change to the
  /// working copy copy the container it points into (a 1 MiB pod then costs seconds, not milliseconds).
  enum Shape: Equatable {
    case absent
    case object
    case array(count: Int)
    case other(String)
  }

  func shape(at path: JSONPointer) -> Shape {
    switch pod[pointer: path] {
    case nil, .null?: return .absent
    case .object?: return .object
    case .array(let items)?: return .array(count: items.count)
    case let other?: return .other(other.typeName)
    }
  }

  /// Sets `key` in the object at `object`, creating the object (and its parents) when absent or null.
  mutating func setMember(_ object: JSONPointer, _ key: String, _ value: JSONValue) throws(PlanError) {
    switch shape(at: object) {
    case .object: try record(.add(object.appending(key), value))
    case .absent: try create(object, .object(JSONObject([(key, value)])))
    case .array: throw PlanError(reason: .unpatchablePod, detail: "\(object) is array, not an object")
    case .other(let type): throw PlanError(reason: .unpatchablePod, detail: "\(object) is \(type), not an object")
    }
  }

  /// Appends `item` to the array at `array`, creating the array when absent or null.
  mutating func append(_ array: JSONPointer, _ item: JSONValue) throws(PlanError) {
    try insert(array, at: Int.max, item)
  }

  /// Inserts `item` at `index` of the array at `array`, creating the array when absent or null.
  mutating func insert(_ array: JSONPointer, at index: Int, _ item: JSONValue) throws(PlanError) {
    switch shape(at: array) {
    case .array(let count):
      let operation = index >= count ? array.appendingEnd() : array.appending(index: index)
      try record(.add(operation, item))
    case .absent: try create(array, .array([item]))
    case .object: throw PlanError(reason: .unpatchablePod, detail: "\(array) is object, not an array")
    case .other(let type): throw PlanError(reason: .unpatchablePod, detail: "\(array) is \(type), not an array")
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
      switch shape(at: parent) {
      case .object: return try record(.add(target, nested))
      case .absent:
        nested = .object(JSONObject([(target.tokens.last!, nested)]))
        target = parent
      case .array: throw PlanError(reason: .unpatchablePod, detail: "\(parent) is array, not an object")
      case .other(let type): throw PlanError(reason: .unpatchablePod, detail: "\(parent) is \(type), not an object")
      }
    }
    try record(.add(target, nested))
  }
}
