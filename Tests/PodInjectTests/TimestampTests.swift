import Testing

@testable import PodInject

struct TimestampTests {
  /// Seconds since the epoch and the instant, as `date -u -d ... +%s` gives them.
  @Test(arguments: [
    (Int64(0), "1970-01-01T00:00:00Z"),
    (1_709_164_800, "2024-02-29T00:00:00Z"),
    (1_709_251_199, "2024-02-29T23:59:59Z"),
    (1_795_929_569, "2026-11-29T05:19:29Z"),
    (951_868_800, "2000-03-01T00:00:00Z"),
    (4_107_587_696, "2100-03-01T12:34:56Z"),
    (253_402_300_799, "9999-12-31T23:59:59Z"),
    (-1, "1969-12-31T23:59:59Z"),
    (-2_208_988_800, "1900-01-01T00:00:00Z"),
  ])
  func formatsKnownInstants(_ seconds: Int64, _ expected: String) {
    #expect(Timestamp(secondsSinceEpoch: seconds).rfc3339 == expected)
  }

  @Test(arguments: [
    (0, "2026-11-29T05:19:29.000000Z"),
    (123, "2026-11-29T05:19:29.000123Z"),
    (5, "2026-11-29T05:19:29.000005Z"),
    (120_000, "2026-11-29T05:19:29.120000Z"),
    (999_999, "2026-11-29T05:19:29.999999Z"),
  ])
  func microTimeHasExactlySixFractionalDigits(_ micros: Int, _ expected: String) {
    let time = Timestamp(secondsSinceEpoch: 1_795_929_569, microseconds: micros)
    #expect(time.microTime == expected)
    #expect(time.rfc3339 == "2026-11-29T05:19:29Z")
  }

  /// Outside what a clock gives, the text is still the plain one (no fixed widths to fit).
  @Test func formatsYearsAndMicrosecondsOutsideTheUsualRange() {
    #expect(Timestamp(secondsSinceEpoch: 253_402_300_800).rfc3339 == "10000-01-01T00:00:00Z")
    #expect(Timestamp(secondsSinceEpoch: 0, microseconds: 1_234_567).microTime == "1970-01-01T00:00:00.1234567Z")
    #expect(Timestamp(secondsSinceEpoch: 253_402_300_799, microseconds: 1).microTime == "9999-12-31T23:59:59.000001Z")
  }

  @Test func ordersBySecondsThenMicroseconds() {
    let a = Timestamp(secondsSinceEpoch: 10, microseconds: 999_999)
    let b = Timestamp(secondsSinceEpoch: 11, microseconds: 0)
    let c = Timestamp(secondsSinceEpoch: 11, microseconds: 1)
    #expect(a < b && b < c)
    #expect(!(c < a))
    #expect([c, a, b].sorted() == [a, b, c])
  }
}
