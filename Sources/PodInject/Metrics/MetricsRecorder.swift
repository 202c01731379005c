#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// What the admission path and the Event deliverer count, in one line each at their call sites. Counting
/// never fails an admission: without a usable metrics file nothing is counted, and `notes` says why.
public final class MetricsRecorder {
  /// The file counted into; nil when metrics are off or the file could not be opened.
  public let file: MetricsFile?
  /// Lines for the log: a file replaced, or why none could be used.
  public private(set) var notes: [String] = []

  init(file: MetricsFile?, notes: [String]) {
    self.file = file
    self.notes = notes
  }

  nonisolated(unsafe) private static var opened: MetricsRecorder?

  /// This process's recorder: the metrics file of `MetricsFile.path(environment:)`, opened on first use.
  public static func shared(environment: (String) -> String?, now: Timestamp) -> MetricsRecorder {
    if let opened { return opened }
    var notes: [String] = []
    var file: MetricsFile?
    if let path = MetricsFile.path(environment: environment) {
      do {
        file = try MetricsFile.open(path, now: now)
        if let note = file?.note { notes.append(note) }
      } catch {
        notes.append("metrics not counted: \(error)")
      }
    }
    let recorder = MetricsRecorder(file: file, notes: notes)
    opened = recorder
    return recorder
  }

  /// An answered admission: its operation and result, each rule's outcome, its duration, the config load.
  public func review(_ result: ReviewResult, config: ConfigLoad, durationMs: Double, now: Timestamp) {
    guard let file else { return }
    let operation: Int
    switch result.request.operation {
    case "CREATE": operation = 0
    case "UPDATE": operation = 1
    case "DELETE": operation = 2
    case "CONNECT": operation = 3
    default: operation = 4
    }
    file.add(MetricsLayout.admissionsWord + operation * MetricsLayout.resultCount + (result.response.allowed ? 0 : 1))
    for trace in result.traces {
      // A refused pod keeps none of the changes its rules planned: only their failures and skips count.
      guard let outcome = MetricsLayout.outcomeIndex(trace.outcome), outcome != 0 || result.response.allowed else {
        continue
      }
      file.add(file.ruleCounters(trace.rule) + outcome)
    }
    // A config that could not be used fails no traced rule, but stands for every rule (`*`).
    if case .failure = config, let failure = result.failures.first(where: { $0.rule == "*" }) {
      file.add(file.ruleCounters("*") + MetricsLayout.failureIndex(failure.reason))
    }
    let seconds = max(0, durationMs) / 1000
    let bucket = MetricsLayout.durationBuckets.firstIndex { seconds <= $0 } ?? MetricsLayout.bucketCount
    file.add(MetricsLayout.durationWord + bucket)
    file.add(MetricsLayout.durationSumWord, UInt64(max(0, durationMs) * 1000))
    loaded(config, now: now)
  }

  /// A configuration load: whether it can be used, and when.
  public func loaded(_ config: ConfigLoad, now: Timestamp) {
    guard let file else { return }
    // A pattern, not `usable == nil`, which copies the whole config into an optional to compare it.
    let valid: Bool
    if case .success = config { valid = true } else { valid = false }
    file.store(MetricsLayout.configStateWord, valid ? 1 : 2)
    let milliseconds = max(0, now.secondsSinceEpoch) * 1000 + Int64(now.microseconds / 1000)
    file.store(MetricsLayout.configLoadWord, UInt64(milliseconds))
  }

  /// A request refused before any review was read (SPEC §6), by the HTTP status it got.
  public func refused(status: Int) {
    guard let file else { return }
    let index = MetricsLayout.refusalCodes.firstIndex(of: status) ?? MetricsLayout.refusalCount - 1
    file.add(MetricsLayout.refusalsWord + index)
  }

  /// Events of one admission written to the outbox, and older ones dropped to make room.
  public func spooled(_ spooled: Int, dropped: Int) {
    add(event: 2, spooled)
    add(event: 3, dropped)
  }

  /// What one delivery run achieved.
  public func delivered(sent: Int, aggregated: Int, rejected: Int, dropped: Int) {
    add(event: 0, sent)
    add(event: 1, aggregated)
    add(event: 4, rejected)
    add(event: 3, dropped)
  }

  /// Gives each rule of `config` its slot, so its series show (as zero) before its first admission.
  public func register(_ config: ConfigLoad) {
    guard let file, let usable = config.usable else { return }
    for rule in usable.rules { _ = file.ruleCounters(rule.name) }
  }

  /// The exposition text of the counters now; nil when there is no metrics file.
  public func exposition(format: MetricsExposition.Format, outboxDepth: Int?) -> String? {
    guard let file else { return nil }
    return MetricsExposition.render(
      file.snapshot(), extras: .init(outboxDepth: outboxDepth, version: PodInjectVersion.current), format: format)
  }

  /// Adds `count` to the Events counter at `index` of `MetricsLayout.eventResults`.
  private func add(event index: Int, _ count: Int) {
    guard let file, count > 0 else { return }
    file.add(MetricsLayout.eventsWord + index, UInt64(count))
  }
}
