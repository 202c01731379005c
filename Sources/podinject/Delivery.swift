import CCurl
import KubeClient
import PodInject

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Getting Events from the outbox to the API server, after the answer has gone out.
///
/// At most one deliverer drains an outbox at a time (`OutboxLock`). In stdin mode the admission drains
/// it itself, waiting its turn within its budget. In CGI and function-runtime modes the admission takes
/// the lock only when it is free and hands it, with the drain, to a detached `podinject events flush`
/// (as its fd 3); when another deliverer holds it, that one takes the new Event too. Events the outbox
/// could not take (it was refused, or could not be written) are kept in memory and sent directly: in
/// this process (stdin mode), or handed to the detached deliverer through a pipe (its stdin).
enum Delivery {
  /// The descriptor a detached deliverer is given the outbox lock on.
  static let lockDescriptor: Int32 = 3

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

  /// How a deliverer gets the outbox lock.
  enum LockPolicy {
    /// Wait for it within the budget (stdin mode, `events flush` run by hand).
    case wait
    /// Take it from the descriptor it was started with, or only when it is free (a detached deliverer).
    case detached
  }

  /// What one delivery run did.
  struct Run {
    /// The outbox and the held Events together; nil when nothing was tried.
    var report: DeliveryReport?
    var problems: [String] = []
    /// Held Events that could not be delivered (nowhere to wait).
    var lost = 0
    /// The outbox was refused.
    var refused = false
    /// Another deliverer had the outbox (a detached deliverer then has nothing to do).
    var busy = false
  }

  /// Delivers `held` Events, then drains the outbox under its lock, within `budgetMilliseconds`. When
  /// the budget runs out while Events keep arriving, `successor` (when given) starts a fresh deliverer
  /// with the lock; otherwise what is left waits for a later one.
  static func run(
    _ settings: InjectionConfig.EventSettings, kubeconfig: String?, budgetMilliseconds: Int, held: [HeldEvent],
    lockPolicy: LockPolicy, successor: ((OutboxLock) -> String)?
  ) -> Run {
    let deadline = IO.monotonicMilliseconds() + Double(budgetMilliseconds)
    var run = Run()
    let outbox = Outbox(directory: settings.outbox)
    var lock: OutboxLock?
    do {
      lock = try takeLock(outbox, policy: lockPolicy, deadline: deadline)
      if lock == nil {
        run.busy = true
        if lockPolicy == .wait { run.problems.append("another deliverer kept the outbox busy for the whole budget") }
      }
    } catch  where !error.missing {
      run.refused = true
      run.problems.append("outbox refused, nothing read from it: \(error)")
    } catch {
      // No outbox yet: nothing waits.
    }
    // Claims of a deliverer that died are put back first: they are waiting Events too.
    if let taken = lock, outbox.recoverStaleClaims(now: IO.now()) == 0, outbox.pendingFiles().isEmpty {
      taken.release()
      lock = nil
    }
    guard lock != nil || !held.isEmpty else { return run }

    let connection: CurlConnection
    let origin: String
    switch connect(kubeconfig: kubeconfig) {
    case .success(let (made, from)):
      connection = made
      origin = from
    case .failure(let why):
      lock?.release()
      run.lost = held.count
      run.problems.append("Events wait in the outbox: \(why.message)")
      if !held.isEmpty { run.problems.append("\(held.count) Event(s) not in the outbox were lost: \(why.message)") }
      return run
    }
    let deliverer = EventDeliverer(
      transport: connection, outbox: outbox, deadline: deadline, clock: IO.monotonicMilliseconds,
      pause: { milliseconds in if milliseconds > 0 { usleep(useconds_t(milliseconds) * 1000) } })
    var report = DeliveryReport()
    if !held.isEmpty {
      let direct = deliverer.deliver(held: held)
      run.lost = direct.deferred
      report.absorb(direct)
    }
    if let lock {
      let drained = deliverer.drain(holding: lock, now: IO.now)
      report.absorb(drained)
      if drained.handOver {
        if let successor {
          run.problems.append(successor(lock))
        } else {
          lock.release()
        }
      }
    }
    run.problems += report.problems.map { "\($0) (API server: \(origin))" }
    report.problems = []
    run.report = report
    return run
  }

