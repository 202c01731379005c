/// Input that holds nothing to answer (SPEC §6): too large, cut short, not an AdmissionReview, or, in
/// CGI mode, a request refused before its body is read. Stdin mode reports the message and exits 2;
/// function-runtime mode puts a `Status` in the body; CGI mode answers with `httpStatus`.
public struct UnusableInput: Error, Sendable, Equatable {
  /// Why there is nothing to answer.
  public var message: String
  /// The status that says so over HTTP: 400 unless something more precise applies.
  public var httpStatus: Int

  public init(_ message: String, httpStatus: Int = 400) {
    self.message = message
    self.httpStatus = httpStatus
  }

  /// A CGI request refused by `HTTPFront.check`.
  public init(_ refusal: HTTPFront.HTTPError) { self.init(refusal.message, httpStatus: refusal.status) }

  /// A body over `maxBodyBytes`.
  public static func tooLarge(_ maxBodyBytes: Int) -> UnusableInput { UnusableInput(HTTPFront.tooLarge(maxBodyBytes)) }

  /// The HTTP refusal it becomes in CGI mode (and whose `Status` body function-runtime mode writes).
  public var httpError: HTTPFront.HTTPError { HTTPFront.HTTPError(status: httpStatus, message: message) }
}
