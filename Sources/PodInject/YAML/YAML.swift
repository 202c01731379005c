/// Reading and writing YAML: libyaml's event parser underneath, JSON values on top.
public enum YAML {
  /// Parses every document of a (multi-document) YAML stream. Empty documents (only comments, or
  /// `---` with nothing) are skipped.
  public static func parseDocuments(_ bytes: [UInt8]) throws(YAMLError) -> [YAMLNode] {
    try YAMLParser.parse(JSONCompatibility.prepare(bytes))
  }

  /// Convenience: every document converted to JSON.
  public static func parseJSONDocuments(_ bytes: [UInt8]) throws(YAMLError) -> [JSONValue] {
    var values: [JSONValue] = []
    for document in try parseDocuments(bytes) { values.append(try document.toJSON()) }
    return values
  }

  /// Renders a JSON value as block-style YAML that parses back to an equal value (for
  /// `podinject apply -o yaml`).
  public static func render(_ value: JSONValue) -> String {
    var renderer = YAMLRenderer()
    renderer.writeDocument(value)
    return renderer.output
  }
}