  /// The outbox lock, as `policy` says; nil when another deliverer holds it. Throws when the outbox is refused.
  private static func takeLock(_ outbox: Outbox, policy: LockPolicy, deadline: Double) throws(FileError) -> OutboxLock?
  {
    switch policy {
    case .detached:
      let inherited = fcntl(lockDescriptor, F_GETFD) >= 0 ? lockDescriptor : nil
      return try OutboxLock.take(outbox, inherited: inherited)
    case .wait:
      while true {
        if let lock = try OutboxLock.take(outbox) { return lock }
        guard IO.monotonicMilliseconds() + 10 < deadline else { return nil }
        usleep(10_000)
      }
    }
  }

  /// A connection to the configured API server, and where its credentials came from.
  private static func connect(kubeconfig: String?) -> Result<(CurlConnection, String), CredentialsError> {
    let resolved = CredentialSource.resolve(
      kubeconfigOption: kubeconfig, environment: IO.env, readFile: { path in try? LocalFiles.read(path) })
    let credentials: Credentials
    switch resolved {
    case .failure(let error): return .failure(error)
    case .success(nil): return .failure(CredentialsError("no API server configured"))
    case .success(let found?): credentials = found
    }
    do {
      let connection = try CurlConnection(credentials: credentials, proxy: ProxySettings(environment: IO.env))
      return .success((connection, credentials.origin))
    } catch {
      return .failure(CredentialsError(error.description))
    }
  }

  /// Starts a detached `podinject events flush --detached`, so a CGI host or function runtime gets the
  /// whole answer at once: with `lock`, to drain the outbox (the lock goes with it, as fd 3); with
  /// `held`, to deliver Events the outbox could not take (written to its stdin). Returns a note for the
  /// log line.
  static func spawnDetached(configPath: String, kubeconfig: String?, lock: OutboxLock?, held: [HeldEntry]) -> String {
    var arguments = ["podinject", "events", "flush", "--detached", "--config", configPath]
    if let kubeconfig, !kubeconfig.isEmpty { arguments += ["--kubeconfig", kubeconfig] }
    var pipeEnds: [Int32] = [-1, -1]
    if !held.isEmpty {
      arguments.append("--stdin")
      guard pipe(&pipeEnds) == 0 else {
        return "\(held.count) Event(s) lost: no pipe to a deliverer: \(String(cString: strerror(errno)))"
      }
      for end in pipeEnds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
    }
    let argv = arguments.map { strdup($0) } + [nil]
    let envp = delivererEnvironment().map { strdup($0) } + [nil]
    defer { for pointer in argv + envp { free(pointer) } }
    let pid = argv.withUnsafeBufferPointer { arguments in
      envp.withUnsafeBufferPointer { environment in
        CCurl_spawn_detached(
          "/proc/self/exe", arguments.baseAddress, environment.baseAddress, pipeEnds[0], lock?.descriptor ?? -1)
      }
    }
    if pipeEnds[0] >= 0 {
      close(pipeEnds[0])
      if pid > 0 { IO.write(pipeEnds[1], HeldEntry.serialize(held)) }
      close(pipeEnds[1])
    }
    guard pid > 0 else {
      return "Events wait in the outbox: cannot start a deliverer: \(String(cString: strerror(-pid)))"
    }
    return held.isEmpty
      ? "Events handed to a detached deliverer (pid \(pid))"
      : "Events handed to a detached deliverer (pid \(pid)), \(held.count) of them from memory"
  }

  /// The names of the variables a deliverer is started with, besides those that start with `PODINJECT_`.
  /// A CGI host passes its whole environment and the request's headers as `HTTP_*` (a `Proxy:` header
  /// becomes `HTTP_PROXY`: "httpoxy"), so the deliverer's environment is built here, not inherited.
  static let delivererVariables: Set<String> = [
    "PATH", "HOSTNAME", "POD_NAME", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "KUBECONFIG",
    "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy",
  ]

