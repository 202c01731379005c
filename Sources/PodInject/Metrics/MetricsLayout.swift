/// The fixed layout of the metrics file: where each counter lives, in 64-bit words. Every vocabulary a
/// label can take is listed here, so the file's size and the number of series are bounded whatever the
/// config or the pods say.
///
/// ```
/// word 0    magic "PIMETRIC"        word 4  config state (0 unknown, 1 valid, 2 invalid)
/// word 1    layout version          word 5  last config load, Unix milliseconds
/// word 2    file size in bytes      word 6-7 reserved
/// word 3    created, Unix seconds
/// word 8-   fixed counters (admissions, refusals, duration histogram, Events)
/// byte 1024- rule slots: state, name (64 bytes), one counter per rule outcome
/// ```
public enum MetricsLayout {
  /// "PIMETRIC", little-endian.
  public static let magic: UInt64 = 0x4349_5254_454D_4950
  public static let version: UInt64 = 1
  static let magicWord = 0
  static let versionWord = 1
  static let sizeWord = 2
  static let createdWord = 3
  static let configStateWord = 4
  static let configLoadWord = 5

  /// The operations an AdmissionRequest can carry, and one for anything else.
  public static let operations = ["CREATE", "UPDATE", "DELETE", "CONNECT", "other"]
  /// What an answered admission decided.
  public static let results = ["allowed", "denied"]
  /// The HTTP statuses podinject refuses input with (SPEC §6); 500 stands for any other.
  public static let refusalCodes = [400, 405, 411, 413, 415, 500]
  /// Upper bounds of the admission duration histogram, in seconds.
  public static let durationBuckets: [Double] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
  ]
  /// What became of Events.
  public static let eventResults = ["sent", "aggregated", "spooled", "dropped", "rejected"]
  /// A rule's outcomes, as `(outcome, reason)`; an applied rule has no reason.
  public static let ruleOutcomes: [(outcome: String, reason: String)] =
    [("applied", "")] + [SkipReason.alreadyInjected, .optedOut].map { ("skipped", $0.rawValue) }
    + [FailureReason.templateValueMissing, .conflict, .invalidValue, .unpatchablePod, .configInvalid].map {
      ("failed", $0.rawValue)
    }

  // The word offsets are integer literals and sums of them, not counts of the arrays above: an
  // admission then never builds those arrays (MetricsTests checks that both agree).
  static let operationCount = 5
  static let resultCount = 2
  static let refusalCount = 6
  static let bucketCount = 13
  static let eventResultCount = 5
  static let outcomeCount = 8

  static let admissionsWord = 8
  static let refusalsWord = admissionsWord + operationCount * resultCount
  /// One word per bucket (not cumulative) and one past the last for +Inf, then the sum in microseconds.
  static let durationWord = refusalsWord + refusalCount
  static let durationSumWord = durationWord + bucketCount + 1
  static let eventsWord = durationSumWord + 1
  static let fixedEnd = eventsWord + eventResultCount

  /// Rule names are DNS-1123 labels (at most 63 bytes); `*` stands for an unusable config.
  public static let ruleNameBytes = 64
  /// How many distinct rule names the file keeps; later ones count under `overflowRule`.
  public static let ruleSlots = 64
  /// The label of the last slot, which takes every rule past `ruleSlots` (not a DNS label: no rule has it).
  public static let overflowRule = "_overflow"
  static let rulesByte = 1024
  static let slotWords = 1 + ruleNameBytes / 8 + outcomeCount
  static let slotStateFree: UInt64 = 0
  static let slotStateClaimed: UInt64 = 1
  static let slotStateReady: UInt64 = 2

  /// The file's size: a whole number of pages, whatever the config holds.
  public static let size = (rulesByte + (ruleSlots + 1) * slotWords * 8 + 4095) / 4096 * 4096

  /// The word of a rule outcome's counter, or nil for an unknown one.
  static func outcomeIndex(_ outcome: RuleTrace.Outcome) -> Int? {
    switch outcome {
    case .notMatched: return nil
    case .applied: return 0
    case .skipped(let reason): return reason == .alreadyInjected ? 1 : 2
    case .failed(let failure): return failureIndex(failure.reason)
    }
  }

  static func failureIndex(_ reason: FailureReason) -> Int {
    switch reason {
    case .templateValueMissing: return 3
    case .conflict: return 4
    case .invalidValue: return 5
    case .unpatchablePod: return 6
    case .configInvalid: return 7
    }
  }
}
