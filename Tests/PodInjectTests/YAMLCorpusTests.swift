import Testing

@testable import PodInject

@Suite("YAML on the corpus")
struct YAMLCorpusTests {
  static let pods = Corpus.files(in: "pods")
  static let reviews = Corpus.files(in: "admissionreview")
  /// The files PROVENANCE.md calls malformed YAML (from their upstream purpose, not from a parser).
  static let malformed = pods.filter { Corpus.provenanceNotes[$0.testDescription]?.contains("malformed YAML") == true }

  @Test func readsEveryFileProvenanceLists() {
    #expect(!Self.pods.isEmpty && Self.pods.map(\.name) == Corpus.listed(in: "pods"), "\(Corpus.roots)")
    #expect(!Self.reviews.isEmpty && Self.reviews.map(\.name) == Corpus.listed(in: "admissionreview"))
    #expect(!Self.malformed.isEmpty)
    #expect((Self.pods + Self.reviews).allSatisfy { !$0.bytes.isEmpty })
  }

  @Test(arguments: pods + reviews)
  func everyFileParsesOrThrowsYAMLError(_ file: Corpus.File) {
    let documents = Result { () throws(YAMLError) in try YAML.parseJSONDocuments(file.bytes) }
    switch documents {
    case .success(let values): #expect(!values.isEmpty && !Self.malformed.contains(file))
    case .failure: #expect(Self.malformed.contains(file), "only the malformed files fail to parse")
    }
  }

  @Test(arguments: malformed)
  func malformedFileIsReportedAtTheLineWhereItsIndentationBreaks(_ file: Corpus.File) throws {
    let expected = try #require(Self.firstStrayDedent(in: String(decoding: file.bytes, as: UTF8.self)))
    let error = try #require(YAMLFixture.error(file.bytes))
    #expect(error.line == expected, "\(error)")
  }

  @Test func theIndentationScanFindsWhatItShould() {
    #expect(Self.firstStrayDedent(in: "a:\n  b:\n    c: 1\n  d: 2\n") == nil)
    #expect(Self.firstStrayDedent(in: "a:\n  b:\n  - x: 1\n    y: 2\n  - z\nc: 3\n") == nil)
    #expect(Self.firstStrayDedent(in: "a:\n      b:\n        c: 1\n    d: 2\n") == 4)
    #expect(Self.firstStrayDedent(in: "---\na: 1\n---\n  b: 1\n  c:\n") == nil)
    #expect(Self.firstStrayDedent(in: "---\n  b: 1\nc: 2\n") == 3)
  }

  /// The 1-based number of the first line of block YAML that goes back to a column where no enclosing
  /// block began: where any YAML parser must stop. Computed from the text alone (comments, blank lines and
  /// document markers aside), independently of the parser under test.
  static func firstStrayDedent(in text: String) -> Int? {
    var open: [Int] = []  // the columns of the enclosing blocks
    var opensBlock = true  // the line before ends with a key whose value is the block below
    for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let content = line.drop { $0 == " " }
      if content.isEmpty || content.hasPrefix("#") { continue }
      if content.hasPrefix("---") {
        open = []
        opensBlock = true
        continue
      }
      let column = line.count - content.count
      if opensBlock && column > (open.last ?? -1) {
        open.append(column)
      } else {
        while let last = open.last, last > column { open.removeLast() }
        if open.last != column { return index + 1 }
      }
      var rest = content
      var itemColumn = column
      while rest.hasPrefix("- ") {  // a sequence item's own mapping starts after its dash
        let afterDash = rest.dropFirst(2)
        rest = afterDash.drop { $0 == " " }
        itemColumn += 2 + (afterDash.count - rest.count)
        open.append(itemColumn)
      }
      opensBlock = rest.hasSuffix(":") || rest == "-"
    }
    return nil
  }

  @Test(arguments: pods)
  func renderedCorpusParsesBackEqual(_ file: Corpus.File) throws {
    guard let documents = try? YAML.parseJSONDocuments(file.bytes) else { return }
    for document in documents {
      let rendered = YAML.render(document)
      let parsed = try YAML.parseJSONDocuments(Array(rendered.utf8))
      #expect(parsed.count == 1)
      #expect(parsed.first.map { YAMLFixture.identical($0, document) } == true, "\(rendered)")
    }
  }

  @Test func truncatedAndCorruptedFilesNeverCrash() {
    var random = SplitMix64(seed: 0x5EED)
    for file in Self.pods + Self.reviews {
      let bytes = file.bytes
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
