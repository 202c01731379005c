/// One field of a configuration type, described once for everything that handles it: its key, how
/// YAML gives it (with its diagnostics), and how the cache of validated configurations keeps it.
/// Adding a field to a type is adding its description (`field`, `derived`) to the type's `fields`.
///
/// Not generic over the type it belongs to: an array of a generic field cost every configuration type
/// its own array type, instantiated at run time by every cached admission (0.6% of its instructions).
/// Its accessors take the value by address; the methods check it is of the type the field describes.
struct ConfigField {
  /// The key in YAML and in the cache.
  let key: String
  /// The Swift property it fills, for the test that every stored property is described.
  let property: String
  /// Whether YAML may hold the key; a derived field (found while loading) lives in the cache only.
  let inYAML: Bool
  /// The configuration type the field belongs to.
  private let root: Any.Type
  private let readAt: (inout ConfigReader, YAMLNode, UnsafeMutableRawPointer) -> Void
  private let encodeAt: (UnsafeRawPointer) -> JSONValue
  private let decodeAt: (JSONValue, UnsafeMutableRawPointer) -> Bool

  /// A field of `Root` read with `get` and written with `set` (closures, not key paths: a key path
  /// costs its instantiation at run time, and the process lives for one admission); `readInto` reads
  /// its YAML node. `set` consumes the value: decoded from the cache, it is moved in, where a borrowed
  /// one was copied and the decoded `Value?` then destroyed through its metadata (a whole struct's
  /// `Optional` instantiated at run time, 3% of a cached admission).
  init<Root, Value: CacheValue>(
    _ key: String, of _: Root.Type, get: @escaping (Root) -> Value,
    set: @escaping (inout Root, consuming Value) -> Void,
    property: String?, inYAML: Bool, readInto: @escaping (inout ConfigReader, YAMLNode, inout Root) -> Void
  ) {
    self.key = key
    self.property = property ?? key
    self.inYAML = inYAML
    root = Root.self
    readAt = { reader, node, address in readInto(&reader, node, &address.assumingMemoryBound(to: Root.self).pointee) }
    encodeAt = { address in get(address.assumingMemoryBound(to: Root.self).pointee).cacheJSON }
    decodeAt = { json, address in
      guard let value = Value(cacheJSON: json) else { return false }
      set(&address.assumingMemoryBound(to: Root.self).pointee, value)
      return true
    }
  }

  /// Reads the field's YAML node into `value`, reporting problems to the reader.
  func read<Root>(_ reader: inout ConfigReader, _ node: YAMLNode, _ value: inout Root) {
    precondition(root == Root.self, "field \(key) read into another type")
    withUnsafeMutablePointer(to: &value) { readAt(&reader, node, UnsafeMutableRawPointer($0)) }
  }

  /// The field of `value` as the cache keeps it.
  func encode<Root>(_ value: Root) -> JSONValue {
    precondition(root == Root.self, "field \(key) encoded from another type")
    return withUnsafePointer(to: value) { encodeAt(UnsafeRawPointer($0)) }
  }

  /// Puts back into `value` what `encode` kept; false when it is missing or odd.
  func decode<Root>(_ json: JSONValue, _ value: inout Root) -> Bool {
    precondition(root == Root.self, "field \(key) decoded into another type")
    return withUnsafeMutablePointer(to: &value) { decodeAt(json, UnsafeMutableRawPointer($0)) }
  }
}

/// A configuration type described field by field (`ConfigField`): YAML reading, unknown-key
/// diagnostics and the cache encoding all come from `fields`.
protocol ConfigSchema: CacheValue {
  /// The value before any field is read: every default.
  static var defaults: Self { get }
  /// Every field, in the order the cache writes them.
  static var fields: [ConfigField] { get }
}

