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

  /// Reads an outbox entry; nil when it is not a valid one (it is then set aside, not retried).
  public init?(json: JSONValue) {
    guard let entry = try? Self(entry: json) else { return nil }
    self = entry
  }

  /// Reads an outbox entry and checks it as the API server would before anything is sent: whoever wrote
  /// it (or the review it came from), the request can only go to the Event it names. The namespace is a
  /// DNS-1123 label, the name a DNS-1123 subdomain, and the body an Event of the entry's API with that
  /// same namespace and name. The error says what is wrong, never the value.
  public init(entry json: JSONValue) throws(OutboxEntryError) {
    guard json["kind"]?.stringValue == "OutboxEntry" else { throw OutboxEntryError("its kind is not OutboxEntry") }
    guard let api = json["api"]?.stringValue.flatMap(EventAPI.init(rawValue:)), api != .none else {
      throw OutboxEntryError("its api is neither v1 nor events.k8s.io/v1")
    }
    guard let namespace = json["namespace"]?.stringValue, KubernetesValidation.dns1123Label(namespace) == nil else {
      throw OutboxEntryError("its namespace is not a DNS-1123 label")
    }
    guard let name = json["name"]?.stringValue, KubernetesValidation.dns1123Subdomain(name) == nil else {
      throw OutboxEntryError("its name is not a DNS-1123 subdomain")
    }
    guard let body = json["event"], body.objectValue != nil else { throw OutboxEntryError("it holds no Event") }
    guard body["kind"]?.stringValue == "Event", body["apiVersion"]?.stringValue == api.rawValue else {
      throw OutboxEntryError("its body is not an Event of \(api.rawValue)")
    }
    guard body["metadata"]?["namespace"]?.stringValue == namespace, body["metadata"]?["name"]?.stringValue == name
    else { throw OutboxEntryError("its body names another Event than the entry") }
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

  /// Where the Event is created (each segment percent-encoded, although a valid entry never needs it).
  public var collectionPath: String {
    EventAggregation.collectionPath(api, namespace: Self.pathSegment(namespace))
  }
  /// Where the existing Event lives.
  public var objectPath: String { collectionPath + "/" + Self.pathSegment(name) }

  /// `text` as one URL path segment: every byte but the unreserved ones (RFC 3986) percent-encoded.
  static func pathSegment(_ text: String) -> String {
    let hex = Array("0123456789ABCDEF".utf8)
    var bytes: [UInt8] = []
    bytes.reserveCapacity(text.utf8.count)
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
        UInt8(ascii: "~"):
        bytes.append(byte)
      default:
        bytes += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
      }
    }
    return String(decoding: bytes, as: UTF8.self)
  }
}

/// Why an outbox entry cannot be sent.
public struct OutboxEntryError: Error, Sendable, Equatable, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}

/// How many Events one invocation put into the outbox, and how many old ones it had to drop.
public struct SpoolCount: Sendable, Equatable {
  public var spooled = 0
  public var dropped = 0
  public var errors: [String] = []
  /// The file names written.
  public var names: [String] = []
  /// The positions of the entries that are not in the outbox (refused or unwritable outbox): they
  /// exist only in memory now.
  public var unwritten: [Int] = []
  public init() {}
}

/// The directory where Events wait until the API server accepts them: one file per occurrence,
/// written under a dot-name and renamed into place so that no reader ever sees half a file.
///
/// Only a private directory is used (see `PrivateDirectory`): one that another user made, can write,
/// or reaches through a symbolic link is refused, and nothing is read from it or written to it.
public struct Outbox: Sendable {
  public var directory: String
  /// The most files kept; the oldest are dropped (and logged) beyond it.
  public var capacity: Int

  public init(directory: String, capacity: Int = 1000) {
    self.directory = directory
    self.capacity = capacity
  }

  /// The default outbox, one per user: `/tmp/podinject-<euid>/outbox`.
  public static var defaultDirectory: String { "/tmp/podinject-" + Int(geteuid()).decimalText + "/outbox" }

