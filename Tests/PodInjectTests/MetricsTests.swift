import Glibc
import Testing

@testable import PodInject

/// The metrics: the exposition text (a pure function of a snapshot) and the shared counter file.
struct MetricsTests {
  static let extras = MetricsExposition.Extras(outboxDepth: 2, version: "1.2.3")

  static func snapshot() -> MetricsSnapshot {
    var snapshot = MetricsSnapshot()
    snapshot.created = 1_700_000_000
    snapshot.configValid = true
    snapshot.configLoadMilliseconds = 1_700_000_123_045
    snapshot.admissions[0][0] = 5
    snapshot.admissions[0][1] = 1
    snapshot.refusals[0] = 2
    snapshot.durationBuckets[2] = 3
    snapshot.durationBuckets[4] = 1
    snapshot.durationBuckets[MetricsLayout.durationBuckets.count] = 1
    snapshot.durationSumMicroseconds = 12_000_500
    snapshot.events = [1, 2, 3, 4, 5]
    snapshot.add(rule: "tracing", counts: [4, 1, 0, 1, 0, 0, 0, 0])
    return snapshot
  }

  @Test func prometheusTextShowsEveryFamilyWithItsType() {
    let text = MetricsExposition.render(Self.snapshot(), extras: Self.extras, format: .prometheus)
    let lines = Set(text.split(separator: "\n").map(String.init))
    for line in [
      "# TYPE podinject_admissions_total counter",
      #"podinject_admissions_total{operation="CREATE",result="allowed",code="200"} 5"#,
      #"podinject_admissions_total{operation="CREATE",result="denied",code="403"} 1"#,
      #"podinject_admissions_total{operation="unknown",result="refused",code="400"} 2"#,
      "# TYPE podinject_admission_duration_seconds histogram",
      #"podinject_admission_duration_seconds_bucket{le="0.001"} 0"#,
      #"podinject_admission_duration_seconds_bucket{le="0.005"} 3"#,
      #"podinject_admission_duration_seconds_bucket{le="0.025"} 4"#,
      #"podinject_admission_duration_seconds_bucket{le="10.0"} 4"#,
      #"podinject_admission_duration_seconds_bucket{le="+Inf"} 5"#,
      "podinject_admission_duration_seconds_sum 12.000500",
      "podinject_admission_duration_seconds_count 5",
      #"podinject_rule_outcomes_total{rule="tracing",outcome="applied"} 4"#,
      #"podinject_rule_outcomes_total{rule="tracing",outcome="skipped",reason="AlreadyInjected"} 1"#,
      #"podinject_rule_outcomes_total{rule="tracing",outcome="failed",reason="TemplateValueMissing"} 1"#,
      #"podinject_events_total{result="sent"} 1"#,
      #"podinject_events_total{result="rejected"} 5"#,
      "podinject_events_outbox_depth 2",
      "podinject_config_valid 1",
      "podinject_config_last_load_timestamp_seconds 1700000123.045",
      "podinject_metrics_created_timestamp_seconds 1700000000",
      "# TYPE podinject_build_info gauge",
      #"podinject_build_info{version="1.2.3"} 1"#,
    ] {
      #expect(lines.contains(line), "missing: \(line)")
    }
    #expect(!text.contains("# EOF"))
  }

  @Test func openMetricsNamesCounterFamiliesWithoutTotalAndEnds() {
    let text = MetricsExposition.render(Self.snapshot(), extras: Self.extras, format: .openMetrics)
    #expect(text.contains("# TYPE podinject_admissions counter\n"))
    #expect(text.contains("# TYPE podinject_events counter\n"))
    #expect(text.contains("# TYPE podinject_build info\n"))
    #expect(text.contains(#"podinject_events_total{result="sent"} 1"#))
    #expect(text.hasSuffix("# EOF\n"))
  }

  @Test func acceptHeaderChoosesTheFormat() {
    #expect(MetricsExposition.Format.negotiate(accept: nil) == .prometheus)
    #expect(MetricsExposition.Format.negotiate(accept: "text/plain;version=0.0.4") == .prometheus)
    let prometheus = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    #expect(MetricsExposition.Format.negotiate(accept: prometheus) == .openMetrics)
  }

  @Test func labelValuesAreEscaped() {
    #expect(MetricsExposition.escape(#"a"b\c"# + "\nd") == #"a\"b\\c\nd"#)
  }

  @Test func anUnknownConfigStateShowsNoConfigSeries() {
    var snapshot = Self.snapshot()
    snapshot.configValid = nil
    let text = MetricsExposition.render(
      snapshot, extras: .init(outboxDepth: nil, version: "1"), format: .prometheus)
    #expect(!text.contains("podinject_config_valid"))
    #expect(!text.contains("podinject_events_outbox_depth"))
  }

  @Test func decimalKeepsEveryDigit() {
    #expect(MetricsExposition.decimal(0, scale: 1000) == "0.000")
    #expect(MetricsExposition.decimal(1_000_001, scale: 1_000_000) == "1.000001")
  }

