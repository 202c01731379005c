import HostTesting
import PodInject
import Testing

@testable import KubeClient

/// One admission's Events: spooled before the answer, then handed to a detached deliverer or sent in
/// process, driven by a fake host: no process is started, no API server contacted.
struct AdmissionEventsTests {
  static let inCluster: [(name: String, value: String)] = [
    ("KUBERNETES_SERVICE_HOST", "10.0.0.1"), ("KUBERNETES_SERVICE_PORT", "443"),
  ]

  static func settings(_ outbox: Outbox) -> InjectionConfig.EventSettings {
    var settings = InjectionConfig.EventSettings()
    settings.outbox = outbox.directory
    return settings
  }

  @Test func eventsApiNoneKeepsEventsInTheLogLine() throws {
    try EventDelivererTests.withOutbox { outbox in
      var settings = Self.settings(outbox)
      settings.api = .none
      let host = FakeHost(environment: Self.inCluster)
      var events = AdmissionEvents(settings: settings, kubeconfig: nil, host: host)
      events.spool([EventDelivererTests.event()], now: host.time)
      events.deliver(inProcess: false, configPath: "/etc/podinject/config.yaml")
      #expect(events.notes == ["events.api is none: Events are reported in this log line only"])
      #expect(events.counts == EventCounts())
      #expect(outbox.pendingFiles().isEmpty)
      #expect(host.spawns.isEmpty)
    }
  }

  @Test func withoutAnAPIServerEventsStayInTheLogLine() throws {
    try EventDelivererTests.withOutbox { outbox in
      let host = FakeHost()
      var events = AdmissionEvents(settings: Self.settings(outbox), kubeconfig: nil, host: host)
      events.spool([EventDelivererTests.event()], now: host.time)
      events.deliver(inProcess: true, configPath: "/etc/podinject/config.yaml")
      #expect(events.notes.count == 1)
      #expect(events.notes.first?.hasPrefix("no API server configured") == true)
      #expect(outbox.pendingFiles().isEmpty)
    }
  }

  @Test func aCGIAdmissionHandsTheOutboxLockToOneDetachedDeliverer() throws {
    try EventDelivererTests.withOutbox { outbox in
      let host = FakeHost(
        environment: Self.inCluster + [
          ("HTTP_PROXY", "http://attacker.example"), ("PODINJECT_CACHE_DIR", "/run/cache"), ("PATH", "/usr/bin"),
        ])
      var events = AdmissionEvents(settings: Self.settings(outbox), kubeconfig: "/etc/kube.conf", host: host)
      events.spool([EventDelivererTests.event()], now: host.time)
      #expect(events.counts.spooled == 1)
      events.deliver(inProcess: false, configPath: "/etc/podinject/config.yaml")
      let spawn = try #require(host.spawns.first)
      #expect(host.spawns.count == 1)
      #expect(
        spawn.arguments == [
          "podinject", "events", "flush", "--detached", "--config", "/etc/podinject/config.yaml", "--kubeconfig",
          "/etc/kube.conf",
        ])
      #expect(spawn.input == nil)
      #expect(spawn.passedDescriptor != nil, "the outbox lock goes to the deliverer")
      #expect(
        spawn.environment == [
          "KUBERNETES_SERVICE_HOST=10.0.0.1", "KUBERNETES_SERVICE_PORT=443", "PODINJECT_CACHE_DIR=/run/cache",
          "PATH=/usr/bin",
        ])
      #expect(events.notes == ["Events handed to a detached deliverer (pid 31337)"])
      #expect(outbox.pendingFiles().count == 1, "the Event waits in the outbox for the deliverer")
    }
  }

  @Test func aDelivererThatCannotStartLeavesTheEventsInTheOutbox() throws {
    try EventDelivererTests.withOutbox { outbox in
      let host = FakeHost(environment: Self.inCluster)
      host.spawnOutcome = .failed(reason: "Resource temporarily unavailable")
      var events = AdmissionEvents(settings: Self.settings(outbox), kubeconfig: nil, host: host)
      events.spool([EventDelivererTests.event()], now: host.time)
      events.deliver(inProcess: false, configPath: "/c.yaml")
      #expect(events.notes == ["Events wait in the outbox: cannot start a deliverer: Resource temporarily unavailable"])
      #expect(outbox.pendingFiles().count == 1)
    }
  }

  @Test func anAdmissionWithoutEventsStartsNoDeliverer() throws {
    try EventDelivererTests.withOutbox { outbox in
      let host = FakeHost(environment: Self.inCluster)
      var events = AdmissionEvents(settings: Self.settings(outbox), kubeconfig: nil, host: host)
      events.spool([], now: host.time)
      events.deliver(inProcess: false, configPath: "/c.yaml")
      #expect(host.spawns.isEmpty)
      #expect(events.notes.isEmpty)
    }
  }

  @Test func heldEventsTravelToTheDelivererOnItsStdin() throws {
    let entry = OutboxEntry(api: .coreV1, event: EventDelivererTests.event())
    let held = [HeldEntry(name: "a.json", entry: entry)]
    let request = DetachedDeliverer.request(
      configPath: "/c.yaml", kubeconfig: nil, lock: nil, held: held, environment: ["HOME=/root"])
    #expect(request.arguments.last == "--stdin")
    #expect(request.environment.isEmpty)
    #expect(request.passedDescriptor == nil)
    let (events, problems) = HeldEntry.parse(try #require(request.input))
    #expect(problems.isEmpty)
    #expect(events.map(\.name) == ["a.json"])
  }

  @Test func aPipeThatCannotBeMadeLosesTheHeldEventsAndSaysSo() {
    let host = FakeHost()
    host.spawnOutcome = .noPipe(reason: "Too many open files")
    let entry = OutboxEntry(api: .coreV1, event: EventDelivererTests.event())
    let note = DetachedDeliverer.start(
      configPath: "/c.yaml", kubeconfig: nil, lock: nil, held: [HeldEntry(name: "a.json", entry: entry)], host: host)
    #expect(note == "1 Event(s) lost: no pipe to a deliverer: Too many open files")
  }
}

