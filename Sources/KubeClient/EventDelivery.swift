import PodInject

/// What one drain of the outbox achieved, as the log line reports it.
public struct DeliveryReport: Sendable, Equatable {
  /// Events created.
  public var sent = 0
  /// Occurrences counted into an Event that already existed.
  public var aggregated = 0
  /// Entries left for a later deliverer after a transient failure.
  public var deferred = 0
  /// Entries the API server refused for good (401, 403, 422, ...), set aside.
  public var rejected = 0
  /// Names of the files this drain took out of the outbox (delivered or set aside).
  public var finished: Set<String> = []
  /// One line per problem, naming the Event and quoting the API server's message.
  public var problems: [String] = []
  /// The drain stopped early: the API server could not be reached (refused, timed out, TLS, DNS).
  public var unreachable = false
  /// The budget ran out while Events that arrived meanwhile still wait, after some were delivered: a
  /// fresh deliverer should take over (with the lock, which is still held).
  public var handOver = false
  public init() {}

  /// Adds what another pass achieved.
  public mutating func absorb(_ other: DeliveryReport) {
    sent += other.sent
    aggregated += other.aggregated
    deferred += other.deferred
    rejected += other.rejected
    finished.formUnion(other.finished)
    problems += other.problems
    unreachable = unreachable || other.unreachable
  }
}

/// The fate of one Event.
enum DeliveryOutcome: Error, Equatable {
  case created
  case aggregated
  /// Worth retrying later, but the API server answered (429, 5xx...): the other Events go on.
  case transient(String)
  /// The API server could not be reached (refused, timed out, TLS, DNS...): every other request would
  /// meet the same, so the drain ends and everything waits for a later deliverer.
  case unreachable(String)
  /// Never worth retrying: 401, 403, 422, a URL libcurl refuses, and other errors of this request alone.
  case permanent(String)
  /// The stored Event went away meanwhile (it expired): create it again.
  case gone
}

extension TransportError {
  /// curl codes of a failure to reach or talk to the API server at all: name resolution, connection,
  /// timeout, TLS, a proxy, an unusable libcurl. Anything else concerns one request.
  static let connectionLevel: Set<Int32> = [
    1, 2, 4, 5, 6, 7, 8, 16, 27, 28, 35, 47, 52, 53, 54, 55, 56, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91, 95, 96,
    97, 98,
  ]
  /// curl codes that say the request itself can never be sent as it is (a malformed URL, a bad argument).
  static let requestLevel: Set<Int32> = [3, 43]

  /// What a request that failed this way means for its Event and for the drain.
  var outcome: DeliveryOutcome {
    if code < 0 || Self.connectionLevel.contains(code) { return .unreachable(description) }
    return Self.requestLevel.contains(code) ? .permanent(description) : .transient(description)
  }
}

/// Drains the outbox into the API server within a time budget: create, and on 409 count the repeat
/// into the existing Event with a PATCH guarded by its resourceVersion, retried on conflict.
public struct EventDeliverer {
  let transport: any KubeTransport
  let outbox: Outbox
  /// Monotonic milliseconds after which no new request starts.
  let deadline: Double
  let clock: () -> Double
  /// Waits the given milliseconds (a real sleep in the program; tests record it instead).
  let pause: (Int) -> Void

  public init(
    transport: any KubeTransport, outbox: Outbox, deadline: Double, clock: @escaping () -> Double,
    pause: @escaping (Int) -> Void = { _ in }
  ) {
    self.transport = transport
    self.outbox = outbox
    self.deadline = deadline
    self.clock = clock
    self.pause = pause
  }

  /// The longest wait, in milliseconds, after the `attempt`-th update (from 0) lost to another reporter:
  /// 2, 4, 8, 16, then 32. A burst of pods failing one rule starts as many deliverers at once, all
  /// updating one Event; waiting a random part of this spreads them out instead of having them collide
  /// again and again (which had a burst of 43 make some 800 requests, a third of them conflicts).
  static func backoffCeiling(attempt: Int) -> Int { 2 << min(attempt, 4) }

