import PodInject

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// `podinject [review]`: answer one AdmissionReview from stdin, a CGI request, or a function runtime.
enum ReviewCommand: Command {
  static let name = "review"
  static let abstract = "Answer one AdmissionReview (stdin, CGI or function-runtime mode)."
  static let options: [OptionSpec] = [
    .config, .kubeconfig,
    .flag("--cgi", help: "force CGI mode (chosen automatically when GATEWAY_INTERFACE or REQUEST_METHOD is set)"),
    .value("--max-body-bytes", valueName: "N", help: "largest request body accepted (default 3 MiB)"),
  ]

  static func run(_ arguments: ParsedArguments) -> Int32 {
    let started = IO.monotonicMilliseconds()
    signal(SIGPIPE, SIG_IGN)
    var maxBodyBytes = HTTPFront.defaultMaxBodyBytes
    if let text = arguments["max-body-bytes"] {
      guard let value = Int(text), value > 0 else { Podinject.fail("--max-body-bytes needs a positive number") }
      maxBodyBytes = value
    }
    let mode = InvocationMode.detect(forceCGI: arguments.has("cgi"), environment: IO.env)
    let session = ReviewSession(
      mode: mode, configOption: arguments["config"], kubeconfig: arguments["kubeconfig"], maxBodyBytes: maxBodyBytes,
      started: started)
    return session.run()
  }
}

/// One invocation of the webhook: read, decide (in the library), write, report.
struct ReviewSession {
  let mode: InvocationMode
  let configOption: String?
  let kubeconfig: String?
  let maxBodyBytes: Int
  let started: Double

  /// Runs the invocation and returns its exit status.
  func run() -> Int32 {
    Limits.arm(LastWords.beforeReview(mode))
    let body: [UInt8]
    switch readBody() {
    case .success(let bytes): body = bytes
    case .failure(let error): return refuse(error)
    }
    let request: AdmissionRequest
    do {
      // The API server sends JSON; YAML is a convenience of stdin mode only (SPEC §1).
      request = try AdmissionRequest.decode(body, allowingYAML: mode == .stdin)
    } catch {
      return refuse(HTTPFront.HTTPError(status: 400, message: error.message))
    }
    Limits.update(LastWords.interrupted(request, deny: false, mode: mode))
    let config = ConfigSource.load(configOption, cached: true)
    if config.fallbackPolicy == .deny { Limits.update(LastWords.interrupted(request, deny: true, mode: mode)) }
    let environment = ConfigSource.environment(config)
    let result = Review.run(request, config: config, environment: environment)

    // Events go to the outbox before the answer, so that no failure is lost if the host kills us after it.
    let settings = config.eventSettings
    var handoff = EventHandoff(settings: settings, kubeconfig: kubeconfig)
    handoff.spool(result.events, now: environment.now)

    let review = result.response.review(apiVersion: request.reviewAPIVersion)
    let answer = review.serializedBytes()
    Limits.disarm()
    switch mode {
    case .cgi: IO.write(1, Array(HTTPFront.cgiHeader(status: 200, reason: "OK").utf8) + answer)
    case .stdin, .functionRuntime: IO.write(1, answer + [0x0A])
    }
    // lighttpd (and Apache) SIGTERM a CGI program as soon as its response ends; what is left (the log
    // line, handing Events to a deliverer) is short and bounded, and must not be lost to that.
    if mode == .cgi { signal(SIGTERM, SIG_IGN) }
    close(1)
    let metrics = MetricsRecorder.shared(environment: IO.env, now: environment.now)
    metrics.review(result, config: config, durationMs: IO.monotonicMilliseconds() - started, now: environment.now)

    handoff.deliver(inProcess: mode == .stdin, configPath: ConfigSource.path(configOption))
    let line = LogLine.review(
      result, events: handoff.counts, durationMs: IO.monotonicMilliseconds() - started, time: environment.now,
      notes: handoff.notes + metrics.notes)
    log(line, settings: settings)
    // Exit here, with the request, the configuration and the result still alive: freeing a 1 MiB
    // document (or a configuration) node by node would cost more than deciding on it, and the process
    // ends anyway.
    withExtendedLifetime((request, config, result, body, review)) { exit(0) }
  }

  /// The request body, per the mode's framing rules, or the HTTP error it deserves.
  private func readBody() -> Result<[UInt8], HTTPFront.HTTPError> {
    switch mode {
    case .stdin, .functionRuntime:
      let (bytes, overflowed) = IO.read(0, limit: maxBodyBytes)
      return overflowed ? .failure(HTTPFront.tooLarge(maxBodyBytes)) : .success(bytes)
    case .cgi:
      let verdict = HTTPFront.check(
        method: IO.env("REQUEST_METHOD"), contentType: IO.env("CONTENT_TYPE"),
        contentLength: IO.env("CONTENT_LENGTH"), transferEncoding: IO.env("HTTP_TRANSFER_ENCODING"),
        maxBodyBytes: maxBodyBytes)
      switch verdict {
      case .refuse(let error, let drain):
        if let drain { IO.drain(0, upTo: drain.byteCount, cap: HTTPFront.drainCapBytes) }
        return .failure(error)
      case .read(.length(let count)):
        let bytes = IO.read(0, exactly: count)
        guard bytes.count == count else {
          return .failure(
            HTTPFront.HTTPError(status: 400, message: "body ended after \(bytes.count) of \(count) bytes"))
        }
        return .success(bytes)
      case .read(.toEOF):
        let (bytes, overflowed) = IO.read(0, limit: maxBodyBytes)
        if overflowed {
          IO.drain(0, upTo: nil, cap: HTTPFront.drainCapBytes)
          return .failure(HTTPFront.tooLarge(maxBodyBytes))
        }
        return .success(bytes)
      }
    }
  }

