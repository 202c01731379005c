/// `podinject apply` on a whole input: every pod of every document mutated, printed in the format
/// asked, with the would-be Events and denials as messages for stderr.
public enum OfflineApply {
  /// `-o`: the manifest as YAML (one document per input document) or JSON (a `List` of them when
  /// there are several), or one JSON Patch per document.
  public enum Format: String, Sendable, CaseIterable {
    case yaml, json, patch
  }

  /// What to print, and whether a pod was refused.
  public struct Outcome: Sendable {
    /// For stdout.
    public var output: String
    /// For stderr, one line each.
    public var messages: [String]
    /// A rule with `onError: Deny` failed for some pod: that pod is printed unchanged.
    public var denied: Bool
  }

  /// Mutates `documents`, read from `source` (a path, or `stdin`).
  public static func run(
    _ documents: [JSONValue], source: String, format: Format, config: ConfigLoad, environment: ReviewEnvironment
  ) throws(ManifestError) -> Outcome {
    guard !documents.isEmpty else { throw ManifestError.empty(source) }
    var documents = documents
    var rendered: [String] = []
    var messages: [String] = []
    var denied = false
    var foundPods = false
    for index in documents.indices {
      let pods: [OfflinePod]
      do {
        pods = try Manifests.apply(to: &documents[index], config: config, environment: environment)
      } catch {
        throw error.within(documents.count > 1 ? "document \(index + 1)" : "").within(source)
      }
      foundPods = foundPods || !pods.isEmpty
      for pod in pods {
        for event in pod.result.events {
          messages.append(
            "would send Event: Warning \(event.reason.rawValue) \(event.regarding.kind)/\(event.regarding.name): \(event.note)"
          )
        }
        if !pod.result.response.allowed {
          denied = true
          messages.append("\(pod.location.owner): DENIED: \(pod.result.response.status?.message ?? "")")
        }
      }
      switch format {
      case .json: break
      case .patch: rendered.append(Manifests.documentPatch(pods).json.prettyPrinted())
      case .yaml: rendered.append(YAML.render(documents[index]))
      }
    }
    if !foundPods {
      messages.append("podinject: \(source): no Pod, pod template or AdmissionReview in it: printed unchanged")
    }
    if format == .json {
      // Several objects are one `List`, as kubectl prints them: a stream of JSON documents is not JSON.
      let list: JSONValue = ["apiVersion": "v1", "kind": "List", "items": .array(documents)]
      rendered = [(documents.count == 1 ? documents[0] : list).prettyPrinted()]
    }
    let separator = format == .yaml ? "---\n" : ""
    let output = rendered.map { $0.hasSuffix("\n") ? $0 : $0 + "\n" }.joined(separator: separator)
    return Outcome(output: output, messages: messages, denied: denied)
  }
}

extension ManifestError {
  /// An input without any document (empty, or only comments and `---`).
  static func empty(_ source: String) -> ManifestError {
    ManifestError("\(source): empty: no Kubernetes object in it")
  }
}
