import CYAML

/// Builds `YAMLNode` trees from libyaml's event stream, resolving anchors, aliases and merge keys,
/// with limits that keep hostile input (deep nesting, alias bombs) from exhausting the process.
struct YAMLParser {
  /// Deepest nesting of collections accepted, as for JSON input (SPEC section 6).
  static let maxDepth = 256

  private static let mergeTag = "tag:yaml.org,2002:merge"

  /// A collection whose children are still arriving.
  private struct OpenCollection {
    var isMapping: Bool
    /// For a mapping: key, value, key, value, ...
    var children: [YAMLNode] = []
    var line: Int
    var column: Int
    var anchor: String?
    var nodeCountAtStart: Int
    /// Written `{...}` or `[...]`, as JSON text is.
    var isFlow: Bool
    var childHeight = 0
  }

  /// An anchored node, with what copying it costs and adds in depth.
  private struct Anchored {
    var node: YAMLNode
    var nodeCount: Int
    var height: Int
  }

  private var open: [OpenCollection] = []
  /// Keyed by bytes, as go-yaml keys them.
  private var anchors: [ByteKey: Anchored] = [:]
  private var nodeCount = 0
  private var documentRoot: YAMLNode?
  private var documents: [YAMLNode] = []
  /// The stream is JSON text, so a JSON number inside it is read as one.
  private let jsonText: Bool
  /// Most nodes the stream may produce once aliases are expanded ("billion laughs" guard).
  private let maxNodes: Int

  private init(jsonText: Bool, maxNodes: Int) {
    self.jsonText = jsonText
    self.maxNodes = maxNodes
  }

  /// Parses every non-empty document of the stream; `jsonText` when it starts as JSON does.
  static func parse(_ bytes: [UInt8], jsonText: Bool = false, maxNodes: Int = YAML.defaultMaxNodes)
    throws(YAMLError) -> [YAMLNode]
  {
    // libyaml asserts on a NULL input pointer, which an empty array may give.
    if bytes.isEmpty { return [] }
    var builder = YAMLParser(jsonText: jsonText, maxNodes: maxNodes)
    try bytes.withUnsafeBufferPointer { (buffer) throws(YAMLError) in try builder.run(buffer) }
    return builder.documents
  }

  private mutating func run(_ input: UnsafeBufferPointer<UInt8>) throws(YAMLError) {
    var parser = yaml_parser_t()
    guard yaml_parser_initialize(&parser) == 1 else {
      throw YAMLError(line: 1, column: 1, message: "out of memory")
    }
    defer { yaml_parser_delete(&parser) }
    yaml_parser_set_input_string(&parser, input.baseAddress, input.count)
    // Forcing UTF-8 turns UTF-16 input into an error instead of silently transcoding it.
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)

