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
  public var rfc3339: String { dateTime + "Z" }

  /// `metav1.MicroTime`: exactly six fractional digits, `2026-11-29T05:19:29.123456Z`.
  public var microTime: String {
    let digits = String(microseconds)
    return dateTime + "." + String(repeating: "0", count: max(0, 6 - digits.count)) + digits + "Z"
  }

  /// The calendar date and time of day, from days since the epoch (Howard Hinnant's civil_from_days).
  private var dateTime: String {
    let days = secondsSinceEpoch >= 0 ? secondsSinceEpoch / 86400 : (secondsSinceEpoch - 86399) / 86400
    let secondOfDay = Int(secondsSinceEpoch - days * 86400)
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let dayOfEra = z - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let monthIndex = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
    let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
    let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    func pad(_ value: Int64, _ width: Int) -> String {
      let text = String(value)
      return String(repeating: "0", count: max(0, width - text.count)) + text
    }
    let hms = Int64(secondOfDay)
    return
      "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(hms / 3600, 2)):\(pad(hms / 60 % 60, 2)):\(pad(hms % 60, 2))"
  }
}
