import PodInject

/// An Event an admission could not put in the outbox, on its way to the deliverer: the name its file
/// would have had, and the entry.
public struct HeldEntry: Sendable {
  public var name: String
  public var entry: OutboxEntry

  public init(name: String, entry: OutboxEntry) {
    self.name = name
    self.entry = entry
  }

  /// The Event as the deliverer takes it: checked like an outbox entry (nil when it is not valid).
  public var held: HeldEvent? { (try? PendingEvent(entry: entry.json)).map { HeldEvent(name: name, pending: $0) } }

  /// What goes down the pipe: a JSON array of `{"name": ..., "entry": ...}`.
  public static func serialize(_ entries: [HeldEntry]) -> [UInt8] {
    JSONValue.array(
      entries.map { .object(JSONObject([("name", .string($0.name)), ("entry", $0.entry.json)])) }
    ).serializedBytes()
  }

  /// Reads what `serialize` wrote; every Event is checked as an outbox entry is. Returns the valid
  /// Events and a line for each that is not.
  public static func parse(_ bytes: [UInt8]) -> (events: [HeldEvent], problems: [String]) {
    guard let items = (try? JSONParser.parse(bytes))?.arrayValue else {
      return ([], bytes.isEmpty ? [] : ["Events handed over on stdin are unreadable"])
    }
    var events: [HeldEvent] = []
    var problems: [String] = []
    for (index, item) in items.enumerated() {
      guard let name = item["name"]?.stringValue, let entry = item["entry"] else {
        problems.append("Event \(index) handed over on stdin is unreadable")
        continue
      }
      do {
        events.append(HeldEvent(name: name, pending: try PendingEvent(entry: entry)))
      } catch {
        problems.append("Event \(index) handed over on stdin is refused: \(error)")
      }
    }
    return (events, problems)
  }
}
