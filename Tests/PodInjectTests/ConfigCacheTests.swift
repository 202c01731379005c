import Testing

@testable import PodInject

/// The validated-config cache must give back exactly what parsing gives, and only for the same file.
struct ConfigCacheTests {
  static let fingerprint = FileFingerprint(
    device: 2049, inode: 131_072, size: 1365, modified: Timestamp(secondsSinceEpoch: 1_795_929_569, microseconds: 5),
    changed: Timestamp(secondsSinceEpoch: 1_795_929_570, microseconds: 7))

  static func loadSamples() throws -> InjectionConfig {
    let bytes = try LocalFiles.read("samples/config.yaml")
    return try ConfigLoader.load(bytes, file: "samples/config.yaml")
  }

  @Test func aCachedConfigurationDecidesExactlyLikeTheParsedOne() throws {
    let parsed = try Self.loadSamples()
    #expect(!parsed.rules.isEmpty)
    let entry = ConfigCache.entry(for: parsed, path: "/etc/podinject/config.yaml", fingerprint: Self.fingerprint)
    let cached = try #require(
      ConfigCache.config(from: entry, path: "/etc/podinject/config.yaml", fingerprint: Self.fingerprint))
    #expect(cached.cacheJSON == parsed.cacheJSON)
    for (review, expected) in try Fixture.sampleReviews() {
      let request = try AdmissionRequest.decode(review)
      let fromParsed = Review.run(request, config: .success(parsed), environment: Fixture.environment)
      let fromCache = Review.run(request, config: .success(cached), environment: Fixture.environment)
      #expect(
        fromCache.response.review(apiVersion: request.reviewAPIVersion)
          == fromParsed.response.review(apiVersion: request.reviewAPIVersion), "\(expected)")
      #expect(fromCache.events == fromParsed.events)
    }
  }

  @Test func anEntryIsUsedOnlyForTheSameFileAndVersion() throws {
    let parsed = try Self.loadSamples()
    let entry = ConfigCache.entry(for: parsed, path: "/a/config.yaml", fingerprint: Self.fingerprint)
    var touched = Self.fingerprint
    touched.modified.microseconds += 1
    #expect(ConfigCache.config(from: entry, path: "/a/config.yaml", fingerprint: touched) == nil)
    var resized = Self.fingerprint
    resized.size += 1
    #expect(ConfigCache.config(from: entry, path: "/a/config.yaml", fingerprint: resized) == nil)
    #expect(ConfigCache.config(from: entry, path: "/b/config.yaml", fingerprint: Self.fingerprint) == nil)
    let otherVersion = ConfigCache.entry(
      for: parsed, path: "/a/config.yaml", fingerprint: Self.fingerprint, version: "0.0.0-other")
    #expect(ConfigCache.config(from: otherVersion, path: "/a/config.yaml", fingerprint: Self.fingerprint) == nil)
    #expect(ConfigCache.config(from: Array("{}".utf8), path: "/a/config.yaml", fingerprint: Self.fingerprint) == nil)
    #expect(ConfigCache.config(from: ConfigCache.magic, path: "/a/config.yaml", fingerprint: Self.fingerprint) == nil)
  }

  @Test func aDamagedEntryIsIgnoredNeverTrusted() throws {
    let entry = ConfigCache.entry(for: try Self.loadSamples(), path: "/a/config.yaml", fingerprint: Self.fingerprint)
    // Every truncation, and a flipped byte at every tenth position, gives nil or a configuration; never a crash.
    for end in stride(from: 0, to: entry.count, by: 7) {
      #expect(
        ConfigCache.config(from: Array(entry[..<end]), path: "/a/config.yaml", fingerprint: Self.fingerprint) == nil)
    }
    for position in stride(from: ConfigCache.magic.count, to: entry.count, by: 10) {
      var damaged = entry
      damaged[position] ^= 0xFF
      _ = ConfigCache.config(from: damaged, path: "/a/config.yaml", fingerprint: Self.fingerprint)
    }
  }
}

extension Fixture {
  /// The shipped sample AdmissionReviews, as bytes, with their file names.
  static func sampleReviews() throws -> [([UInt8], String)] {
    let names = LocalFiles.names(in: "samples").filter { $0.hasPrefix("review-") }.sorted()
    #expect(names.count >= 8)
    return names.compactMap { name in
      guard let bytes = try? LocalFiles.read("samples/" + name) else { return nil }
      return (bytes, name)
    }
  }
}
