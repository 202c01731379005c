/// Why a template could not be rendered against a particular pod.
public enum TemplateError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The path did not resolve (missing member, null, index out of range, wrong container type) and no
  /// default was given.
  case valueMissing(path: String)
  /// The path resolved to an object or an array, which has no text form in a string value.
  case notAScalar(path: String)

  public var description: String {
    switch self {
    case .valueMissing(let path): return "no value at \(path) and no default"
    case .notAScalar(let path):
      return "\(path) is an object or array, not a string, number or boolean"
    }
  }
}