/// `podinject events flush`, driven by a fake host.
struct EventsFlushTests {
  @Test func eventsThatCannotBeSentWaitAndTheExitStatusSaysSo() throws {
    try EventDelivererTests.withOutbox { outbox in
      _ = try EventDelivererTests.spool(EventDelivererTests.event(), in: outbox)
      let host = FakeHost()
      var settings = InjectionConfig.EventSettings()
      settings.outbox = outbox.directory
      let flush = EventsFlush(
        configPath: "/c.yaml", kubeconfig: nil, budgetMilliseconds: 100, detached: false, handedOver: nil)
      #expect(flush.run(settings, host: host) == ExitStatus.eventsStillWaiting)
      #expect(outbox.pendingFiles().count == 1)
      let line = try #require(host.standardError.first)
      #expect(line.contains("no API server configured"))
    }
  }

  @Test func theLogLineGoesToTheLogFileWhenItOpens() throws {
    try EventDelivererTests.withOutbox { outbox in
      let host = FakeHost()
      var settings = InjectionConfig.EventSettings()
      settings.outbox = outbox.directory
      settings.logFile = "/var/log/podinject.log"
      let flush = EventsFlush(
        configPath: "/c.yaml", kubeconfig: nil, budgetMilliseconds: 100, detached: false, handedOver: nil)
      #expect(flush.run(settings, host: host) == ExitStatus.success)
      #expect(host.appended.map(\.path) == ["/var/log/podinject.log"])
      #expect(host.standardError.isEmpty)
      host.unwritable = ["/var/log/podinject.log"]
      _ = flush.run(settings, host: host)
      #expect(host.standardError.count == 1)
    }
  }

  @Test func anInProcessDrainDeliversThroughTheGivenConnection() throws {
    try EventDelivererTests.withOutbox { outbox in
      let event = EventDelivererTests.event()
      _ = try EventDelivererTests.spool(event, in: outbox)
      let server = FakeAPIServer()
      var settings = InjectionConfig.EventSettings()
      settings.outbox = outbox.directory
      let run = OutboxDrain.run(
        settings, kubeconfig: nil, budgetMilliseconds: 1000, held: [], lockPolicy: .wait, successor: nil,
        host: FakeHost(), connect: { _, _ in .connected(server, origin: "test") })
      #expect(run.report?.sent == 1)
      #expect(run.problems.isEmpty)
      #expect(outbox.pendingFiles().isEmpty)
      #expect(server.requests("POST").count == 1)
    }
  }
}
