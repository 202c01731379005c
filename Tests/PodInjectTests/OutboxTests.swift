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

  // MARK: only a private directory is used (issue 12)

  /// A directory another user could have made or can still write: the outbox refuses it, writes nothing
  /// in it and reads nothing from it.
  static let hostileDirectories: [(String, owner: UInt32?, mode: UInt32)] = [
    ("owned by another user", 65534, 0o700),
    ("writable by others", nil, 0o777),
    ("writable by the group", nil, 0o770),
  ]

  @Test(arguments: hostileDirectories)
  func aDirectoryOthersControlIsNeverWrittenNorRead(_ what: String, owner: UInt32?, mode: UInt32) throws {
    try Self.withTemporaryDirectory { directory in
      let outbox = directory + "/outbox"
      #expect(mkdir(outbox, 0o700) == 0)
      #expect(chmod(outbox, mode) == 0)
      if let owner { #expect(chown(outbox, owner, owner) == 0) }
      defer {
        for name in Self.allNames(in: outbox) { unlink(outbox + "/" + name) }
        rmdir(outbox)
      }
      // What another user left there, dressed as an entry.
      let planted = "1795929000.1-1-0-0123456789abcdef.json"
      #expect(
        LocalFiles.writeAtomically(
          Self.entry(rule: "planted").json.serializedBytes(), to: outbox + "/" + planted,
          temporary: outbox + "/.planted.tmp") == nil)
      let count = Outbox(directory: outbox).spool([Self.entry(rule: "a")], now: Fixture.now)
      #expect(count.spooled == 0, "\(what)")
      #expect(count.errors.count == 1, "\(what)")
      #expect(count.errors.first?.contains("refused") == true, "\(what): \(count.errors)")
      #expect(Self.allNames(in: outbox) == [planted], "\(what): something was written")
      #expect(Outbox(directory: outbox).pendingFiles().isEmpty, "\(what): its files were read")
    }
  }

  @Test func aSymlinkedOutboxIsNeverWrittenNorRead() throws {
    try Self.withTemporaryDirectory { directory in
      let target = directory + "/target"
      #expect(mkdir(target, 0o700) == 0)
      let planted = "1795929000.1-1-0-0123456789abcdef.json"
      #expect(
        LocalFiles.writeAtomically(
          Array("{}".utf8), to: target + "/" + planted, temporary: target + "/.planted.tmp") == nil)
      #expect(symlink(target, directory + "/outbox") == 0)
      defer {
        unlink(target + "/" + planted)
        rmdir(target)
        unlink(directory + "/outbox")
      }
      let outbox = Outbox(directory: directory + "/outbox")
      let count = outbox.spool([Self.entry(rule: "a")], now: Fixture.now)
      #expect(count.spooled == 0)
      #expect(count.errors.first?.contains("symbolic link") == true, "\(count.errors)")
      #expect(Self.allNames(in: target) == [planted])
      #expect(outbox.pendingFiles().isEmpty)
    }
  }

  @Test func aSymlinkedParentInAWorldWritableDirectoryIsRefused() throws {
    try Self.withTemporaryDirectory { directory in
      // /tmp-like: writable by everyone; another user's symlink stands where our directory should be.
      let shared = directory + "/shared"
      #expect(mkdir(shared, 0o700) == 0)
      #expect(chmod(shared, 0o1777) == 0)
      let target = directory + "/target"
      #expect(mkdir(target, 0o700) == 0)
      #expect(symlink(target, shared + "/podinject") == 0)
      defer {
        for name in Self.allNames(in: target + "/outbox") { unlink(target + "/outbox/" + name) }
        rmdir(target + "/outbox")
        rmdir(target)
        unlink(shared + "/podinject")
        rmdir(shared)
      }
      let count = Outbox(directory: shared + "/podinject/outbox").spool([Self.entry(rule: "a")], now: Fixture.now)
      #expect(count.spooled == 0)
      #expect(Self.allNames(in: target).isEmpty, "the symlink was followed")
    }
  }

  @Test func inAWorldWritableParentTheOutboxIsMadePrivate() throws {
    try Self.withTemporaryDirectory { directory in
      // An emptyDir: Kubernetes mounts it world-writable (0777, no sticky bit).
      let shared = directory + "/emptydir"
      #expect(mkdir(shared, 0o700) == 0)
      #expect(chmod(shared, 0o777) == 0)
      let outbox = Outbox(directory: shared + "/outbox")
      defer {
        for name in Self.allNames(in: outbox.directory) { unlink(outbox.directory + "/" + name) }
        rmdir(outbox.directory)
        rmdir(shared)
      }
      let count = outbox.spool([Self.entry(rule: "a")], now: Fixture.now)
      #expect(count.spooled == 1, "\(count.errors)")
      var info = stat()
      #expect(lstat(outbox.directory, &info) == 0)
      #expect(info.st_mode & 0o777 == 0o700)
      #expect(info.st_uid == geteuid())
      #expect(outbox.pendingFiles().count == 1)
    }
  }

  @Test func aMissingDirectoryIsMissingNotRefused() throws {
    try Self.withTemporaryDirectory { directory in
      #expect(throws: FileError.self) { try PrivateDirectory.open(directory + "/none", create: false) }
      do throws(FileError) {
        _ = try PrivateDirectory.open(directory + "/none/outbox", create: false)
      } catch {
        #expect(error.missing)
      }
      #expect(chmod(directory, 0o777) == 0)
      do throws(FileError) {
        _ = try PrivateDirectory.open(directory, create: false)
        Issue.record("a world-writable directory was opened")
      } catch {
        #expect(!error.missing)
        #expect(error.description.contains("writable by its group or by others (mode 777)"), "\(error)")
      }
    }
  }

  @Test func theDefaultOutboxIsOnePerUser() {
    #expect(Outbox.defaultDirectory == "/tmp/podinject-\(geteuid())/outbox")
  }

  @Test func aTemporaryFileNeverFollowsASymlink() throws {
    try Self.withTemporaryDirectory { directory in
      let victim = directory + "/victim"
      #expect(LocalFiles.writeAtomically(Array("precious".utf8), to: victim, temporary: directory + "/.v") == nil)
      // Another user guessed the temporary name and put a symlink there.
      #expect(symlink(victim, directory + "/.entry.tmp") == 0)
      _ = LocalFiles.writeAtomically(
        Array("{}".utf8), to: directory + "/entry.json", temporary: directory + "/.entry.tmp")
      #expect(TestFiles.read(victim) == Array("precious".utf8))
    }
  }
}
