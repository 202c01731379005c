import Testing

@testable import PodInject

/// The validated-config cache must give back exactly what parsing gives, and only for the same file.
struct ConfigCacheTests {
  static let fingerprint = FileFingerprint(
    device: 2049, inode: 131_072, size: 1365, modified: Timestamp(secondsSinceEpoch: 1_795_929_569, microseconds: 5),
    changed: Timestamp(secondsSinceEpoch: 1_795_929_570, microseconds: 7))

  static func loadSamples() throws -> InjectionConfig {
    let bytes = try LocalFiles.read(TestFiles.root + "/samples/config.yaml")
    return try ConfigLoader.load(bytes, file: "samples/config.yaml")
  }

  @Test func aCachedConfigurationDecidesExactlyLikeTheParsedOne() throws {
    let parsed = try Self.loadSamples()
    #expect(!parsed.rules.isEmpty)
    let entry = ConfigCache.entry(for: parsed, path: "/etc/podinject/config.yaml", fingerprint: Self.fingerprint)
    let cached = try #require(
      ConfigCache.config(from: entry, path: "/etc/podinject/config.yaml", fingerprint: Self.fingerprint))
    #expect(cached == parsed)
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

  /// The decoded entry handed back (for a caller to keep to the end of the process) is the whole entry,
  /// its configuration the one returned; an entry that is no cache gives nothing to keep.
  @Test func theDecodedEntryIsHandedBack() throws {
    let parsed = try Self.loadSamples()
    let bytes = ConfigCache.entry(for: parsed, path: "/a/config.yaml", fingerprint: Self.fingerprint)
    var decoded: JSONValue?
    let cached = ConfigCache.config(from: bytes, path: "/a/config.yaml", fingerprint: Self.fingerprint, entry: &decoded)
    #expect(cached == parsed)
    #expect(decoded?["config"] == parsed.cacheJSON)
    #expect(decoded?["path"] == .string("/a/config.yaml"))
    var none: JSONValue?
    #expect(ConfigCache.config(from: Array("{}".utf8), path: "/a", fingerprint: Self.fingerprint, entry: &none) == nil)
    #expect(none == nil)
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
    let parsed = try Self.loadSamples()
    let entry = ConfigCache.entry(for: parsed, path: "/a/config.yaml", fingerprint: Self.fingerprint)
    func read(_ bytes: [UInt8]) -> InjectionConfig? {
      ConfigCache.config(from: bytes, path: "/a/config.yaml", fingerprint: Self.fingerprint)
    }
    func flipped(_ position: Int) -> [UInt8] {
      var damaged = entry
      damaged[position] ^= 0xFF
      return damaged
    }
    #expect(read(entry) != nil, "the whole entry is used, so nil below means ignored")
    for end in stride(from: 0, to: entry.count, by: 5) {
      #expect(read(Array(entry[..<end])) == nil, "cut at byte \(end)")
    }
    // Its header (magic, version, path, fingerprint): any damaged byte and the entry is not used.
    let configStart = entry.count - BinaryJSON.encode(parsed.cacheJSON).count
    for position in 0..<configStart {
      #expect(read(flipped(position)) == nil, "byte \(position) of the header")
    }
    // The configuration itself: a damaged byte must give nil, or the same configuration.
    withKnownIssue("an entry has no checksum: a damaged byte inside a string is read as another configuration") {
      let trusted = stride(from: configStart, to: entry.count, by: 5).filter { position in
        read(flipped(position)).map { $0 != parsed } ?? false
      }
      let count = trusted.count
      #expect(count == 0, "damaged bytes that gave another configuration, the first at \(trusted.first ?? 0)")
    }
  }
}
