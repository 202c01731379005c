/// What one invocation writes at the end: stdout bytes, a stderr line (or none), and the exit status.
public struct InvocationOutput: Sendable, Equatable {
  public var stdout: [UInt8]
  /// Written to stderr with a newline; nil writes nothing.
  public var stderr: String?
  public var status: Int32
}

extension InvocationMode {
  /// The answer's bytes on stdout: after a CGI header block, or followed by a newline.
  public func framedAnswer(_ review: [UInt8]) -> [UInt8] {
    switch self {
    case .cgi: return Array(HTTPFront.cgiHeader(status: 200, reason: "OK").utf8) + review
    case .stdin, .functionRuntime: return review + [0x0A]
    }
  }

  /// How input with nothing to answer is reported (SPEC §6): the reason on stderr with exit 2 (stdin),
  /// a `Status` body with exit 2 (function runtime: the watchdog turns stderr into body text), or an
  /// HTTP refusal and a log line with exit 0 (CGI).
  public func refusal(_ input: UnusableInput, time: Timestamp) -> InvocationOutput {
    let error = input.httpError
    switch self {
    case .stdin:
      return InvocationOutput(stdout: [], stderr: "podinject: \(input.message)", status: ExitStatus.badInput)
    case .functionRuntime:
      return InvocationOutput(stdout: error.body.serializedBytes() + [0x0A], stderr: nil, status: ExitStatus.badInput)
    case .cgi:
      let extra = error.status == 405 ? ["Allow: POST"] : []
      let header = HTTPFront.cgiHeader(status: error.status, reason: error.reasonPhrase, extra: extra)
      return InvocationOutput(
        stdout: Array(header.utf8) + error.body.serializedBytes(),
        stderr: LogLine.rejected(input.message, time: time), status: ExitStatus.success)
    }
  }

  /// Where the log line goes: stderr in stdin and CGI modes; in function-runtime mode (where the
  /// watchdog would put stderr in the body) `events.logFile` when one is set, else nowhere.
  public func logDestination(_ settings: InjectionConfig.EventSettings?) -> LogDestination {
    switch self {
    case .stdin, .cgi: return .standardError
    case .functionRuntime:
      guard let path = settings?.logFile, !path.isEmpty else { return .nowhere }
      return .file(path)
    }
  }
}

/// Where a log line is written.
public enum LogDestination: Sendable, Equatable {
  case standardError
  case file(String)
  case nowhere
}
