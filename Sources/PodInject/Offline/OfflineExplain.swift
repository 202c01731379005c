/// `podinject explain` on a whole input: the per-rule trace of every pod of every document, of an
/// AdmissionReview, or of a bare AdmissionRequest (read as the request of a v1 AdmissionReview).
public enum OfflineExplain {
  /// The report for `documents`, read from `source` (a path, or `stdin`).
  public static func run(
    _ documents: [JSONValue], source: String, config: ConfigLoad, environment: ReviewEnvironment
  ) throws(ManifestError) -> String {
    guard !documents.isEmpty else { throw ManifestError.empty(source) }
    var reports: [String] = []
    var withoutPods: [String] = []
    for (index, document) in documents.enumerated() {
      do {
        let found = try explain(document, config: config, environment: environment)
        if found.isEmpty {
          let name = Manifests.name(of: document)
          withoutPods.append(name)
          reports.append("\(name): no pod or pod template, nothing to explain")
        }
        reports += found
      } catch {
        throw error.within(documents.count > 1 ? "document \(index + 1)" : "").within(source)
      }
    }
    guard withoutPods.count < documents.count else {
      let shown = withoutPods.prefix(3).joined(separator: ", ") + (withoutPods.count > 3 ? ", ..." : "")
      throw ManifestError(
        "\(source): nothing to explain: no Pod, pod template or AdmissionReview in it (found \(shown))")
    }
    return reports.joined(separator: "\n\n") + "\n"
  }

  /// The reports of one document; empty when it holds no pod.
  static func explain(_ document: JSONValue, config: ConfigLoad, environment: ReviewEnvironment)
    throws(ManifestError) -> [String]
  {
    if AdmissionRequest.isBare(document) {
      let request: AdmissionRequest
      do {
        request = try AdmissionRequest.decode(request: document, reviewAPIVersion: AdmissionRequest.v1)
      } catch {
        throw ManifestError("a bare AdmissionRequest that cannot be read: \(error.message)")
      }
      let result = Review.run(request, config: config, environment: environment)
      return [ExplainReport.render(result, title: "AdmissionRequest \(request.uid)", config: config)]
    }
    var copy = document
    return try Manifests.apply(to: &copy, config: config, environment: environment).map { pod in
      ExplainReport.render(pod.result, title: pod.location.owner, config: config)
    }
  }
}
