import CCurl
import KubeClient
import PodInject

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Getting Events from the outbox to the API server, after the answer has gone out.
enum Delivery {
  /// Whether any API server is configured: a cheap look at options and environment, no file read,
  /// so the answer path stays free of it.
  static func apiConfigured(kubeconfig: String?) -> Bool {
    [kubeconfig, IO.env("KUBECONFIG"), IO.env("KUBERNETES_SERVICE_HOST")].contains { !($0 ?? "").isEmpty }
  }

  /// Why Events are not sent at all, or nil when they are.
  static func reasonNotSent(_ settings: InjectionConfig.EventSettings, kubeconfig: String?) -> String? {
    if settings.api == .none { return "events.api is none: Events are reported in this log line only" }
    if !apiConfigured(kubeconfig: kubeconfig) {
      return "no API server configured (no --kubeconfig, $KUBECONFIG or in-cluster service account): "
        + "Events are reported in this log line only"
    }
    return nil
  }

  /// Delivers waiting Events in this process, within `budgetMilliseconds`.
  static func drain(_ settings: InjectionConfig.EventSettings, kubeconfig: String?, budgetMilliseconds: Int)
    -> (report: DeliveryReport?, problems: [String])
  {
    let started = IO.monotonicMilliseconds()
    let resolved = CredentialSource.resolve(
      kubeconfigOption: kubeconfig, environment: IO.env, readFile: { path in try? LocalFiles.read(path) })
    let credentials: Credentials
    switch resolved {
    case .failure(let error): return (nil, ["Events wait in the outbox: \(error.message)"])
    case .success(nil): return (nil, ["Events wait in the outbox: no API server configured"])
    case .success(let found?): credentials = found
    }
    let connection: CurlConnection
    do {
      connection = try CurlConnection(credentials: credentials)
    } catch {
      return (nil, ["Events wait in the outbox: \(error.description)"])
    }
    let deliverer = EventDeliverer(
      transport: connection, outbox: Outbox(directory: settings.outbox),
      deadline: started + Double(budgetMilliseconds), clock: IO.monotonicMilliseconds,
      pause: { milliseconds in if milliseconds > 0 { usleep(useconds_t(milliseconds) * 1000) } })
    let report = deliverer.drain(now: IO.now())
    return (report, report.problems.map { "\($0) (API server: \(credentials.origin))" })
  }

  /// Hands delivery to a detached `podinject events flush`, so a CGI host or function runtime gets the
  /// whole answer at once; returns a note for the log line.
  static func spawnDetached(configPath: String, kubeconfig: String?) -> String {
    var arguments = ["podinject", "events", "flush", "--config", configPath]
    if let kubeconfig, !kubeconfig.isEmpty { arguments += ["--kubeconfig", kubeconfig] }
    let argv = arguments.map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    let pid = argv.withUnsafeBufferPointer { buffer in
      CCurl_spawn_detached("/proc/self/exe", buffer.baseAddress, environ)
    }
    return pid > 0
      ? "Events handed to a detached deliverer (pid \(pid))"
      : "Events wait in the outbox: cannot start a deliverer: \(String(cString: strerror(-pid)))"
  }

  /// Writes deliverer log lines to `events.logFile` when set, else to stderr (when stderr is wanted).
  static func writeLog(_ line: String, settings: InjectionConfig.EventSettings, fallbackToStderr: Bool) {
    guard !settings.logFile.isEmpty else {
      if fallbackToStderr { IO.write(2, line + "\n") }
      return
    }
    let fd = open(settings.logFile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      if fallbackToStderr { IO.write(2, line + "\n") }
      return
    }
    IO.write(fd, line + "\n")
    close(fd)
  }
}
