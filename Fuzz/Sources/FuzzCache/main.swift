import FuzzSupport
import PodInject

#if canImport(Glibc)
  import Glibc
#endif

// The binary configuration cache as read from disk: `BinaryJSON.decode` on the raw bytes, then
// `ConfigCache.config(from:path:fingerprint:)` on the input as a whole entry and on an entry for the
// expected file whose configuration is the input. Whatever is read back must be stored the same way
// again and must admit the sample review without breaking any invariant of `checkReview`.
//
// `FuzzCache --write-seeds DIR CONFIG...` writes the cached form of each configuration file to
// DIR/<file name>.bin, and its whole entry for the fixed file to DIR/<file name>.entry: the seeds
// of Fuzz/corpus/cache.

/// An entry for the fixed file up to its configuration, which is the entry's last member: an entry
/// whose configuration is some bytes is this prefix followed by them.
let entryPrefix: [UInt8] = {
  let entry = ConfigCache.entry(for: InjectionConfig(), path: Fixtures.cachePath, fingerprint: Fixtures.fingerprint)
  let config = cachedConfigBytes(entry)
  guard entry.count > config.count, entry.suffix(config.count).elementsEqual(config) else {
    fatal("fuzz fixture: a cache entry no longer ends with its configuration; update FuzzCache")
  }
  return Array(entry.dropLast(config.count))
}()

/// The `BinaryJSON` of an entry's configuration.
func cachedConfigBytes(_ entry: [UInt8]) -> [UInt8] {
  guard let newline = entry.firstIndex(of: 0x0A), let value = BinaryJSON.decode(entry, from: newline + 1),
    let config = value["config"]
  else { fatal("fuzz fixture: a cache entry does not read back") }
  return BinaryJSON.encode(config)
}

/// Checks a configuration the cache gave back from `value`, the entry or configuration as decoded.
func checkCached(_ config: InjectionConfig, from value: JSONValue?, _ what: String) {
  let entry = ConfigCache.entry(for: config, path: Fixtures.cachePath, fingerprint: Fixtures.fingerprint)
  guard let again = ConfigCache.config(from: entry, path: Fixtures.cachePath, fingerprint: Fixtures.fingerprint)
  else { fatal("invariant failed: \(what): its own entry does not read back") }
  check(
    ConfigCache.entry(for: again, path: Fixtures.cachePath, fingerprint: Fixtures.fingerprint) == entry,
    "\(what): stored differently the second time")
  checkReview(Fixtures.review, config: .success(config), what, configFitsJSONText: value.map(fitsJSONText) ?? false)
}

func writeSeeds(to directory: String, configs: ArraySlice<String>) -> Never {
  for path in configs {
    let config: InjectionConfig
    do {
      config = try ConfigLoader.load(LocalFiles.read(path), file: path)
    } catch {
      fatal("\(path): \(error)")
    }
    let entry = ConfigCache.entry(for: config, path: Fixtures.cachePath, fingerprint: Fixtures.fingerprint)
    let name = path.split(separator: "/").last.map(String.init) ?? path
    for (suffix, bytes) in [("bin", cachedConfigBytes(entry)), ("entry", entry)] {
      let target = "\(directory)/\(name).\(suffix)"
      guard LocalFiles.writeAtomically(bytes, to: target, temporary: target + ".tmp") == nil else {
        fatal("cannot write \(target)")
      }
    }
  }
  exit(0)
}

let arguments = CommandLine.arguments
if arguments.count >= 3, arguments[1] == "--write-seeds" {
  writeSeeds(to: arguments[2], configs: arguments.dropFirst(3))
}
_ = entryPrefix

runFuzzer { bytes in
  let value = BinaryJSON.decode(bytes)
  if let value {
    checkBinaryRoundTrip(value, "the decoded input")
    // A repeated key only comes from a file podinject did not write; JSON text cannot hold it.
    if fitsJSONText(value) { checkRoundTrips(value, "the decoded input") }
  }
  if let config = ConfigCache.config(from: bytes, path: Fixtures.cachePath, fingerprint: Fixtures.fingerprint) {
    let entry = bytes.firstIndex(of: 0x0A).flatMap { BinaryJSON.decode(bytes, from: $0 + 1, maxDepth: 512) }
    checkCached(config, from: entry, "the input as an entry")
  }
  if let config = ConfigCache.config(
    from: entryPrefix + bytes, path: Fixtures.cachePath, fingerprint: Fixtures.fingerprint)
  {
    checkCached(config, from: value, "the input as an entry's configuration")
  }
}
