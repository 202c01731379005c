import PodInject
import Testing

/// Counting a repeat into the Event that already exists, for both Event APIs (SPEC §5).
struct EventAggregationTests {
  static let time = Timestamp(secondsSinceEpoch: 1_795_929_569, microseconds: 42)

  static func pending(_ api: EventAPI) throws -> PendingEvent {
    let event = InjectionEvent(
      reason: .injectionFailed, rule: "tracing", failure: .templateValueMissing,
      regarding: ObjectReference(
        apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-7d4b9c", namespace: "team-a", uid: "u1"),
      note: "rule \"tracing\" not applied", time: time, reportingController: "podinject.dev/webhook",
      reportingInstance: "podinject-0")
    return try #require(PendingEvent(json: OutboxEntry(api: api, event: event).json))
  }

  // MARK: occurrences

  static let storedCounts: [(String, JSONValue, Int)] = [
    ("core/v1 count", ["count": 5], 5),
    ("events.k8s.io series.count", ["series": ["count": 3, "lastObservedTime": "x"]], 3),
    ("events.k8s.io deprecatedCount", ["deprecatedCount": 4], 4),
    ("deprecatedCount below series.count", ["deprecatedCount": 1, "series": ["count": 6]], 6),
    ("series.count below deprecatedCount", ["deprecatedCount": 9, "series": ["count": 2]], 9),
    ("core count beside events.k8s.io fields", ["count": 7, "deprecatedCount": 2, "series": ["count": 3]], 7),
    ("nothing counted yet", ["metadata": ["name": "e"]], 1),
    ("a count of zero is still one occurrence", ["count": 0], 1),
    ("a count that is not a number", ["count": "12"], 1),
    ("not an object", "text", 1),
  ]

  @Test(arguments: storedCounts)
  func occurrencesReadWhicheverAPIWroteTheEvent(_ what: String, stored: JSONValue, expected: Int) {
    #expect(EventAggregation.occurrences(of: stored) == expected, "\(what)")
  }

  // MARK: the PATCH

  @Test(arguments: [EventAPI.coreV1, .eventsV1])
  func noResourceVersionMeansNoPatch(api: EventAPI) throws {
    let pending = try Self.pending(api)
    #expect(EventAggregation.patch(stored: ["count": 1, "metadata": ["name": "e"]], pending: pending) == nil)
    #expect(EventAggregation.patch(stored: ["count": 1], pending: pending) == nil)
    #expect(EventAggregation.patch(stored: ["metadata": ["resourceVersion": 7]], pending: pending) == nil)
  }

  @Test func coreV1PatchIncrementsCountAndGuardsWithTheResourceVersion() throws {
    let patch = EventAggregation.patch(
      stored: ["metadata": ["name": "e", "resourceVersion": "41"], "count": 4], pending: try Self.pending(.coreV1))
    let expected: JSONValue = [
      "metadata": ["resourceVersion": "41"], "count": 5, "lastTimestamp": "2026-11-29T05:19:29Z",
      "message": "rule \"tracing\" not applied",
    ]
    #expect(patch == expected)
    #expect(EventAggregation.patchContentType(.coreV1) == "application/strategic-merge-patch+json")
  }

  @Test func eventsV1PatchStartsOrIncrementsTheSeries() throws {
    let pending = try Self.pending(.eventsV1)
    let first = EventAggregation.patch(stored: ["metadata": ["resourceVersion": "9"]], pending: pending)
    #expect(
      first == [
        "metadata": ["resourceVersion": "9"],
        "series": ["count": 2, "lastObservedTime": "2026-11-29T05:19:29.000042Z"],
      ])
    let later = EventAggregation.patch(
      stored: ["metadata": ["resourceVersion": "10"], "series": ["count": 2, "lastObservedTime": "x"]], pending: pending
    )
    #expect(later?["series"]?["count"] == 3)
    #expect(later?["count"] == nil)
    #expect(EventAggregation.patchContentType(.eventsV1) == "application/merge-patch+json")
  }

  @Test(arguments: [EventAPI.coreV1, .eventsV1])
  func aPatchRecordsItsOccurrenceAndKeepsTheLastOnes(api: EventAPI) throws {
    let pending = try Self.pending(api)
    let annotation = EventAggregation.occurrencesAnnotation
    let older = (0..<EventAggregation.rememberedOccurrences).map { "id\($0)" }
    let stored: JSONValue = [
      "metadata": [
        "resourceVersion": "3", "annotations": [annotation: .string(older.joined(separator: " "))],
      ]
    ]
    let patch = try #require(EventAggregation.patch(stored: stored, pending: pending, occurrences: ["new"]))
    let list = try #require(patch["metadata"]?["annotations"]?[annotation]?.stringValue)
    #expect(list.split(separator: " ").map(String.init) == Array(older.dropFirst()) + ["new"])
    // Several at once: counted together, the list keeps the newest.
    let three = try #require(
      EventAggregation.patch(stored: stored, pending: pending, occurrences: ["x", "y", "z"]))
    #expect(EventAggregation.countedOccurrences(of: three) == Array(older.dropFirst(3)) + ["x", "y", "z"])
    #expect(three["count"] == 4 || three["series"]?["count"] == 4)
    #expect(EventAggregation.countedOccurrences(of: ["metadata": ["annotations": [annotation: "a b"]]]) == ["a", "b"])
    #expect(EventAggregation.countedOccurrences(of: ["metadata": ["resourceVersion": "3"]]).isEmpty)
  }

  @Test(arguments: [EventAPI.coreV1, .eventsV1])
  func aCreatedEventListsItsOccurrencesAndCountsThem(api: EventAPI) throws {
    let first = try Self.pending(api)
    let created = EventAggregation.creation(first: first, last: first, occurrences: ["first"])
    #expect(EventAggregation.countedOccurrences(of: created) == ["first"])
    #expect(created["metadata"]?["name"] == first.body["metadata"]?["name"])
    #expect(created["count"] == first.body["count"] && created["series"] == nil)
    #expect(EventAggregation.creation(first: first, last: first, occurrences: []) == first.body)
    // Three at once: one Event counting three, seen last when the newest was.
    var last = first
    last.lastTimestamp = "2026-11-29T05:20:00Z"
    last.lastObservedTime = "2026-11-29T05:20:00.000001Z"
    let batch = EventAggregation.creation(first: first, last: last, occurrences: ["a", "b", "c"])
    #expect(EventAggregation.countedOccurrences(of: batch) == ["a", "b", "c"])
    switch api {
    case .eventsV1:
      #expect(batch["series"] == ["count": 3, "lastObservedTime": "2026-11-29T05:20:00.000001Z"])
      #expect(batch["eventTime"] == first.body["eventTime"])
    default:
      #expect(batch["count"] == 3)
      #expect(batch["lastTimestamp"] == "2026-11-29T05:20:00Z")
      #expect(batch["firstTimestamp"] == first.body["firstTimestamp"])
    }
  }

  // MARK: paths

  @Test func collectionPathsFollowTheAPI() throws {
    #expect(EventAggregation.collectionPath(.coreV1, namespace: "team-a") == "/api/v1/namespaces/team-a/events")
    #expect(
      EventAggregation.collectionPath(.eventsV1, namespace: "team-a")
        == "/apis/events.k8s.io/v1/namespaces/team-a/events")
    let core = try Self.pending(.coreV1)
    #expect(core.objectPath == "/api/v1/namespaces/team-a/events/" + core.name)
    let events = try Self.pending(.eventsV1)
    #expect(events.objectPath == "/apis/events.k8s.io/v1/namespaces/team-a/events/" + events.name)
  }
}
