import Glibc
import Testing

/// The package must check out on a case-insensitive file system (default macOS and Windows).
struct PathCaseTests {
  /// Every path under `directory`, relative to the repository root.
  static func paths(under directory: String) -> [String] {
    guard let stream = opendir(TestFiles.root + "/" + directory) else { return [] }
    defer { closedir(stream) }
    var found: [String] = []
    while let entry = readdir(stream) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
      guard name != ".", name != ".." else { continue }
      let path = directory + "/" + name
      found.append(path)
      if entry.pointee.d_type == DT_DIR, name != ".build" { found += paths(under: path) }
    }
    return found
  }

  @Test(arguments: ["Sources", "Tests", "Fuzz"])
  func noTwoPathsDifferOnlyInCase(_ top: String) {
    let paths = Self.paths(under: top)
    #expect(!paths.isEmpty, "\(top) was not found under \(TestFiles.root)")
    var seen: [String: String] = [:]
    for path in paths {
      let folded = path.lowercased()
      if let other = seen[folded] {
        Issue.record("\(path) and \(other) are one path on a case-insensitive file system")
      }
      seen[folded] = path
    }
  }
}