  @Test func layoutCountsAgreeWithTheVocabularies() {
    #expect(MetricsLayout.operationCount == MetricsLayout.operations.count)
    #expect(MetricsLayout.resultCount == MetricsLayout.results.count)
    #expect(MetricsLayout.refusalCount == MetricsLayout.refusalCodes.count)
    #expect(MetricsLayout.bucketCount == MetricsLayout.durationBuckets.count)
    #expect(MetricsLayout.eventResultCount == MetricsLayout.eventResults.count)
    #expect(MetricsLayout.outcomeCount == MetricsLayout.ruleOutcomes.count)
    #expect(MetricsLayout.fixedEnd * 8 <= MetricsLayout.rulesByte)
    #expect(MetricsLayout.size == 12288)
  }

  // MARK: The file

  static func withFile(_ body: (String) throws -> Void) throws {
    try OutboxTests.withTemporaryDirectory { directory in
      chmod(directory, 0o700)
      try body(directory + "/metrics")
    }
  }

  static let now = Timestamp(secondsSinceEpoch: 1_800_000_000)

  @Test func countsSurviveReopeningAndAreSharedBetweenMappings() throws {
    try Self.withFile { path in
      let first = try MetricsFile.open(path, now: Self.now)
      let second = try MetricsFile.open(path, now: Self.now)
      #expect(first.note == nil && second.note == nil)
      first.add(MetricsLayout.eventsWord, 2)
      second.add(MetricsLayout.eventsWord, 3)
      #expect(first.snapshot().events[0] == 5)
      #expect(try MetricsFile.open(path, now: Self.now).snapshot().created == 1_800_000_000)
    }
  }

  @Test func aRuleKeepsOneSlotAndTheTableOverflowsIntoOneLabel() throws {
    try Self.withFile { path in
      let file = try MetricsFile.open(path, now: Self.now)
      let tracing = file.ruleCounters("tracing")
      #expect(file.ruleCounters("tracing") == tracing)
      for index in 0..<(MetricsLayout.ruleSlots + 10) { file.add(file.ruleCounters("rule-\(index)")) }
      let rules = file.snapshot().rules
      #expect(rules.count == MetricsLayout.ruleSlots + 1)
      #expect(rules.last?.name == MetricsLayout.overflowRule)
      #expect(rules.last?.counts[0] == 11)
      var info = stat()
      stat(path, &info)
      #expect(Int(info.st_size) == MetricsLayout.size)
    }
  }

  @Test(arguments: ["garbage", "wrong size", "symlink", "directory", "open to others"])
  func aFileThatIsNotOursIsReplacedAndSaidSo(_ kind: String) throws {
    try Self.withFile { path in
      switch kind {
      case "garbage":
        let bytes = [UInt8](repeating: 0x41, count: MetricsLayout.size)
        _ = LocalFiles.writeAtomically(bytes, to: path, temporary: path + ".t")
      case "wrong size":
        _ = LocalFiles.writeAtomically([1, 2, 3], to: path, temporary: path + ".t")
      case "symlink":
        symlink("/etc/passwd", path)
      case "directory":
        mkdir(path, 0o700)
      default:
        _ = try MetricsFile.open(path, now: Self.now)
        chmod(path, 0o666)
      }
      if kind == "directory" {
        // A directory cannot be renamed over by a file: it is refused, and nothing is counted.
        #expect(throws: FileError.self) { try MetricsFile.open(path, now: Self.now) }
        rmdir(path)
        return
      }
      let file = try MetricsFile.open(path, now: Self.now)
      #expect(file.note?.contains("replaced") == true)
      file.add(MetricsLayout.eventsWord)
      #expect(try MetricsFile.open(path, now: Self.now).snapshot().events[0] == 1)
      var info = stat()
      lstat(path, &info)
      #expect((info.st_mode & S_IFMT) == S_IFREG && info.st_mode & 0o077 == 0)
      #expect(LocalFiles.names(in: "/etc").contains("passwd"))
    }
  }

  @Test func aSymbolicLinkOnTheWayIsNeverFollowed() throws {
    try Self.withFile { path in
      let directory = String(path.dropLast("/metrics".count))
      mkdir(directory + "/real", 0o700)
      symlink(directory + "/real", directory + "/link")
      #expect(throws: FileError.self) { try MetricsFile.open(directory + "/link/metrics", now: Self.now) }
      #expect(LocalFiles.names(in: directory + "/real").isEmpty)
      unlink(directory + "/link")
      rmdir(directory + "/real")
    }
  }

  @Test func theDefaultPlaceIsTheRunDirectoryElseMemory() {
    #expect(MetricsFile.path(environment: { $0 == "PODINJECT_METRICS_FILE" ? "" : nil }) == nil)
    #expect(MetricsFile.path(environment: { $0 == "PODINJECT_METRICS_FILE" ? "/x/m" : "/run" }) == "/x/m")
    #expect(MetricsFile.path(environment: { $0 == "PODINJECT_RUN_DIR" ? "/run/p" : nil }) == "/run/p/metrics")
    let fallback = MetricsFile.path(environment: { _ in nil }) ?? ""
    #expect(fallback.hasSuffix("/podinject-\(geteuid())/metrics"))
  }
}
