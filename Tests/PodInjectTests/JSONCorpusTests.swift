import Testing

@testable import PodInject

/// The `.json` files of the corpus (vendored, and the shared one when it is there).
private let jsonFiles =
  Corpus.files(in: "admissionreview").filter { $0.name.hasSuffix(".json") }
  + Corpus.files(in: "pods").filter { $0.name.hasSuffix(".json") }

@Suite struct JSONCorpusTests {
  @Test func readsEveryJSONFileProvenanceLists() {
    let listed = ["admissionreview", "pods"].flatMap { folder in
      Corpus.listed(in: folder).filter { $0.hasSuffix(".json") }.map { folder + "/" + $0 }
    }
    #expect(!listed.isEmpty && jsonFiles.map(\.testDescription) == listed, "\(Corpus.roots)")
    #expect(jsonFiles.allSatisfy { !$0.bytes.isEmpty })
  }

  @Test(arguments: jsonFiles)
  func corpusFileParsesOrFailsCleanly(_ file: Corpus.File) throws {
    let bytes = file.bytes
    let value: JSONValue
    do {
      value = try JSONParser.parse(bytes)
    } catch {
      #expect(!error.description.contains("\n"))
      #expect(error.offset >= 0 && error.offset <= bytes.count)
      return
    }
    // Re-reading our own output gives the same document, and writing it again the same text.
    let compact = value.serialized()
    let reread = try JSONParser.parse(compact)
    #expect(reread == value)
    #expect(reread.serialized() == compact)
    #expect(try JSONParser.parse(value.prettyPrinted()).serialized() == compact)
    // Compact output is the input minus its insignificant whitespace.
    #expect(compact.utf8.count == Self.withoutWhitespace(bytes).count)
  }

  @Test func keepsThePrecisionOfLargeIntegers() throws {
    let value = try JSONParser.parse(
      try Corpus.file("pods", "kubernetes__hack-testdata-pod-with-precision.json").bytes)
    #expect(
      value[pointer: try JSONPointer(parsing: "/spec/activeDeadlineSeconds")]
        == .number("2147483647"))
    let groups = value[
      pointer: try JSONPointer(parsing: "/spec/securityContext/supplementalGroups")]
    #expect(groups?.serialized() == "[0,1000030003,2147483647]")
    #expect(value.serialized().contains(#""activeDeadlineSeconds":2147483647,"#))
  }

  @Test func everyTruncationOfAnAdmissionReviewIsTheEndOfInput() throws {
    let bytes = try Corpus.file(
      "admissionreview", "salesforce-generic-sidecar-injector__v1-pod-create-replicaset-generatename.json"
    ).bytes
    let valueEnd = try #require(bytes.lastIndex(of: UInt8(ascii: "}"))) + 1
    #expect(throws: JSONParseError(offset: 0, message: "empty input")) { try JSONParser.parse([]) }
    for length in 1..<valueEnd {
      #expect(
        throws: JSONParseError(offset: length, message: "unexpected end of input (truncated?)")
      ) {
        try JSONParser.parse(Array(bytes[..<length]))
      }
    }
    #expect(throws: Never.self) { try JSONParser.parse(Array(bytes[..<valueEnd])) }
  }

  @Test(arguments: jsonFiles)
  func truncationsOfCorpusFilesFailCleanly(_ file: Corpus.File) {
    let bytes = file.bytes
    for length in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 97)) {
      do {
        _ = try JSONParser.parse(Array(bytes[..<length]))
      } catch {
        #expect(error.offset >= 0 && error.offset <= length)
      }
    }
  }

  @Test func randomBytesNeverCrash() {
    var random = SplitMix64(seed: 0x5EED)
    let alphabet =
      Array(#"{}[],:"\ 0123456789.-+eEtrufalsn\u"#.utf8) + [
        0x00, 0x0A, 0x7F, 0x80, 0xC3, 0xA9, 0xED, 0xF4, 0xFF,
      ]
    for _ in 0..<20_000 {
      let count = Int.random(in: 0..<48, using: &random)
      let bytes = (0..<count).map { _ in
        Bool.random(using: &random)
          ? alphabet.randomElement(using: &random)! : UInt8.random(in: 0...255, using: &random)
      }
      Self.checkCleanResult(bytes)
    }
  }

  @Test func mutatedCorpusFilesNeverCrash() {
    var random = SplitMix64(seed: 42)
    let documents = jsonFiles.map(\.bytes)
    for _ in 0..<3_000 {
      guard var bytes = documents.randomElement(using: &random), !bytes.isEmpty else { continue }
      for _ in 0..<Int.random(in: 1...4, using: &random) {
        let index = Int.random(in: 0..<bytes.count, using: &random)
        switch Int.random(in: 0..<3, using: &random) {
        case 0: bytes[index] = UInt8.random(in: 0...255, using: &random)
        case 1: bytes.remove(at: index)
        default: bytes.insert(UInt8.random(in: 0...255, using: &random), at: index)
        }
        if bytes.isEmpty { break }
      }
      Self.checkCleanResult(bytes)
    }
  }

  /// A parse either succeeds with a value that round-trips, or fails inside the input with one line.
  private static func checkCleanResult(_ bytes: [UInt8]) {
    do {
      let value = try JSONParser.parse(bytes)
      #expect(try JSONParser.parse(value.serializedBytes()) == value)
    } catch {
      #expect(error.offset >= 0 && error.offset <= bytes.count, "\(bytes)")
      #expect(!error.message.isEmpty && !error.message.contains("\n"))
    }
  }

  /// The bytes outside strings that are not JSON whitespace, plus every byte inside strings.
  private static func withoutWhitespace(_ bytes: [UInt8]) -> [UInt8] {
    var result: [UInt8] = []
    var inString = false
    var escaped = false
    for byte in bytes {
      if inString {
        if escaped {
          escaped = false
        } else if byte == UInt8(ascii: "\\") {
          escaped = true
        } else if byte == UInt8(ascii: "\"") {
          inString = false
        }
        result.append(byte)
      } else if byte == UInt8(ascii: "\"") {
        inString = true
        result.append(byte)
      } else if ![0x20, 0x0A, 0x0D, 0x09].contains(byte) {
        result.append(byte)
      }
    }
    return result
  }
}
