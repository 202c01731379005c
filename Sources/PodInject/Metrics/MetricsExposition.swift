/// The metrics as a scrape shows them: the Prometheus text format (0.0.4) or OpenMetrics 1.0. A pure
/// function of a snapshot; every label value comes from a fixed vocabulary or a rule name.
public enum MetricsExposition {
  /// The two formats a scraper can ask for.
  public enum Format: Sendable, Equatable {
    case prometheus
    case openMetrics

    /// The format an `Accept` header asks for: OpenMetrics when it names it, else the text format.
    public static func negotiate(accept: String?) -> Format {
      (accept ?? "").containsText("application/openmetrics-text") ? .openMetrics : .prometheus
    }

    public var contentType: String {
      switch self {
      case .prometheus: return "text/plain; version=0.0.4; charset=utf-8"
      case .openMetrics: return "application/openmetrics-text; version=1.0.0; charset=utf-8"
      }
    }
  }

  /// Everything a scrape shows besides the file's counters.
  public struct Extras: Sendable, Equatable {
    /// Events waiting in the outbox; nil when it could not be read.
    public var outboxDepth: Int?
    public var version: String
    public init(outboxDepth: Int?, version: String) {
      self.outboxDepth = outboxDepth
      self.version = version
    }
  }

  /// The exposition text of `snapshot`.
  public static func render(_ snapshot: MetricsSnapshot, extras: Extras, format: Format) -> String {
    var out = Writer(format: format)
    out.family("podinject_admissions", "counter", "Admission requests by operation, result and HTTP status.")
    for (operation, name) in MetricsLayout.operations.enumerated() {
      for (result, resultName) in MetricsLayout.results.enumerated() {
        out.sample(
          "podinject_admissions_total",
          [("operation", name), ("result", resultName), ("code", result == 0 ? "200" : "403")],
          snapshot.admissions[operation][result])
      }
    }
    for (index, code) in MetricsLayout.refusalCodes.enumerated() {
      out.sample(
        "podinject_admissions_total", [("operation", "unknown"), ("result", "refused"), ("code", String(code))],
        snapshot.refusals[index])
    }

    out.family(
      "podinject_admission_duration_seconds", "histogram",
      "Time from the start of the process to the answer written, for answered admissions.")
    var cumulative: UInt64 = 0
    for (index, bound) in MetricsLayout.durationBuckets.enumerated() {
      cumulative &+= snapshot.durationBuckets[index]
      out.sample("podinject_admission_duration_seconds_bucket", [("le", "\(bound)")], cumulative)
    }
    cumulative &+= snapshot.durationBuckets[MetricsLayout.durationBuckets.count]
    out.sample("podinject_admission_duration_seconds_bucket", [("le", "+Inf")], cumulative)
    out.sample(
      "podinject_admission_duration_seconds_sum", [], decimal(snapshot.durationSumMicroseconds, scale: 1_000_000))
    out.sample("podinject_admission_duration_seconds_count", [], cumulative)

    out.family(
      "podinject_rule_outcomes", "counter",
      "Rules that matched a pod, by rule, outcome (applied, skipped, failed) and reason.")
    for rule in snapshot.rules {
      for (index, outcome) in MetricsLayout.ruleOutcomes.enumerated() {
        var labels = [("rule", rule.name), ("outcome", outcome.outcome)]
        if !outcome.reason.isEmpty { labels.append(("reason", outcome.reason)) }
        out.sample("podinject_rule_outcomes_total", labels, rule.counts[index])
      }
    }

    out.family(
      "podinject_events", "counter",
      "Events by result: spooled (written to the outbox), sent (created), aggregated (counted into an "
        + "existing Event), rejected (refused for good by the API server), dropped (lost).")
    for (index, result) in MetricsLayout.eventResults.enumerated() {
      out.sample("podinject_events_total", [("result", result)], snapshot.events[index])
    }

    if let depth = extras.outboxDepth {
      out.family("podinject_events_outbox_depth", "gauge", "Events waiting in the outbox for delivery.")
      out.sample("podinject_events_outbox_depth", [], UInt64(max(0, depth)))
    }

    if let valid = snapshot.configValid {
      out.family("podinject_config_valid", "gauge", "Whether the last configuration load succeeded (1) or not (0).")
      out.sample("podinject_config_valid", [], valid ? 1 : 0)
      out.family(
        "podinject_config_last_load_timestamp_seconds", "gauge", "When the configuration was last loaded.")
      out.sample(
        "podinject_config_last_load_timestamp_seconds", [], decimal(snapshot.configLoadMilliseconds, scale: 1000))
    }

    out.family(
      "podinject_metrics_created_timestamp_seconds", "gauge",
      "When the counters started from zero (the metrics file was made).")
    out.sample("podinject_metrics_created_timestamp_seconds", [], snapshot.created)

    switch format {
    case .prometheus:
      out.family("podinject_build_info", "gauge", "The podinject release; always 1.")
    case .openMetrics:
      out.family("podinject_build", "info", "The podinject release.")
    }
    out.sample("podinject_build_info", [("version", extras.version)], 1)
    if format == .openMetrics { out.text += "# EOF\n" }
    return out.text
  }

  /// `value / scale` as a decimal number, without the rounding of a Double.
  static func decimal(_ value: UInt64, scale: UInt64) -> String {
    let digits = String(scale).count - 1
    let fraction = String(value % scale)
    return "\(value / scale)." + String(repeating: "0", count: digits - fraction.count) + fraction
  }

  /// Escapes a label value as both formats require.
  static func escape(_ value: String) -> String {
    var out = ""
    for character in value.unicodeScalars {
      switch character {
      case "\\": out += "\\\\"
      case "\"": out += "\\\""
      case "\n": out += "\\n"
      default: out.unicodeScalars.append(character)
      }
    }
    return out
  }

  private struct Writer {
    let format: Format
    var text = ""

    /// `# HELP` and `# TYPE`; OpenMetrics names a counter family without `_total`.
    mutating func family(_ name: String, _ type: String, _ help: String) {
      let family = format == .prometheus && type == "counter" ? name + "_total" : name
      text += "# HELP \(family) \(help)\n# TYPE \(family) \(type)\n"
    }

    mutating func sample(_ name: String, _ labels: [(String, String)], _ value: UInt64) {
      sample(name, labels, String(value))
    }

    mutating func sample(_ name: String, _ labels: [(String, String)], _ value: String) {
      text += name
      if !labels.isEmpty {
        text += "{" + labels.map { "\($0.0)=\"\(MetricsExposition.escape($0.1))\"" }.joined(separator: ",") + "}"
      }
      text += " " + value + "\n"
    }
  }
}
