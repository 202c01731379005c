import Glibc
import PodInject
import Testing

@testable import KubeClient

/// One request the fake API server received.
struct RecordedRequest {
  var method: String
  var path: String
  var contentType: String?
  var body: JSONValue?
  var timeoutMilliseconds: Int
}

/// An API server double: answers from `script` while it lasts, then from a tiny Event store that hands
/// out resourceVersions and refuses stale ones (409), as the real one does.
final class FakeAPIServer: KubeTransport {
  private(set) var requests: [RecordedRequest] = []
  /// Answers given first, in order.
  var script: [Result<HTTPResponse, TransportError>] = []
  /// Stored Events by object path.
  private(set) var events: [String: JSONValue] = [:]
  /// Runs before each request is answered: plays another reporter or deliverer acting in between.
  var beforeAnswer: (RecordedRequest) -> Void = { _ in }
  /// Milliseconds each request takes, on `clock`.
  var latency: Double = 0
  /// The time as the deliverer sees it: advanced by `latency` per request.
  private(set) var clock: Double = 0
  private var lastVersion = 100
  /// Requests of this method that are applied but whose answers are lost (a timeout on the way back).
  var losesAnswers: (method: String, count: Int)? = nil

  func send(method: String, path: String, contentType: String?, body: [UInt8]?, timeoutMilliseconds: Int)
    -> Result<HTTPResponse, TransportError>
  {
    let request = RecordedRequest(
      method: method, path: path, contentType: contentType, body: body.flatMap { try? JSONParser.parse($0) },
      timeoutMilliseconds: timeoutMilliseconds)
    requests.append(request)
    clock += latency
    beforeAnswer(request)
    if !script.isEmpty { return script.removeFirst() }
    let response = answer(request)
    if let lost = losesAnswers, lost.method == method, lost.count > 0 {
      losesAnswers = (method, lost.count - 1)
      return .failure(TransportError(code: 28, message: "Operation timed out with 0 bytes received"))
    }
    return .success(response)
  }

  /// Stores `object` at `path` with a fresh resourceVersion, as a create (or another reporter's update) would.
  func store(_ object: JSONValue, at path: String) {
    lastVersion += 1
    var stored = object.objectValue ?? JSONObject()
    var metadata = stored["metadata"]?.objectValue ?? JSONObject()
    metadata["resourceVersion"] = .string(String(lastVersion))
    stored["metadata"] = .object(metadata)
    events[path] = .object(stored)
  }

  /// Deletes the stored Event at `path`, as its expiry would.
  func remove(at path: String) { events[path] = nil }

  /// The requests made with `method`.
  func requests(_ method: String) -> [RecordedRequest] { requests.filter { $0.method == method } }

  private func answer(_ request: RecordedRequest) -> HTTPResponse {
    switch request.method {
    case "POST":
      guard let body = request.body, let name = body["metadata"]?["name"]?.stringValue else {
        return Self.status(400, "BadRequest", "no name")
      }
      let path = request.path + "/" + name
      guard events[path] == nil else { return Self.status(409, "AlreadyExists", "events \"\(name)\" already exists") }
      store(body, at: path)
      return HTTPResponse(status: 201, body: events[path]!.serializedBytes())
    case "GET":
      guard let stored = events[request.path] else { return Self.status(404, "NotFound", "not found") }
      return HTTPResponse(status: 200, body: stored.serializedBytes())
    case "PATCH":
      guard let stored = events[request.path] else { return Self.status(404, "NotFound", "not found") }
      guard let patch = request.body else { return Self.status(400, "BadRequest", "no patch") }
      if let version = patch["metadata"]?["resourceVersion"],
        version != stored["metadata"]?["resourceVersion"]
      {
        return Self.status(409, "Conflict", "the object has been modified")
      }
      store(Self.merge(stored, patch), at: request.path)
      return HTTPResponse(status: 200, body: events[request.path]!.serializedBytes())
    default:
      return Self.status(405, "MethodNotAllowed", "no")
    }
  }

  /// RFC 7386 merge (what a strategic merge patch without lists does too).
  static func merge(_ target: JSONValue, _ patch: JSONValue) -> JSONValue {
    guard case .object(let changes) = patch else { return patch }
    var result = target.objectValue ?? JSONObject()
    for member in changes.members {
      result[member.key] = member.value.isNull ? nil : merge(result[member.key] ?? .null, member.value)
    }
    return .object(result)
  }

  /// A `metav1.Status` answer.
  static func status(_ code: Int, _ reason: String, _ message: String) -> HTTPResponse {
    let status: JSONValue = [
      "kind": "Status", "apiVersion": "v1", "status": "Failure", "message": .string(message),
      "reason": .string(reason), "code": .number(String(code)),
    ]
    return HTTPResponse(status: code, body: status.serializedBytes())
  }
}

/// Draining the outbox into the API server: create, count repeats, defer on transient failures, set
/// aside permanent refusals, never deliver a file twice (SPEC §5).
struct EventDelivererTests {
  static let now = Timestamp(secondsSinceEpoch: 1_795_929_569, microseconds: 42)

