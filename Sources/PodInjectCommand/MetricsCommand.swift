import PodInject

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// `podinject metrics`: the counters of this replica's admissions, for Prometheus. On stdout, or as a CGI
/// program (`GET /metrics`; a host starts it with `PODINJECT_CGI_COMMAND=metrics`, since a CGI program is
/// run without arguments).
enum MetricsCommand: Command {
  static let name = "metrics"
  static let abstract = "Print the metrics (Prometheus text format, or OpenMetrics), on stdout or as CGI."
  static let options: [OptionSpec] = [
    .config,
    .flag("--cgi", help: "force CGI mode (chosen automatically when GATEWAY_INTERFACE or REQUEST_METHOD is set)"),
    .flag("--openmetrics", help: "OpenMetrics instead of the Prometheus text format (CGI: from the Accept header)"),
  ]

  static func run(_ arguments: ParsedArguments) -> Int32 {
    let host = SystemHost()
    signal(SIGPIPE, SIG_IGN)
    let cgi = InvocationMode.detect(forceCGI: arguments.has("cgi"), environment: host.environment) == .cgi
    if cgi, let method = host.environment("REQUEST_METHOD"), method != "GET" && method != "HEAD" {
      IO.write(1, header(405, "Method Not Allowed", "text/plain; charset=utf-8", ["Allow: GET, HEAD"]))
      IO.write(1, "only GET and HEAD\n")
      return ExitStatus.success
    }
    let format: MetricsExposition.Format =
      cgi
      ? .negotiate(accept: host.environment("HTTP_ACCEPT")) : arguments.has("openmetrics") ? .openMetrics : .prometheus
    let now = host.now()
    let metrics = MetricsRecorder.shared(environment: host.environment, now: now)
    let config = ConfigFile(option: arguments["config"], host: host).load(cached: true)
    metrics.loaded(config, now: now)
    metrics.register(config)
    let outbox = Outbox(directory: config.eventSettings.outbox)
    let depth = (try? outbox.open()).map { _ in outbox.pendingFiles().count } ?? 0
    for note in metrics.notes { IO.write(2, "podinject: \(note)\n") }
    guard let text = metrics.exposition(format: format, outboxDepth: depth) else {
      let reason = metrics.notes.last ?? "metrics are off (PODINJECT_METRICS_FILE is empty)"
      if !cgi { Podinject.fail(reason) }
      IO.write(1, header(503, "Service Unavailable", "text/plain; charset=utf-8") + reason + "\n")
      return ExitStatus.success
    }
    if cgi {
      IO.write(1, header(200, "OK", format.contentType) + (host.environment("REQUEST_METHOD") == "HEAD" ? "" : text))
    } else {
      IO.write(1, text)
    }
    return ExitStatus.success
  }

  private static func header(_ status: Int, _ reason: String, _ type: String, _ extra: [String] = []) -> String {
    var text = "Status: \(status) \(reason)\r\nContent-Type: \(type)\r\n"
    for line in extra { text += line + "\r\n" }
    return text + "\r\n"
  }
}
