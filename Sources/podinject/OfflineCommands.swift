import ArgumentParser
import PodInject

/// Reads a manifest from a file or `-`, as one or more YAML/JSON documents.
func readManifests(_ path: String) throws -> [JSONValue] {
  let bytes: [UInt8]
  if path == "-" {
    bytes = IO.read(0, limit: 64 * 1024 * 1024).bytes
  } else {
    switch IO.readFile(path, limit: 64 * 1024 * 1024) {
    case .success(let content): bytes = content
    case .failure(let error): throw ValidationError("cannot read \(error)")
    }
  }
  do {
    return try YAML.parseJSONDocuments(bytes)
  } catch {
    throw ValidationError("\(path == "-" ? "stdin" : path): \(error)")
  }
}

extension Podinject {
  /// `podinject apply`: mutate manifests offline and print the result.
  struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Mutate a Pod or workload manifest offline and print the result (no Events are sent).")

    /// The output format.
    enum Output: String, ExpressibleByArgument, CaseIterable {
      case yaml, json, patch
    }

    @Option(name: .shortAndLong, help: "Manifest file, or - for stdin (multi-document YAML or JSON).")
    var filename: String
    @OptionGroup var options: ConfigOption
    @Option(name: .shortAndLong, help: "Output: yaml, json or patch.")
    var output: Output = .yaml

    func run() throws {
      let config = ConfigSource.load(options.config)
      if case .failure(let error) = config {
        IO.write(2, error.description + "\n")
        throw Exit.configuration
      }
      let environment = ConfigSource.environment(config)
      var documents = try readManifests(filename)
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
        case .yaml: rendered.append(YAML.render(documents[index]))
        case .json: rendered.append(documents[index].prettyPrinted())
        case .patch:
          let patches = pods.map { Manifests.documentPatch($0).json }
          rendered.append((patches.count == 1 ? patches[0] : .array(patches)).prettyPrinted())
        }
      }
      let separator = output == .yaml ? "---\n" : "\n"
      IO.write(1, rendered.map { $0.hasSuffix("\n") ? $0 : $0 + "\n" }.joined(separator: separator))
      if denied { throw Exit.configuration }
    }
  }

  /// `podinject explain`: a per-rule trace for a manifest or an AdmissionReview.
  struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Explain, rule by rule, what podinject would do with a Pod manifest or an AdmissionReview.")

    @Option(name: .shortAndLong, help: "Pod/workload manifest or AdmissionReview, or - for stdin.")
    var filename: String
    @OptionGroup var options: ConfigOption

    func run() throws {
      let config = ConfigSource.load(options.config)
      let environment = ConfigSource.environment(config)
      var reports: [String] = []
      for var document in try readManifests(filename) {
        if document["kind"]?.stringValue == "AdmissionReview" {
          let request: AdmissionRequest
          do {
            request = try AdmissionRequest.decode(review: document)
          } catch {
            throw ValidationError(error.message)
          }
          let result = Review.run(request, config: config, environment: environment)
          reports.append(ExplainReport.render(result, title: "AdmissionReview \(request.uid)", config: config))
          continue
        }
        let pods = Manifests.apply(to: &document, config: config, environment: environment)
        if pods.isEmpty {
          reports.append("\(document["kind"]?.stringValue ?? "document"): no pod or pod template found")
        }
        for pod in pods { reports.append(ExplainReport.render(pod.result, title: pod.location.owner, config: config)) }
      }
      IO.write(1, reports.joined(separator: "\n\n") + "\n")
    }
  }

  /// `podinject check-config`: validate the configuration, `file:line: message` per problem.
  struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "check-config", abstract: "Validate the configuration; exit 1 with file:line diagnostics.")

    @OptionGroup var options: ConfigOption

    func run() throws {
      switch ConfigSource.load(options.config) {
      case .failure(let error):
        IO.write(2, error.description + "\n")
        throw Exit.configuration
      case .success(let config):
        IO.write(1, "\(ConfigSource.path(options.config)): OK, \(config.rules.count) rule(s)\n")
      }
    }
  }

  /// `podinject events`: work on the Event outbox.
  struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Work with Events waiting in the outbox.", subcommands: [Flush.self])

    /// `podinject events flush`.
    struct Flush: ParsableCommand {
      static let configuration = CommandConfiguration(abstract: "Deliver the Events waiting in the outbox.")
      @OptionGroup var options: ConfigOption
      @Option(help: "kubeconfig (default: $KUBECONFIG, else in-cluster).")
      var kubeconfig: String?

      func run() throws {
        let config = ConfigSource.load(options.config)
        let settings = (try? config.get())?.events ?? InjectionConfig.EventSettings()
        let pending = Outbox(directory: settings.outbox).pendingFiles()
        IO.write(2, "podinject: \(pending.count) Event(s) waiting in \(settings.outbox); delivery is not built yet\n")
        throw Exit.configuration
      }
    }
  }
}
