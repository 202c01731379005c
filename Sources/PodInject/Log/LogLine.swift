/// What happened to the Events of one invocation, as the log line reports it.
public struct EventCounts: Sendable, Equatable {
  public var sent = 0
  public var aggregated = 0
  public var spooled = 0
  public var dropped = 0
  public init(sent: Int = 0, aggregated: Int = 0, spooled: Int = 0, dropped: Int = 0) {
    self.sent = sent
    self.aggregated = aggregated
    self.spooled = spooled
    self.dropped = dropped
  }
}

/// The one structured log line per invocation (SPEC §7), written last on stderr.
public enum LogLine {
  /// The line for an answered review; `notes` carries operator-facing remarks (e.g. outbox trouble).
  public static func review(
    _ result: ReviewResult, events: EventCounts, durationMs: Double, time: Timestamp, notes: [String] = []
  ) -> String {
    let request = result.request
    let failures = result.failures.map { failure -> JSONValue in
      .object(
        JSONObject(uniqueMembers: [
          .init("rule", .string(failure.rule)), .init("reason", .string(failure.reason.rawValue)),
        ]))
    }
    let skipped = result.skipped.map { skip -> JSONValue in
      .object(
        JSONObject(uniqueMembers: [.init("rule", .string(skip.rule)), .init("reason", .string(skip.reason.rawValue))]))
    }
    var object = JSONObject(uniqueMembers: [
      .init("time", .string(time.microTime)),
      .init("level", result.failures.isEmpty ? "info" : "warning"),
      .init("uid", .string(request.uid)),
      .init("namespace", .string(request.namespace)),
      .init("pod", .string(request.podName)),
      .init("operation", .string(request.operation)),
      .init("dryRun", .bool(request.dryRun)),
      .init("allowed", .bool(result.response.allowed)),
      .init("applied", .array(result.applied.map(JSONValue.string))),
      .init("skipped", .array(skipped)),
      .init("failed", .array(failures)),
      .init(
        "events",
        .object(
          JSONObject(uniqueMembers: [
            .init("sent", .number(events.sent.decimalText)),
            .init("aggregated", .number(events.aggregated.decimalText)),
            .init("spooled", .number(events.spooled.decimalText)),
            .init("dropped", .number(events.dropped.decimalText)),
          ]))
      ),
      .init("durationMs", .number(formatMilliseconds(durationMs))),
    ])
    if !result.events.isEmpty {
      object["eventReasons"] = .array(
        result.events.map {
          .object(
            JSONObject(uniqueMembers: [
              .init("reason", .string($0.reason.rawValue)), .init("rule", .string($0.rule)),
              .init("name", .string($0.name)),
            ]))
        })
    }
    if !notes.isEmpty { object["notes"] = .array(notes.map(JSONValue.string)) }
    return JSONValue.object(object).serialized()
  }

  /// A line for an input that could not be answered.
  public static func rejected(_ message: String, time: Timestamp) -> String {
    JSONValue.object(
      JSONObject([("time", .string(time.microTime)), ("level", "error"), ("error", .string(message))])
    ).serialized()
  }

  /// Milliseconds with three decimals, as JSON number text.
  static func formatMilliseconds(_ ms: Double) -> String {
    // A duration from a monotonic clock, never negative: clamped at zero, the text is always a JSON number.
    let micros = max(0, Int((ms * 1000).rounded()))
    let fraction = micros % 1000
    let padding = fraction < 10 ? "00" : fraction < 100 ? "0" : ""
    return (micros / 1000).decimalText + "." + padding + fraction.decimalText
  }
}

extension LogLine {
  /// The line of a deliverer (`podinject events flush`, detached or on demand).
  public static func delivery(_ events: EventCounts, waiting: Int, problems: [String], time: Timestamp) -> String {
    var object = JSONObject([
      ("time", .string(time.microTime)), ("level", problems.isEmpty ? "info" : "warning"),
      ("command", "events flush"),
      (
        "events",
        .object(
          JSONObject([
            ("sent", .number(String(events.sent))), ("aggregated", .number(String(events.aggregated))),
            ("deferred", .number(String(events.spooled))), ("waiting", .number(String(waiting))),
          ]))
      ),
    ])
    if !problems.isEmpty { object["problems"] = .array(problems.map(JSONValue.string)) }
    return JSONValue.object(object).serialized()
  }
}
