#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// One Event waiting in the outbox: the object to create, and which API takes it.
public struct OutboxEntry: Sendable, Equatable {
  public var api: EventAPI
  public var event: InjectionEvent

  public init(api: EventAPI, event: InjectionEvent) {
    self.api = api
    self.event = event
  }

  /// The file's content: the API, the Event name and namespace, and the body to POST.
  public var json: JSONValue {
    .object(
      JSONObject([
        ("apiVersion", .string(InjectionConfig.apiVersion)), ("kind", "OutboxEntry"), ("api", .string(api.rawValue)),
        ("namespace", .string(event.namespace)), ("name", .string(event.name)),
        ("reason", .string(event.reason.rawValue)), ("rule", .string(event.rule)), ("event", event.body(api: api)),
      ]))
  }
}

/// How many Events one invocation put into the outbox, and how many old ones it had to drop.
public struct SpoolCount: Sendable, Equatable {
  public var spooled = 0
  public var dropped = 0
  public var errors: [String] = []
  public init() {}
}

/// The directory where Events wait until the API server accepts them: one file per occurrence,
/// written under a dot-name and renamed into place so that no reader ever sees half a file.
public struct Outbox: Sendable {
  public var directory: String
  /// The most files kept; the oldest are dropped (and logged) beyond it.
  public var capacity: Int

  public init(directory: String, capacity: Int = 1000) {
    self.directory = directory
    self.capacity = capacity
  }

  /// Writes every entry; failures are counted and described, never thrown: the answer must still go out.
  public func spool(_ entries: [OutboxEntry], now: Timestamp) -> SpoolCount {
    var count = SpoolCount()
    guard !entries.isEmpty else { return count }
    if let problem = makeDirectory(directory) {
      count.errors.append(problem)
      return count
    }
    count.dropped = makeRoom(for: entries.count)
    let pid = getpid()
    for (index, entry) in entries.enumerated() {
      let stem = "\(now.secondsSinceEpoch).\(now.microseconds)-\(pid)-\(index)-\(entry.event.name.suffix(16))"
      let bytes = entry.json.serializedBytes()
      if let problem = writeAtomically(bytes, to: "\(directory)/\(stem).json", temporary: "\(directory)/.\(stem).tmp") {
        count.errors.append(problem)
      } else {
        count.spooled += 1
      }
    }
    return count
  }

  /// The entry files waiting, oldest first (names start with the time they were written).
  public func pendingFiles() -> [String] {
    guard let handle = opendir(directory) else { return [] }
    defer { closedir(handle) }
    var names: [String] = []
    while let entry = readdir(handle) {
      let name = withUnsafePointer(to: entry.pointee.d_name) {
        $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
      }
      if !name.hasPrefix("."), name.hasSuffix(".json") { names.append(name) }
    }
    return names.sorted { OutboxName.order($0) < OutboxName.order($1) }
  }

  /// Deletes the oldest entries so that `incoming` more fit; returns how many were dropped.
  private func makeRoom(for incoming: Int) -> Int {
    let pending = pendingFiles()
    let excess = pending.count + incoming - capacity
    guard excess > 0 else { return 0 }
    var dropped = 0
    for name in pending.prefix(excess) where unlink("\(directory)/\(name)") == 0 { dropped += 1 }
    return dropped
  }
}

/// Sorting key of an outbox file name: `<seconds>.<microseconds>-...`.
enum OutboxName {
  static func order(_ name: String) -> (Int64, Int, String) {
    let time = name.prefix { $0 != "-" }.split(separator: ".")
    let seconds = time.first.flatMap { Int64($0) } ?? 0
    let micros = time.count > 1 ? Int(time[1]) ?? 0 : 0
    return (seconds, micros, name)
  }
}

/// Creates `path` and its parents (mode 0700); nil on success, else why not.
func makeDirectory(_ path: String) -> String? {
  var current = path.hasPrefix("/") ? "" : "."
  for part in path.split(separator: "/") {
    current += "/" + part
    if mkdir(current, 0o700) != 0 && errno != EEXIST {
      return "cannot create \(current): \(String(cString: strerror(errno)))"
    }
  }
  return nil
}

/// Writes `bytes` to `temporary`, flushes it, and renames it to `path`; nil on success, else why not.
func writeAtomically(_ bytes: [UInt8], to path: String, temporary: String) -> String? {
  let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
  guard fd >= 0 else { return "cannot write \(temporary): \(String(cString: strerror(errno)))" }
  var written = 0
  while written < bytes.count {
    let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    if n < 0 && errno == EINTR { continue }
    guard n > 0 else {
      let problem = "cannot write \(temporary): \(String(cString: strerror(errno)))"
      close(fd)
      unlink(temporary)
      return problem
    }
    written += n
  }
  close(fd)
  guard rename(temporary, path) == 0 else {
    let problem = "cannot rename into \(path): \(String(cString: strerror(errno)))"
    unlink(temporary)
    return problem
  }
  return nil
}
