/// What the process writes when a limit or a crash stops it (see the executable's `Limits`): bytes
/// for stdout and for stderr, each with a zero byte wherever the reason goes (serialized JSON and
/// CGI headers never hold one), and the exit status. Prepared before it is needed, since a signal
/// handler can only copy bytes.
public struct LastWords: Sendable, Equatable {
  public var stdout: [UInt8]
  public var stderr: [UInt8]
  public var status: Int32

  /// Where the reason goes.
  public static let reasonMark: UInt8 = 0

  public init(stdout: [UInt8], stderr: [UInt8], status: Int32) {
    self.stdout = stdout
    self.stderr = stderr
    self.status = status
  }
}

extension LastWords {
  /// Before the review is read there is no one to answer: a 500 (CGI), or the reason and exit 2.
  /// Fixed text, with the reason's place marked by a zero byte.
  public static func beforeReview(_ mode: InvocationMode) -> LastWords {
    let status: StaticString = """
      {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"podinject: \u{0}",\
      "reason":"InternalError","code":500}
      """
    switch mode {
    case .stdin:
      return LastWords(stdout: [], stderr: bytes("podinject: \u{0}\n"), status: ExitStatus.badInput)
    case .functionRuntime:
      return LastWords(stdout: bytes(status) + [0x0A], stderr: [], status: ExitStatus.badInput)
    case .cgi:
      return LastWords(
        stdout: Array(HTTPFront.cgiHeader(status: 500, reason: "Internal Server Error").utf8) + bytes(status),
        stderr: bytes(#"{"level":"error","error":"podinject: \#u{0}"}\#n"#), status: ExitStatus.success)
    }
  }

  /// Once the review is read: an AdmissionReview that applies no rule (SPEC §4), and a log line (without
  /// a time: the handler cannot format one, and the container runtime stamps every line).
  public static func interrupted(_ request: AdmissionRequest, deny: Bool, mode: InvocationMode) -> LastWords {
    var review = AdmissionResponse.interruptedReview(uid: request.uid, apiVersion: request.reviewAPIVersion, deny: deny)
    if mode == .cgi {
      review = bytes("Status: 200 OK\r\nContent-Type: application/json\r\n\r\n") + review
    } else {
      review.append(0x0A)
    }
    guard mode != .functionRuntime else { return LastWords(stdout: review, stderr: [], status: ExitStatus.success) }
    var line = bytes(#"{"level":"error","uid":"#)
    JSONValue.string(request.uid).serialize(into: &line)
    line += deny ? bytes(#","allowed":false"#) : bytes(#","allowed":true"#)
    line += bytes(#","error":"podinject: no rule applied: \#u{0}"}\#n"#)
    return LastWords(stdout: review, stderr: line, status: ExitStatus.success)
  }

  private static func bytes(_ text: StaticString) -> [UInt8] {
    Array(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
  }
}
