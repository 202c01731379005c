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

  /// The PATCH body that records one more occurrence of `pending` on `stored`; nil when `stored` has
  /// no resourceVersion to guard the update with.
  public static func patch(stored: JSONValue, pending: PendingEvent) -> JSONValue? {
    guard let version = stored["metadata"]?["resourceVersion"]?.stringValue else { return nil }
    let count = occurrences(of: stored) + 1
    let metadata: JSONValue = .object(JSONObject([("resourceVersion", .string(version))]))
    switch pending.api {
    case .eventsV1:
      let series: JSONValue = .object(
        JSONObject([("count", .number(String(count))), ("lastObservedTime", .string(pending.lastObservedTime))]))
      return .object(JSONObject([("metadata", metadata), ("series", series)]))
    case .coreV1, .none:
      return .object(
        JSONObject([
          ("metadata", metadata), ("count", .number(String(count))),
          ("lastTimestamp", .string(pending.lastTimestamp)), ("message", .string(pending.note)),
        ]))
    }
  }
}