  /// Delivers waiting entries, oldest first, until the outbox is empty, the budget is spent, or the
  /// API server cannot be reached (then the rest waits for a later deliverer). The waiting repeats of
  /// one Event go together, as one create or one update counting them all: a burst of pods failing
  /// one rule then costs the API server a few requests, not a few per pod. One Event that fails never
  /// holds the others back: it is set aside (a permanent refusal) or left for later (a transient one),
  /// and the drain goes on.
  public func drain(now: Timestamp) -> DeliveryReport {
    var tried: Set<String> = []
    return drain(now: now, tried: &tried)
  }

  /// One pass over what waits, leaving out the files in `tried` (an earlier pass took them, or left
  /// them after a transient failure), and adding those it takes or leaves.
  func drain(now: Timestamp, tried: inout Set<String>) -> DeliveryReport {
    var report = DeliveryReport()
    outbox.recoverStaleClaims(now: now)
    let waiting = outbox.pendingFiles().filter { !tried.contains($0) }
    var groups: [Substring: [String]] = [:]
    for name in waiting { groups[OutboxName.eventKey(name), default: []].append(name) }
    var done: Set<Substring> = []
    for name in waiting {
      let key = OutboxName.eventKey(name)
      guard done.insert(key).inserted else { continue }
      // At most as many per request as a stored Event remembers, so that a retry after a lost answer
      // always recognises everything that was already counted.
      var members = (groups[key] ?? [])[...]
      var exists = false
      while !members.isEmpty {
        guard remaining > 0 else { return report }
        var batch: [Entry] = []
        while batch.count < EventAggregation.rememberedOccurrences, let member = members.popFirst() {
          tried.insert(member)
          guard let entry = take(member, now: now, &report) else { continue }
          if let first = batch.first, !entry.pending.isRepeat(of: first.pending) {
            outbox.release(entry.claim)  // only the name's hash matched: it waits for a later drain
          } else {
            batch.append(entry)
          }
        }
        guard !batch.isEmpty else { continue }
        switch settle(batch, exists: exists, &report) {
        case .exists(let now): exists = now
        case .later:
          // This Event's other occurrences would meet the same: they wait too, and the others go on.
          tried.formUnion(members)
          members = []
        case .stop:
          report.unreachable = true
          return report
        }
      }
    }
    return report
  }

  /// Drains while holding `lock`, and keeps draining while Events arrive: a writer that found the lock
  /// taken left its Event to this deliverer, so once a pass finds nothing new the lock is given up and
  /// the outbox looked at once more (a writer checks the lock after its file is in place, so one of the
  /// two always sees the other). Ends with the lock given up, except when `report.handOver` says a
  /// fresh deliverer should take it over.
  public func drain(holding lock: OutboxLock, now: () -> Timestamp) -> DeliveryReport {
    var report = DeliveryReport()
    var tried: Set<String> = []
    while true {
      let before = tried.count
      let pass = drain(now: now(), tried: &tried)
      report.absorb(pass)
      if pass.unreachable {
        lock.release()
        return report
      }
      if remaining <= 0 {
        let waiting = outbox.pendingFiles().contains { !tried.contains($0) }
        report.handOver = waiting && report.sent + report.aggregated + report.rejected > 0
        if !report.handOver { lock.release() }
        return report
      }
      if tried.count > before { continue }
      lock.release()
      guard outbox.pendingFiles().contains(where: { !tried.contains($0) }), lock.retake() else { return report }
    }
  }

  /// What a batch's outcome means for the rest of its Event and for the drain.
  enum Settled {
    /// Go on with the next batch; whether the Event now exists.
    case exists(Bool)
    /// This Event waits for a later deliverer; the others go on.
    case later
    /// The API server cannot be reached: the drain ends.
    case stop
  }

