import Testing

@testable import PodInject

#if canImport(Glibc)
  import Glibc
#endif

/// Reading and writing files: a file that cannot be read is an error, never empty content, and a
/// write that fails is reported.
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

  /// A log line the file would not take (here: a full device) is reported, so it goes to the fallback.
  @Test func aLineTheFileWouldNotTakeIsReported() {
    #expect(SystemHost().appendLine("a log line", to: "/dev/full") == false)
    #expect(SystemHost().appendLine("a log line", to: "/dev/null") == true)
  }

  @Test func writingAllReportsAFailedWrite() {
    let full = open("/dev/full", O_WRONLY | O_CLOEXEC)
    #expect(full >= 0)
    defer { close(full) }
    #expect(LocalFiles.writeAll(full, Array("bytes".utf8)) == false)
    #expect(errno == ENOSPC)
  }
}
