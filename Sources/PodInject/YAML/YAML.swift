/// Reading and writing YAML: libyaml's event parser underneath, JSON values on top.
public enum YAML {
  /// Parses every document of a (multi-document) YAML stream. Empty documents (only comments, or
  /// `---` with nothing) are skipped.
  ///
  /// JSON text (a stream whose first character is `{` or `[`) means what it means to the JSON parser:
  /// its numbers stay numbers with their text (`1e400`, `-0`), and a byte order mark before it is
  /// refused, as Go's encoding/json (the API server's JSON decoder) refuses it. YAML text may start
  /// with one, as go-yaml allows.
  ///
  /// `maxNodes` bounds the nodes of the stream once aliases are expanded: each takes about a hundred
  /// bytes in memory, so that bounds the memory too.
  public static func parseDocuments(_ bytes: [UInt8], maxNodes: Int = defaultMaxNodes) throws(YAMLError)
    -> [YAMLNode]
  {
    switch JSONCompatibility.kind(of: bytes) {
    case .jsonAfterByteOrderMark:
      throw YAMLError(line: 1, column: 1, message: "a byte order mark is not allowed before JSON text")
    case .json:
      return try YAMLParser.parse(JSONCompatibility.prepare(bytes), jsonText: true, maxNodes: maxNodes)
    case .yaml:
      // libyaml, told the encoding, keeps a byte order mark as the first line's first column, which
      // breaks that line's indentation: it is dropped here instead (columns then count from after it).
      guard bytes.starts(with: [0xEF, 0xBB, 0xBF]) else {
        return try YAMLParser.parse(bytes, jsonText: false, maxNodes: maxNodes)
      }
      return try YAMLParser.parse(Array(bytes.dropFirst(3)), jsonText: false, maxNodes: maxNodes)
    }
  }

  /// The node limit of `parseDocuments` unless told otherwise ("billion laughs" guard).
  public static let defaultMaxNodes = 1_000_000

  /// Convenience: every document converted to JSON.
  public static func parseJSONDocuments(_ bytes: [UInt8], maxNodes: Int = defaultMaxNodes) throws(YAMLError)
    -> [JSONValue]
  {
    var values: [JSONValue] = []
    for document in try parseDocuments(bytes, maxNodes: maxNodes) { values.append(try document.toJSON()) }
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