  /// Delivers one batch and settles its files.
  private func settle(_ batch: [Entry], exists: Bool, _ report: inout DeliveryReport) -> Settled {
    let first = batch[0].pending
    let names = batch.map(\.claim.name)
    let what = "Event \(first.namespace)/\(first.name)" + (batch.count > 1 ? " (\(batch.count) occurrences)" : "")
    let outcome = deliver(batch.map(\.pending), occurrences: batch.map(\.occurrence), exists: exists)
    switch outcome {
    case .created, .aggregated:
      for entry in batch { outbox.complete(entry.claim) }
      report.sent += outcome == .created ? 1 : 0
      report.aggregated += outcome == .created ? batch.count - 1 : batch.count
      report.finished.formUnion(names)
      return .exists(true)
    case .permanent(let why):
      var pruned = 0
      for entry in batch { pruned += outbox.setAside(entry.claim) }
      if pruned > 0 {
        report.problems.append("dropped the \(pruned) oldest set-aside Event(s) in \(outbox.rejectedDirectory)")
      }
      report.rejected += batch.count
      report.finished.formUnion(names)
      report.problems.append("\(what) refused for good, set aside: \(why)")
      return .exists(false)
    case .transient(let why), .unreachable(let why):
      for entry in batch { outbox.release(entry.claim) }
      report.deferred += batch.count
      report.problems.append("\(what) not delivered yet, left in the outbox: \(why)")
      if case .unreachable = outcome { return .stop }
      return .later
    case .gone:
      for entry in batch { outbox.release(entry.claim) }
      report.deferred += batch.count
      return .later
    }
  }

  /// One claimed outbox entry.
  struct Entry {
    let claim: OutboxClaim
    let pending: PendingEvent
    let occurrence: String
  }

  /// Claims and reads `name`; nil when another deliverer was faster, or when the file is not an entry
  /// (then it is set aside and reported).
  private func take(_ name: String, now: Timestamp, _ report: inout DeliveryReport) -> Entry? {
    guard let claim = outbox.claim(name, now: now) else { return nil }
    let why: String
    if let bytes = outbox.read(claim), let json = try? JSONParser.parse(bytes) {
      do {
        let pending = try PendingEvent(entry: json)
        return Entry(claim: claim, pending: pending, occurrence: pending.occurrenceID(fileName: name))
      } catch {
        why = error.description
      }
    } else {
      why = "not a JSON file"
    }
    outbox.setAside(claim)
    report.rejected += 1
    report.finished.insert(name)
    report.problems.append("outbox entry \(name) is unreadable (\(why)); set aside in \(outbox.rejectedDirectory)")
    return nil
  }

  private var remaining: Int { Int(deadline - clock()) }

  /// Creates the Event for `batch` (occurrences of one Event, oldest first), or counts them into the
  /// existing one. Each occurrence is counted at most once: a retry of one the stored Event already
  /// lists counts as done. With `exists` (an earlier batch of this drain created or updated it), the
  /// POST that would only get 409 is skipped.
  func deliver(_ batch: [PendingEvent], occurrences: [String] = [], exists: Bool = false) -> DeliveryOutcome {
    guard let first = batch.first, let last = batch.last else { return .aggregated }
    if exists {
      switch aggregate(last, occurrences: occurrences) {
      case .gone: break  // expired since: create it again
      case let outcome: return outcome
      }
    }
    let body = EventAggregation.creation(first: first, last: last, occurrences: occurrences).serializedBytes()
    for _ in 0..<8 {
      guard remaining > 0 else { return .transient("time budget spent") }
      switch send("POST", first.collectionPath, "application/json", body) {
      case .failure(let outcome): return outcome
      case .success(let response) where (200..<300).contains(response.status): return .created
      case .success(let response) where response.status == 409:
        switch aggregate(last, occurrences: occurrences) {
        case .gone: continue  // deleted (expired) in between: create it again
        case let outcome: return outcome
        }
      case .success(let response): return classify(response)
      }
    }
    return .transient("the Event kept changing")
  }

