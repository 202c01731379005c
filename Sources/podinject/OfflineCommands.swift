import KubeClient
import PodInject

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Reads a manifest from a file or `-`, as one or more YAML/JSON documents.
func readManifests(_ path: String?) -> Result<[JSONValue], UsageError> {
  guard let path else { return .failure(UsageError(message: "-f FILE (or -f - for stdin) is required")) }
  let bytes: [UInt8]
  if path == "-" {
    bytes = IO.read(0, limit: 64 * 1024 * 1024).bytes
  } else {
    do {
      bytes = try LocalFiles.read(path, limit: 64 * 1024 * 1024)
    } catch {
      return .failure(UsageError(message: "cannot read \(error)"))
    }
  }
  do {
    return .success(try YAML.parseJSONDocuments(bytes))
  } catch {
    return .failure(UsageError(message: "\(path == "-" ? "stdin" : path): \(error)"))
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
    let output = arguments["output"] ?? "yaml"
    guard ["yaml", "json", "patch"].contains(output) else { return failed("-o must be yaml, json or patch") }
    let config = ConfigSource.load(arguments["config"])
    if case .failure(let error) = config { return failed(error.description) }
    let environment = ConfigSource.environment(config)
    var documents: [JSONValue]
    switch readManifests(arguments["filename"]) {
    case .success(let read): documents = read
    case .failure(let error): return failed(error.message)
    }
    var rendered: [String] = []
    var denied = false
    for index in documents.indices {
      let pods = Manifests.apply(to: &documents[index], config: config, environment: environment)
      for pod in pods {
        for event in pod.result.events {
          IO.write(
            2,
            "would send Event: Warning \(event.reason.rawValue) \(event.regarding.kind)/\(event.regarding.name): \(event.note)\n"
          )
        }
        if !pod.result.response.allowed {
          denied = true
          IO.write(2, "\(pod.location.owner): DENIED: \(pod.result.response.status?.message ?? "")\n")
        }
      }
      switch output {
      case "json": rendered.append(documents[index].prettyPrinted())
      case "patch":
        rendered.append(Manifests.documentPatch(pods).json.prettyPrinted())
      default: rendered.append(YAML.render(documents[index]))
      }
    }
    let separator = output == "yaml" ? "---\n" : ""
    IO.write(1, rendered.map { $0.hasSuffix("\n") ? $0 : $0 + "\n" }.joined(separator: separator))
    return denied ? Exit.configuration : Exit.success
  }
}

/// `podinject explain`: a per-rule trace for a manifest or an AdmissionReview.
enum ExplainCommand: Command {
  static let name = "explain"
  static let abstract = "Explain, rule by rule, what podinject would do with a manifest or an AdmissionReview."
  static let options: [OptionSpec] = [
    .value("-f", "--filename", valueName: "FILE", help: "Pod/workload manifest or AdmissionReview, or - for stdin"),
    .config,
  ]

  static func run(_ arguments: ParsedArguments) -> Int32 {
    let config = ConfigSource.load(arguments["config"])
    let environment = ConfigSource.environment(config)
    let documents: [JSONValue]
    switch readManifests(arguments["filename"]) {
    case .success(let read): documents = read
    case .failure(let error): return failed(error.message)
    }
    var reports: [String] = []
    for var document in documents {
      if document["kind"]?.stringValue == "AdmissionReview" {
        do {
          let request = try AdmissionRequest.decode(review: document)
          let result = Review.run(request, config: config, environment: environment)
          reports.append(ExplainReport.render(result, title: "AdmissionReview \(request.uid)", config: config))
        } catch {
          return failed(error.message)
        }
        continue
      }
      let pods = Manifests.apply(to: &document, config: config, environment: environment)
      if pods.isEmpty { reports.append("\(document["kind"]?.stringValue ?? "document"): no pod or pod template found") }
      for pod in pods { reports.append(ExplainReport.render(pod.result, title: pod.location.owner, config: config)) }
    }
    IO.write(1, reports.joined(separator: "\n\n") + "\n")
    return Exit.success
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
