import Glibc
import Testing

@testable import PodInject

/// The shared corpus of real manifests, read in place (never copied into the repository).
private enum YAMLCorpus {
  /// `../shared/corpus` relative to the package root (this file is Tests/PodInjectTests/...).
  static let root: String = {
    var path = "\(#filePath)"
    for _ in 0..<3 { path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }
    return path + "/../shared/corpus"
  }()

  /// Paths of the files in a corpus folder, sorted.
  static func files(in folder: String) -> [String] {
    guard let directory = opendir(root + "/" + folder) else { return [] }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
      }
      if !name.hasPrefix(".") { names.append(root + "/" + folder + "/" + name) }
    }
    return names.sorted()
  }

  static func bytes(of path: String) -> [UInt8] {
    guard let file = fopen(path, "rb") else { return [] }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
      let count = fread(&chunk, 1, chunk.count, file)
      if count <= 0 { break }
      bytes += chunk[..<count]
    }
    return bytes
  }
}

@Suite("YAML on the shared corpus")
struct YAMLCorpusTests {
  static let pods = YAMLCorpus.files(in: "pods")
  static let reviews = YAMLCorpus.files(in: "admissionreview")

  @Test func corpusIsThere() {
    #expect(Self.pods.count >= 50)
    #expect(Self.reviews.count >= 10)
  }

  @Test(arguments: pods + reviews)
  func everyFileParsesOrThrowsYAMLError(path: String) {
    let documents = Result { () throws(YAMLError) in
      try YAML.parseJSONDocuments(YAMLCorpus.bytes(of: path))
    }
    if case .success(let values) = documents { #expect(!values.isEmpty) }
  }

  @Test func malformedFixtureIsReportedWithItsLine() throws {
    let path = try #require(Self.pods.first { $0.hasSuffix("malformed-indentation-multidoc.yaml") })
    let error = try #require(YAMLFixture.error(YAMLCorpus.bytes(of: path)))
    #expect(error.line == 36)
  }

  @Test(arguments: pods)
  func renderedCorpusParsesBackEqual(path: String) throws {
    guard let documents = try? YAML.parseJSONDocuments(YAMLCorpus.bytes(of: path)) else { return }
    for document in documents {
      let rendered = YAML.render(document)
      let parsed = try YAML.parseJSONDocuments(Array(rendered.utf8))
      #expect(parsed.count == 1)
      #expect(parsed.first.map { YAMLFixture.identical($0, document) } == true, "\(rendered)")
    }
  }

  @Test func truncatedAndCorruptedFilesNeverCrash() {
    var random = SplitMix64(seed: 0x5EED)
    for path in Self.pods + Self.reviews {
      let bytes = YAMLCorpus.bytes(of: path)
      let step = max(1, bytes.count / 40)
      for cut in stride(from: 0, to: bytes.count, by: step) {
        _ = YAMLFixture.error(Array(bytes[..<cut]))
      }
      for _ in 0..<20 where !bytes.isEmpty {
        var corrupted = bytes
        for _ in 0..<4 {
          corrupted[Int(random.next() % UInt64(corrupted.count))] = UInt8(
            truncatingIfNeeded: random.next())
        }
        _ = YAMLFixture.error(corrupted)
      }
    }
  }

  @Test func randomBytesNeverCrash() {
    var random = SplitMix64(seed: 42)
    let alphabet = Array("{}[]:,-?|>&*!'\"#\n \t~<<ab01.e%@`\\".utf8)
    for round in 0..<3000 {
      let count = Int(random.next() % 200)
      let bytes = (0..<count).map { _ in
        round.isMultiple(of: 2)
          ? UInt8(truncatingIfNeeded: random.next())
          : alphabet[Int(random.next() % UInt64(alphabet.count))]
      }
      _ = YAMLFixture.error(bytes)
    }
  }
}

/// A small deterministic generator, so that a fuzz failure can be replayed.
private struct SplitMix64: RandomNumberGenerator {
  private var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
