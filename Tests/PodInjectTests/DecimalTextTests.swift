import Testing

@testable import PodInject

/// Integers written digit by digit (`Int.decimalText`) and the log line's milliseconds.
struct DecimalTextTests {
  /// Every digit count, both signs, and the ends of `Int`.
  static let numbers: [Int] = {
    var numbers = [0, 1, -1, 9, 10, -10, 99, 100, 12_345, -987_654_321, .max, .min, .max - 1, .min + 1]
    var power = 1
    for _ in 0..<18 {
      power *= 10
      numbers += [power - 1, power, power + 1, -power, -(power - 1)]
    }
    return numbers
  }()

  @Test(arguments: numbers)
  func writesWhatTheStandardLibraryWrites(number: Int) {
    #expect(number.decimalText == String(number))
  }

  @Test(arguments: [
    (0.0, "0.000"), (0.0004, "0.000"), (0.0005, "0.001"), (1.25, "1.250"), (12.3456, "12.346"),
    (99.9999, "100.000"), (1000.0, "1000.000"), (0.05, "0.050"), (7.007, "7.007"),
  ])
  func millisecondsHaveThreeDecimals(milliseconds: Double, text: String) {
    #expect(LogLine.formatMilliseconds(milliseconds) == text)
  }

  @Test func aNegativeDurationIsZero() {
    #expect(LogLine.formatMilliseconds(-0.005) == "0.000")
  }
}