  /// `NAME=value` entries of this environment that a deliverer needs.
  static func delivererEnvironment() -> [String] {
    var kept: [String] = []
    var entry = environ
    while let pointer = entry.pointee {
      let text = String(cString: pointer)
      if let equals = text.firstIndex(of: "=") {
        let name = text[..<equals]
        if name.hasPrefix("PODINJECT_") || delivererVariables.contains(String(name)) { kept.append(text) }
      }
      entry += 1
    }
    return kept
  }

  /// Writes deliverer log lines to `events.logFile` when set, else to stderr (when stderr is wanted).
  static func writeLog(_ line: String, settings: InjectionConfig.EventSettings, fallbackToStderr: Bool) {
    guard !settings.logFile.isEmpty else {
      if fallbackToStderr { IO.write(2, line + "\n") }
      return
    }
    guard let fd = LocalFiles.openForAppending(settings.logFile) else {
      if fallbackToStderr { IO.write(2, line + "\n") }
      return
    }
    IO.write(fd, line + "\n")
    close(fd)
  }
}

/// An Event an admission could not put in the outbox, on its way to the deliverer: the name its file
/// would have had, and the entry.
struct HeldEntry {
  var name: String
  var entry: OutboxEntry

  /// The Event as the deliverer takes it: checked like an outbox entry (nil when it is not valid).
  var held: HeldEvent? { (try? PendingEvent(entry: entry.json)).map { HeldEvent(name: name, pending: $0) } }

  /// What goes down the pipe: a JSON array of `{"name": ..., "entry": ...}`.
  static func serialize(_ entries: [HeldEntry]) -> [UInt8] {
    JSONValue.array(
      entries.map { .object(JSONObject([("name", .string($0.name)), ("entry", $0.entry.json)])) }
    ).serializedBytes()
  }

  /// Reads what `serialize` wrote; every Event is checked as an outbox entry is. Returns the valid
  /// Events and a line for each that is not.
  static func parse(_ bytes: [UInt8]) -> (events: [HeldEvent], problems: [String]) {
    guard let items = (try? JSONParser.parse(bytes))?.arrayValue else {
      return ([], bytes.isEmpty ? [] : ["Events handed over on stdin are unreadable"])
    }
    var events: [HeldEvent] = []
    var problems: [String] = []
    for (index, item) in items.enumerated() {
      guard let name = item["name"]?.stringValue, let entry = item["entry"] else {
        problems.append("Event \(index) handed over on stdin is unreadable")
        continue
      }
      do {
        events.append(HeldEvent(name: name, pending: try PendingEvent(entry: entry)))
      } catch {
        problems.append("Event \(index) handed over on stdin is refused: \(error)")
      }
    }
    return (events, problems)
  }
}

/// What happens to one admission's Events: spooled before the answer, delivered (or handed to a
/// detached deliverer) after it, and counted for the log line.
struct EventHandoff {
  let settings: InjectionConfig.EventSettings
  let kubeconfig: String?
  private(set) var counts = EventCounts()
  private(set) var notes: [String] = []
  /// The outbox files this admission wrote.
  private var ownFiles: [String] = []
  /// The Events the outbox could not take: sent from memory.
  private var held: [HeldEntry] = []
  /// Why nothing is sent at all, when that is so.
  private let notSent: String?

  init(settings: InjectionConfig.EventSettings, kubeconfig: String?) {
    self.settings = settings
    self.kubeconfig = kubeconfig
    notSent = Delivery.reasonNotSent(settings, kubeconfig: kubeconfig)
  }

  /// Writes the Events to the outbox (or notes why they stay in the log line only); those it cannot
  /// take are kept in memory.
  mutating func spool(_ events: [InjectionEvent], now: Timestamp) {
    guard !events.isEmpty else { return }
    if let notSent {
      notes.append(notSent)
      return
    }
    let entries = events.map { OutboxEntry(api: settings.api, event: $0) }
    let spool = Outbox(directory: settings.outbox).spool(entries, now: now)
    ownFiles = spool.names
    counts.spooled = spool.names.count
    counts.dropped = spool.dropped
    notes += spool.errors
    if spool.dropped > 0 { notes.append("outbox full: dropped the \(spool.dropped) oldest Event(s)") }
    held = spool.unwritten.map {
      HeldEntry(name: Outbox.fileName(entries[$0], index: $0, now: now), entry: entries[$0])
    }
    if !held.isEmpty { notes.append("\(held.count) Event(s) not in the outbox: sent directly, from memory") }
  }