  /// GET the stored Event and PATCH its count, retrying when another reporter got there first.
  private func aggregate(_ pending: PendingEvent, occurrences: [String]) -> DeliveryOutcome {
    for attempt in 0..<32 {
      if attempt > 0 {
        pause(max(0, min(Int.random(in: 0...Self.backoffCeiling(attempt: attempt - 1)), remaining - 1)))
      }
      guard remaining > 0 else { return .transient("time budget spent") }
      let stored: JSONValue
      switch send("GET", pending.objectPath, nil, nil) {
      case .failure(let outcome): return outcome
      case .success(let response) where response.status == 404: return .gone
      case .success(let response) where response.status == 200:
        guard let parsed = try? JSONParser.parse(response.body) else {
          return .transient("unreadable Event from the API server")
        }
        stored = parsed
      case .success(let response): return classify(response)
      }
      // Occurrences an earlier try counted, though its answer was lost, are not counted again.
      let counted = Set(EventAggregation.countedOccurrences(of: stored))
      let uncounted = occurrences.filter { !counted.contains($0) }
      if !occurrences.isEmpty && uncounted.isEmpty { return .aggregated }
      guard let patch = EventAggregation.patch(stored: stored, pending: pending, occurrences: uncounted) else {
        return .permanent("the stored Event has no resourceVersion")
      }
      let contentType = EventAggregation.patchContentType(pending.api)
      switch send("PATCH", pending.objectPath, contentType, patch.serializedBytes()) {
      case .failure(let outcome): return outcome
      case .success(let response) where (200..<300).contains(response.status): return .aggregated
      case .success(let response) where response.status == 409: continue  // stale resourceVersion
      case .success(let response) where response.status == 404: return .gone
      case .success(let response): return classify(response)
      }
    }
    return .transient("too many concurrent updates")
  }

  private func send(_ method: String, _ path: String, _ contentType: String?, _ body: [UInt8]?)
    -> Result<HTTPResponse, DeliveryOutcome>
  {
    transport.send(
      method: method, path: path, contentType: contentType, body: body, timeoutMilliseconds: max(1, remaining)
    ).mapError(\.outcome)
  }

  /// Turns an unexpected HTTP status into a decision, quoting the API server's Status message.
  func classify(_ response: HTTPResponse) -> DeliveryOutcome {
    let message = (try? JSONParser.parse(response.body))?["message"]?.stringValue ?? "no message"
    let why = "HTTP \(response.status): \(message)"
    return response.status == 429 || response.status >= 500 ? .transient(why) : .permanent(why)
  }
}

/// An Event that is not in the outbox (the outbox was refused, or could not be written): it exists only
/// in memory, and is delivered from there.
public struct HeldEvent: Sendable, Equatable {
  /// The name its outbox file would have had (which makes its occurrence id).
  public var name: String
  public var pending: PendingEvent

  public init(name: String, pending: PendingEvent) {
    self.name = name
    self.pending = pending
  }
}

extension EventDeliverer {
  /// Delivers Events held in memory, with the same requests as a drain; what fails cannot wait in an
  /// outbox, so the report says it is lost (a transient failure) or refused (a permanent one).
  public func deliver(held: [HeldEvent]) -> DeliveryReport {
    var report = DeliveryReport()
    var groups: [[HeldEvent]] = []
    for event in held {
      if let index = groups.firstIndex(where: { $0[0].pending.isRepeat(of: event.pending) }) {
        groups[index].append(event)
      } else {
        groups.append([event])
      }
    }
    for (index, group) in groups.enumerated() {
      var exists = false
      var members = group[...]
      while !members.isEmpty {
        let batch = Array(members.prefix(EventAggregation.rememberedOccurrences))
        members = members.dropFirst(batch.count)
        let first = batch[0].pending
        let what = "Event \(first.namespace)/\(first.name)" + (batch.count > 1 ? " (\(batch.count) occurrences)" : "")
        let outcome: DeliveryOutcome =
          remaining > 0
          ? deliver(
            batch.map(\.pending), occurrences: batch.map { $0.pending.occurrenceID(fileName: $0.name) },
            exists: exists)
          : .unreachable("time budget spent")
        switch outcome {
        case .created, .aggregated:
          report.sent += outcome == .created ? 1 : 0
          report.aggregated += outcome == .created ? batch.count - 1 : batch.count
          exists = true
          continue
        case .permanent(let why):
          report.rejected += batch.count
          report.problems.append("\(what) refused for good, not kept (no outbox): \(why)")
          exists = false
          continue
        case .transient(let why), .unreachable(let why):
          let lost = batch.count + members.count
          report.deferred += lost
          report.problems.append("\(what) not delivered, and lost (no outbox to wait in): \(why)")
          members = []
          guard case .unreachable = outcome else { continue }
          let rest = groups[(index + 1)...].reduce(0) { $0 + $1.count }
          if rest > 0 {
            report.deferred += rest
            report.problems.append("\(rest) more Event occurrence(s) not delivered, and lost: \(why)")
          }
          report.unreachable = true
          return report
        case .gone:
          members = []
        }
      }
    }
    return report
  }
}
