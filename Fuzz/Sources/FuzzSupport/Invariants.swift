import PodInject

/// Whether two values are the same document to the byte: members in the same order, numbers with the
/// same text, strings with the same UTF-8. Stricter than `==`, which compares numbers by value,
/// objects in any order and strings by canonical equivalence.
public func identical(_ a: JSONValue, _ b: JSONValue) -> Bool {
  switch (a, b) {
  case (.null, .null): return true
  case (.bool(let x), .bool(let y)): return x == y
  case (.number(let x), .number(let y)), (.string(let x), .string(let y)): return x.utf8.elementsEqual(y.utf8)
  case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { identical($0, $1) }
  case (.object(let x), .object(let y)):
    return x.members.count == y.members.count
      && zip(x.members, y.members).allSatisfy {
        $0.key.utf8.elementsEqual($1.key.utf8) && identical($0.value, $1.value)
      }
  default: return false
  }
}

/// The parser's depth limit is for untrusted input; values built here may be as deep as the cache allows.
private let unlimitedDepth = 100_000

/// Checks that `value` comes back unchanged from JSON text (compact and indented) and from `BinaryJSON`,
/// and that writing it is stable. Only for values with unique keys: the writer keeps a repeated key,
/// and reading it back keeps one.
public func checkRoundTrips(_ value: JSONValue, _ what: String) {
  let text = value.serializedBytes()
  guard let again = try? JSONParser.parse(text, maxDepth: unlimitedDepth) else {
    fatal("invariant failed: \(what): its serialization is not JSON: \(String(decoding: text, as: UTF8.self))")
  }
  check(identical(again, value), "\(what): JSON text round trip changed it: \(String(decoding: text, as: UTF8.self))")
  check(again.serializedBytes() == text, "\(what): serializing is not stable")
  let pretty = try? JSONParser.parse(value.prettyPrinted(), maxDepth: unlimitedDepth)
  check(pretty.map { identical($0, value) } ?? false, "\(what): indented JSON round trip changed it")
  checkBinaryRoundTrip(value, what)
}

/// Checks that `BinaryJSON` gives `value` back exactly, and that its encoding is stable.
public func checkBinaryRoundTrip(_ value: JSONValue, _ what: String) {
  let bytes = BinaryJSON.encode(value)
  guard let decoded = BinaryJSON.decode(bytes, maxDepth: unlimitedDepth) else {
    fatal("invariant failed: \(what): BinaryJSON cannot read its own encoding")
  }
  check(identical(decoded, value), "\(what): BinaryJSON round trip changed it")
  check(BinaryJSON.encode(decoded) == bytes, "\(what): BinaryJSON encoding is not stable")
}

/// Whether JSON text can carry `value` exactly: no object repeats a key (byte for byte) and every
/// number is in JSON's grammar. Values from the parsers always can; `BinaryJSON` can hold anything.
public func fitsJSONText(_ value: JSONValue) -> Bool {
  switch value {
  case .null, .bool, .string: return true
  case .number(let text):
    guard case .number(let parsed)? = try? JSONParser.parse(text) else { return false }
    return parsed == text
  case .array(let elements): return elements.allSatisfy(fitsJSONText)
  case .object(let object):
    var seen = Set<[UInt8]>()
    return object.members.allSatisfy { seen.insert(Array($0.key.utf8)).inserted && fitsJSONText($0.value) }
  }
}