  /// The outbox directory, opened and checked; with `create`, made (mode 0700) when missing.
  public func open(create: Bool = false) throws(FileError) -> PrivateDirectory {
    try PrivateDirectory.open(directory, create: create)
  }

  /// Writes every entry; failures are counted and described, never thrown: the answer must still go out.
  /// `count.names` lists the files written, `count.unwritten` the entries that are not in the outbox.
  public func spool(_ entries: [OutboxEntry], now: Timestamp) -> SpoolCount {
    var count = SpoolCount()
    guard !entries.isEmpty else { return count }
    let folder: PrivateDirectory
    do {
      folder = try open(create: true)
    } catch {
      count.errors.append("outbox refused: \(error)")
      count.unwritten = Array(entries.indices)
      return count
    }
    count.dropped = Self.dropOldest(in: folder, keeping: capacity - entries.count)
    for (index, entry) in entries.enumerated() {
      let name = Self.fileName(entry, index: index, now: now)
      if let problem = folder.write(entry.json.serializedBytes(), to: name, temporary: ".\(name).tmp") {
        count.errors.append(problem)
        count.unwritten.append(index)
      } else {
        count.spooled += 1
        count.names.append(name)
      }
    }
    return count
  }

  /// The file name of the `index`-th entry this process writes at `now`:
  /// `<seconds>.<microseconds>-<pid>-<index>-<end of the Event name>.json`, unique on this host.
  public static func fileName(_ entry: OutboxEntry, index: Int, now: Timestamp) -> String {
    "\(now.secondsSinceEpoch).\(now.microseconds)-\(getpid())-\(index)-\(entry.event.name.suffix(16)).json"
  }

  /// The entry files waiting, oldest first (names start with the time they were written); none when the
  /// outbox is missing or refused.
  public func pendingFiles() -> [String] {
    guard let folder = try? open() else { return [] }
    return Self.entryFiles(in: folder)
  }

  /// The entry files of `folder`, oldest first; files being written (dot-names) are not entries.
  static func entryFiles(in folder: PrivateDirectory) -> [String] {
    folder.names().filter { !$0.hasPrefix(".") && $0.hasSuffix(".json") }
      .sorted { OutboxName.order($0) < OutboxName.order($1) }
  }

  /// Deletes the oldest entry files of `folder` beyond `kept`; returns how many went.
  static func dropOldest(in folder: PrivateDirectory, keeping kept: Int) -> Int {
    let entries = entryFiles(in: folder)
    guard entries.count > kept else { return 0 }
    var dropped = 0
    for name in entries.prefix(entries.count - max(0, kept)) where folder.remove(name) {
      dropped += 1
    }
    return dropped
  }
}

