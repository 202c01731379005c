/// A working copy of the pod that records every change as a JSON Patch operation against the object
/// exactly as sent, creating missing parents first so the API server can always apply the patch.
///
/// The patched pod must stay storable: the pod's size plus every byte the patch adds (each operation
/// as the answer writes it, path and all, which is at least what it adds to the pod) may not pass
/// `maxPodBytes`. An operation that would is refused before it is recorded, so no admission builds
/// a patch larger than that, whatever the pod and the rules.
struct PodPatcher {
  /// etcd's default request limit (`--max-request-bytes`, 1.5 MiB): the API server cannot store a
  /// larger object. Counted as compact JSON, which is larger than the protobuf the API server
  /// stores, so the bound errs on the side of refusing.
  static let maxPodBytes = 1_572_864

  private(set) var pod: JSONValue
  private(set) var operations: [JSONPatchOperation] = []
  /// The admitted pod's compact JSON size, or at least an upper bound of it.
  private let podSize: PodSize
  /// The operations' text, joined by commas, written as each is recorded: that is how it is measured,
  /// and the answer then sends it as it is.
  private(set) var text: [UInt8] = []
  private let maxBytes: Int

  /// The patch's size: its operations' text and the brackets around it.
  var patchBytes: Int { text.count + 2 }

  /// The patch, with the text already written.
  var patch: JSONPatch { JSONPatch(operations, text: text) }

  /// `sizeBound` is an upper bound of the pod's compact JSON size when one is known for free (the
  /// length of the JSON text it was parsed from); without one, the pod is measured.
  init(pod: JSONValue, sizeBound: Int? = nil, maxBytes: Int = PodPatcher.maxPodBytes) {
    self.pod = pod
    self.maxBytes = maxBytes
    podSize = PodSize(pod: pod, bound: sizeBound, limit: maxBytes)
  }

  /// The pod's size: a free upper bound (the length of the text it was read from) until that is too
  /// coarse, then measured, once. A class, so that every copy of the patcher (each rule plans on a
  /// draft) shares one measurement.
  private final class PodSize {
    let pod: JSONValue
    let limit: Int
    var bytes: Int
    var measured: Bool

    init(pod: JSONValue, bound: Int?, limit: Int) {
      self.pod = pod
      self.limit = limit
      bytes = bound ?? pod.serializedCount(upTo: limit)
      measured = bound == nil
    }

    /// The exact size (or some number over `limit`).
    func measure() -> Int {
      if !measured {
        bytes = pod.serializedCount(upTo: limit)
        measured = true
      }
      return bytes
    }
  }

  /// Fails when not even the smallest operation fits any more, so that a rule on a pod already at
  /// the limit fails at once instead of after a walk over every container.
  func checkRoom() throws(PlanError) {
    try checkRoom(for: Self.smallestOperationBytes)
  }

  /// `,{"op":"add","path":"/a","value":0}`
  private static let smallestOperationBytes = 37

  /// Fails when `bytes` more would make the patched pod pass the limit.
  func checkRoom(for bytes: Int) throws(PlanError) {
    guard podSize.bytes + patchBytes + bytes > maxBytes else { return }
    guard podSize.measure() + patchBytes + bytes <= maxBytes else { throw tooLarge }
  }

  private var tooLarge: PlanError {
    PlanError(
      reason: .unpatchablePod,
      detail: "the patched pod would be over \(maxBytes / 1024) KiB, more than the API server can store")
  }

  /// Records `operation` and applies it to the working copy, unless the pod would grow too large.
  /// The operation is measured by writing it: at most one operation past the limit is ever written.
  private mutating func record(_ operation: JSONPatchOperation) throws(PlanError) {
    let start = text.count
    if start > 0 { text.append(UInt8(ascii: ",")) }
    operation.write(into: &text)
    do throws(PlanError) {
      try checkRoom(for: 0)
      do {
        try JSONPatch.apply(operation, to: &pod)
      } catch {
        throw PlanError(reason: .unpatchablePod, detail: error.message)
      }
    } catch {
      text.removeSubrange(start...)
      throw error
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
