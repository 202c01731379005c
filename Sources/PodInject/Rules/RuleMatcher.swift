/// Decides whether a rule applies to a request, and says why not when it does not.
enum RuleMatcher {
  /// nil when the rule matches, else the reason it does not.
  static func mismatch(_ match: RuleMatch, operation: String, namespace: String, pod: JSONValue) -> String? {
    if !match.operations.contains("*") && !match.operations.contains(operation) {
      return
        "operation \(operation.isEmpty ? "(none)" : operation) is not one of \(match.operations.joined(separator: ", "))"
    }
    if !match.namespaces.matchesAny(namespace) {
      return "namespace \(namespace) is not in \(match.namespaces.map(\.pattern).joined(separator: ", "))"
    }
    if let glob = match.excludeNamespaces.first(where: { $0.matches(namespace) }) {
      return "namespace \(namespace) is excluded by \(glob.pattern)"
    }
    let metadata = pod["metadata"]
    if !match.labelSelector.matches(metadata?["labels"]?.objectValue) {
      return "labels do not match \(match.labelSelector.summary)"
    }
    let annotations = metadata?["annotations"]?.objectValue
    for member in match.annotations.members where annotations?[member.key] != member.value {
      return "annotation \(member.key) is absent or has another value"
    }
    return nil
  }
}