/// A file one deliverer has taken for itself by renaming it, so no other deliverer sends it too.
public struct OutboxClaim: Sendable, Equatable {
  /// The entry's own file name.
  public var name: String
  /// The claimed file's name in the outbox.
  public var file: String
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
    let file = ".claim-\(getpid())-\(now.secondsSinceEpoch)-\(name)"
    guard let folder = try? open(), folder.rename(name, to: file) else { return nil }
    return OutboxClaim(name: name, file: file, path: directory + "/" + file)
  }

  /// The claimed entry's bytes (a regular file only, never read through a symbolic link).
  public func read(_ claim: OutboxClaim) -> [UInt8]? {
    guard let folder = try? open() else { return nil }
    return try? folder.read(claim.file)
  }

  /// The API server accepted it: the file goes.
  public func complete(_ claim: OutboxClaim) { _ = try? open().remove(claim.file) }

  /// A transient failure: the file goes back for a later deliverer.
  public func release(_ claim: OutboxClaim) { _ = try? open().rename(claim.file, to: claim.name) }

  /// A permanent refusal: the file is kept aside, never retried. The kept entries are bounded like
  /// the outbox itself (a lasting 403 must not fill the volume); returns how many old ones went.
  @discardableResult
  public func setAside(_ claim: OutboxClaim) -> Int {
    guard let folder = try? open() else { return 0 }
    guard let rejected = try? folder.subdirectory("rejected", create: true) else {
      folder.remove(claim.file)
      return 0
    }
    if !folder.move(claim.file, to: claim.name, in: rejected) { folder.remove(claim.file) }
    return Self.dropOldest(in: rejected, keeping: capacity)
  }

  /// Puts back claims whose deliverer died (its pid is gone), or that are older than `maxAgeSeconds`.
  @discardableResult
  public func recoverStaleClaims(now: Timestamp, maxAgeSeconds: Int64 = 600) -> Int {
    guard let folder = try? open() else { return 0 }
    let stale = folder.names().compactMap { Self.staleClaim($0, now: now, maxAgeSeconds: maxAgeSeconds) }
    var recovered = 0
    for claim in stale where folder.rename(claim.claim, to: claim.entry) { recovered += 1 }
    return recovered
  }

  /// When `name` is a claim to put back, its name and the entry's.
  static func staleClaim(_ name: String, now: Timestamp, maxAgeSeconds: Int64) -> (claim: String, entry: String)? {
    guard name.hasPrefix(".claim-") else { return nil }
    let rest = name.dropFirst(".claim-".count)
    guard let dash = rest.firstIndex(of: "-"), let pid = Int32(rest[..<dash]) else { return nil }
    var original = String(rest[rest.index(after: dash)...])
    // `<seconds>-<name>`; a claim without its time (an older podinject) is as old as its entry.
    var claimed = OutboxName.order(original).0
    if let timeEnd = original.firstIndex(of: "-"), let seconds = Int64(original[..<timeEnd]) {
      claimed = seconds
      original = String(original[original.index(after: timeEnd)...])
    }
    let alive = kill(pid, 0) == 0 || errno == EPERM
    return !alive || now.secondsSinceEpoch - claimed > maxAgeSeconds ? (name, original) : nil
  }
}

/// The right to drain one outbox: an exclusive `flock` on the outbox directory itself. At most one
/// deliverer drains an outbox at a time; a writer that finds the lock taken leaves its Event to the
/// deliverer holding it, which looks at the outbox once more after giving the lock up. The lock is on
/// the directory, not on a file beside it, so every path to one outbox shares it; it goes with the last
/// process holding it, so a deliverer that dies leaves nothing to clean up.
public final class OutboxLock {
  /// The open outbox the lock is held on.
  public let folder: PrivateDirectory
  /// A descriptor inherited with the lock from the process that took it (see `take(_:inherited:)`).
  private let inherited: Int32?

  private init(folder: PrivateDirectory, inherited: Int32?) {
    self.folder = folder
    self.inherited = inherited
  }

  deinit { if let inherited { close(inherited) } }

  /// The descriptor that carries the lock, for a process that takes over.
  public var descriptor: Int32 { inherited ?? folder.descriptor }

  /// Takes the lock of `outbox`; nil when another process holds it. `inherited` is a descriptor this
  /// process was started with: when it is the same directory, the lock is taken through it (a
  /// descriptor of a process that held the lock still holds it). Throws when the outbox is refused.
  public static func take(_ outbox: Outbox, inherited: Int32? = nil) throws(FileError) -> OutboxLock? {
    let folder = try outbox.open()
    if let inherited, folder.isSame(as: inherited), flock(inherited, LOCK_EX | LOCK_NB) == 0 {
      return OutboxLock(folder: folder, inherited: inherited)
    }
    return folder.tryLock() ? OutboxLock(folder: folder, inherited: nil) : nil
  }

  /// Gives the lock up (for every process sharing it).
  public func release() { flock(descriptor, LOCK_UN) }

  /// Takes it again after `release`; false when another process was faster.
  public func retake() -> Bool { flock(descriptor, LOCK_EX | LOCK_NB) == 0 }
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