    var event = yaml_event_t()
    while true {
      guard yaml_parser_parse(&parser, &event) == 1 else {
        throw Self.error(from: parser, input: input)
      }
      defer { yaml_event_delete(&event) }
      if event.type == YAML_STREAM_END_EVENT { return }
      try handle(event)
    }
  }

  private mutating func handle(_ event: yaml_event_t) throws(YAMLError) {
    let line = Int(event.start_mark.line) + 1
    let column = Int(event.start_mark.column) + 1
    switch event.type {
    case YAML_SCALAR_EVENT:
      let data = event.data.scalar
      let text = String(
        decoding: UnsafeBufferPointer(start: data.value, count: data.length), as: UTF8.self)
      let tag = data.tag.map { String(cString: $0) }
      let isPlain = data.style == YAML_PLAIN_SCALAR_STYLE && tag == nil
      let isJSONNumber = isPlain && jsonText && open.last?.isFlow == true && JSONValue.isNumberText(text)
      let scalar = YAMLScalar(text: text, isPlain: isPlain, tag: tag, isJSONNumber: isJSONNumber)
      try count(1, line: line, column: column)
      let node = YAMLNode(kind: .scalar(scalar), line: line, column: column)
      if let anchor = data.anchor {
        anchors[ByteKey(String(cString: anchor))] = Anchored(node: node, nodeCount: 1, height: 0)
      }
      add(node, height: 0)
    case YAML_SEQUENCE_START_EVENT:
      try openCollection(
        isMapping: false, anchor: event.data.sequence_start.anchor,
        isFlow: event.data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE, line: line, column: column)
    case YAML_MAPPING_START_EVENT:
      try openCollection(
        isMapping: true, anchor: event.data.mapping_start.anchor,
        isFlow: event.data.mapping_start.style == YAML_FLOW_MAPPING_STYLE, line: line, column: column)
    case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
      try closeCollection()
    case YAML_ALIAS_EVENT:
      let name = String(cString: event.data.alias.anchor)
      guard let anchored = anchors[ByteKey(name)] else {
        // The name is input text: it is not repeated.
        throw YAMLError(line: line, column: column, message: "alias to an anchor that is not defined before it")
      }
      if open.count + anchored.height > Self.maxDepth {
        throw YAMLError(line: line, column: column, message: "nesting deeper than \(Self.maxDepth)")
      }
      try count(anchored.nodeCount, line: line, column: column)
      add(anchored.node, height: anchored.height)
    case YAML_DOCUMENT_END_EVENT:
      if let root = documentRoot, !root.isAbsent { documents.append(root) }
      documentRoot = nil
      // Anchors are scoped to their document.
      anchors.removeAll(keepingCapacity: true)
    default:
      break
    }
  }

  private mutating func count(_ nodes: Int, line: Int, column: Int) throws(YAMLError) {
    nodeCount += nodes
    if nodeCount > maxNodes {
      throw YAMLError(
        line: line, column: column,
        message: "more than \(maxNodes) nodes once aliases are expanded")
    }
  }

  private mutating func openCollection(
    isMapping: Bool, anchor: UnsafeMutablePointer<yaml_char_t>?, isFlow: Bool, line: Int, column: Int
  ) throws(YAMLError) {
    if open.count >= Self.maxDepth {
      throw YAMLError(line: line, column: column, message: "nesting deeper than \(Self.maxDepth)")
    }
    try count(1, line: line, column: column)
    open.append(
      OpenCollection(
        isMapping: isMapping, line: line, column: column,
        anchor: anchor.map { String(cString: $0) },
        nodeCountAtStart: nodeCount - 1, isFlow: isFlow))
  }

  private mutating func closeCollection() throws(YAMLError) {
    let collection = open.removeLast()
    let kind: YAMLNode.Kind
    if collection.isMapping {
      var pairs: [(key: YAMLNode, value: YAMLNode)] = []
      pairs.reserveCapacity(collection.children.count / 2)
      var index = 0
      while index + 1 < collection.children.count {
        pairs.append((collection.children[index], collection.children[index + 1]))
        index += 2
      }
      kind = .mapping(try Self.applyingMerges(pairs))
    } else {
      kind = .sequence(collection.children)
    }
    let node = YAMLNode(kind: kind, line: collection.line, column: collection.column)
    let height = collection.childHeight + 1
    if let anchor = collection.anchor {
      anchors[ByteKey(anchor)] = Anchored(
        node: node, nodeCount: nodeCount - collection.nodeCountAtStart, height: height)
    }
    add(node, height: height)
  }

  private mutating func add(_ node: YAMLNode, height: Int) {
    guard !open.isEmpty else {
      documentRoot = node
      return
    }
    open[open.count - 1].children.append(node)
    open[open.count - 1].childHeight = max(open[open.count - 1].childHeight, height)
  }

  /// Replaces `<<` entries by the pairs they merge in, as go-yaml and PyYAML do: keys written in
  /// the mapping itself win, then earlier merged mappings win over later ones.
  private static func applyingMerges(
    _ pairs: [(key: YAMLNode, value: YAMLNode)]
  ) throws(YAMLError) -> [(key: YAMLNode, value: YAMLNode)] {
    guard pairs.contains(where: { isMergeKey($0.key) }) else { return pairs }
    // Keys compare by bytes, as in the JSON the mapping becomes.
    var taken = Set<ByteKey>()
    for pair in pairs where !isMergeKey(pair.key) {
      if let text = pair.key.scalarText { taken.insert(ByteKey(text)) }
    }
    var merged: [(key: YAMLNode, value: YAMLNode)] = []
    merged.reserveCapacity(pairs.count)
    for pair in pairs {
      guard isMergeKey(pair.key) else {
        merged.append(pair)
        continue
      }
      for source in try mergeSources(pair.value) {
        // Duplicates inside one source stay, so that its own last-wins rule still applies.
        var takenBySource: [ByteKey] = []
        for sourcePair in source {
          guard let text = sourcePair.key.scalarText else {
            merged.append(sourcePair)
            continue
          }
          if taken.contains(ByteKey(text)) { continue }
          merged.append(sourcePair)
          takenBySource.append(ByteKey(text))
        }
        taken.formUnion(takenBySource)
      }
    }
    return merged
  }

  private static func isMergeKey(_ node: YAMLNode) -> Bool {
    guard case .scalar(let scalar) = node.kind, scalar.text == "<<" else { return false }
    return scalar.isPlain || scalar.tag == mergeTag
  }

  /// The mappings a `<<` value merges in: one mapping, or a sequence of mappings.
  private static func mergeSources(
    _ value: YAMLNode
  ) throws(YAMLError) -> [[(key: YAMLNode, value: YAMLNode)]] {
    switch value.kind {
    case .mapping(let pairs):
      return [pairs]
    case .sequence(let items):
      let sources = items.compactMap { item -> [(key: YAMLNode, value: YAMLNode)]? in
        if case .mapping(let pairs) = item.kind { return pairs }
        return nil
      }
      if sources.count == items.count { return sources }
    case .scalar:
      break
    }
    throw YAMLError(
      line: value.line, column: value.column,
      message: "merge key << needs a mapping or a sequence of mappings")
  }

  /// Turns libyaml's error state into one `YAMLError`, in exactly one place.
  private static func error(from parser: yaml_parser_t, input: UnsafeBufferPointer<UInt8>)
    -> YAMLError
  {
    let problem = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
    switch parser.error {
    case YAML_MEMORY_ERROR:
      return YAMLError(
        line: Int(parser.mark.line) + 1, column: Int(parser.mark.column) + 1,
        message: "out of memory")
    case YAML_READER_ERROR:
      // Reader errors carry a byte offset instead of a mark.
      let offset = min(parser.problem_offset, input.count)
      let (line, column) = position(ofByte: offset, in: input)
      var message = problem
      if parser.problem_value != -1 {
        message += " (0x\(String(parser.problem_value, radix: 16, uppercase: true)))"
      }
      return YAMLError(line: line, column: column, message: "\(message) at byte \(offset)")
    default:
      var message = problem
      if let context = parser.context {
        message +=
          " (\(String(cString: context)) that starts at line \(parser.context_mark.line + 1),"
          + " column \(parser.context_mark.column + 1))"
      }
      return YAMLError(
        line: Int(parser.problem_mark.line) + 1, column: Int(parser.problem_mark.column) + 1,
        message: message)
    }
  }

  /// 1-based line and column (in characters) of a byte offset.
  private static func position(ofByte offset: Int, in input: UnsafeBufferPointer<UInt8>) -> (
    Int, Int
  ) {
    var line = 1
    var column = 1
    for byte in input[..<offset] {
      if byte == UInt8(ascii: "\n") {
        line += 1
        column = 1
      } else if byte & 0xC0 != 0x80 {
        column += 1
      }
    }
    return (line, column)
  }
}

extension YAMLNode {
  /// True for the empty plain scalar libyaml reports for a document with no content.
  fileprivate var isAbsent: Bool {
    guard case .scalar(let scalar) = kind else { return false }
    return scalar.isPlain && scalar.text.isEmpty
  }
}
