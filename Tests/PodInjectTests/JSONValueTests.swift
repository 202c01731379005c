import Testing

@testable import PodInject

/// Reading members in place, the way the planner finds the pod's item of a given name.
struct JSONValueTests {
  @Test func aMemberMatchesByItsBytes() {
    let item: JSONValue = ["name": "caf\u{E9}", "value": "x"]
    #expect(item.hasMember("name", equalTo: "caf\u{E9}"))
    // Canonically equivalent but other bytes: another name, as Kubernetes sees it.
    #expect(!item.hasMember("name", equalTo: "cafe\u{301}"))
    #expect(!item.hasMember("name", equalTo: "caf"))
    #expect(!item.hasMember("missing", equalTo: "x"))
    #expect(!(["name": 7] as JSONValue).hasMember("name", equalTo: "7"))
    #expect(!(["caf\u{E9}"] as JSONValue).hasMember("name", equalTo: "caf\u{E9}"))
  }
}