extension ConfigSchema {
  /// A field YAML gives through `read` (nil leaves the default), the cache through `Value`'s own
  /// encoding.
  static func field<Value: CacheValue>(
    _ key: String, get: @escaping (Self) -> Value, set: @escaping (inout Self, consuming Value) -> Void,
    property: String? = nil, read: @escaping (inout ConfigReader, YAMLNode) -> Value?
  ) -> ConfigField {
    field(key, get: get, set: set, property: property) { reader, node, root in
      if let value = read(&reader, node) { set(&root, value) }
    }
  }

  /// A field whose reading does more than set its value (or, with `inYAML` false, nothing at all).
  static func field<Value: CacheValue>(
    _ key: String, get: @escaping (Self) -> Value, set: @escaping (inout Self, consuming Value) -> Void,
    property: String? = nil, inYAML: Bool = true,
    readInto: @escaping (inout ConfigReader, YAMLNode, inout Self) -> Void
  ) -> ConfigField {
    ConfigField(key, of: Self.self, get: get, set: set, property: property, inYAML: inYAML, readInto: readInto)
  }

  /// A field the cache keeps but YAML never holds: it is found while loading.
  static func derived<Value: CacheValue>(
    _ key: String, get: @escaping (Self) -> Value, set: @escaping (inout Self, consuming Value) -> Void
  ) -> ConfigField {
    field(key, get: get, set: set, inYAML: false) { _, _, _ in }
  }

  /// The keys YAML may hold.
  static var yamlKeys: Set<String> { Set(fields.lazy.filter(\.inYAML).map(\.key)) }

  var cacheJSON: JSONValue { .object(JSONObject(Self.fields.map { ($0.key, $0.encode(self)) })) }

  init?(cacheJSON value: JSONValue) {
    guard var reader = CacheReader(value) else { return nil }
    var decoded = Self.defaults
    for field in Self.fields {
      guard let json = reader[field.key], field.decode(json, &decoded) else { return nil }
    }
    self = decoded
  }
}

/// A value the cache of validated configurations can keep: written as JSON, read back exactly.
protocol CacheValue {
  var cacheJSON: JSONValue { get }
  init?(cacheJSON: JSONValue)
  /// A list of values from the cache's items; JSON values take the items as they are, sharing
  /// their storage, so that a cached configuration costs no copy (and no freeing of the original).
  static func list(cacheItems: [JSONValue]) -> [Self]?
}

extension CacheValue {
  static func list(cacheItems items: [JSONValue]) -> [Self]? {
    var values: [Self] = []
    values.reserveCapacity(items.count)
    for item in items {
      guard let value = Self(cacheJSON: item) else { return nil }
      values.append(value)
    }
    return values
  }
}

extension String: CacheValue {
  var cacheJSON: JSONValue { .string(self) }
  init?(cacheJSON: JSONValue) {
    guard case .string(let text) = cacheJSON else { return nil }
    self = text
  }
}

extension Int: CacheValue {
  var cacheJSON: JSONValue { .number(String(self)) }
  init?(cacheJSON: JSONValue) {
    guard case .number(let text) = cacheJSON, let number = Int(text) else { return nil }
    self = number
  }
}

extension Bool: CacheValue {
  var cacheJSON: JSONValue { .bool(self) }
  init?(cacheJSON: JSONValue) {
    guard case .bool(let flag) = cacheJSON else { return nil }
    self = flag
  }
}

extension JSONValue: CacheValue {
  var cacheJSON: JSONValue { self }
  init?(cacheJSON: JSONValue) { self = cacheJSON }
  static func list(cacheItems items: [JSONValue]) -> [JSONValue]? { items }
}

extension JSONObject: CacheValue {
  var cacheJSON: JSONValue { .object(self) }
  init?(cacheJSON: JSONValue) {
    guard case .object(let object) = cacheJSON else { return nil }
    self = object
  }
}

extension Glob: CacheValue {
  var cacheJSON: JSONValue { .string(pattern) }
  init?(cacheJSON: JSONValue) {
    guard case .string(let pattern) = cacheJSON else { return nil }
    self.init(pattern)
  }
}

