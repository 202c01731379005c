/// How a repeat of an Event that already exists is counted: a PATCH of the stored Event, guarded by
/// its `resourceVersion`, so that concurrent reporters never lose an increment (SPEC §5).
public enum EventAggregation {
  /// The media type of the PATCH for each API.
  public static func patchContentType(_ api: EventAPI) -> String {
    api == .eventsV1 ? "application/merge-patch+json" : "application/strategic-merge-patch+json"
  }

  /// The collection path Events of `namespace` are created in.
  public static func collectionPath(_ api: EventAPI, namespace: String) -> String {
    api == .eventsV1
      ? "/apis/events.k8s.io/v1/namespaces/\(namespace)/events" : "/api/v1/namespaces/\(namespace)/events"
  }

  /// How many times the stored Event has been seen, whichever API wrote it.
  public static func occurrences(of stored: JSONValue) -> Int {
    func number(_ value: JSONValue?) -> Int? {
      guard case .number(let text)? = value else { return nil }
      return Int(text)
    }
    let counts = [
      number(stored["count"]), number(stored["deprecatedCount"]), number(stored["series"]?["count"]),
    ].compactMap { $0 }
    return max(1, counts.max() ?? 1)
  }

  /// The annotation on a stored Event that lists the last occurrences counted into it (outbox entry
  /// ids), so that a retry of one whose answer was lost (the request timed out after the API server
  /// had applied it) is recognised instead of counted twice.
  public static let occurrencesAnnotation = "podinject.dev/occurrences"
  /// How many occurrence ids the annotation keeps: enough for every deliverer that can be retrying
  /// at once, small enough to stay a few hundred bytes.
  public static let rememberedOccurrences = 32

  /// The occurrence ids the stored Event says it has counted, oldest first.
  public static func countedOccurrences(of stored: JSONValue) -> [String] {
    guard let list = stored["metadata"]?["annotations"]?[occurrencesAnnotation]?.stringValue else { return [] }
    return list.split(separator: " ").map(String.init)
  }

  /// The Event to create for `occurrences` (ids, oldest first) of one Event: the body of the oldest
  /// (`first`), counting them all and seen last as the newest (`last`) was, listing the ids.
  public static func creation(first: PendingEvent, last: PendingEvent, occurrences: [String]) -> JSONValue {
    guard !occurrences.isEmpty, var body = first.body.objectValue else { return first.body }
    var metadata = body["metadata"]?.objectValue ?? JSONObject()
    var annotations = metadata["annotations"]?.objectValue ?? JSONObject()
    annotations[occurrencesAnnotation] = .string(list(occurrences))
    metadata["annotations"] = .object(annotations)
    body["metadata"] = .object(metadata)
    if occurrences.count > 1 {
      for (key, value) in counting(occurrences.count, last: last) { body[key] = value }
    }
    return .object(body)
  }

  /// The members that say an Event was seen `count` times, the last as `last` was: `series` for
  /// events.k8s.io/v1; `count`, `lastTimestamp` and the newest `message` for core/v1.
  static func counting(_ count: Int, last: PendingEvent) -> [(String, JSONValue)] {
    switch last.api {
    case .eventsV1:
      return [
        (
          "series",
          .object(
            JSONObject([("count", .number(String(count))), ("lastObservedTime", .string(last.lastObservedTime))]))
        )
      ]
    case .coreV1, .none:
      return [
        ("count", .number(String(count))), ("lastTimestamp", .string(last.lastTimestamp)),
        ("message", .string(last.note)),
      ]
    }
  }

  /// The ids as the annotation holds them: the last `rememberedOccurrences`, space-separated.
  static func list(_ occurrences: [String]) -> String {
    var list = ""
    for id in occurrences.suffix(rememberedOccurrences) { list += list.isEmpty ? id : " " + id }
    return list
  }

  /// The PATCH body that records more occurrences of `pending` (the newest) on `stored`: one per id
  /// in `occurrences`, which the stored Event must not list yet (at least one when none is given);
  /// nil when `stored` has no resourceVersion to guard the update with.
  public static func patch(stored: JSONValue, pending: PendingEvent, occurrences: [String] = []) -> JSONValue? {
    guard let version = stored["metadata"]?["resourceVersion"]?.stringValue else { return nil }
    let count = Self.occurrences(of: stored) + max(1, occurrences.count)
    var metadataMembers: [(String, JSONValue)] = [("resourceVersion", .string(version))]
    if !occurrences.isEmpty {
      let counted = list(countedOccurrences(of: stored) + occurrences)
      metadataMembers.append(("annotations", .object(JSONObject([(occurrencesAnnotation, .string(counted))]))))
    }
    return .object(JSONObject([("metadata", .object(JSONObject(metadataMembers)))] + counting(count, last: pending)))
  }
}
