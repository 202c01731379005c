import KubeClient
import PodInject

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Reads a manifest from a file or `-`, as one or more YAML/JSON documents; also names the input for
/// messages (the path, or `stdin`).
func readManifests(_ path: String?) -> Result<(documents: [JSONValue], source: String), UsageError> {
  guard let path else { return .failure(UsageError(message: "-f FILE (or -f - for stdin) is required")) }
  let source = path == "-" ? "stdin" : path
  let bytes: [UInt8]
  if path == "-" {
    bytes = IO.read(0, limit: 64 * 1024 * 1024).bytes
  } else {
    do {
      bytes = try LocalFiles.read(path, limit: 64 * 1024 * 1024)
    } catch {
      return .failure(UsageError(message: "\(path): cannot read: \(error.reason)"))
    }
  }
  do {
    return .success((try YAML.parseJSONDocuments(bytes), source))
  } catch {
    return .failure(UsageError(message: "\(source): \(error)"))
  }
}

/// Prints the problems of rules that fail alone (`ConfigInvalid`), in check-config's format, so that
/// `apply` and `explain` point at the same place.
func warnAboutInvalidRules(_ config: ConfigLoad) {
  guard let usable = config.usable else { return }
  for diagnostic in usable.diagnostics {
    IO.write(2, "podinject: warning: \(diagnostic) (the rule fails with ConfigInvalid)\n")
  }
}

/// Prints an error line and returns the configuration-error exit status.
func failed(_ message: String) -> Int32 {
  IO.write(2, "podinject: \(message)\n")
  return Exit.configuration
}

/// `podinject apply`: mutate manifests offline and print the result.
enum ApplyCommand: Command {
  static let name = "apply"
  static let abstract = "Mutate Pod or workload manifests offline and print the result (sends no Events)."
  static let options: [OptionSpec] = [
    .value("-f", "--filename", valueName: "FILE", help: "manifest file, or - for stdin (multi-document YAML or JSON)"),
    .config,
    .value("-o", "--output", valueName: "FORMAT", help: "yaml (default), json or patch"),
  ]

  static func run(_ arguments: ParsedArguments) -> Int32 {
    guard let format = OfflineApply.Format(rawValue: arguments["output"] ?? "yaml") else {
      return failed("-o must be yaml, json or patch")
    }
    let config = ConfigSource.load(arguments["config"])
    if case .failure(let error) = config { return failed(error.description) }
    warnAboutInvalidRules(config)
    let input: (documents: [JSONValue], source: String)
    switch readManifests(arguments["filename"]) {
    case .success(let read): input = read
    case .failure(let error): return failed(error.message)
    }
    let outcome: OfflineApply.Outcome
    do {
      outcome = try OfflineApply.run(
        input.documents, source: input.source, format: format, config: config,
        environment: ConfigSource.environment(config))
    } catch {
      return failed(error.message)
    }
    for message in outcome.messages { IO.write(2, message + "\n") }
    IO.write(1, outcome.output)
    return outcome.denied ? Exit.configuration : Exit.success
  }
}

/// `podinject explain`: a per-rule trace for a manifest, an AdmissionReview or a bare AdmissionRequest.
enum ExplainCommand: Command {
  static let name = "explain"
  static let abstract = "Explain, rule by rule, what podinject would do with a manifest or an AdmissionReview."
  static let options: [OptionSpec] = [
    .value("-f", "--filename", valueName: "FILE", help: "Pod/workload manifest or AdmissionReview, or - for stdin"),
    .config,
  ]

  static func run(_ arguments: ParsedArguments) -> Int32 {
    let config = ConfigSource.load(arguments["config"])
    if case .failure(let error) = config { return failed(error.description) }
    warnAboutInvalidRules(config)
    let input: (documents: [JSONValue], source: String)
    switch readManifests(arguments["filename"]) {
    case .success(let read): input = read
    case .failure(let error): return failed(error.message)
    }
    do {
      IO.write(
        1,
        try OfflineExplain.run(
          input.documents, source: input.source, config: config, environment: ConfigSource.environment(config)))
      return Exit.success
    } catch {
      return failed(error.message)
    }
  }
}

/// `podinject check-config`: validate the configuration, `file:line:column: message` per problem.
enum CheckConfigCommand: Command {
  static let name = "check-config"
  static let abstract = "Validate the configuration; exit 1 with file:line diagnostics."
  static let options: [OptionSpec] = [.config]

  static func run(_ arguments: ParsedArguments) -> Int32 {
    switch ConfigSource.load(arguments["config"]) {
    case .failure(let error):
      IO.write(2, error.description + "\n")
      return Exit.configuration
    case .success(let config) where !config.diagnostics.isEmpty:
      IO.write(2, config.diagnostics.map(\.description).joined(separator: "\n") + "\n")
      return Exit.configuration
    case .success(let config):
      IO.write(1, "\(ConfigSource.path(arguments["config"])): OK, \(config.rules.count) rule(s)\n")
      return Exit.success
    }
  }
}

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
  /// Some Events could not be delivered yet and remain in the outbox.
  static let stillWaiting: Int32 = 3

  static func run(_ arguments: ParsedArguments) -> Int32 {
    signal(SIGPIPE, SIG_IGN)
    let config = ConfigSource.load(arguments["config"], cached: true)
    guard case .success(let loaded) = config else {
      if case .failure(let error) = config { return failed(error.description) }
      return Exit.configuration
    }
    let settings = loaded.events
    var budget = settings.timeoutMilliseconds
    if let text = arguments["timeout-ms"] {
      guard let value = Int(text), value > 0 else { return failed("--timeout-ms needs a positive number") }
      budget = value
    }
    return Delivery.flush(arguments, settings: settings, budget: budget)
  }
}

extension EventCounts {
  /// The counts of one drain of the outbox.
  init(_ report: DeliveryReport) {
    self.init(sent: report.sent, aggregated: report.aggregated, spooled: report.deferred, dropped: 0)
  }
}
