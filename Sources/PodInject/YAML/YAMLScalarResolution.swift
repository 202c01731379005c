/// What a plain scalar means under YAML 1.1 as Kubernetes reads it (sigs.k8s.io/yaml, go-yaml v2).
///
/// go-yaml v2 is followed where it and PyYAML disagree, because the API server and kubectl are
/// what podinject's users compare against: `y`/`n` are booleans, `1e3` and `08` are floats,
/// `190:20:30` stays a string, and timestamps stay strings.
enum ResolvedScalar: Equatable {
  case null
  case bool(Bool)
  /// An integer, as canonical decimal text.
  case integer(String)
  /// A finite float, as valid JSON number text.
  case float(String)
  /// `.inf`, `-.inf` or `.nan`: floats that JSON cannot carry.
  case nonFiniteFloat
  case string

  /// Resolves the text of a plain (unquoted, untagged) scalar.
  init(plain text: String) {
    // go-yaml picks the candidate types from the first byte alone.
    guard let first = text.utf8.first else {
      self = .null
      return
    }
    switch first {
    case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "-"):
      self = Self.keyword(text) ?? Self.number(text) ?? .string
    case UInt8(ascii: "."):
      self = Self.keyword(text) ?? Self.float(Array(text.utf8)) ?? .string
    case UInt8(ascii: "y"), UInt8(ascii: "Y"), UInt8(ascii: "n"), UInt8(ascii: "N"),
      UInt8(ascii: "t"), UInt8(ascii: "T"), UInt8(ascii: "f"), UInt8(ascii: "F"),
      UInt8(ascii: "o"), UInt8(ascii: "O"), UInt8(ascii: "~"):
      self = Self.keyword(text) ?? .string
    default:
      self = .string
    }
  }

  /// go-yaml v2's table of words with a fixed meaning.
  private static func keyword(_ text: String) -> ResolvedScalar? {
    // Every keyword is at most 5 bytes long: skip the string comparisons for ordinary words.
    guard text.utf8.count <= 5 else { return nil }
    switch text {
    case "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON":
      return .bool(true)
    case "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF":
      return .bool(false)
    case "~", "null", "Null", "NULL":
      return .null
    case ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
      "-.Inf",
      "-.INF":
      return .nonFiniteFloat
    default:
      return nil
    }
  }

  /// An integer (Go `ParseInt(s, 0, 64)` / `ParseUint` syntax) or float, after dropping `_`.
  private static func number(_ text: String) -> ResolvedScalar? {
    let digits = text.utf8.filter { $0 != UInt8(ascii: "_") }
    return integer(digits) ?? float(digits)
  }

  private static func integer(_ bytes: [UInt8]) -> ResolvedScalar? {
    var index = 0
    var negative = false
    if let sign = bytes.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
      negative = sign == UInt8(ascii: "-")
      index = 1
    }
    var radix: UInt64 = 10
    if index + 1 < bytes.count, bytes[index] == UInt8(ascii: "0") {
      switch bytes[index + 1] | 0x20 {  // ASCII lowercase
      case UInt8(ascii: "x"): (radix, index) = (16, index + 2)
      case UInt8(ascii: "o"): (radix, index) = (8, index + 2)
      case UInt8(ascii: "b"): (radix, index) = (2, index + 2)
      default: (radix, index) = (8, index + 1)  // a leading zero means octal
      }
    }
    guard index < bytes.count else { return nil }
    var magnitude: UInt64 = 0
    for byte in bytes[index...] {
      guard let digit = digitValue(byte), digit < radix else { return nil }
      let (shifted, overflow1) = magnitude.multipliedReportingOverflow(by: radix)
      let (sum, overflow2) = shifted.addingReportingOverflow(digit)
      if overflow1 || overflow2 { return nil }
      magnitude = sum
    }
    if negative {
      guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
      return .integer(magnitude == 0 ? "0" : "-\(magnitude)")
    }
    return .integer(String(magnitude))
  }

  private static func digitValue(_ byte: UInt8) -> UInt64? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt64(byte - UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt64(byte - UInt8(ascii: "a") + 10)
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt64(byte - UInt8(ascii: "A") + 10)
    default: return nil
    }
  }

  /// go-yaml's float syntax `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, finite values
  /// only, rewritten as JSON number text (no `+`, no leading zeros, digits around the dot).
  private static func float(_ bytes: [UInt8]) -> ResolvedScalar? {
    var index = 0
    func digitRun() -> ArraySlice<UInt8> {
      let start = index
      while index < bytes.count, bytes[index] >= UInt8(ascii: "0"),
        bytes[index] <= UInt8(ascii: "9")
      {
        index += 1
      }
      return bytes[start..<index]
    }
    var json: [UInt8] = []
    json.reserveCapacity(bytes.count + 2)
    if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
      if bytes[index] == UInt8(ascii: "-") { json.append(UInt8(ascii: "-")) }
      index += 1
    }
    let whole = digitRun()
    var fraction: ArraySlice<UInt8> = []
    if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
      index += 1
      fraction = digitRun()
      if whole.isEmpty && fraction.isEmpty { return nil }
    } else if whole.isEmpty {
      return nil
    }
    let significant = whole.drop(while: { $0 == UInt8(ascii: "0") })
    json.append(contentsOf: significant.isEmpty ? [UInt8(ascii: "0")] : Array(significant))
    if !fraction.isEmpty {
      json.append(UInt8(ascii: "."))
      json.append(contentsOf: fraction)
    }
    if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
      json.append(bytes[index])
      index += 1
      if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
        json.append(bytes[index])
        index += 1
      }
      let exponent = digitRun()
      if exponent.isEmpty { return nil }
      json.append(contentsOf: exponent)
    }
    guard index == bytes.count else { return nil }
    let text = String(decoding: json, as: UTF8.self)
    // go-yaml rejects what overflows a float64 (ParseFloat's range error), so it stays a string.
    guard let value = Double(text), value.isFinite else { return nil }
    return .float(text)
  }
}
