import Testing

@testable import PodInject

struct GlobTests {
  struct Case: CustomTestStringConvertible, Sendable {
    let pattern: String
    let text: String
    let matches: Bool
    var testDescription: String { "\(pattern) ~ \(text) = \(matches)" }
  }

  static let cases: [Case] = Fixture.table("glob-matching.yaml").compactMap { row in
    guard let pattern = row["pattern"]?.stringValue, let text = row["text"]?.stringValue,
      let matches = row["matches"]?.boolValue
    else { return nil }
    return Case(pattern: pattern, text: text, matches: matches)
  }

  @Test func theTableIsReadWhole() {
    let rows = Fixture.table("glob-matching.yaml")
    #expect(!rows.isEmpty && Self.cases.count == rows.count, "\(Self.cases.count) of \(rows.count) rows")
  }

  @Test("matches names", arguments: cases)
  func matching(_ c: Case) {
    #expect(Glob(c.pattern).matches(c.text) == c.matches)
  }

  @Test func keepsThePattern() {
    #expect(Glob("kube-*").pattern == "kube-*")
    #expect(Glob("a") == Glob("a"))
    #expect(Glob("a") != Glob("b"))
  }

  @Test func anyOfAListMatches() {
    let globs = ["kube-*", "default"].map(Glob.init)
    #expect(globs.matchesAny("kube-public"))
    #expect(globs.matchesAny("default"))
    #expect(!globs.matchesAny("team-a"))
    #expect(![Glob]().matchesAny("default"))
  }
}
