/// A YAML node with the 1-based line and column where it starts (for `file:line: message` diagnostics).
public struct YAMLNode: Sendable {
  /// What the node holds.
  public enum Kind: Sendable {
    case scalar(YAMLScalar)
    /// Pairs in document order, duplicates included, so that callers can report them.
    case mapping([(key: YAMLNode, value: YAMLNode)])
    case sequence([YAMLNode])
  }

  public var kind: Kind
  public var line: Int
  public var column: Int

  public init(kind: Kind, line: Int, column: Int) {
    self.kind = kind
    self.line = line
    self.column = column
  }

  /// The text when this is a scalar.
  public var scalarText: String? {
    if case .scalar(let scalar) = kind { return scalar.text }
    return nil
  }
}

/// A scalar's text as written (escapes and folding already applied) and how it was written.
public struct YAMLScalar: Sendable {
  public var text: String
  /// Unquoted and untagged, so that its type comes from its text (`42`, `true`, `null`).
  public var isPlain: Bool
  /// The resolved tag, e.g. `tag:yaml.org,2002:str` for `!!str`; nil when untagged.
  public var tag: String?
  /// A plain scalar of JSON text that is a JSON number: it stays that number, its text unchanged, as
  /// the JSON parser reads it (YAML 1.1 would make `1e400` a string and `-0` the integer 0).
  public var isJSONNumber: Bool

  public init(text: String, isPlain: Bool, tag: String? = nil, isJSONNumber: Bool = false) {
    self.text = text
    self.isPlain = isPlain
    self.tag = tag
    self.isJSONNumber = isJSONNumber
  }
}
