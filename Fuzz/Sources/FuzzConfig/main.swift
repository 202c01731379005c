import FuzzSupport
import PodInject

// A configuration file (YAML, or JSON through the YAML reader). A YAML document rendered back to YAML
// reads as the same value (`YAML.render`'s promise); a configuration that loads survives the cache
// unchanged, admits the sample review exactly as its cached copy does, and loads the same from its
// YAML rendering.
runFuzzer { bytes in
  let documents = try? YAML.parseJSONDocuments(bytes)
  for document in documents ?? [] {
    checkRoundTrips(document, "a YAML document")
    let rendered = YAML.render(document)
    let again = try? YAML.parseJSONDocuments(Array(rendered.utf8))
    check(
      again.map { $0.count == 1 && identical($0[0], document) } ?? false,
      "YAML.render does not read back as the same value:\n\(rendered)")
  }
  guard let config = try? ConfigLoader.load(bytes, file: "config.yaml") else { return }

  let entry = ConfigCache.entry(for: config, path: Fixtures.cachePath, fingerprint: Fixtures.fingerprint)
  guard let cached = ConfigCache.config(from: entry, path: Fixtures.cachePath, fingerprint: Fixtures.fingerprint)
  else { fatal("invariant failed: the cache cannot read its own entry") }
  let again = ConfigCache.entry(for: cached, path: Fixtures.cachePath, fingerprint: Fixtures.fingerprint)
  check(again == entry, "the cached configuration is stored differently the second time")

  let fresh = checkReview(Fixtures.review, config: .success(config), "the loaded configuration")
  let reused = checkReview(Fixtures.review, config: .success(cached), "the cached configuration")
  let apiVersion = Fixtures.review.reviewAPIVersion
  check(
    fresh.response.review(apiVersion: apiVersion).serializedBytes()
      == reused.response.review(apiVersion: apiVersion).serializedBytes()
      && fresh.events == reused.events,
    "the cached configuration admits the review differently")

  // Line numbers differ in the rendering, so only a configuration without any problem compares.
  guard config.diagnostics.isEmpty, let documents, documents.count == 1 else { return }
  let rendered = YAML.render(documents[0])
  guard let reloaded = try? ConfigLoader.load(Array(rendered.utf8), file: "config.yaml") else {
    fatal("invariant failed: the configuration's YAML rendering does not load:\n\(rendered)")
  }
  check(
    reloaded.diagnostics.isEmpty
      && ConfigCache.entry(for: reloaded, path: Fixtures.cachePath, fingerprint: Fixtures.fingerprint) == entry,
    "the configuration's YAML rendering loads as a different configuration:\n\(rendered)")
}
