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
        ("reason", .string(event.reason.rawValue)), ("rule", .string(event.rule)), ("note", .string(event.note)),
        ("lastTimestamp", .string(event.time.rfc3339)), ("lastObservedTime", .string(event.time.microTime)),
        ("event", event.body(api: api)),
      ]))
  }
}

/// An outbox file read back: what to create, and how to count it when the Event already exists.
public struct PendingEvent: Sendable, Equatable {
  public var api: EventAPI
  public var namespace: String
  public var name: String
  public var body: JSONValue
  public var note: String
  /// The occurrence time as `metav1.Time` (core/v1 `lastTimestamp`).
  public var lastTimestamp: String
  /// The occurrence time as `metav1.MicroTime` (events.k8s.io/v1 `series.lastObservedTime`).
  public var lastObservedTime: String

  /// Reads an outbox entry; nil when it is not one (it is then set aside, not retried).
  public init?(json: JSONValue) {
    guard json["kind"]?.stringValue == "OutboxEntry",
      let api = json["api"]?.stringValue.flatMap(EventAPI.init(rawValue:)), api != .none,
      let namespace = json["namespace"]?.stringValue, let name = json["name"]?.stringValue,
      let body = json["event"], body.objectValue != nil
    else { return nil }
    self.api = api
    self.namespace = namespace
    self.name = name
    self.body = body
    note = json["note"]?.stringValue ?? ""
    lastTimestamp = json["lastTimestamp"]?.stringValue ?? ""
    lastObservedTime = json["lastObservedTime"]?.stringValue ?? ""
  }

  /// The id of the occurrence an outbox file holds: its name, which is unique on one host, with the
  /// reporting instance, which tells the hosts apart.
  public func occurrenceID(fileName: String) -> String {
    let instance = body["reportingInstance"]?.stringValue ?? ""
    return String(FNV1a64.hex(instance + "\u{0}" + fileName).prefix(12))
  }

  /// Whether `other` is an occurrence of the same Event (so both count into one).
  public func isRepeat(of other: PendingEvent) -> Bool {
    api == other.api && namespace == other.namespace && name == other.name
  }

  /// Where the Event is created.
  public var collectionPath: String { EventAggregation.collectionPath(api, namespace: namespace) }
  /// Where the existing Event lives.
  public var objectPath: String { collectionPath + "/" + name }
}

/// How many Events one invocation put into the outbox, and how many old ones it had to drop.
public struct SpoolCount: Sendable, Equatable {
  public var spooled = 0
  public var dropped = 0
  public var errors: [String] = []
  /// The file names written.
  public var names: [String] = []
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
  /// `count.names` lists the files written.
  public func spool(_ entries: [OutboxEntry], now: Timestamp) -> SpoolCount {
    var count = SpoolCount()
    guard !entries.isEmpty else { return count }
    if let problem = LocalFiles.makeDirectory(directory) {
      count.errors.append(problem)
      return count
    }
    count.dropped = makeRoom(for: entries.count)
    let pid = getpid()
    for (index, entry) in entries.enumerated() {
      let stem = "\(now.secondsSinceEpoch).\(now.microseconds)-\(pid)-\(index)-\(entry.event.name.suffix(16))"
      let bytes = entry.json.serializedBytes()
      if let problem = LocalFiles.writeAtomically(
        bytes, to: "\(directory)/\(stem).json", temporary: "\(directory)/.\(stem).tmp")
      {
        count.errors.append(problem)
      } else {
        count.spooled += 1
        count.names.append("\(stem).json")
      }
    }
    return count
  }

  /// The entry files waiting, oldest first (names start with the time they were written).
  public func pendingFiles() -> [String] { Self.entryFiles(in: directory) }

  /// Deletes the oldest entries so that `incoming` more fit; returns how many were dropped.
  private func makeRoom(for incoming: Int) -> Int {
    Self.dropOldest(in: directory, keeping: capacity - incoming)
  }

  /// The entry files of `directory`, oldest first; files being written (dot-names) are not entries.
  static func entryFiles(in directory: String) -> [String] {
    LocalFiles.names(in: directory).filter { !$0.hasPrefix(".") && $0.hasSuffix(".json") }
      .sorted { OutboxName.order($0) < OutboxName.order($1) }
  }

