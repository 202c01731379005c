import Testing

@testable import PodInject

/// Reading files: a file that cannot be read is an error, never empty content.
struct LocalFilesTests {
  @Test func aDirectoryIsNotReadAsAnEmptyFile() {
    do {
      let bytes = try LocalFiles.read("Sources")
      Issue.record("read a directory as \(bytes.count) bytes")
    } catch {
      #expect(error.path == "Sources")
      #expect(error.reason == "is a directory, not a file")
    }
  }

  @Test func aMissingFileNamesTheReason() {
    #expect(throws: FileError(path: "no/such/file", reason: "No such file or directory")) {
      try LocalFiles.read("no/such/file")
    }
  }

  @Test func aFileIsReadWhole() throws {
    #expect(try LocalFiles.read("Package.swift").count > 100)
  }
}
