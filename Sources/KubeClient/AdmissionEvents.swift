import PodInject

/// What happens to one admission's Events: spooled to the outbox before the answer, delivered (or
/// handed to a detached deliverer) after it, and counted for the log line.
public struct AdmissionEvents {
  let settings: InjectionConfig.EventSettings
  let kubeconfig: String?
  let host: any Host
  public private(set) var counts = EventCounts()
  public private(set) var notes: [String] = []
  /// The outbox files this admission wrote.
  private var ownFiles: [String] = []
  /// The Events the outbox could not take: sent from memory.
  private var held: [HeldEntry] = []
  /// Why nothing is sent at all, when that is so.
  private let notSent: String?

  public init(settings: InjectionConfig.EventSettings, kubeconfig: String?, host: any Host) {
    self.settings = settings
    self.kubeconfig = kubeconfig
    self.host = host
    notSent = Self.reasonNotSent(settings, kubeconfig: kubeconfig, host: host)
  }

  /// Whether any API server is configured: a cheap look at options and environment, no file read,
  /// so the answer path stays free of it.
  static func apiConfigured(kubeconfig: String?, host: any Host) -> Bool {
    [kubeconfig, host.environment("KUBECONFIG"), host.environment("KUBERNETES_SERVICE_HOST")].contains {
      !($0 ?? "").isEmpty
    }
  }

  /// Why Events are not sent at all, or nil when they are.
  static func reasonNotSent(_ settings: InjectionConfig.EventSettings, kubeconfig: String?, host: any Host) -> String? {
    if settings.api == .none { return "events.api is none: Events are reported in this log line only" }
    if !apiConfigured(kubeconfig: kubeconfig, host: host) {
      return "no API server configured (no --kubeconfig, $KUBECONFIG or in-cluster service account): "
        + "Events are reported in this log line only"
    }
    return nil
  }

  /// Writes the Events to the outbox (or notes why they stay in the log line only); those it cannot
  /// take are kept in memory.
  public mutating func spool(_ events: [InjectionEvent], now: Timestamp) {
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
    MetricsRecorder.shared(environment: host.environment, now: now).spooled(spool.names.count, dropped: spool.dropped)
    if spool.dropped > 0 { notes.append("outbox full: dropped the \(spool.dropped) oldest Event(s)") }
    held = spool.unwritten.map {
      HeldEntry(name: Outbox.fileName(entries[$0], index: $0, now: now), entry: entries[$0])
    }
    if !held.isEmpty { notes.append("\(held.count) Event(s) not in the outbox: sent directly, from memory") }
  }

  /// Delivers after the answer: here (stdin mode), or through a `DetachedDeliverer` started for
  /// `configPath`.
  public mutating func deliver(inProcess: Bool, configPath: String) {
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
      notes.append(
        DetachedDeliverer.start(configPath: configPath, kubeconfig: kubeconfig, lock: lock, held: held, host: host))
      return
    }
    guard !ownFiles.isEmpty || !held.isEmpty || !outbox.pendingFiles().isEmpty else { return }
    let run = OutboxDrain.run(
      settings, kubeconfig: kubeconfig, budgetMilliseconds: settings.timeoutMilliseconds,
      held: held.compactMap(\.held), lockPolicy: .wait, successor: nil, host: host)
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
