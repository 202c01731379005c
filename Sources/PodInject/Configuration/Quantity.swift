/// A Kubernetes `resource.Quantity` as the API server parses it (k8s.io/apimachinery/pkg/api/resource):
/// a signed decimal number, then a binary suffix (Ki..Ei), a decimal suffix (m, k, M..E) or an
/// exponent (e3, E-2). Kept as a Double: enough to compare requests with limits and tell the sign.
struct Quantity: Sendable, Equatable {
  var value: Double

  /// Parses `text` as the API server would, or nil when it is not a quantity.
  init?(_ text: String) {
    var bytes = Array(text.utf8)[...]
    guard !bytes.isEmpty, bytes.count <= 64 else { return nil }
    var sign = 1.0
    if let first = bytes.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
      sign = first == UInt8(ascii: "-") ? -1 : 1
      bytes = bytes.dropFirst()
    }
    let digitsEnd = bytes.firstIndex { !(Self.isDigit($0) || $0 == UInt8(ascii: ".")) } ?? bytes.endIndex
    let number = bytes[..<digitsEnd]
    let dots = number.filter { $0 == UInt8(ascii: ".") }.count
    guard dots <= 1, number.contains(where: Self.isDigit),
      let magnitude = Double(String(decoding: number, as: UTF8.self))
    else { return nil }
    guard let multiplier = Self.multiplier(String(decoding: bytes[digitsEnd...], as: UTF8.self)) else { return nil }
    value = sign * magnitude * multiplier
  }

  /// Whether the quantity is a whole number (extended resources must be).
  var isWhole: Bool { value.rounded() == value }

  private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

  /// The factor a suffix stands for, or nil when it is not one.
  private static func multiplier(_ suffix: String) -> Double? {
    switch suffix {
    case "": return 1
    case "m": return 1e-3
    case "k": return 1e3
    case "M": return 1e6
    case "G": return 1e9
    case "T": return 1e12
    case "P": return 1e15
    case "E": return 1e18
    case "Ki": return 0x1p10
    case "Mi": return 0x1p20
    case "Gi": return 0x1p30
    case "Ti": return 0x1p40
    case "Pi": return 0x1p50
    case "Ei": return 0x1p60
    default:
      // An exponent: e or E, an optional sign, then digits.
      var rest = suffix.utf8[...]
      guard let marker = rest.first, marker == UInt8(ascii: "e") || marker == UInt8(ascii: "E") else { return nil }
      rest = rest.dropFirst()
      var negative = false
      if let first = rest.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
        negative = first == UInt8(ascii: "-")
        rest = rest.dropFirst()
      }
      guard !rest.isEmpty, rest.count <= 4, rest.allSatisfy(isDigit),
        let exponent = Int(String(decoding: rest, as: UTF8.self))
      else { return nil }
      return pow10(negative ? -exponent : exponent)
    }
  }

  private static func pow10(_ exponent: Int) -> Double {
    var result = 1.0
    for _ in 0..<abs(exponent) { result *= 10 }
    return exponent < 0 ? 1 / result : result
  }
}
