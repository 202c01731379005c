/// A UTC instant with microsecond precision, formatted the two ways the Kubernetes API wants.
public struct Timestamp: Sendable, Equatable, Comparable {
  public var secondsSinceEpoch: Int64
  public var microseconds: Int

  public init(secondsSinceEpoch: Int64, microseconds: Int = 0) {
    self.secondsSinceEpoch = secondsSinceEpoch
    self.microseconds = microseconds
  }

  public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
    (lhs.secondsSinceEpoch, lhs.microseconds) < (rhs.secondsSinceEpoch, rhs.microseconds)
  }

  /// `metav1.Time`: `2026-11-29T05:19:29Z`.
  public var rfc3339: String { text(micro: false) }

  /// `metav1.MicroTime`: exactly six fractional digits, `2026-11-29T05:19:29.123456Z`.
  public var microTime: String { text(micro: true) }

  /// The text of `rfc3339` or `microTime`, written digit by digit into one string: every admission's log
  /// line has one, and joining padded integer strings cost 1% of an admission's instructions. Years
  /// outside 0...9999 and microseconds outside 0...999999 (no clock gives them) take the general way.
  private func text(micro: Bool) -> String {
    let date = civil
    let (year, month, day, secondOfDay) = date
    guard (0...9999).contains(year), (0...999_999).contains(microseconds) else {
      guard micro else { return Self.dateTime(date) + "Z" }
      let digits = String(microseconds)
      return Self.dateTime(date) + "." + String(repeating: "0", count: max(0, 6 - digits.count)) + digits + "Z"
    }
    return String(unsafeUninitializedCapacity: micro ? 27 : 20) { out in
      var index = 0
      func put(_ value: Int64, _ width: Int, then separator: UInt8?) {
        var rest = value
        for position in stride(from: index + width - 1, through: index, by: -1) {
          out[position] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: rest % 10)
          rest /= 10
        }
        index += width
        if let separator {
          out[index] = separator
          index += 1
        }
      }
      put(year, 4, then: UInt8(ascii: "-"))
      put(month, 2, then: UInt8(ascii: "-"))
      put(day, 2, then: UInt8(ascii: "T"))
      put(secondOfDay / 3600, 2, then: UInt8(ascii: ":"))
      put(secondOfDay / 60 % 60, 2, then: UInt8(ascii: ":"))
      put(secondOfDay % 60, 2, then: micro ? UInt8(ascii: ".") : nil)
      if micro { put(Int64(microseconds), 6, then: nil) }
      out[index] = UInt8(ascii: "Z")
      return index + 1
    }
  }

  /// The calendar date and the second of the day, from days since the epoch (Howard Hinnant's
  /// civil_from_days).
  private var civil: (year: Int64, month: Int64, day: Int64, secondOfDay: Int64) {
    let days = secondsSinceEpoch >= 0 ? secondsSinceEpoch / 86400 : (secondsSinceEpoch - 86399) / 86400
    let secondOfDay = secondsSinceEpoch - days * 86400
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let dayOfEra = z - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let monthIndex = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
    let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
    let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    return (year, month, day, secondOfDay)
  }

  /// The calendar date and time of day of `civil` the general way, for any year.
  private static func dateTime(_ date: (year: Int64, month: Int64, day: Int64, secondOfDay: Int64)) -> String {
    let (year, month, day, hms) = date
    func pad(_ value: Int64, _ width: Int) -> String {
      let text = String(value)
      return String(repeating: "0", count: max(0, width - text.count)) + text
    }
    return
      "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(hms / 3600, 2)):\(pad(hms / 60 % 60, 2)):\(pad(hms % 60, 2))"
  }
}
