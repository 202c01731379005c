/// Why the input of `podinject apply` or `explain` cannot be used: one line, naming the input and,
/// when it holds several documents, which one.
public struct ManifestError: Error, Sendable, Equatable, CustomStringConvertible {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }

  /// The same problem, said of a part of the input (`document 2`, `item 3`); unchanged for "".
  func within(_ part: String) -> ManifestError { part.isEmpty ? self : ManifestError("\(part): \(message)") }

  /// A bare AdmissionRequest where a manifest was expected.
  static let bareRequest = ManifestError(
    "a bare AdmissionRequest, not a manifest: wrap it in an AdmissionReview (apiVersion: admission.k8s.io/v1, "
      + "kind: AdmissionReview, request: ...), or give it to explain as it is")
}
