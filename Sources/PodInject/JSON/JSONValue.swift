#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// A JSON document as sent: object keys keep their order and numbers keep their text,
/// so that nothing podinject does not understand is lost or reformatted.
public enum JSONValue: Sendable {
  case null
  case bool(Bool)
  /// The number's literal text, exactly as it appeared (e.g. `1e3`, `0.10`).
  case number(String)
  case string(String)
  case array([JSONValue])
  case object(JSONObject)
}

/// A JSON object whose members keep their original order.
public struct JSONObject: Sendable {
  /// One `"key": value` pair.
  public struct Member: Sendable {
    public var key: String
    public var value: JSONValue
    public init(key: String, value: JSONValue) {
      self.key = key
      self.value = value
    }

    /// A member as code writes one: `.init("uid", .string(uid))`.
    init(_ key: String, _ value: JSONValue) { self.init(key: key, value: value) }
  }

  /// The members in document order; keys are unique.
  public private(set) var members: [Member]

  public init() { members = [] }

  /// Builds an object from pairs; a later duplicate key replaces the earlier value in place.
  public init(_ pairs: [(String, JSONValue)]) {
    members = []
    members.reserveCapacity(pairs.count)
    for (key, value) in pairs { self[key] = value }
  }

  /// Builds an object member by member in time linear in its size: a key already set (by bytes)
  /// gets the new value in its first place, as in the parser and in Go. The subscript setter (and so
  /// `init(_:)`, for the few pairs code builds) scans every key, which is right for a few changes but
  /// quadratic for building a large object from input.
  struct Builder {
    private var members: [Member] = []
    /// Key positions, built once the object is big enough for a scan to cost more than hashing.
    private var positions: [ByteKey: Int]? = nil

    init(capacity: Int = 0) { members.reserveCapacity(capacity) }

    mutating func set(_ key: String, _ value: JSONValue) {
      if positions == nil {
        if members.count < 32 {
          for index in members.indices where JSONObject.sameKey(members[index].key, key) {
            members[index].value = value
            return
          }
          members.append(Member(key: key, value: value))
          return
        }
        var built = [ByteKey: Int](minimumCapacity: members.count * 2)
        for index in members.indices { built[ByteKey(members[index].key)] = index }
        positions = built
      }
      let byteKey = ByteKey(key)
      if let index = positions![byteKey] {
        members[index].value = value
      } else {
        positions![byteKey] = members.count
        members.append(Member(key: key, value: value))
      }
    }

    var object: JSONObject { JSONObject(uniqueMembers: members) }
  }

  /// Keys are the same when their bytes are, as in Go's encoding/json (and so in Kubernetes), not
  /// when they are canonically equivalent Strings; comparing the byte counts first is also far
  /// cheaper than String's full comparison, which showed as a twentieth of an admission.
  @inline(__always)
  static func sameKey(_ a: String, _ b: String) -> Bool {
    guard a.utf8.count == b.utf8.count else { return false }
    let contiguous = a.utf8.withContiguousStorageIfAvailable { x in
      b.utf8.withContiguousStorageIfAvailable { y in x.isEmpty || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 }
    }
    return (contiguous ?? nil) ?? a.utf8.elementsEqual(b.utf8)
  }

  /// Wraps members whose keys the caller already made unique (the parser, or code with distinct literal
  /// keys), in linear time; the public initialiser checks every key against the earlier ones. The answer,
  /// the status annotation and the log line of every admission are built this way rather than through
  /// `init(_:)`'s array of pairs, whose type a process instantiates at its first use (about 1.7% of an
  /// admission's instructions).
  init(uniqueMembers: [Member]) { members = uniqueMembers }

  public var isEmpty: Bool { members.isEmpty }
  public var count: Int { members.count }
  public var keys: [String] { members.map(\.key) }

  /// The value for `key`; setting `nil` removes the member, setting a new key appends it.
  public subscript(key: String) -> JSONValue? {
    get {
      for member in members where Self.sameKey(member.key, key) { return member.value }
      return nil
    }
    set {
      if let index = members.firstIndex(where: { Self.sameKey($0.key, key) }) {
        if let newValue { members[index].value = newValue } else { members.remove(at: index) }
      } else if let newValue {
        members.append(Member(key: key, value: newValue))
      }
    }
  }
}

extension JSONObject {
  /// Replaces the value of the member at `index` (a position in `members`), keeping its key and place.
  mutating func setValue(_ value: JSONValue, at index: Int) {
    members[index].value = value
  }