  static func event(rule: String = "tracing", time: Timestamp = now) -> InjectionEvent {
    InjectionEvent(
      reason: .injectionFailed, rule: rule, failure: .templateValueMissing,
      regarding: ObjectReference(
        apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-7d4b9c", namespace: "team-a", uid: "rs-uid-1"),
      note: "rule \"\(rule)\" not applied: TemplateValueMissing", time: time,
      reportingController: "podinject.dev/webhook", reportingInstance: "podinject-0")
  }

  /// A fresh outbox in `/tmp/kubeclient-tests-XXXXXX`, removed with everything in it when `body` returns.
  static func withOutbox(_ body: (Outbox) throws -> Void) throws {
    var template = Array("/tmp/kubeclient-tests-XXXXXX".utf8CString)
    let directory = try #require(
      template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }.map { String(cString: $0) })
    defer { removeTree(directory) }
    try body(Outbox(directory: directory))
  }

  private static func removeTree(_ path: String) {
    for name in names(in: path) {
      let child = path + "/" + name
      if rmdir(child) != 0 && unlink(child) != 0 { removeTree(child) }
    }
    rmdir(path)
  }

  /// Every name in `directory` but `.` and `..`, dot-files included, sorted.
  static func names(in directory: String) -> [String] {
    LocalFiles.names(in: directory).sorted()
  }

  /// Spools one entry written at `time` and returns its file name.
  static func spool(
    _ event: InjectionEvent, api: EventAPI = .coreV1, in outbox: Outbox, at time: Timestamp = now,
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws -> String {
    let count = outbox.spool([OutboxEntry(api: api, event: event)], now: time)
    #expect(count.errors.isEmpty, sourceLocation: sourceLocation)
    return try #require(count.names.first, sourceLocation: sourceLocation)
  }

  static func deliverer(_ server: FakeAPIServer, _ outbox: Outbox, budget: Double = 10_000) -> EventDeliverer {
    EventDeliverer(transport: server, outbox: outbox, deadline: budget, clock: { server.clock })
  }

  static func collection(_ api: EventAPI) -> String { EventAggregation.collectionPath(api, namespace: "team-a") }
  static func object(_ event: InjectionEvent, _ api: EventAPI) -> String { collection(api) + "/" + event.name }

  // MARK: create

  @Test(arguments: [EventAPI.coreV1, .eventsV1])
  func aNewEventIsCreatedAndItsFileDeleted(api: EventAPI) throws {
    try Self.withOutbox { outbox in
      let event = Self.event()
      let name = try Self.spool(event, api: api, in: outbox)
      let server = FakeAPIServer()
      let report = Self.deliverer(server, outbox).drain(now: Self.now)
      var expected = DeliveryReport()
      expected.sent = 1
      expected.finished = [name]
      #expect(report == expected)
      #expect(server.requests.map(\.method) == ["POST"])
      let post = try #require(server.requests.first)
      #expect(post.path == Self.collection(api))
      #expect(post.contentType == "application/json")
      // The Event as built, plus the id of the occurrence it counts first.
      let body = try #require(post.body)
      let occurrences = EventAggregation.countedOccurrences(of: body)
      #expect(occurrences.count == 1 && occurrences[0].count == 12, "\(occurrences)")
      var bare = try #require(body.objectValue)
      var metadata = try #require(bare["metadata"]?.objectValue)
      metadata["annotations"] = nil
      bare["metadata"] = .object(metadata)
      #expect(JSONValue.object(bare) == event.body(api: api))
      #expect(Self.names(in: outbox.directory).isEmpty)
    }
  }

  // MARK: aggregate

  @Test func aRepeatOfACoreEventIsCountedWithAStrategicMergePatch() throws {
    try Self.withOutbox { outbox in
      let event = Self.event()
      let path = Self.object(event, .coreV1)
      let server = FakeAPIServer()
      server.store(event.body(api: .coreV1), at: path)
      let version = try #require(server.events[path]?["metadata"]?["resourceVersion"])
      let name = try Self.spool(event, in: outbox)
      let report = Self.deliverer(server, outbox).drain(now: Self.now)
      #expect(report.aggregated == 1)
      #expect(report.sent == 0)
      #expect(report.finished == [name])
      #expect(server.requests.map(\.method) == ["POST", "GET", "PATCH"])
      #expect(server.requests.dropFirst().allSatisfy { $0.path == path })
      let patch = try #require(server.requests.last)
      #expect(patch.contentType == "application/strategic-merge-patch+json")
      #expect(patch.body?["count"] == 2)
      #expect(patch.body?["metadata"]?["resourceVersion"] == version)
      #expect(patch.body?["lastTimestamp"] == .string(event.time.rfc3339))
      #expect(server.events[path]?["count"] == 2)
      #expect(Self.names(in: outbox.directory).isEmpty)
    }
  }

  @Test func aRepeatOfAnEventsV1EventIsCountedInItsSeriesWithAMergePatch() throws {
    try Self.withOutbox { outbox in
      let event = Self.event()
      let path = Self.object(event, .eventsV1)
      let server = FakeAPIServer()
      server.store(event.body(api: .eventsV1), at: path)
      let version = try #require(server.events[path]?["metadata"]?["resourceVersion"])
      _ = try Self.spool(event, api: .eventsV1, in: outbox)
      let report = Self.deliverer(server, outbox).drain(now: Self.now)
      #expect(report.aggregated == 1)
      #expect(server.requests.map(\.method) == ["POST", "GET", "PATCH"])
      let patch = try #require(server.requests.last)
      #expect(patch.contentType == "application/merge-patch+json")
      #expect(patch.body?["series"]?["count"] == 2)
      #expect(patch.body?["metadata"]?["resourceVersion"] == version)
      let observed = try #require(patch.body?["series"]?["lastObservedTime"]?.stringValue)
      #expect(observed == "2026-11-29T05:19:29.000042Z")
      let fraction = observed.split(separator: ".").last?.dropLast() ?? ""
      #expect(fraction.count == 6 && fraction.allSatisfy(\.isNumber), "\(observed)")
      #expect(server.events[path]?["series"]?["count"] == 2)
    }
  }

  @Test(arguments: [EventAPI.coreV1, .eventsV1])
  func repeatsFromManyInvocationsAddUpToOneEvent(api: EventAPI) throws {
    try Self.withOutbox { outbox in
      let event = Self.event()
      for offset in 0..<4 {
        _ = try Self.spool(
          event, api: api, in: outbox, at: Timestamp(secondsSinceEpoch: Self.now.secondsSinceEpoch + Int64(offset)))
      }
      let server = FakeAPIServer()
      let report = Self.deliverer(server, outbox).drain(now: Self.now)
      #expect(report.sent == 1)
      #expect(report.aggregated == 3)
      #expect(server.events.count == 1)
      let stored = try #require(server.events[Self.object(event, api)])
      #expect(EventAggregation.occurrences(of: stored) == 4)
      #expect(Self.names(in: outbox.directory).isEmpty)
    }
  }

  @Test(arguments: [EventAPI.coreV1, .eventsV1])
  func theWaitingRepeatsOfAnEventAreCountedInOneRequest(api: EventAPI) throws {
    try Self.withOutbox { outbox in
      let event = Self.event()
      let other = Self.event(rule: "other")
      var names: [String] = []
      for offset in 0..<3 {
        let time = Timestamp(secondsSinceEpoch: Self.now.secondsSinceEpoch + Int64(offset))
        names.append(try Self.spool(event, api: api, in: outbox, at: time))
        names.append(try Self.spool(other, api: api, in: outbox, at: time))
      }
      let server = FakeAPIServer()
      let report = Self.deliverer(server, outbox).drain(now: Self.now)
      #expect(report.sent == 2 && report.aggregated == 4)
      #expect(report.finished == Set(names))
      // One create per Event, counting its three occurrences, the ids of all three listed.
      #expect(server.requests.map(\.method) == ["POST", "POST"])
      for candidate in [event, other] {
        let stored = try #require(server.events[Self.object(candidate, api)])
        #expect(EventAggregation.occurrences(of: stored) == 3)
        #expect(EventAggregation.countedOccurrences(of: stored).count == 3)
      }
      // Three more of one: one update counting three.
      for offset in 3..<6 {
        let time = Timestamp(secondsSinceEpoch: Self.now.secondsSinceEpoch + Int64(offset))
        _ = try Self.spool(event, api: api, in: outbox, at: time)
      }
      #expect(Self.deliverer(server, outbox).drain(now: Self.now).aggregated == 3)
      #expect(server.requests.map(\.method).suffix(3) == ["POST", "GET", "PATCH"])
      #expect(EventAggregation.occurrences(of: try #require(server.events[Self.object(event, api)])) == 6)
      #expect(Self.names(in: outbox.directory).isEmpty)
    }
  }

  @Test func aBatchHoldsNoMoreThanAStoredEventRemembers() throws {
    try Self.withOutbox { outbox in
      let event = Self.event()
      let total = EventAggregation.rememberedOccurrences + 8
      for offset in 0..<total {
        let time = Timestamp(secondsSinceEpoch: Self.now.secondsSinceEpoch, microseconds: offset)
        _ = try Self.spool(event, in: outbox, at: time)
      }
      let server = FakeAPIServer()
      let report = Self.deliverer(server, outbox).drain(now: Self.now)
      #expect(report.sent == 1 && report.aggregated == total - 1)
      // The first 32 in one create, the other 8 in one update.
      #expect(server.requests.map(\.method) == ["POST", "GET", "PATCH"])
      #expect(server.requests[0].body?["count"] == .number(String(EventAggregation.rememberedOccurrences)))
      let stored = try #require(server.events[Self.object(event, .coreV1)])
      #expect(EventAggregation.occurrences(of: stored) == total)
      #expect(EventAggregation.countedOccurrences(of: stored).count == EventAggregation.rememberedOccurrences)
      #expect(Self.names(in: outbox.directory).isEmpty)
    }
  }

  @Test func aLaterBatchOfAnEventThatExpiredMeanwhileCreatesItAgain() throws {
    try Self.withOutbox { outbox in
      let event = Self.event()
      let path = Self.object(event, .coreV1)
      let total = EventAggregation.rememberedOccurrences + 1
      for offset in 0..<total {
        let time = Timestamp(secondsSinceEpoch: Self.now.secondsSinceEpoch, microseconds: offset)
        _ = try Self.spool(event, in: outbox, at: time)
      }
      let server = FakeAPIServer()
      server.beforeAnswer = { [unowned server] request in
        if request.method == "GET" { server.remove(at: path) }  // the Event expires (TTL) in between
      }
      let report = Self.deliverer(server, outbox).drain(now: Self.now)
      #expect(report.sent == 2 && report.aggregated == total - 2)
      #expect(server.requests.map(\.method) == ["POST", "GET", "POST"])
      #expect(EventAggregation.occurrences(of: try #require(server.events[path])) == 1)
      #expect(Self.names(in: outbox.directory).isEmpty)
    }
  }

  @Test(arguments: [EventAPI.coreV1, .eventsV1])
  func aCreateWhoseAnswerWasLostIsNotCountedAgain(api: EventAPI) throws {
    try Self.withOutbox { outbox in
      let event = Self.event()
      let name = try Self.spool(event, api: api, in: outbox)
      let server = FakeAPIServer()
      server.losesAnswers = ("POST", 1)
      let first = Self.deliverer(server, outbox).drain(now: Self.now)
      #expect(first.deferred == 1)
      #expect(Self.names(in: outbox.directory) == [name])
      let second = Self.deliverer(server, outbox).drain(now: Self.now)
      #expect(second.aggregated == 1)
      #expect(server.requests.map(\.method) == ["POST", "POST", "GET"])
      let stored = try #require(server.events[Self.object(event, api)])
      #expect(EventAggregation.occurrences(of: stored) == 1)
      #expect(Self.names(in: outbox.directory).isEmpty)
    }
  }

  @Test(arguments: [EventAPI.coreV1, .eventsV1])
  func anIncrementWhoseAnswerWasLostIsNotCountedAgain(api: EventAPI) throws {
    try Self.withOutbox { outbox in
      let event = Self.event()
      let path = Self.object(event, api)
      let server = FakeAPIServer()
      server.store(event.body(api: api), at: path)
      _ = try Self.spool(event, api: api, in: outbox)
      server.losesAnswers = ("PATCH", 1)
      #expect(Self.deliverer(server, outbox).drain(now: Self.now).deferred == 1)
      #expect(EventAggregation.occurrences(of: try #require(server.events[path])) == 2)
      let second = Self.deliverer(server, outbox).drain(now: Self.now)
      #expect(second.aggregated == 1)
      #expect(server.requests.map(\.method) == ["POST", "GET", "PATCH", "POST", "GET"])
      #expect(EventAggregation.occurrences(of: try #require(server.events[path])) == 2)
      #expect(Self.names(in: outbox.directory).isEmpty)
    }
  }

  @Test func aStaleResourceVersionIsFetchedAgainAndRetried() throws {
    try Self.withOutbox { outbox in
      let event = Self.event()
      let path = Self.object(event, .coreV1)
      let server = FakeAPIServer()
      server.store(event.body(api: .coreV1), at: path)
      var interfered = false
      server.beforeAnswer = { [unowned server] request in
        // Another replica counts its own repeat between our GET and our PATCH.
        guard request.method == "PATCH", !interfered, var stored = server.events[path]?.objectValue else { return }
        interfered = true
        stored["count"] = 2
        server.store(.object(stored), at: path)
      }
      _ = try Self.spool(event, in: outbox)
      let report = Self.deliverer(server, outbox).drain(now: Self.now)
      #expect(report.aggregated == 1)
      #expect(report.deferred == 0)
      #expect(server.requests.map(\.method) == ["POST", "GET", "PATCH", "GET", "PATCH"])
      let patches = server.requests("PATCH")
      #expect(patches.map { $0.body?["count"] } == [2, 3])
      let versions = patches.map { $0.body?["metadata"]?["resourceVersion"] }
      #expect(versions.count == 2 && versions.first != versions.last, "the retry reuses \(versions)")
      #expect(server.events[path]?["count"] == 3)
    }
  }

  @Test func lostUpdatesBackOffARandomTimeWithinTheBudget() throws {
    try Self.withOutbox { outbox in
      let event = Self.event()
      let path = Self.object(event, .coreV1)
      let server = FakeAPIServer()
      server.store(event.body(api: .coreV1), at: path)
      var interferences = 3
      server.beforeAnswer = { [unowned server] request in
        // Other replicas win the next three updates.
        guard request.method == "PATCH", interferences > 0, let stored = server.events[path] else { return }
        interferences -= 1
        server.store(stored, at: path)
      }
      _ = try Self.spool(event, in: outbox)
      var pauses: [Int] = []
      let deliverer = EventDeliverer(
        transport: server, outbox: outbox, deadline: 10_000, clock: { server.clock }, pause: { pauses.append($0) })
      #expect(deliverer.drain(now: Self.now).aggregated == 1)
      #expect(server.requests("PATCH").count == 4)
      // One wait before each retry, each a random part of its ceiling.
      #expect(pauses.count == 3)
      #expect(zip(pauses, [2, 4, 8]).allSatisfy { $0 >= 0 && $0 <= $1 }, "\(pauses)")
      #expect((0..<6).map(EventDeliverer.backoffCeiling) == [2, 4, 8, 16, 32, 32])
    }
  }

  @Test func noWaitOutlastsTheBudget() throws {
    try Self.withOutbox { outbox in
      let event = Self.event()
      let path = Self.object(event, .coreV1)
      let server = FakeAPIServer()
      server.latency = 1
      server.store(event.body(api: .coreV1), at: path)
      server.beforeAnswer = { [unowned server] request in
        guard request.method == "PATCH", let stored = server.events[path] else { return }
        server.store(stored, at: path)  // every update loses
      }
      _ = try Self.spool(event, in: outbox)
      var waited = 0
      let deliverer = EventDeliverer(
        transport: server, outbox: outbox, deadline: 20, clock: { server.clock + Double(waited) },
        pause: { waited += $0 })
      #expect(deliverer.drain(now: Self.now).deferred == 1)
      #expect(server.clock + Double(waited) <= 21)
    }
  }

  @Test func anEventGoneBetweenConflictAndGetIsCreatedAgain() throws {
    try Self.withOutbox { outbox in
      let event = Self.event()
      let server = FakeAPIServer()
      server.script = [
        .success(FakeAPIServer.status(409, "AlreadyExists", "exists")),
        .success(FakeAPIServer.status(404, "NotFound", "expired")),
      ]
      let name = try Self.spool(event, in: outbox)
      let report = Self.deliverer(server, outbox).drain(now: Self.now)
      #expect(server.requests.map(\.method) == ["POST", "GET", "POST"])
      #expect(report.sent == 1)
      #expect(report.finished == [name])
      #expect(server.events[Self.object(event, .coreV1)]?["count"] == 1)
      #expect(Self.names(in: outbox.directory).isEmpty)
    }
  }

  @Test func anEventGoneBetweenGetAndPatchIsCreatedAgain() throws {
    try Self.withOutbox { outbox in
      let event = Self.event()
      var stored = event.body(api: .coreV1).objectValue ?? JSONObject()
      stored["metadata"] = ["name": .string(event.name), "resourceVersion": "5"]
      let server = FakeAPIServer()
      server.script = [
        .success(FakeAPIServer.status(409, "AlreadyExists", "exists")),
        .success(HTTPResponse(status: 200, body: JSONValue.object(stored).serializedBytes())),
        .success(FakeAPIServer.status(404, "NotFound", "expired")),
      ]
      _ = try Self.spool(event, in: outbox)
      let report = Self.deliverer(server, outbox).drain(now: Self.now)
      #expect(server.requests.map(\.method) == ["POST", "GET", "PATCH", "POST"])
      #expect(report.sent == 1)
      #expect(Self.names(in: outbox.directory).isEmpty)
    }
  }

  @Test func aStoredEventWithoutResourceVersionIsSetAside() throws {
    try Self.withOutbox { outbox in
      let server = FakeAPIServer()
      server.script = [
        .success(FakeAPIServer.status(409, "AlreadyExists", "exists")),
        .success(HTTPResponse(status: 200, body: Array(#"{"kind":"Event","count":3}"#.utf8))),
      ]
      let name = try Self.spool(Self.event(), in: outbox)
      let report = Self.deliverer(server, outbox).drain(now: Self.now)
      #expect(server.requests.map(\.method) == ["POST", "GET"])
      #expect(report.rejected == 1)
      #expect(Self.names(in: outbox.rejectedDirectory) == [name])
    }
  }

  // MARK: transient failures

  /// The API server answered, but not now: this Event waits, the others go on.
  static let transientFailures: [(String, [Result<HTTPResponse, TransportError>])] = [
    ("500", [.success(FakeAPIServer.status(500, "InternalError", "etcdserver: request timed out"))]),
    ("503", [.success(FakeAPIServer.status(503, "ServiceUnavailable", "the server is currently unable"))]),
    ("429", [.success(FakeAPIServer.status(429, "TooManyRequests", "storage is (re)initializing"))]),
    (
      "PATCH 503",
      [
        .success(FakeAPIServer.status(409, "AlreadyExists", "exists")),
        .success(HTTPResponse(status: 200, body: Array(#"{"metadata":{"resourceVersion":"3"},"count":1}"#.utf8))),
        .success(FakeAPIServer.status(503, "ServiceUnavailable", "the server is currently unable")),
      ]
    ),
    (
      "GET 500",
      [
        .success(FakeAPIServer.status(409, "AlreadyExists", "exists")),
        .success(FakeAPIServer.status(500, "InternalError", "etcdserver: leader changed")),
      ]
    ),
    ("a cut transfer", [.failure(TransportError(code: 18, message: "transfer closed with 12 bytes remaining"))]),
  ]

  /// The API server could not be reached: every other request would meet the same.
  static let connectionFailures: [(String, [Result<HTTPResponse, TransportError>])] = [
    ("refused", [.failure(TransportError(code: 7, message: "Failed to connect to api port 6443: Connection refused"))]),
    ("timeout", [.failure(TransportError(code: 28, message: "Operation timed out after 1500 milliseconds"))]),
    ("DNS", [.failure(TransportError(code: 6, message: "Could not resolve host: kubernetes.default.svc"))]),
    ("TLS", [.failure(TransportError(code: 60, message: "SSL certificate problem: unable to get local issuer"))]),
    ("no libcurl", [.failure(TransportError(code: -1, message: "cannot load libcurl.so.4"))]),
    (
      "GET timeout",
      [
        .success(FakeAPIServer.status(409, "AlreadyExists", "exists")),
        .failure(TransportError(code: 28, message: "Operation timed out after 1500 milliseconds")),
      ]
    ),
  ]

  /// The message a failure quotes.
  static func cause(of script: [Result<HTTPResponse, TransportError>]) throws -> String {
    switch script.last {
    case .success(let response)?: return try #require(try JSONParser.parse(response.body)["message"]?.stringValue)
    case .failure(let error)?: return error.message
    case nil: return "?"
    }
  }

  @Test(arguments: transientFailures)
  func aTransientFailureLeavesTheFileAndTheDrainGoesOn(
    _ what: String, script: [Result<HTTPResponse, TransportError>]
  ) throws {
    try Self.withOutbox { outbox in
      let first = try Self.spool(Self.event(rule: "a"), in: outbox)
      let second = try Self.spool(
        Self.event(rule: "b"), in: outbox, at: Timestamp(secondsSinceEpoch: Self.now.secondsSinceEpoch + 1))
      let server = FakeAPIServer()
      server.script = script
      let report = Self.deliverer(server, outbox).drain(now: Self.now)
      #expect(report.sent == 1, "\(what): the next Event was held back")
      #expect(report.deferred == 1, "\(what)")
      #expect(report.rejected == 0, "\(what)")
      #expect(report.finished == [second], "\(what)")
      #expect(!report.unreachable, "\(what)")
      #expect(server.requests.count == script.count + 1, "\(what)")
      #expect(Self.names(in: outbox.directory) == [first], "\(what): not released")
      #expect(report.problems.count == 1, "\(what)")
      #expect(report.problems.first?.contains("not delivered yet, left in the outbox") == true, "\(what)")
      #expect(report.problems.first?.contains(try Self.cause(of: script)) == true, "\(what): \(report.problems)")
    }
  }

  @Test(arguments: connectionFailures)
  func anUnreachableAPIServerLeavesTheFileAndStopsTheDrain(
    _ what: String, script: [Result<HTTPResponse, TransportError>]
  ) throws {
    try Self.withOutbox { outbox in
      let first = try Self.spool(Self.event(rule: "a"), in: outbox)
      let second = try Self.spool(
        Self.event(rule: "b"), in: outbox, at: Timestamp(secondsSinceEpoch: Self.now.secondsSinceEpoch + 1))
      let server = FakeAPIServer()
      server.script = script
      let report = Self.deliverer(server, outbox).drain(now: Self.now)
      #expect(report.sent == 0, "\(what)")
      #expect(report.deferred == 1, "\(what)")
      #expect(report.rejected == 0, "\(what)")
      #expect(report.finished.isEmpty, "\(what)")
      #expect(report.unreachable, "\(what)")
      #expect(server.requests.count == script.count, "\(what): the drain went on after the failure")
      #expect(Self.names(in: outbox.directory) == [first, second].sorted(), "\(what): not released")
      #expect(report.problems.count == 1, "\(what)")
      #expect(report.problems.first?.contains("not delivered yet, left in the outbox") == true, "\(what)")
      #expect(report.problems.first?.contains(try Self.cause(of: script)) == true, "\(what): \(report.problems)")
    }
  }

  @Test func aDeferredEntryIsDeliveredByTheNextDrain() throws {
    try Self.withOutbox { outbox in
      let name = try Self.spool(Self.event(), in: outbox)
      let server = FakeAPIServer()
      server.script = [.success(FakeAPIServer.status(503, "ServiceUnavailable", "unavailable"))]
      #expect(Self.deliverer(server, outbox).drain(now: Self.now).deferred == 1)
      let report = Self.deliverer(server, outbox).drain(now: Self.now)
      #expect(report.sent == 1)
      #expect(report.finished == [name])
      #expect(Self.names(in: outbox.directory).isEmpty)
    }
  }

  // MARK: permanent refusals

  @Test(arguments: [
    (401, "Unauthorized", "Unauthorized"),
    (
      403, "Forbidden", "events is forbidden: User \"system:serviceaccount:podinject:podinject\" cannot create resource"
    ),
    (422, "Invalid", "Event \"web.0123456789abcdef\" is invalid: involvedObject.namespace: Invalid value"),
  ])
  func aPermanentRefusalIsSetAsideAndTheDrainGoesOn(code: Int, reason: String, message: String) throws {
    try Self.withOutbox { outbox in
      let refused = Self.event(rule: "a")
      let refusedName = try Self.spool(refused, in: outbox)
      let laterName = try Self.spool(
        Self.event(rule: "b"), in: outbox, at: Timestamp(secondsSinceEpoch: Self.now.secondsSinceEpoch + 1))
      let server = FakeAPIServer()
      server.script = [.success(FakeAPIServer.status(code, reason, message))]
      let report = Self.deliverer(server, outbox).drain(now: Self.now)
      #expect(report.rejected == 1)
      #expect(report.sent == 1)
      #expect(report.deferred == 0)
      #expect(report.finished == [refusedName, laterName])
      #expect(Self.names(in: outbox.directory) == ["rejected"])
      #expect(Self.names(in: outbox.rejectedDirectory) == [refusedName])
      #expect(
        report.problems == ["Event team-a/\(refused.name) refused for good, set aside: HTTP \(code): \(message)"])
    }
  }

  @Test func aRefusalWithoutAStatusBodyStillSaysSo() throws {
    try Self.withOutbox { outbox in
      _ = try Self.spool(Self.event(), in: outbox)
      let server = FakeAPIServer()
      server.script = [.success(HTTPResponse(status: 403, body: Array("<html>forbidden</html>".utf8)))]
      let report = Self.deliverer(server, outbox).drain(now: Self.now)
      #expect(report.rejected == 1)
      #expect(report.problems.first?.hasSuffix("HTTP 403: no message") == true, "\(report.problems)")
    }
  }

  // MARK: the outbox

  @Test func unreadableEntriesAreSetAsideAndTheRestDelivered() throws {
    try Self.withOutbox { outbox in
      let garbage = "1795929000.1-1-0-garbage.json"
      let stranger = "1795929000.2-1-0-stranger.json"
      #expect(writeFile(outbox.directory + "/" + garbage, Array("{\"kind\": \"OutboxEn".utf8)))
      #expect(writeFile(outbox.directory + "/" + stranger, Array(#"{"kind": "Pod", "api": "v1"}"#.utf8)))
      let good = try Self.spool(Self.event(), in: outbox)
      let server = FakeAPIServer()
      let report = Self.deliverer(server, outbox).drain(now: Self.now)
      #expect(report.rejected == 2)
      #expect(report.sent == 1)
      #expect(report.finished == [garbage, stranger, good])
      #expect(server.requests.count == 1)
      #expect(Self.names(in: outbox.rejectedDirectory) == [garbage, stranger])
      #expect(report.problems.count == 2)
      #expect(report.problems.allSatisfy { $0.contains("unreadable") && $0.contains(outbox.rejectedDirectory) })
    }
  }

  @Test func aSpentBudgetSendsNothingAndKeepsEverything() throws {
    try Self.withOutbox { outbox in
      let name = try Self.spool(Self.event(), in: outbox)
      let server = FakeAPIServer()
      let report = EventDeliverer(transport: server, outbox: outbox, deadline: 500, clock: { 500.5 })
        .drain(now: Self.now)
      #expect(report == DeliveryReport())
      #expect(server.requests.isEmpty)
      #expect(Self.names(in: outbox.directory) == [name])
    }
  }

  @Test func theBudgetBoundsEveryRequestAndTheDrain() throws {
    try Self.withOutbox { outbox in
      var names: [String] = []
      for offset in 0..<3 {
        names.append(
          try Self.spool(
            Self.event(rule: "r\(offset)"), in: outbox,
            at: Timestamp(secondsSinceEpoch: Self.now.secondsSinceEpoch + Int64(offset))))
      }
      let server = FakeAPIServer()
      server.latency = 60
      let report = Self.deliverer(server, outbox, budget: 100).drain(now: Self.now)
      #expect(server.requests.map(\.timeoutMilliseconds) == [100, 40])
      #expect(report.sent == 2)
      #expect(report.deferred == 0)
      #expect(Self.names(in: outbox.directory) == [names[2]])
    }
  }

  @Test func entriesAreDeliveredOldestFirst() throws {
    try Self.withOutbox { outbox in
      let base = Self.now.secondsSinceEpoch
      let spoolOrder: [(String, Timestamp)] = [
        ("third", Timestamp(secondsSinceEpoch: base + 10, microseconds: 5)),
        ("first", Timestamp(secondsSinceEpoch: base, microseconds: 999_999)),
        ("fourth", Timestamp(secondsSinceEpoch: base + 10, microseconds: 40)),
        ("second", Timestamp(secondsSinceEpoch: base + 1, microseconds: 0)),
      ]
      var rules: [String: String] = [:]
      for (rule, time) in spoolOrder {
        let event = Self.event(rule: rule, time: time)
        rules[event.name] = rule
        _ = try Self.spool(event, in: outbox, at: time)
      }
      let server = FakeAPIServer()
      _ = Self.deliverer(server, outbox).drain(now: Self.now)
      let delivered = server.requests.map { $0.body?["metadata"]?["name"]?.stringValue.flatMap { rules[$0] } }
      #expect(delivered == ["first", "second", "third", "fourth"])
    }
  }

  // MARK: claims

  @Test func aClaimOfADeadDelivererIsRecoveredAndDelivered() throws {
    let deadPID: Int32 = 999_999
    try #require(kill(deadPID, 0) != 0 && errno == ESRCH, "pid \(deadPID) exists here")
    try Self.withOutbox { outbox in
      let name = try Self.spool(Self.event(), in: outbox)
      #expect(rename(outbox.directory + "/" + name, outbox.directory + "/.claim-\(deadPID)-" + name) == 0)
      #expect(outbox.pendingFiles().isEmpty)
      let server = FakeAPIServer()
      let report = Self.deliverer(server, outbox).drain(now: Self.now)
      #expect(report.sent == 1)
      #expect(report.finished == [name])
      #expect(Self.names(in: outbox.directory).isEmpty)
    }
  }

  @Test func aClaimOfALiveDelivererIsLeftAloneUntilItIsOld() throws {
    try Self.withOutbox { outbox in
      let name = try Self.spool(Self.event(), in: outbox)
      let claim = try #require(outbox.claim(name, now: Self.now))
      let server = FakeAPIServer()
      let report = Self.deliverer(server, outbox).drain(now: Self.now)
      #expect(report == DeliveryReport())
      #expect(server.requests.isEmpty)
      #expect(Self.names(in: outbox.directory) == [(claim.path.split(separator: "/").last.map(String.init) ?? "")])
      let later = Timestamp(secondsSinceEpoch: Self.now.secondsSinceEpoch + 601)
      #expect(Self.deliverer(server, outbox).drain(now: later).sent == 1)
      #expect(Self.names(in: outbox.directory).isEmpty)
    }
  }

  @Test func aClaimIsAsOldAsItsClaimNotItsEntry() throws {
    try Self.withOutbox { outbox in
      // An entry spooled long ago, claimed just now by a live deliverer: not stale.
      let old = Timestamp(secondsSinceEpoch: Self.now.secondsSinceEpoch - 3600)
      let name = try Self.spool(Self.event(), in: outbox, at: old)
      _ = try #require(outbox.claim(name, now: Self.now))
      #expect(outbox.recoverStaleClaims(now: Timestamp(secondsSinceEpoch: Self.now.secondsSinceEpoch + 10)) == 0)
      #expect(outbox.recoverStaleClaims(now: Timestamp(secondsSinceEpoch: Self.now.secondsSinceEpoch + 601)) == 1)
      #expect(outbox.pendingFiles() == [name])
    }
  }

  @Test func setAsideEntriesAreBoundedLikeTheOutbox() throws {
    try Self.withOutbox { temporary in
      let outbox = Outbox(directory: temporary.directory, capacity: 2)
      var names: [String] = []
      for offset in 0..<3 {
        let time = Timestamp(secondsSinceEpoch: Self.now.secondsSinceEpoch + Int64(offset))
        names.append(try Self.spool(Self.event(rule: "r\(offset)"), in: temporary, at: time))
      }
      var dropped = 0
      for name in names { dropped += outbox.setAside(try #require(outbox.claim(name, now: Self.now))) }
      #expect(dropped == 1)
      #expect(Self.names(in: outbox.rejectedDirectory).sorted() == Array(names.dropFirst()).sorted())
    }
  }

  @Test func aSecondDrainDoesNotSendAgain() throws {
    try Self.withOutbox { outbox in
      _ = try Self.spool(Self.event(rule: "a"), in: outbox)
      _ = try Self.spool(Self.event(rule: "b"), in: outbox)
      let server = FakeAPIServer()
      #expect(Self.deliverer(server, outbox).drain(now: Self.now).sent == 2)
      #expect(Self.deliverer(server, outbox).drain(now: Self.now) == DeliveryReport())
      #expect(server.requests.count == 2)
    }
  }

  @Test func aFileClaimedByAnotherDelivererMeanwhileIsSkipped() throws {
    try Self.withOutbox { outbox in
      let first = try Self.spool(Self.event(rule: "a"), in: outbox)
      let second = try Self.spool(
        Self.event(rule: "b"), in: outbox, at: Timestamp(secondsSinceEpoch: Self.now.secondsSinceEpoch + 1))
      let server = FakeAPIServer()
      var taken: OutboxClaim?
      server.beforeAnswer = { _ in
        // Another deliverer takes the second file after this one listed the outbox.
        if taken == nil { taken = outbox.claim(second, now: Self.now) }
      }
      let report = Self.deliverer(server, outbox).drain(now: Self.now)
      #expect(taken != nil)
      #expect(report.sent == 1)
      #expect(report.finished == [first])
      #expect(server.requests.count == 1)
    }
  }

  @Test func concurrentDeliverersSendEveryFileExactlyOnce() throws {
    try Self.withOutbox { outbox in
      var events: [InjectionEvent] = []
      for offset in 0..<5 {
        let event = Self.event(rule: "r\(offset)")
        events.append(event)
        _ = try Self.spool(
          event, in: outbox, at: Timestamp(secondsSinceEpoch: Self.now.secondsSinceEpoch + Int64(offset)))
      }
      // The same Event again: its increment must not be lost either.
      _ = try Self.spool(events[0], in: outbox, at: Timestamp(secondsSinceEpoch: Self.now.secondsSinceEpoch + 9))
      let server = FakeAPIServer()
      var nested: DeliveryReport?
      var started = false
      server.beforeAnswer = { [unowned server] _ in
        // While the first deliverer waits for its first answer, a second one drains the same outbox.
        guard !started else { return }
        started = true
        nested = Self.deliverer(server, outbox).drain(now: Self.now)
      }
      let outer = Self.deliverer(server, outbox).drain(now: Self.now)
      let inner = try #require(nested)
      #expect(outer.sent + inner.sent == 5)
      #expect(outer.aggregated + inner.aggregated == 1)
      #expect(outer.finished.isDisjoint(with: inner.finished))
      #expect(outer.finished.count + inner.finished.count == 6)
      // One create per Event: the repeat went with its first occurrence, or was counted into it after.
      let posted = server.requests("POST").compactMap { $0.body?["metadata"]?["name"]?.stringValue }
      #expect(Set(posted).count == 5)
      #expect(server.events[Self.object(events[0], .coreV1)]?["count"] == 2)
      #expect(Self.names(in: outbox.directory).isEmpty)
    }
  }
}

extension EventDelivererTests {
  // MARK: hostile entries (issue 12)

  /// An entry file as another writer might have made it: `namespace` and `name` in the file, and a body.
  static func plant(
    in outbox: Outbox, file: String, namespace: String, name: String, body: JSONValue, api: String = "v1"
  ) -> Bool {
    let entry: JSONValue = [
      "apiVersion": "podinject.dev/v1alpha1", "kind": "OutboxEntry", "api": .string(api),
      "namespace": .string(namespace), "name": .string(name), "reason": "InjectionFailed", "rule": "tracing",
      "note": "planted", "lastTimestamp": "2026-11-29T10:00:00Z", "lastObservedTime": "2026-11-29T10:00:00.000000Z",
      "event": body,
    ]
    return writeFile(outbox.directory + "/" + file, entry.serializedBytes())
  }

  static func eventBody(namespace: String, name: String, apiVersion: String = "v1", kind: String = "Event")
    -> JSONValue
  {
    [
      "apiVersion": .string(apiVersion), "kind": .string(kind),
      "metadata": ["namespace": .string(namespace), "name": .string(name)],
      "involvedObject": ["kind": "ReplicaSet", "namespace": .string(namespace), "name": "web"],
      "reason": "InjectionFailed", "message": "planted", "type": "Warning",
    ]
  }

  static let traversal = "x/../../../../api/v1/namespaces/kube-system/configmaps?x="

  static let invalidEntries: [(String, String, String, JSONValue)] = [
    (
      "a namespace that climbs out of the Event path", traversal, "web.0123456789abcdef",
      eventBody(namespace: traversal, name: "web.0123456789abcdef")
    ),
    (
      "a namespace libcurl cannot put in a URL", "team a", "web.0123456789abcdef",
      eventBody(namespace: "team a", name: "web.0123456789abcdef")
    ),
    (
      "a name that is not a DNS subdomain", "team-a", "../configmaps/x",
      eventBody(namespace: "team-a", name: "../configmaps/x")
    ),
    (
      "a body in another namespace", "team-a", "web.0123456789abcdef",
      eventBody(namespace: "kube-system", name: "web.0123456789abcdef")
    ),
    (
      "a body with another name", "team-a", "web.0123456789abcdef",
      eventBody(namespace: "team-a", name: "other.0123456789abcdef")
    ),
    (
      "a body that is not an Event", "team-a", "web.0123456789abcdef",
      eventBody(namespace: "team-a", name: "web.0123456789abcdef", kind: "ConfigMap")
    ),
    (
      "a body of another API", "team-a", "web.0123456789abcdef",
      eventBody(namespace: "team-a", name: "web.0123456789abcdef", apiVersion: "events.k8s.io/v1")
    ),
  ]

  @Test(arguments: invalidEntries)
  func anInvalidEntryIsSetAsideUnsentAndTheRestDelivered(
    _ what: String, namespace: String, name: String, body: JSONValue
  ) throws {
    try Self.withOutbox { outbox in
      let planted = "1795929000.1-1-0-0123456789abcdef.json"
      #expect(Self.plant(in: outbox, file: planted, namespace: namespace, name: name, body: body))
      let good = try Self.spool(Self.event(), in: outbox)
      let server = FakeAPIServer()
      let report = Self.deliverer(server, outbox).drain(now: Self.now)
      #expect(server.requests.map(\.path) == [Self.collection(.coreV1)], "\(what)")
      #expect(report.sent == 1, "\(what)")
      #expect(report.rejected == 1, "\(what)")
      #expect(Self.names(in: outbox.directory) == ["rejected"], "\(what)")
      #expect(Self.names(in: outbox.rejectedDirectory) == [planted], "\(what)")
      #expect(report.finished == [planted, good], "\(what)")
      #expect(
        report.problems.count == 1 && report.problems[0].contains(planted)
          && report.problems[0].contains(outbox.rejectedDirectory), "\(what): \(report.problems)")
      #expect(!report.problems.joined().contains(namespace) || namespace == "team-a", "\(what): value echoed")
    }
  }

  @Test func aURLErrorIsPermanentAndTheDrainGoesOn() throws {
    try Self.withOutbox { outbox in
      let first = try Self.spool(Self.event(rule: "a"), in: outbox)
      let second = try Self.spool(
        Self.event(rule: "b"), in: outbox, at: Timestamp(secondsSinceEpoch: Self.now.secondsSinceEpoch + 1))
      let server = FakeAPIServer()
      server.script = [.failure(TransportError(code: 3, message: "URL using bad/illegal format or missing URL"))]
      let report = Self.deliverer(server, outbox).drain(now: Self.now)
      #expect(server.requests.count == 2)
      #expect(report.rejected == 1)
      #expect(report.sent == 1)
      #expect(report.deferred == 0)
      #expect(report.finished == [first, second])
      #expect(Self.names(in: outbox.rejectedDirectory) == [first])
      #expect(report.problems.count == 1 && report.problems[0].contains("refused for good"), "\(report.problems)")
    }
  }
}

extension EventDelivererTests {
  // MARK: one deliverer per outbox (issue 12)

  @Test func oneDelivererHoldsTheLockAndTakesWhatArrivesMeanwhile() throws {
    try Self.withOutbox { outbox in
      _ = try Self.spool(Self.event(rule: "a"), in: outbox)
      let lock = try #require(try OutboxLock.take(outbox))
      #expect(try OutboxLock.take(outbox) == nil, "a second deliverer got the lock")
      let server = FakeAPIServer()
      var arrived: [String] = []
      server.beforeAnswer = { _ in
        // Two writers spool while the deliverer is busy; they find the lock taken and leave their Events to it.
        guard arrived.count < 2 else { return }
        let time = Timestamp(secondsSinceEpoch: Self.now.secondsSinceEpoch + Int64(arrived.count) + 1)
        arrived.append((try? Self.spool(Self.event(rule: "r\(arrived.count)"), in: outbox, at: time)) ?? "")
        do {
          #expect(try OutboxLock.take(outbox) == nil, "the lock was free while a deliverer drained")
        } catch {
          Issue.record(error)
        }
      }
      let report = Self.deliverer(server, outbox).drain(holding: lock, now: { Self.now })
      #expect(report.sent == 3)
      #expect(!report.handOver)
      #expect(Self.names(in: outbox.directory).isEmpty)
      #expect(try OutboxLock.take(outbox) != nil, "the lock was not given up")
    }
  }

  @Test func anEntryLeftAfterAFailureIsNotRetriedByTheSameDeliverer() throws {
    try Self.withOutbox { outbox in
      let name = try Self.spool(Self.event(), in: outbox)
      let server = FakeAPIServer()
      server.script = [.success(FakeAPIServer.status(500, "InternalError", "failed calling webhook"))]
      let lock = try #require(try OutboxLock.take(outbox))
      let report = Self.deliverer(server, outbox).drain(holding: lock, now: { Self.now })
      #expect(server.requests.count == 1)
      #expect(report.deferred == 1)
      #expect(Self.names(in: outbox.directory) == [name])
      #expect(try OutboxLock.take(outbox) != nil)
    }
  }

  @Test func whenTheBudgetRunsOutWhileEventsArriveTheLockIsHandedOver() throws {
    try Self.withOutbox { outbox in
      _ = try Self.spool(Self.event(rule: "a"), in: outbox)
      let server = FakeAPIServer()
      server.latency = 60
      var late: [String] = []
      server.beforeAnswer = { _ in
        // Each request takes 60 ms of a 100 ms budget, and another Event arrives meanwhile.
        guard late.count < 2 else { return }
        let time = Timestamp(secondsSinceEpoch: Self.now.secondsSinceEpoch + 5 + Int64(late.count))
        late.append((try? Self.spool(Self.event(rule: "late\(late.count)"), in: outbox, at: time)) ?? "")
      }
      let lock = try #require(try OutboxLock.take(outbox))
      let report = Self.deliverer(server, outbox, budget: 100).drain(holding: lock, now: { Self.now })
      #expect(report.sent == 2)
      #expect(report.handOver)
      #expect(try OutboxLock.take(outbox) == nil, "the lock must stay held for the successor")
      #expect(Self.names(in: outbox.directory) == [late[1]])
      lock.release()
    }
  }

  @Test func anUnreachableAPIServerEndsTheRunAndFreesTheLock() throws {
    try Self.withOutbox { outbox in
      _ = try Self.spool(Self.event(rule: "a"), in: outbox)
      _ = try Self.spool(Self.event(rule: "b"), in: outbox)
      let server = FakeAPIServer()
      server.script = [.failure(TransportError(code: 7, message: "Connection refused"))]
      let lock = try #require(try OutboxLock.take(outbox))
      let report = Self.deliverer(server, outbox).drain(holding: lock, now: { Self.now })
      #expect(report.unreachable && !report.handOver)
      #expect(server.requests.count == 1)
      #expect(try OutboxLock.take(outbox) != nil)
    }
  }

  @Test func aLockIsTakenOverThroughAnInheritedDescriptor() throws {
    try Self.withOutbox { outbox in
      let first = try #require(try OutboxLock.take(outbox))
      // What a process started with the lock holds: a descriptor of the same open directory.
      let inherited = dup(first.descriptor)
      let second = try #require(try OutboxLock.take(outbox, inherited: inherited))
      #expect(second.descriptor == inherited)
      // A descriptor of another directory is no lock.
      try Self.withOutbox { other in
        let stranger = try #require(try OutboxLock.take(other))
        #expect(try OutboxLock.take(outbox, inherited: dup(stranger.descriptor)) == nil)
      }
      second.release()
      #expect(try OutboxLock.take(outbox) != nil)
    }
  }

  @Test func aRefusedOutboxHasNoLock() throws {
    try Self.withOutbox { outbox in
      #expect(chmod(outbox.directory, 0o777) == 0)
      #expect(throws: FileError.self) { try OutboxLock.take(outbox) }
    }
  }

  // MARK: Events held in memory (the outbox was refused)

  @Test func heldEventsAreDeliveredFromMemoryAndTheirRepeatsCountedTogether() throws {
    let server = FakeAPIServer()
    let event = Self.event()
    let held = try (0..<3).map { index in
      HeldEvent(
        name: "1795929569.42-7-\(index)-x.json",
        pending: try #require(PendingEvent(json: OutboxEntry(api: .coreV1, event: event).json)))
    }
    let report = Self.deliverer(server, Outbox(directory: "/nonexistent")).deliver(held: held)
    #expect(report.sent == 1)
    #expect(report.aggregated == 2)
    #expect(server.requests.map(\.method) == ["POST"])
    #expect(server.events[Self.object(event, .coreV1)]?["count"] == 3)
  }

  @Test func aHeldEventThatCannotBeDeliveredIsReportedLost() throws {
    let server = FakeAPIServer()
    server.script = [.failure(TransportError(code: 7, message: "Connection refused"))]
    let held = [Self.event(rule: "a"), Self.event(rule: "b")].enumerated().map { index, event in
      HeldEvent(name: "n\(index).json", pending: PendingEvent(json: OutboxEntry(api: .coreV1, event: event).json)!)
    }
    let report = Self.deliverer(server, Outbox(directory: "/nonexistent")).deliver(held: held)
    #expect(server.requests.count == 1)
    #expect(report.deferred == 2)
    #expect(report.problems.count == 2)
    #expect(report.problems.allSatisfy { $0.contains("lost") }, "\(report.problems)")
  }
}

/// Writes `bytes` to `path` (created or truncated); false on any failure.
private func writeFile(_ path: String, _ bytes: [UInt8]) -> Bool {
  guard let file = fopen(path, "wb") else { return false }
  defer { fclose(file) }
  return fwrite(bytes, 1, bytes.count, file) == bytes.count
}
