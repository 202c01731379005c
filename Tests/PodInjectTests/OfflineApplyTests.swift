import Testing

@testable import PodInject

/// What `podinject apply` prints in each format.
struct OfflineApplyTests {
  static func output(_ documents: [JSONValue], _ format: OfflineApply.Format) throws -> String {
    try OfflineApply.run(
      documents, source: "in.yaml", format: format, config: try ManifestsTests.loaded(),
      environment: Fixture.environment
    ).output
  }

  static let service: JSONValue = ["apiVersion": "v1", "kind": "Service", "metadata": ["name": "web"]]

  @Test func severalDocumentsAsJSONAreOneList() throws {
    let printed = try JSONParser.parse(try Self.output([ManifestsTests.deployment, Self.service], .json))
    #expect(printed.objectValue?.keys == ["apiVersion", "kind", "items"])
    #expect(printed["apiVersion"] == "v1")
    #expect(printed["kind"] == "List")
    let items = try #require(printed["items"]?.arrayValue)
    #expect(items.count == 2)
    #expect(items[0]["kind"] == "Deployment")
    #expect(items[0]["spec"]?["template"]?["metadata"]?["labels"]?["example.com/traced"] == "true")
    #expect(items[1] == Self.service)
  }

  @Test func oneDocumentAsJSONIsItself() throws {
    #expect(try JSONParser.parse(try Self.output([Self.service], .json)) == Self.service)
  }

  @Test func severalDocumentsAsYAMLStayDocuments() throws {
    let printed = try YAML.parseJSONDocuments(Array(try Self.output([Self.service, Self.service], .yaml).utf8))
    #expect(printed == [Self.service, Self.service])
  }
}