  /// Deletes the oldest entry files of `directory` beyond `kept`; returns how many went.
  static func dropOldest(in directory: String, keeping kept: Int) -> Int {
    let entries = entryFiles(in: directory)
    guard entries.count > kept else { return 0 }
    var dropped = 0
    for name in entries.prefix(entries.count - max(0, kept)) where unlink("\(directory)/\(name)") == 0 {
      dropped += 1
    }
    return dropped
  }
}

/// A file one deliverer has taken for itself by renaming it, so no other deliverer sends it too.
public struct OutboxClaim: Sendable, Equatable {
  /// The entry's own file name.
  public var name: String
  /// The claimed file's path.
  public var path: String
}

extension Outbox {
  /// Where permanently refused entries are kept for an operator to look at.
  public var rejectedDirectory: String { directory + "/rejected" }

  /// Takes `name` for this process at time `now`; nil when another deliverer was faster. The claim's
  /// name records who took it and when (`.claim-<pid>-<seconds>-<name>`), so that its age is that of
  /// the claim, not of the entry.
  public func claim(_ name: String, now: Timestamp) -> OutboxClaim? {
    let path = "\(directory)/.claim-\(getpid())-\(now.secondsSinceEpoch)-\(name)"
    guard rename("\(directory)/\(name)", path) == 0 else { return nil }
    return OutboxClaim(name: name, path: path)
  }

  /// The claimed entry's bytes.
  public func read(_ claim: OutboxClaim) -> [UInt8]? {
    try? LocalFiles.read(claim.path)
  }

  /// The API server accepted it: the file goes.
  public func complete(_ claim: OutboxClaim) { unlink(claim.path) }

  /// A transient failure: the file goes back for a later deliverer.
  public func release(_ claim: OutboxClaim) { rename(claim.path, "\(directory)/\(claim.name)") }

  /// A permanent refusal: the file is kept aside, never retried. The kept entries are bounded like
  /// the outbox itself (a lasting 403 must not fill the volume); returns how many old ones went.
  @discardableResult
  public func setAside(_ claim: OutboxClaim) -> Int {
    _ = LocalFiles.makeDirectory(rejectedDirectory)
    if rename(claim.path, "\(rejectedDirectory)/\(claim.name)") != 0 { unlink(claim.path) }
    return Self.dropOldest(in: rejectedDirectory, keeping: capacity)
  }

  /// Puts back claims whose deliverer died (its pid is gone), or that are older than `maxAgeSeconds`.
  @discardableResult
  public func recoverStaleClaims(now: Timestamp, maxAgeSeconds: Int64 = 600) -> Int {
    var stale: [(String, String)] = []
    for name in LocalFiles.names(in: directory) where name.hasPrefix(".claim-") {
      let rest = name.dropFirst(".claim-".count)
      guard let dash = rest.firstIndex(of: "-"), let pid = Int32(rest[..<dash]) else { continue }
      var original = String(rest[rest.index(after: dash)...])
      // `<seconds>-<name>`; a claim without its time (an older podinject) is as old as its entry.
      var claimed = OutboxName.order(original).0
      if let timeEnd = original.firstIndex(of: "-"), let seconds = Int64(original[..<timeEnd]) {
        claimed = seconds
        original = String(original[original.index(after: timeEnd)...])
      }
      let alive = kill(pid, 0) == 0 || errno == EPERM
      let age = now.secondsSinceEpoch - claimed
      if !alive || age > maxAgeSeconds { stale.append((name, original)) }
    }
    var recovered = 0
    for (claimed, original) in stale where rename("\(directory)/\(claimed)", "\(directory)/\(original)") == 0 {
      recovered += 1
    }
    return recovered
  }
}

/// Sorting key of an outbox file name: `<seconds>.<microseconds>-<pid>-<index>-<Event name hash>.json`.
public enum OutboxName {
  /// What entry files of (most likely) the same Event share: the end of their names, a hash of the
  /// Event's name. Reading them tells for sure (`PendingEvent.isRepeat`).
  public static func eventKey(_ name: String) -> Substring {
    guard let dash = name.lastIndex(of: "-") else { return Substring(name) }
    return name[dash...]
  }

  static func order(_ name: String) -> (Int64, Int, String) {
    let time = name.prefix { $0 != "-" }.split(separator: ".")
    let seconds = time.first.flatMap { Int64($0) } ?? 0
    let micros = time.count > 1 ? Int(time[1]) ?? 0 : 0
    return (seconds, micros, name)
  }
}
