import PodInject

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// One run of Event delivery after an answer: Events held in memory first, then the outbox, drained
/// under its lock, within a budget.
///
/// At most one deliverer drains an outbox at a time (`OutboxLock`). In stdin mode the admission drains
/// it itself, waiting its turn within its budget. In CGI and function-runtime modes the admission takes
/// the lock only when it is free and hands it, with the drain, to a `DetachedDeliverer`; when another
/// deliverer holds it, that one takes the new Event too. Events the outbox could not take (it was
/// refused, or could not be written) are kept in memory and sent directly: in this process (stdin
/// mode), or handed to the detached deliverer through a pipe (its stdin).
public enum OutboxDrain {
  /// The descriptor a detached deliverer is given the outbox lock on.
  public static let lockDescriptor: Int32 = 3

  /// How a deliverer gets the outbox lock.
  public enum LockPolicy: Sendable {
    /// Wait for it within the budget (stdin mode, `events flush` run by hand).
    case wait
    /// Take it from the descriptor it was started with, or only when it is free (a detached deliverer).
    case detached
  }

  /// What one delivery run did.
  public struct Run {
    /// The outbox and the held Events together; nil when nothing was tried.
    public var report: DeliveryReport?
    public var problems: [String] = []
    /// Held Events that could not be delivered (nowhere to wait).
    public var lost = 0
    /// The outbox was refused.
    public var refused = false
    /// Another deliverer had the outbox (a detached deliverer then has nothing to do).
    public var busy = false
  }

  /// Delivers `held` Events, then drains the outbox under its lock, within `budgetMilliseconds`. When
  /// the budget runs out while Events keep arriving, `successor` (when given) starts a fresh deliverer
  /// with the lock; otherwise what is left waits for a later one. `connect` opens the API server
  /// connection (`connect(kubeconfig:host:)` unless a test says otherwise).
  public static func run(
    _ settings: InjectionConfig.EventSettings, kubeconfig: String?, budgetMilliseconds: Int, held: [HeldEvent],
    lockPolicy: LockPolicy, successor: ((OutboxLock) -> String)?, host: any Host,
    connect: (String?, any Host) -> Connection = connect(kubeconfig:host:)
  ) -> Run {
    let deadline = host.monotonicMilliseconds() + Double(budgetMilliseconds)
    var run = Run()
    let outbox = Outbox(directory: settings.outbox)
    var lock: OutboxLock?
    do {
      lock = try takeLock(outbox, policy: lockPolicy, deadline: deadline, host: host)
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
    if let taken = lock, outbox.recoverStaleClaims(now: host.now()) == 0, outbox.pendingFiles().isEmpty {
      taken.release()
      lock = nil
    }
    guard lock != nil || !held.isEmpty else { return run }

    let transport: any KubeTransport
    let origin: String
    switch connect(kubeconfig, host) {
    case .connected(let made, let from):
      transport = made
      origin = from
    case .unavailable(let why):
      lock?.release()
      run.lost = held.count
      MetricsRecorder.shared(environment: host.environment, now: host.now()).delivered(
        sent: 0, aggregated: 0, rejected: 0, dropped: held.count)
      run.problems.append("Events wait in the outbox: \(why)")
      if !held.isEmpty { run.problems.append("\(held.count) Event(s) not in the outbox were lost: \(why)") }
      return run
    }
    let deliverer = EventDeliverer(
      transport: transport, outbox: outbox, deadline: deadline, clock: host.monotonicMilliseconds,
      pause: { milliseconds in host.pause(milliseconds: milliseconds) })
    var report = DeliveryReport()
    if !held.isEmpty {
      let direct = deliverer.deliver(held: held)
      run.lost = direct.deferred
      report.absorb(direct)
    }
    if let lock {
      let drained = deliverer.drain(holding: lock, now: host.now)
      report.absorb(drained)
      if drained.handOver {
        if let successor {
          run.problems.append(successor(lock))
        } else {
          lock.release()
        }
      }
    }
    MetricsRecorder.shared(environment: host.environment, now: host.now()).delivered(
      sent: report.sent, aggregated: report.aggregated, rejected: report.rejected, dropped: run.lost)
    run.problems += report.problems.map { "\($0) (API server: \(origin))" }
    report.problems = []
    run.report = report
    return run
  }

  /// A connection to the API server, and where its credentials came from; or why there is none.
  public enum Connection {
    case connected(any KubeTransport, origin: String)
    case unavailable(String)
  }

  /// The outbox lock, as `policy` says; nil when another deliverer holds it. Throws when the outbox is refused.
  private static func takeLock(_ outbox: Outbox, policy: LockPolicy, deadline: Double, host: any Host)
    throws(FileError) -> OutboxLock?
  {
    switch policy {
    case .detached:
      let inherited = fcntl(lockDescriptor, F_GETFD) >= 0 ? lockDescriptor : nil
      return try OutboxLock.take(outbox, inherited: inherited)
    case .wait:
      while true {
        if let lock = try OutboxLock.take(outbox) { return lock }
        guard host.monotonicMilliseconds() + 10 < deadline else { return nil }
        host.pause(milliseconds: 10)
      }
    }
  }

  /// A libcurl connection to the configured API server (kubeconfig, else in-cluster).
  public static func connect(kubeconfig: String?, host: any Host) -> Connection {
    let resolved = CredentialSource.resolve(
      kubeconfigOption: kubeconfig, environment: host.environment, readFile: { path in try? host.read(path) })
    let credentials: Credentials
    switch resolved {
    case .failure(let error): return .unavailable(error.message)
    case .success(nil): return .unavailable("no API server configured")
    case .success(let found?): credentials = found
    }
    do {
      let connection = try CurlConnection(credentials: credentials, proxy: ProxySettings(environment: host.environment))
      return .connected(connection, origin: credentials.origin)
    } catch {
      return .unavailable(error.description)
    }
  }
}
