import KubeClient
import PodInject

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// `podinject events flush`: deliver the Events waiting in the outbox. Also what a CGI or
/// function-runtime invocation starts, detached, to deliver after its answer.
enum EventsFlushCommand: Command {
  static let name = "events flush"
  static let abstract = "Deliver the Events waiting in the outbox (exit 3 when some must wait longer)."
  static let options: [OptionSpec] = [
    .config, .kubeconfig,
    .value("--timeout-ms", valueName: "N", help: "time budget (default: events.timeoutMilliseconds)"),
    .flag("--detached", help: "as the webhook starts it: leave the outbox to a deliverer already draining it"),
    .flag("--stdin", help: "also deliver the Events given on stdin (those the webhook could not spool)"),
    .flag("--if-waiting", help: "do nothing, and log nothing, when no Event waits in the outbox"),
  ]

  static func run(_ arguments: ParsedArguments) -> Int32 {
    signal(SIGPIPE, SIG_IGN)
    let host = SystemHost()
    let configFile = ConfigFile(option: arguments["config"], host: host)
    let settings: InjectionConfig.EventSettings
    switch configFile.load(cached: true) {
    case .success(let config): settings = config.events
    case .failure(let error): return failed(error.description)
    }
    // The container entrypoint looks every few seconds: an empty outbox is not worth a log line.
    if arguments.has("if-waiting") && !arguments.has("stdin")
      && Outbox(directory: settings.outbox).pendingFiles().isEmpty
    {
      return ExitStatus.success
    }
    var budget = settings.timeoutMilliseconds
    if let text = arguments["timeout-ms"] {
      guard let value = Int(text), value > 0 else { return failed("--timeout-ms needs a positive number") }
      budget = value
    }
    let flush = EventsFlush(
      configPath: configFile.path, kubeconfig: arguments["kubeconfig"], budgetMilliseconds: budget,
      detached: arguments.has("detached"),
      handedOver: arguments.has("stdin") ? IO.read(0, limit: 16 * 1024 * 1024).bytes : nil)
    return flush.run(settings, host: host)
  }
}