  /// Answers unusable input the way each mode requires (SPEC §6) and returns the exit status.
  private func refuse(_ error: HTTPFront.HTTPError) -> Int32 {
    Limits.disarm()
    MetricsRecorder.shared(environment: IO.env, now: IO.now()).refused(status: error.status)
    let message = "podinject: \(error.message)"
    switch mode {
    case .stdin:
      IO.write(2, message + "\n")
      return Exit.badInput
    case .functionRuntime:
      // The watchdog turns stderr into body text, so the reason travels in the body as a Status.
      IO.write(1, error.body.serializedBytes() + [0x0A])
      return Exit.badInput
    case .cgi:
      let extra = error.status == 405 ? ["Allow: POST"] : []
      IO.write(1, Array(HTTPFront.cgiHeader(status: error.status, reason: error.reasonPhrase, extra: extra).utf8))
      IO.write(1, error.body.serializedBytes())
      log(LogLine.rejected(error.message, time: IO.now()), settings: nil)
      return 0
    }
  }

  /// Writes the log line: stderr in stdin and CGI modes, never in function-runtime mode (the watchdog
  /// would put it in the body); there it goes to `events.logFile` when one is set.
  private func log(_ line: String, settings: InjectionConfig.EventSettings?) {
    switch mode {
    case .stdin, .cgi: IO.write(2, line + "\n")
    case .functionRuntime:
      guard let path = settings?.logFile, !path.isEmpty, let fd = LocalFiles.openForAppending(path) else { return }
      IO.write(fd, line + "\n")
      close(fd)
    }
  }
}

extension HTTPFront.BodyPlan {
  /// The number of bytes to drain; nil means to end of input.
  var byteCount: Int? {
    if case .length(let count) = self { return count }
    return nil
  }
}

extension ConfigLoad {
  /// What a decision falls back to when no rule can be applied: `defaults.onError`, as far as it
  /// could be read (SPEC §4).
  var fallbackPolicy: FailurePolicy {
    switch self {
    case .success(let config): return config.defaults.onError
    case .failure(let error): return error.fallbackOnError ?? .allow
    }
  }
}

extension LastWords {
  /// Before the review is read there is no one to answer: a 500 (CGI), or the reason and exit 2.
  /// Fixed text, with the reason's place marked by a zero byte.
  static func beforeReview(_ mode: InvocationMode) -> LastWords {
    let status: StaticString = """
      {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"podinject: \u{0}",\
      "reason":"InternalError","code":500}
      """
    switch mode {
    case .stdin:
      return LastWords(stdout: [], stderr: bytes("podinject: \u{0}\n"), status: Exit.badInput)
    case .functionRuntime:
      return LastWords(stdout: bytes(status) + [0x0A], stderr: [], status: Exit.badInput)
    case .cgi:
      return LastWords(
        stdout: Array(HTTPFront.cgiHeader(status: 500, reason: "Internal Server Error").utf8) + bytes(status),
        stderr: bytes(#"{"level":"error","error":"podinject: \#u{0}"}\#n"#), status: Exit.success)
    }
  }

  /// Once the review is read: an AdmissionReview that applies no rule (SPEC §4), and a log line (without
  /// a time: the handler cannot format one, and the container runtime stamps every line).
  static func interrupted(_ request: AdmissionRequest, deny: Bool, mode: InvocationMode) -> LastWords {
    var review = AdmissionResponse.interruptedReview(uid: request.uid, apiVersion: request.reviewAPIVersion, deny: deny)
    if mode == .cgi {
      review = bytes("Status: 200 OK\r\nContent-Type: application/json\r\n\r\n") + review
    } else {
      review.append(0x0A)
    }
    guard mode != .functionRuntime else { return LastWords(stdout: review, stderr: [], status: Exit.success) }
    var line = bytes(#"{"level":"error","uid":"#)
    JSONValue.string(request.uid).serialize(into: &line)
    line += deny ? bytes(#","allowed":false"#) : bytes(#","allowed":true"#)
    line += bytes(#","error":"podinject: no rule applied: \#u{0}"}\#n"#)
    return LastWords(stdout: review, stderr: line, status: Exit.success)
  }

  private static func bytes(_ text: StaticString) -> [UInt8] {
    Array(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
  }
}
