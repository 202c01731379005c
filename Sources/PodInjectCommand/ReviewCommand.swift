import KubeClient
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
    let host = SystemHost()
    let started = host.monotonicMilliseconds()
    signal(SIGPIPE, SIG_IGN)
    var maxBodyBytes = HTTPFront.defaultMaxBodyBytes
    if let text = arguments["max-body-bytes"] {
      guard let value = Int(text), value > 0 else { Podinject.fail("--max-body-bytes needs a positive number") }
      maxBodyBytes = value
    }
    let mode = InvocationMode.detect(forceCGI: arguments.has("cgi"), environment: host.environment)
    Limits.arm(LastWords.beforeReview(mode))

    // 1. Read the body, per the mode's framing rules.
    let body: [UInt8]
    switch RequestBody.read(mode, maxBodyBytes: maxBodyBytes, environment: host.environment) {
    case .success(let bytes): body = bytes
    case .failure(let unusable): return refuse(unusable, mode: mode, host: host)
    }
    // 2. Decode it. The API server sends JSON; YAML is a convenience of stdin mode only (SPEC §1).
    let request: AdmissionRequest
    do {
      request = try AdmissionRequest.decode(body, allowingYAML: mode == .stdin)
    } catch {
      return refuse(UnusableInput(error.message), mode: mode, host: host)
    }
    Limits.update(LastWords.interrupted(request, deny: false, mode: mode))

    // 3. Review it, with the configuration (cached when the file is unchanged).
    let configFile = ConfigFile(option: arguments["config"], host: host)
    let config = configFile.load(cached: true)
    if config.fallbackPolicy == .deny { Limits.update(LastWords.interrupted(request, deny: true, mode: mode)) }
    let environment = ReviewEnvironment(config, host: host)
    let result = Review.run(request, config: config, environment: environment)

    // 4. Events go to the outbox before the answer, so that no failure is lost if the host kills us after it.
    let settings = config.eventSettings
    var events = AdmissionEvents(settings: settings, kubeconfig: arguments["kubeconfig"], host: host)
    events.spool(result.events, now: environment.now)

    // 5. Answer.
    let review = result.response.review(apiVersion: request.reviewAPIVersion)
    let answer = mode.framedAnswer(review.serializedBytes())
    Limits.disarm()
    // An answer the caller never gets is said in the log line (the API server then applies the webhook's
    // failurePolicy, which podinject cannot see).
    let unanswered = IO.write(1, answer) ? [] : ["the answer could not be written: " + String(cString: strerror(errno))]
    // lighttpd (and Apache) SIGTERM a CGI program as soon as its response ends; what is left (the log
    // line, handing Events to a deliverer) is short and bounded, and must not be lost to that.
    if mode == .cgi { signal(SIGTERM, SIG_IGN) }
    close(1)
    // 6. Count it in the replica's metrics file.
    let metrics = MetricsRecorder.shared(environment: host.environment, now: environment.now)
    metrics.review(result, config: config, durationMs: host.monotonicMilliseconds() - started, now: environment.now)

    // 7. Deliver the Events: here in stdin mode, else through a detached deliverer.
    events.deliver(inProcess: mode == .stdin, configPath: configFile.path)
    let line = LogLine.review(
      result, events: events.counts, durationMs: host.monotonicMilliseconds() - started, time: environment.now,
      notes: unanswered + events.notes + metrics.notes)
    host.log(line, to: mode.logDestination(settings))
    // Exit here, with the request, the configuration (and the cache entry it came from) and the result
    // still alive: freeing a 1 MiB document (or a configuration) node by node would cost more than
    // deciding on it, and the process ends anyway.
    withExtendedLifetime((request, config, configFile, result, body, review)) { exit(0) }
  }

  /// Answers unusable input the way the mode requires (SPEC §6) and returns the exit status.
  private static func refuse(_ unusable: UnusableInput, mode: InvocationMode, host: any Host) -> Int32 {
    Limits.disarm()
    MetricsRecorder.shared(environment: host.environment, now: host.now()).refused(status: unusable.httpStatus)
    let output = mode.refusal(unusable, time: host.now())
    IO.write(1, output.stdout)
    if let line = output.stderr { IO.write(2, line + "\n") }
    return output.status
  }
}

/// Reading the request body, per the mode's framing rules (`HTTPFront` decides, this reads).
enum RequestBody {
  /// The body, or why there is nothing to answer.
  static func read(_ mode: InvocationMode, maxBodyBytes: Int, environment: (String) -> String?)
    -> Result<[UInt8], UnusableInput>
  {
    switch mode {
    case .stdin, .functionRuntime:
      let (bytes, overflowed) = IO.read(0, limit: maxBodyBytes)
      return overflowed ? .failure(.tooLarge(maxBodyBytes)) : .success(bytes)
    case .cgi:
      let verdict = HTTPFront.check(
        method: environment("REQUEST_METHOD"), contentType: environment("CONTENT_TYPE"),
        contentLength: environment("CONTENT_LENGTH"), transferEncoding: environment("HTTP_TRANSFER_ENCODING"),
        maxBodyBytes: maxBodyBytes)
      switch verdict {
      case .refuse(let error, let drain):
        if let drain { IO.drain(0, upTo: drain.byteCount, cap: HTTPFront.drainCapBytes) }
        return .failure(UnusableInput(error))
      case .read(.length(let count)):
        let bytes = IO.read(0, exactly: count)
        guard bytes.count == count else {
          return .failure(UnusableInput("body ended after \(bytes.count) of \(count) bytes"))
        }
        return .success(bytes)
      case .read(.toEOF):
        let (bytes, overflowed) = IO.read(0, limit: maxBodyBytes)
        if overflowed {
          IO.drain(0, upTo: nil, cap: HTTPFront.drainCapBytes)
          return .failure(.tooLarge(maxBodyBytes))
        }
        return .success(bytes)
      }
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
