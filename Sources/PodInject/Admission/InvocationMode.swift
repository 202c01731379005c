/// How the webhook was started, which decides how the request arrives and how the answer is framed
/// (SPEC §1).
public enum InvocationMode: Sendable, Equatable {
  /// One AdmissionReview on stdin, the answer on stdout.
  case stdin
  /// RFC 3875: the body per `CONTENT_LENGTH`, a `Status:` header block before the answer.
  case cgi
  /// The OpenFaaS watchdog: the body to EOF, the answer only, nothing on stderr.
  case functionRuntime

  /// The mode the environment asks for. `Http_Method` is the watchdog's; `GATEWAY_INTERFACE` or
  /// `REQUEST_METHOD` (RFC 3875 requires both, but some hosts, or their configs, omit the former)
  /// or `--cgi` mean CGI.
  public static func detect(forceCGI: Bool, environment: (String) -> String?) -> InvocationMode {
    if environment("Http_Method") != nil { return .functionRuntime }
    if forceCGI || environment("GATEWAY_INTERFACE") != nil || environment("REQUEST_METHOD") != nil { return .cgi }
    return .stdin
  }
}
