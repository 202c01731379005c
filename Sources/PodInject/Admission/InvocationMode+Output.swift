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

  /// Where the log line goes (SPEC §7). Stdin mode: stderr, the caller's. CGI and function-runtime
  /// modes: `events.logFile` when one is set (the deployment points it at the container's log
  /// stream), so that the line reaches the log as the one JSON object it is. Without it, CGI mode
  /// uses stderr, which the host carries (nginx logs it as an `[error]` "FastCGI sent in stderr"
  /// wrapped around the JSON, at a cost of about a fifth of a CGI request's throughput), and function-runtime
  /// mode writes nothing (its watchdog would put stderr in the body).
  public func logDestination(_ settings: InjectionConfig.EventSettings?) -> LogDestination {
    let file = settings?.logFile ?? ""
    switch self {
    case .stdin: return .standardError
    case .cgi: return .preferring(file, orElse: .standardError)
    case .functionRuntime: return .preferring(file, orElse: .nowhere)
    }
  }
}

/// Where a log line is written.
public indirect enum LogDestination: Sendable, Equatable {
  case standardError
  /// A file opened for appending; when it cannot be written, the fallback (no line is lost to a
  /// missing or refused file where stderr can take it).
  case file(String, orElse: LogDestination)
  case nowhere

  /// The file at `path` (with `fallback` when it cannot be written), or `fallback` when no path is set.
  public static func preferring(_ path: String, orElse fallback: LogDestination) -> LogDestination {
    path.isEmpty ? fallback : .file(path, orElse: fallback)
  }
}

extension Host {
  /// Writes a log line where `destination` says; a file that cannot be written passes it to the fallback.
  public func log(_ line: String, to destination: LogDestination) {
    switch destination {
    case .standardError: logToStandardError(line)
    case .file(let path, let fallback): if !appendLine(line, to: path) { log(line, to: fallback) }
    case .nowhere: break
    }
  }
}
