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
  return ExitStatus.configuration
}

/// What `apply` and `explain` work on: the config (its invalid rules warned about), then the manifests.
struct OfflineInput {
  var host: SystemHost
  var config: ConfigLoad
  var documents: [JSONValue]
  var source: String

  /// Both, or the message `failed` prints: the config's problem first, then the manifests'.
  static func load(_ arguments: ParsedArguments) -> Result<OfflineInput, UsageError> {
    let host = SystemHost()
    let config = ConfigFile(option: arguments["config"], host: host).load()
    if case .failure(let error) = config { return .failure(UsageError(message: error.description)) }
    warnAboutInvalidRules(config)
    return readManifests(arguments["filename"]).map {
      OfflineInput(host: host, config: config, documents: $0.documents, source: $0.source)
    }
  }
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
    let input: OfflineInput
    switch OfflineInput.load(arguments) {
    case .success(let loaded): input = loaded
    case .failure(let error): return failed(error.message)
    }
    let config = input.config
    let outcome: OfflineApply.Outcome
    do {
      outcome = try OfflineApply.run(
        input.documents, source: input.source, format: format, config: config,
        environment: ReviewEnvironment(config, host: input.host))
    } catch {
      return failed(error.message)
    }
    for message in outcome.messages { IO.write(2, message + "\n") }
    IO.write(1, outcome.output)
    return outcome.denied ? ExitStatus.configuration : ExitStatus.success
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
    let input: OfflineInput
    switch OfflineInput.load(arguments) {
    case .success(let loaded): input = loaded
    case .failure(let error): return failed(error.message)
    }
    let config = input.config
    do {
      IO.write(
        1,
        try OfflineExplain.run(
          input.documents, source: input.source, config: config,
          environment: ReviewEnvironment(config, host: input.host)))
      return ExitStatus.success
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
    switch ConfigFile(option: arguments["config"], host: SystemHost()).load() {
    case .failure(let error):
      IO.write(2, error.description + "\n")
      return ExitStatus.configuration
    case .success(let config) where !config.diagnostics.isEmpty:
      IO.write(2, config.diagnostics.map(\.description).joined(separator: "\n") + "\n")
      return ExitStatus.configuration
    case .success(let config):
      IO.write(
        1, "\(ConfigFile(option: arguments["config"], host: SystemHost()).path): OK, \(config.rules.count) rule(s)\n")
      return ExitStatus.success
    }
  }
}
