import Testing

@testable import PodInject

/// Substring search without the regex engine (`containsText`).
struct TextSearchTests {
  @Test(arguments: [
    ("application/openmetrics-text; version=1.0.0", "application/openmetrics-text", true),
    ("gzip, chunked", "chunked", true),
    ("example.com/gpu", "/", true),
    ("nvidia.com", "/", false),
    ("ab", "abc", false),
    ("", "a", false),
    ("anything", "", true),
    ("aaab", "aab", true),
    ("héllo wörld", "wö", true),
    ("héllo", "he", false),
  ])
  func findsTextByItsBytes(haystack: String, needle: String, found: Bool) {
    #expect(haystack.containsText(needle) == found)
    #expect(Substring(haystack).containsText(needle) == found)
  }
}