  /// The value for `key`, leaving null in its place, so that the caller holds the only reference
  /// and can change it without a copy; put it back with the subscript.
  mutating func take(_ key: String) -> JSONValue? {
    guard let index = members.firstIndex(where: { Self.sameKey($0.key, key) }) else { return nil }
    let value = members[index].value
    members[index].value = .null
    return value
  }
}

extension JSONValue {
  /// The object, leaving null behind, so the caller owns it uniquely (see `JSONObject.take`).
  mutating func takeObject() -> JSONObject? {
    guard case .object(let object) = self else { return nil }
    self = .null
    return object
  }

  /// The array, leaving null behind, so the caller owns it uniquely.
  mutating func takeArray() -> [JSONValue]? {
    guard case .array(let elements) = self else { return nil }
    self = .null
    return elements
  }
}

extension JSONObject: Equatable {
  /// Objects are equal when they hold the same keys (by bytes) with equal values, in any order.
  /// Linear: members in the same order are compared in place, and only a large object out of order
  /// is indexed, so two big objects never cost a scan per key.
  public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
    let count = lhs.members.count
    guard count == rhs.members.count else { return false }
    var positions: [ByteKey: Int]? = nil
    for index in 0..<count {
      let member = lhs.members[index]
      if sameKey(member.key, rhs.members[index].key) {
        guard member.value == rhs.members[index].value else { return false }
        continue
      }
      if count <= 32 {
        guard let other = rhs[member.key], other == member.value else { return false }
        continue
      }
      if positions == nil {
        var built = [ByteKey: Int](minimumCapacity: count * 2)
        for (position, other) in rhs.members.enumerated() { built[ByteKey(other.key)] = position }
        positions = built
      }
      guard let position = positions![ByteKey(member.key)], rhs.members[position].value == member.value else {
        return false
      }
    }
    return true
  }
}

extension JSONValue: Equatable {
  /// Structural equality; strings are equal when their bytes are (as Kubernetes compares them, not by
  /// canonical equivalence), numbers when their text or their numeric value is. Recursive: every
  /// value is at most 256 levels deep (the parsers' limit) plus the few levels code adds above it.
  public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
    switch (lhs, rhs) {
    case (.null, .null): return true
    case (.bool(let a), .bool(let b)): return a == b
    case (.number(let a), .number(let b)):
      if JSONObject.sameKey(a, b) { return true }
      guard let x = Double(a), let y = Double(b) else { return false }
      return x == y
    case (.string(let a), .string(let b)): return JSONObject.sameKey(a, b)
    case (.array(let a), .array(let b)): return a == b
    case (.object(let a), .object(let b)): return a == b
    default: return false
    }
  }
}

extension JSONValue {
  /// Whether this is an object whose `key` member is the string `value`, byte for byte (as Kubernetes
  /// compares names), looked at in place: the planner asks it of every item of a list it adds to.
  func hasMember(_ key: String, equalTo value: String) -> Bool {
    guard case .object(let object) = self else { return false }
    for member in object.members where JSONObject.sameKey(member.key, key) {
      guard case .string(let text) = member.value else { return false }
      return JSONObject.sameKey(text, value)
    }
    return false
  }

  /// The member `key` when this is an object.
  public subscript(key: String) -> JSONValue? {
    guard case .object(let object) = self else { return nil }
    return object[key]
  }

  public var stringValue: String? {
    if case .string(let s) = self { return s }
    return nil
  }

  public var boolValue: Bool? {
    if case .bool(let b) = self { return b }
    return nil
  }

  public var arrayValue: [JSONValue]? {
    if case .array(let a) = self { return a }
    return nil
  }

  public var objectValue: JSONObject? {
    if case .object(let o) = self { return o }
    return nil
  }

  public var isNull: Bool {
    if case .null = self { return true }
    return false
  }

  /// A short name of the JSON type, for error messages ("object", "string", ...).
  public var typeName: String {
    switch self {
    case .null: return "null"
    case .bool: return "boolean"
    case .number: return "number"
    case .string: return "string"
    case .array: return "array"
    case .object: return "object"
    }
  }

  /// The type name as said in a message: `an array`, `a string`, `null`.
  public var typeNameWithArticle: String {
    switch self {
    case .null: return "null"
    case .array, .object: return "an " + typeName
    default: return "a " + typeName
    }
  }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByNilLiteral,
  ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByIntegerLiteral
{
  public init(stringLiteral value: String) { self = .string(value) }
  public init(booleanLiteral value: Bool) { self = .bool(value) }
  public init(nilLiteral: ()) { self = .null }
  public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
  public init(integerLiteral value: Int) { self = .number(String(value)) }
  public init(dictionaryLiteral elements: (String, JSONValue)...) {
    self = .object(JSONObject(elements))
  }
}
