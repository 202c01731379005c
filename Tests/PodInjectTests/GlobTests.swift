import Testing

@testable import PodInject

struct GlobTests {
  struct Case: CustomTestStringConvertible, Sendable {
    let pattern: String
    let text: String
    let matches: Bool
    var testDescription: String { "\(pattern) ~ \(text) = \(matches)" }
  }

  static let cases: [Case] = [
    Case(pattern: "*", text: "", matches: true),
    Case(pattern: "*", text: "kube-system", matches: true),
    Case(pattern: "**", text: "anything", matches: true),
    Case(pattern: "", text: "", matches: true),
    Case(pattern: "", text: "a", matches: false),
    Case(pattern: "default", text: "default", matches: true),
    Case(pattern: "default", text: "defaults", matches: false),
    Case(pattern: "default", text: "Default", matches: false),
    Case(pattern: "kube-*", text: "kube-system", matches: true),
    Case(pattern: "kube-*", text: "kube-", matches: true),
    Case(pattern: "kube-*", text: "kube", matches: false),
    Case(pattern: "*-system", text: "kube-system", matches: true),
    Case(pattern: "*-system", text: "kube-systems", matches: false),
    Case(pattern: "team-*-prod", text: "team-a-prod", matches: true),
    Case(pattern: "team-*-prod", text: "team--prod", matches: true),
    Case(pattern: "team-*-prod", text: "team-a-b-prod", matches: true),
    Case(pattern: "team-*-prod", text: "team-a-prod-2", matches: false),
    Case(pattern: "a*a*a*b", text: "aaaaaaaaaaaaaaaaaaaaaaaa", matches: false),
    Case(pattern: "a*b*c", text: "abxbyc", matches: true),
    Case(pattern: "app?", text: "app1", matches: true),
    Case(pattern: "app?", text: "app", matches: false),
    Case(pattern: "app?", text: "app12", matches: false),
    Case(pattern: "?", text: "", matches: false),
    Case(pattern: "??", text: "ab", matches: true),
    Case(pattern: "*?", text: "", matches: false),
    Case(pattern: "*?", text: "x", matches: true),
    // `?` is one Unicode scalar, never one byte of it.
    Case(pattern: "caf?", text: "café", matches: true),
    Case(pattern: "caf??", text: "café", matches: false),
    Case(pattern: "*é", text: "café", matches: true),
    Case(pattern: "*é", text: "cafè", matches: false),
    Case(pattern: "?", text: "🚀", matches: true),
    Case(pattern: "*🚀*", text: "a🚀b", matches: true),
    // Bytes, not canonical equivalence: a decomposed é is not the precomposed one.
    Case(pattern: "café", text: "cafe\u{301}", matches: false),
    // Regex and path characters are literal.
    Case(pattern: "a.b", text: "axb", matches: false),
    Case(pattern: "[ab]", text: "a", matches: false),
    Case(pattern: "[ab]", text: "[ab]", matches: true),
    Case(pattern: "*/*", text: "a/b", matches: true),
  ]

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