  /// Delivers after the answer: here (stdin mode), or through a detached deliverer.
  mutating func deliver(inProcess: Bool, configPath: String) {
    guard notSent == nil else { return }
    let outbox = Outbox(directory: settings.outbox)
    guard inProcess else {
      // Only when no deliverer holds the outbox does this admission start one (which the lock goes to);
      // else the one draining takes this admission's Events as well.
      var lock: OutboxLock? = nil
      if let free = try? OutboxLock.take(outbox), !ownFiles.isEmpty || !outbox.pendingFiles().isEmpty {
        lock = free
      } else if !ownFiles.isEmpty {
        notes.append("Events left to the deliverer draining the outbox")
      }
      guard lock != nil || !held.isEmpty else { return }
      notes.append(Delivery.spawnDetached(configPath: configPath, kubeconfig: kubeconfig, lock: lock, held: held))
      return
    }
    guard !ownFiles.isEmpty || !held.isEmpty || !outbox.pendingFiles().isEmpty else { return }
    let run = Delivery.run(
      settings, kubeconfig: kubeconfig, budgetMilliseconds: settings.timeoutMilliseconds,
      held: held.compactMap(\.held), lockPolicy: .wait, successor: nil)
    if let report = run.report {
      counts.sent = report.sent
      counts.aggregated = report.aggregated
    }
    let waiting = Set(outbox.pendingFiles())
    counts.spooled = ownFiles.filter(waiting.contains).count
    counts.dropped += run.lost + held.count - held.compactMap(\.held).count
    notes += run.problems
  }
}

/// `podinject events flush`: what `EventsFlushCommand` runs.
extension Delivery {
  /// Drains the outbox (and delivers what is handed over on stdin, with `--stdin`); exit status 0 when
  /// nothing waits any longer, 3 when some Events must wait, 1 when the outbox is refused.
  static func flush(_ arguments: ParsedArguments, settings: InjectionConfig.EventSettings, budget: Int) -> Int32 {
    // The container entrypoint looks every few seconds: an empty outbox is not worth a log line.
    if arguments.has("if-waiting") && !arguments.has("stdin")
      && Outbox(directory: settings.outbox).pendingFiles().isEmpty
    {
      return Exit.success
    }
    let now = IO.now()
    let detached = arguments.has("detached")
    var problems: [String] = []
    var held: [HeldEvent] = []
    if arguments.has("stdin") {
      let (bytes, _) = IO.read(0, limit: 16 * 1024 * 1024)
      (held, problems) = HeldEntry.parse(bytes)
    }
    let configPath = ConfigSource.path(arguments["config"])
    let run = run(
      settings, kubeconfig: arguments["kubeconfig"], budgetMilliseconds: budget, held: held,
      lockPolicy: detached ? .detached : .wait,
      successor: detached
        ? { lock in
          "budget spent while Events kept arriving: "
            + spawnDetached(configPath: configPath, kubeconfig: arguments["kubeconfig"], lock: lock, held: [])
        } : nil)
    // A detached deliverer that finds another one draining has nothing to do and nothing to say.
    if detached && run.busy && held.isEmpty && problems.isEmpty { return Exit.success }
    problems += run.problems
    let waiting = run.refused ? 0 : Outbox(directory: settings.outbox).pendingFiles().count
    let line = LogLine.delivery(
      run.report.map(EventCounts.init) ?? EventCounts(), waiting: waiting, problems: problems, time: now)
    writeLog(line, settings: settings, fallbackToStderr: true)
    if run.refused { return Exit.configuration }
    // Nothing left waiting is success, whether or not there was an API server to send to.
    return waiting == 0 ? Exit.success : EventsFlushCommand.stillWaiting
  }
}
