import PodInject

/// A `Host` for tests: a clock that moves only when told (or when paused), an environment and files
/// held in memory, and spawns that are recorded, never run.
public final class FakeHost: Host {
  public var time: Timestamp
  /// Milliseconds on the monotonic clock; `pause` advances it.
  public var monotonic: Double = 0
  public var variables: [(name: String, value: String)]
  public var files: [String: [UInt8]] = [:]
  /// Fingerprints by path; a path without one cannot be seen.
  public var fingerprints: [String: FileFingerprint] = [:]
  public var host = "node-1"
  public var effectiveUserID: UInt32 = 4242
  public var processID: Int32 = 777
  /// What every spawn returns.
  public var spawnOutcome = SpawnOutcome.started(pid: 31337)
  public private(set) var spawns: [SpawnRequest] = []
  public private(set) var reads: [String] = []
  public private(set) var appended: [(path: String, line: String)] = []
  public private(set) var standardError: [String] = []
  /// Paths `appendLine` cannot open.
  public var unwritable: Set<String> = []

  public init(
    time: Timestamp = Timestamp(secondsSinceEpoch: 1_795_929_569, microseconds: 42),
    environment: [(name: String, value: String)] = []
  ) {
    self.time = time
    variables = environment
  }

  public func now() -> Timestamp { time }
  public func monotonicMilliseconds() -> Double { monotonic }
  public func pause(milliseconds: Int) { monotonic += Double(max(milliseconds, 0)) }
  public func environment(_ name: String) -> String? {
    // Metrics off unless a test sets the file: the process's metrics file is real, not part of the fake.
    variables.last { $0.name == name }?.value ?? (name == "PODINJECT_METRICS_FILE" ? "" : nil)
  }
  public func environmentEntries() -> [String] { variables.map { "\($0.name)=\($0.value)" } }
  public func hostName() -> String { host }

  public func read(_ path: String) throws(FileError) -> [UInt8] {
    reads.append(path)
    guard let bytes = files[path] else {
      throw FileError(path: path, reason: "No such file or directory", missing: true)
    }
    return bytes
  }

  public func fingerprint(_ path: String) -> FileFingerprint? { fingerprints[path] }

  public func appendLine(_ line: String, to path: String) -> Bool {
    guard !unwritable.contains(path) else { return false }
    appended.append((path, line))
    return true
  }

  public func logToStandardError(_ line: String) { standardError.append(line) }

  public func spawnDetached(_ request: SpawnRequest) -> SpawnOutcome {
    spawns.append(request)
    return spawnOutcome
  }

  /// Puts a file at `path` with a fingerprint that says which `version` of it this is.
  public func write(_ text: String, to path: String, version: Int64 = 1) {
    files[path] = Array(text.utf8)
    fingerprints[path] = FileFingerprint(
      device: 1, inode: 2, size: Int64(text.utf8.count),
      modified: Timestamp(secondsSinceEpoch: version, microseconds: 0),
      changed: Timestamp(secondsSinceEpoch: version, microseconds: 0))
  }
}
