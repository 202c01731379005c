/// The counters of a metrics file at one moment, decoded from its words (`MetricsLayout`).
public struct MetricsSnapshot: Sendable, Equatable {
  /// When the file was made, Unix seconds.
  public var created: UInt64 = 0
  /// Whether the last configuration load succeeded; nil when none was recorded.
  public var configValid: Bool?
  /// When the configuration was last loaded, Unix milliseconds (0: never).
  public var configLoadMilliseconds: UInt64 = 0
  /// Answered admissions, by operation then result (`MetricsLayout.operations`, `.results`).
  public var admissions: [[UInt64]]
  /// Refused requests, by `MetricsLayout.refusalCodes`.
  public var refusals: [UInt64]
  /// Admission durations per bucket (not cumulative), the last one past the largest bound (+Inf).
  public var durationBuckets: [UInt64]
  public var durationSumMicroseconds: UInt64 = 0
  /// Events by `MetricsLayout.eventResults`.
  public var events: [UInt64]
  /// Rule outcome counters (`MetricsLayout.ruleOutcomes`) by rule name, in the order first seen.
  public var rules: [(name: String, counts: [UInt64])]

  /// All zero.
  public init() {
    admissions = Array(
      repeating: Array(repeating: 0, count: MetricsLayout.results.count), count: MetricsLayout.operations.count)
    refusals = Array(repeating: 0, count: MetricsLayout.refusalCodes.count)
    durationBuckets = Array(repeating: 0, count: MetricsLayout.durationBuckets.count + 1)
    events = Array(repeating: 0, count: MetricsLayout.eventResults.count)
    rules = []
  }

  /// Decodes the words of a metrics file (whose header was checked when it was opened).
  init(words: [UInt64]) {
    self.init()
    created = words[MetricsLayout.createdWord]
    switch words[MetricsLayout.configStateWord] {
    case 1: configValid = true
    case 2: configValid = false
    default: configValid = nil
    }
    configLoadMilliseconds = words[MetricsLayout.configLoadWord]
    for operation in admissions.indices {
      for result in admissions[operation].indices {
        admissions[operation][result] =
          words[MetricsLayout.admissionsWord + operation * MetricsLayout.results.count + result]
      }
    }
    for index in refusals.indices { refusals[index] = words[MetricsLayout.refusalsWord + index] }
    for index in durationBuckets.indices { durationBuckets[index] = words[MetricsLayout.durationWord + index] }
    durationSumMicroseconds = words[MetricsLayout.durationSumWord]
    for index in events.indices { events[index] = words[MetricsLayout.eventsWord + index] }
    let nameWords = MetricsLayout.ruleNameBytes / 8
    for slot in 0...MetricsLayout.ruleSlots {
      let base = MetricsFile.slotWord(slot)
      guard words[base] == MetricsLayout.slotStateReady else { continue }
      var bytes: [UInt8] = []
      for word in words[(base + 1)..<(base + 1 + nameWords)] {
        for shift in stride(from: UInt64(0), to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: word >> shift)) }
      }
      let name = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
      let counts = Array(words[(base + 1 + nameWords)..<(base + MetricsLayout.slotWords)])
      if slot == MetricsLayout.ruleSlots && counts.allSatisfy({ $0 == 0 }) { continue }
      add(rule: name, counts: counts)
    }
  }

  /// Adds `counts` to rule `name` (a rule counted in two slots shows once).
  mutating func add(rule name: String, counts: [UInt64]) {
    if let index = rules.firstIndex(where: { $0.name == name }) {
      for outcome in counts.indices { rules[index].counts[outcome] &+= counts[outcome] }
    } else {
      rules.append((name, counts))
    }
  }

  public static func == (lhs: MetricsSnapshot, rhs: MetricsSnapshot) -> Bool {
    lhs.created == rhs.created && lhs.configValid == rhs.configValid
      && lhs.configLoadMilliseconds == rhs.configLoadMilliseconds && lhs.admissions == rhs.admissions
      && lhs.refusals == rhs.refusals && lhs.durationBuckets == rhs.durationBuckets
      && lhs.durationSumMicroseconds == rhs.durationSumMicroseconds && lhs.events == rhs.events
      && lhs.rules.map(\.name) == rhs.rules.map(\.name) && lhs.rules.map(\.counts) == rhs.rules.map(\.counts)
  }
}
