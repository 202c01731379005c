import Glibc
import Testing

@testable import PodInject

/// The outbox: one file per Event, written atomically, bounded (SPEC §5).
struct OutboxTests {
  /// A fresh directory under /tmp, removed with its files when `body` returns.
  static func withTemporaryDirectory(_ body: (String) throws -> Void) throws {
    var template = Array("/tmp/podinject-outbox-test-XXXXXX".utf8CString)
    let directory = try #require(
      template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }.map {
        String(cString: $0)
      })
    defer {
      for name in Self.allNames(in: directory) { unlink(directory + "/" + name) }
      rmdir(directory)
    }
    try body(directory)
  }

  /// Every name in `directory` but `.` and `..`, dot-files included.
  static func allNames(in directory: String) -> [String] {
    LocalFiles.names(in: directory).sorted()
  }

  static func entry(rule: String, api: EventAPI = .coreV1) -> OutboxEntry {
    OutboxEntry(
      api: api,
      event: InjectionEvent(
        reason: .injectionFailed, rule: rule, failure: .conflict,
        regarding: InjectionEventTests.replicaSet,
        note: "rule \"\(rule)\" failed", time: Fixture.now,
        reportingController: "podinject.dev/webhook",
        reportingInstance: "podinject-0"))
  }

  @Test func spoolWritesOneParseableFilePerEntry() throws {
    try Self.withTemporaryDirectory { directory in
      let outbox = Outbox(directory: directory)
      let entries = [
        Self.entry(rule: "a"), Self.entry(rule: "b", api: .eventsV1), Self.entry(rule: "a"),
      ]
      let count = outbox.spool(entries, now: Fixture.now)
      #expect(count.spooled == 3)
      #expect(count.dropped == 0)
      #expect(count.errors.isEmpty)
      let names = Self.allNames(in: directory)
      #expect(names.count == 3)
      #expect(names.allSatisfy { !$0.hasPrefix(".") && $0.hasSuffix(".json") }, "\(names)")
      #expect(outbox.pendingFiles().sorted() == names)
      var rules: [String] = []
      for name in names {
        let file = try JSONParser.parse(TestFiles.read(directory + "/" + name))
        let rule = try #require(file["rule"]?.stringValue)
        rules.append(rule)
        let expected = entries.first {
          $0.event.rule == rule && file["api"] == .string($0.api.rawValue)
        }
        #expect(file == expected?.json)
        #expect(file["name"] == file["event"]?["metadata"]?["name"])
        #expect(file["namespace"] == "team-a")
      }
      #expect(rules.sorted() == ["a", "a", "b"])
    }
  }

  @Test func spoolCreatesTheDirectoryAndItsParents() throws {
    try Self.withTemporaryDirectory { directory in
      let nested = directory + "/spool/outbox"
      let count = Outbox(directory: nested).spool([Self.entry(rule: "a")], now: Fixture.now)
      #expect(count.spooled == 1)
      #expect(Self.allNames(in: nested).count == 1)
      for name in Self.allNames(in: nested) { unlink(nested + "/" + name) }
      rmdir(nested)
      rmdir(directory + "/spool")
    }
  }

  @Test func spoolingNothingTouchesNothing() throws {
    try Self.withTemporaryDirectory { directory in
      let count = Outbox(directory: directory + "/never").spool([], now: Fixture.now)
      #expect(count == SpoolCount())
      #expect(Self.allNames(in: directory).isEmpty)
    }
  }

  @Test func anUnwritableDirectoryIsReportedNotThrown() {
    let count = Outbox(directory: "/proc/podinject-outbox").spool(
      [Self.entry(rule: "a")], now: Fixture.now)
    #expect(count.spooled == 0)
    #expect(!count.errors.isEmpty)
  }

  @Test func overCapacityTheOldestAreDroppedAndCounted() throws {
    try Self.withTemporaryDirectory { directory in
      let outbox = Outbox(directory: directory, capacity: 3)
      let early = Timestamp(secondsSinceEpoch: 1_795_929_000, microseconds: 999_999)
      let later = Timestamp(secondsSinceEpoch: 1_795_929_001, microseconds: 5)
      let latest = Timestamp(secondsSinceEpoch: 1_795_929_001, microseconds: 40)
      #expect(
        outbox.spool([Self.entry(rule: "old-1"), Self.entry(rule: "old-2")], now: early).dropped
          == 0)
      #expect(outbox.spool([Self.entry(rule: "mid")], now: later).dropped == 0)
      let count = outbox.spool([Self.entry(rule: "new-1"), Self.entry(rule: "new-2")], now: latest)
      #expect(count.spooled == 2)
      #expect(count.dropped == 2)
      let pending = outbox.pendingFiles()
      #expect(pending.count == 3)
      let rules = try pending.map {
        try JSONParser.parse(TestFiles.read(directory + "/" + $0))["rule"]?.stringValue ?? ""
      }
      #expect(rules == ["mid", "new-1", "new-2"])
    }
  }

  @Test func pendingFilesIgnoresFilesBeingWritten() throws {
    try Self.withTemporaryDirectory { directory in
      let outbox = Outbox(directory: directory)
      _ = outbox.spool([Self.entry(rule: "a")], now: Fixture.now)
      #expect(
        LocalFiles.writeAtomically(
          Array("{}".utf8), to: directory + "/.partial.tmp", temporary: directory + "/.t") == nil)
      #expect(outbox.pendingFiles().count == 1)
    }
  }
}