extension Array: CacheValue where Element: CacheValue {
  var cacheJSON: JSONValue { .array(map(\.cacheJSON)) }
  init?(cacheJSON: JSONValue) {
    guard case .array(let items) = cacheJSON, let values = Element.list(cacheItems: items) else { return nil }
    self = values
  }
}

extension Optional: CacheValue where Wrapped: CacheValue {
  var cacheJSON: JSONValue { map(\.cacheJSON) ?? .null }
  init?(cacheJSON: JSONValue) {
    if case .null = cacheJSON {
      self = .none
    } else {
      guard let value = Wrapped(cacheJSON: cacheJSON) else { return nil }
      self = .some(value)
    }
  }
}

/// A choice the configuration names by its raw value (`Allow`, `events.k8s.io/v1`, ...).
protocol ConfigChoice: CacheValue, RawRepresentable, CaseIterable where RawValue == String {}

extension ConfigChoice {
  var cacheJSON: JSONValue { .string(rawValue) }
  init?(cacheJSON: JSONValue) {
    guard case .string(let text) = cacheJSON else { return nil }
    self.init(rawValue: text)
  }
}

extension FailurePolicy: ConfigChoice {}
extension ConflictPolicy: ConfigChoice {}
extension EventAPI: ConfigChoice {}
extension RegardingPolicy: ConfigChoice {}
extension InitContainerPosition: ConfigChoice {}

extension LabelSelector: CacheValue {
  /// `matchLabels` and `matchExpressions`; `=` requirements come back as matchLabels, which only
  /// matchLabels can express again.
  var cacheJSON: JSONValue {
    var matchLabels = JSONObject()
    var expressions: [JSONValue] = []
    for requirement in requirements {
      if requirement.operator == .equals, let value = requirement.values.first {
        matchLabels[requirement.key] = .string(value)
      } else {
        expressions.append(
          .object(
            JSONObject([
              ("key", .string(requirement.key)), ("operator", .string(requirement.operator.rawValue)),
              ("values", .array(requirement.values.map(JSONValue.string))),
            ])))
      }
    }
    return .object(JSONObject([("matchLabels", .object(matchLabels)), ("matchExpressions", .array(expressions))]))
  }

  init?(cacheJSON: JSONValue) {
    guard let selector = try? LabelSelector(json: cacheJSON) else { return nil }
    self = selector
  }
}

extension ConfigDiagnostic: CacheValue {
  var cacheJSON: JSONValue {
    .object(
      JSONObject([
        ("file", .string(file)), ("line", line.cacheJSON), ("column", column.cacheJSON), ("message", .string(message)),
      ]))
  }

  init?(cacheJSON: JSONValue) {
    guard var reader = CacheReader(cacheJSON), let file = reader["file"].flatMap(String.init(cacheJSON:)),
      let line = reader["line"].flatMap(Int?.init(cacheJSON:)),
      let column = reader["column"].flatMap(Int?.init(cacheJSON:)),
      let message = reader["message"].flatMap(String.init(cacheJSON:))
    else { return nil }
    self.init(file: file, line: line, column: column, message: message)
  }
}

/// Reads back an object of the cache. Its members are looked up in about the order they were
/// written, so the search starts after the last one found: one comparison per lookup instead of a
/// scan of twenty-odd keys, which was a fifth of loading a cached configuration.
struct CacheReader {
  private let members: [JSONObject.Member]
  private var next = 0

  init?(_ value: JSONValue) {
    guard case .object(let object) = value else { return nil }
    members = object.members
  }

  subscript(key: String) -> JSONValue? {
    mutating get {
      for step in 0..<members.count {
        let index = (next + step) % members.count
        if JSONObject.sameKey(members[index].key, key) {
          next = index + 1
          return members[index].value
        }
      }
      return nil
    }
  }
}
