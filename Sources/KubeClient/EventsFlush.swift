import PodInject

/// `podinject events flush`: drains the outbox, and delivers Events handed over on stdin (those an
/// admission could not spool).
public struct EventsFlush {
  /// The configuration file, named again to a successor deliverer.
  public var configPath: String
  public var kubeconfig: String?
  /// The time budget in milliseconds.
  public var budgetMilliseconds: Int
  /// Started by an admission (`--detached`): leave the outbox to a deliverer already draining it.
  public var detached: Bool
  /// What was handed over on stdin (`--stdin`); nil when nothing was.
  public var handedOver: [UInt8]?

  public init(
    configPath: String, kubeconfig: String?, budgetMilliseconds: Int, detached: Bool, handedOver: [UInt8]?
  ) {
    self.configPath = configPath
    self.kubeconfig = kubeconfig
    self.budgetMilliseconds = budgetMilliseconds
    self.detached = detached
    self.handedOver = handedOver
  }

  /// Delivers and writes the log line; exit status 0 when nothing waits any longer, 3 when some Events
  /// must wait, 1 when the outbox is refused.
  public func run(_ settings: InjectionConfig.EventSettings, host: any Host) -> Int32 {
    let now = host.now()
    var problems: [String] = []
    var held: [HeldEvent] = []
    if let handedOver { (held, problems) = HeldEntry.parse(handedOver) }
    let run = OutboxDrain.run(
      settings, kubeconfig: kubeconfig, budgetMilliseconds: budgetMilliseconds, held: held,
      lockPolicy: detached ? .detached : .wait,
      successor: detached
        ? { lock in
          "budget spent while Events kept arriving: "
            + DetachedDeliverer.start(configPath: configPath, kubeconfig: kubeconfig, lock: lock, held: [], host: host)
        } : nil, host: host)
    // A detached deliverer that finds another one draining has nothing to do and nothing to say.
    if detached && run.busy && held.isEmpty && problems.isEmpty { return ExitStatus.success }
    problems += run.problems + MetricsRecorder.shared(environment: host.environment, now: now).notes
    let waiting = run.refused ? 0 : Outbox(directory: settings.outbox).pendingFiles().count
    let line = LogLine.delivery(
      run.report.map(EventCounts.init) ?? EventCounts(), waiting: waiting, problems: problems, time: now)
    // To `events.logFile` when set (and it opens), else to stderr.
    host.log(line, to: .preferring(settings.logFile, orElse: .standardError))
    if run.refused { return ExitStatus.configuration }
    // Nothing left waiting is success, whether or not there was an API server to send to.
    return waiting == 0 ? ExitStatus.success : ExitStatus.eventsStillWaiting
  }
}

extension EventCounts {
  /// The counts of one drain of the outbox.
  init(_ report: DeliveryReport) {
    self.init(sent: report.sent, aggregated: report.aggregated, spooled: report.deferred, dropped: 0)
  }
}
