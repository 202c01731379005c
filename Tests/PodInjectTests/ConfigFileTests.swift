import HostTesting
import Testing

@testable import PodInject

/// Finding the configuration file and loading it through the cache, driven by a fake host.
struct ConfigFileTests {
  static let yaml = Fixture.configYAML("rules:\n- name: tracing\n  labels: {team: a}\n")

  @Test func theOptionWinsThenTheVariableThenTheDefaultPath() {
    let host = FakeHost(environment: [("PODINJECT_CONFIG", "/from/env.yaml")])
    #expect(ConfigFile(option: "/from/option.yaml", host: host).path == "/from/option.yaml")
    #expect(ConfigFile(option: nil, host: host).path == "/from/env.yaml")
    #expect(ConfigFile(option: "", host: host).path == "/from/env.yaml")
    #expect(ConfigFile(option: nil, host: FakeHost()).path == ConfigLoader.defaultPath)
    #expect(
      ConfigFile(option: nil, host: FakeHost(environment: [("PODINJECT_CONFIG", "")])).path == ConfigLoader.defaultPath)
  }

  @Test func theCacheIsPrivateToTheUserUnlessTheVariableSaysWhereOrNowhere() {
    #expect(ConfigFile(option: nil, host: FakeHost()).cacheDirectory == "/tmp/podinject-4242/cache")
    let elsewhere = FakeHost(environment: [("PODINJECT_CACHE_DIR", "/run/cache")])
    #expect(ConfigFile(option: nil, host: elsewhere).cacheDirectory == "/run/cache")
    let nowhere = FakeHost(environment: [("PODINJECT_CACHE_DIR", "")])
    #expect(ConfigFile(option: nil, host: nowhere).cacheDirectory == nil)
  }

  @Test func aMissingFileIsAConfigurationFailureNamingThePath() throws {
    let load = ConfigFile(option: "/etc/missing.yaml", host: FakeHost()).load()
    guard case .failure(let error) = load else {
      Issue.record("a missing file loaded")
      return
    }
    #expect(error.description.hasPrefix("/etc/missing.yaml: cannot read:"))
  }

  @Test func anUnchangedFileIsLoadedFromTheCacheAndAChangedOneReadAgain() throws {
    try OutboxTests.withTemporaryDirectory { directory in
      let host = FakeHost(environment: [("PODINJECT_CACHE_DIR", directory)])
      host.write(Self.yaml, to: "/etc/podinject/config.yaml")
      let file = ConfigFile(option: "/etc/podinject/config.yaml", host: host)
      guard case .success(let first) = file.load(cached: true) else {
        Issue.record("the config did not load")
        return
      }
      #expect(first.rules.map(\.name) == ["tracing"])
      #expect(OutboxTests.allNames(in: directory) == [ConfigCache.fileName(for: file.path)])

      // The same fingerprint: the entry is used, the file is not read again.
      host.files[file.path] = Array("not: a config".utf8)
      let readsBefore = host.reads.count
      guard case .success(let cached) = file.load(cached: true) else {
        Issue.record("the cached config did not load")
        return
      }
      #expect(host.reads.count == readsBefore)
      #expect(cached == first)

      // A new fingerprint: the file is read again (and this one is invalid).
      host.write("not: a config", to: file.path, version: 2)
      guard case .failure = file.load(cached: true) else {
        Issue.record("a changed file was answered from the cache")
        return
      }
    }
  }

  @Test func withoutCachingNothingIsWritten() throws {
    try OutboxTests.withTemporaryDirectory { directory in
      let host = FakeHost(environment: [("PODINJECT_CACHE_DIR", directory)])
      host.write(Self.yaml, to: "/etc/podinject/config.yaml")
      guard case .success = ConfigFile(option: "/etc/podinject/config.yaml", host: host).load() else {
        Issue.record("the config did not load")
        return
      }
      #expect(OutboxTests.allNames(in: directory).isEmpty)
    }
  }

  @Test func theReportingInstanceIsTheConfiguredOneElsePodNameElseTheHostName() throws {
    let host = FakeHost(environment: [("POD_NAME", "podinject-7f9-abc")])
    var config = InjectionConfig()
    #expect(ReviewEnvironment(.success(config), host: host).reportingInstance == "podinject-7f9-abc")
    #expect(ReviewEnvironment(.success(config), host: host).now == host.time)
    #expect(ReviewEnvironment(.success(config), host: FakeHost()).reportingInstance == "node-1")
    config.events.reportingInstance = "configured"
    #expect(ReviewEnvironment(.success(config), host: host).reportingInstance == "configured")
  }
}
