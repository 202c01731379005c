/// What podinject's edges need from the process around them: a clock, the environment, a few files
/// and a detached spawn. `SystemHost` is the real one; tests pass a fake, so that configuration
/// caching and Event handoff run without a process, a clock or a spawn.
public protocol Host {
  /// The current time from the real-time clock.
  func now() -> Timestamp
  /// A monotonic reading in milliseconds, for budgets and durations.
  func monotonicMilliseconds() -> Double
  /// Waits `milliseconds` (nothing when zero or less).
  func pause(milliseconds: Int)
  /// An environment variable, nil when unset.
  func environment(_ name: String) -> String?
  /// Every `NAME=value` entry of the environment, in order.
  func environmentEntries() -> [String]
  /// The machine's host name.
  func hostName() -> String
  /// The effective user id, which names podinject's default private directories.
  var effectiveUserID: UInt32 { get }
  /// This process's id, which names temporary files.
  var processID: Int32 { get }
  /// The whole content of a file.
  func read(_ path: String) throws(FileError) -> [UInt8]
  /// The identity of a file, nil when it cannot be seen.
  func fingerprint(_ path: String) -> FileFingerprint?
  /// Appends `line` and a newline to the file at `path`, creating it; false when it cannot be opened.
  func appendLine(_ line: String, to path: String) -> Bool
  /// Writes `line` and a newline to standard error.
  func logToStandardError(_ line: String)
  /// Starts this executable again, detached (SPEC §1), as `request` says.
  func spawnDetached(_ request: SpawnRequest) -> SpawnOutcome
}

/// A detached run of this executable: its arguments, its whole environment, what it reads on stdin,
/// and a descriptor it inherits as fd 3.
public struct SpawnRequest: Sendable, Equatable {
  public var arguments: [String]
  public var environment: [String]
  /// Written to its stdin through a pipe; nil puts `/dev/null` there.
  public var input: [UInt8]?
  /// A descriptor that becomes its fd 3 (the outbox lock); nil passes none.
  public var passedDescriptor: Int32?

  public init(arguments: [String], environment: [String], input: [UInt8]?, passedDescriptor: Int32?) {
    self.arguments = arguments
    self.environment = environment
    self.input = input
    self.passedDescriptor = passedDescriptor
  }
}

/// Whether a detached process started.
public enum SpawnOutcome: Sendable, Equatable {
  case started(pid: Int32)
  /// No pipe could be made for its input (nothing was started).
  case noPipe(reason: String)
  /// The spawn itself failed.
  case failed(reason: String)
}
