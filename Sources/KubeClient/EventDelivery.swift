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
  public init() {}
}

/// The fate of one Event.
enum DeliveryOutcome: Error, Equatable {
  case created
  case aggregated
  /// Worth retrying later: refused, timed out, 429, 5xx.
  case transient(String)
  /// Never worth retrying: 401, 403, 422 and other client errors.
  case permanent(String)
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
  /// API server looks unavailable (then the rest waits for a later deliverer). The waiting repeats of
  /// one Event go together, as one create or one update counting them all: a burst of pods failing
  /// one rule then costs the API server a few requests, not a few per pod.
  public func drain(now: Timestamp) -> DeliveryReport {
    var report = DeliveryReport()
    outbox.recoverStaleClaims(now: now)
    let waiting = outbox.pendingFiles()
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
          guard let entry = take(member, now: now, &report) else { continue }
          if let first = batch.first, !entry.pending.isRepeat(of: first.pending) {
            outbox.release(entry.claim)  // only the name's hash matched: it waits for a later drain
          } else {
            batch.append(entry)
          }
        }
        guard !batch.isEmpty else { continue }
        guard let delivered = settle(batch, exists: exists, &report) else { return report }
        exists = delivered
      }
    }
    return report
  }

  /// Delivers one batch and settles its files: whether the Event now exists, or nil when the API
  /// server looks unavailable (the files wait for a later deliverer, and this drain stops).
  private func settle(_ batch: [Entry], exists: Bool, _ report: inout DeliveryReport) -> Bool? {
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
      return true
    case .permanent(let why):
      var pruned = 0
      for entry in batch { pruned += outbox.setAside(entry.claim) }
      if pruned > 0 {
        report.problems.append("dropped the \(pruned) oldest set-aside Event(s) in \(outbox.rejectedDirectory)")
      }
      report.rejected += batch.count
      report.finished.formUnion(names)
      report.problems.append("\(what) refused for good, set aside: \(why)")
      return false
    case .transient(let why):
      for entry in batch { outbox.release(entry.claim) }
      report.deferred += batch.count
      report.problems.append("\(what) not delivered yet, left in the outbox: \(why)")
      return nil
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
      case .transient("gone"): break  // expired since: create it again
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
        case .transient("gone"): continue  // deleted (expired) in between: create it again
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
      case .success(let response) where response.status == 404: return .transient("gone")
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
      case .success(let response) where response.status == 404: return .transient("gone")
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
    ).mapError { .transient($0.description) }
  }

  /// Turns an unexpected HTTP status into a decision, quoting the API server's Status message.
  func classify(_ response: HTTPResponse) -> DeliveryOutcome {
    let message = (try? JSONParser.parse(response.body))?["message"]?.stringValue ?? "no message"
    let why = "HTTP \(response.status): \(message)"
    return response.status == 429 || response.status >= 500 ? .transient(why) : .permanent(why)
  }
}
