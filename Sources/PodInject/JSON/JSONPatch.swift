/// An RFC 6902 JSON Patch.
public struct JSONPatch: Sendable, Equatable {
  public var operations: [JSONPatchOperation] {
    didSet { text = nil }
  }
  /// The operations' text, joined by commas, when whoever built the patch has written it already
  /// (the planner does: it measures each operation by writing it); forgotten on any change.
  private(set) var text: [UInt8]?

  public init(_ operations: [JSONPatchOperation] = []) {
    self.operations = operations
    text = nil
  }

  /// A patch of `operations` whose text (joined by commas, without the brackets) is `text`.
  init(_ operations: [JSONPatchOperation], text: [UInt8]) {
    self.operations = operations
    self.text = text
  }

  /// Patches are equal when their operations are.
  public static func == (lhs: JSONPatch, rhs: JSONPatch) -> Bool {
    lhs.operations == rhs.operations
  }

  public var isEmpty: Bool { operations.isEmpty }

  /// The array of operation objects, as sent in an admission response.
  public var json: JSONValue {
    .array(operations.map(\.json))
  }

  /// Applies every operation in order, all or nothing: when one fails, `document` is unchanged.
  ///
  /// RFC 6902 semantics: add to an object member replaces it; add at an array index inserts
  /// (index == count allowed, "-" appends); remove and replace need an existing target; test
  /// compares with `JSONValue ==` (numbers by value, objects in any order).
  public func apply(to document: inout JSONValue) throws(JSONPatchError) {
    // A working copy makes the patch all-or-nothing; copy-on-write keeps it to the touched paths.
    var working = document
    for (number, operation) in operations.enumerated() {
      do throws(JSONPatchError) {
        try JSONPatch.apply(operation, to: &working)
      } catch {
        throw JSONPatchError(message: "operation \(number): \(error.message)")
      }
    }
    document = working
  }

  /// Applies one operation in place (the planner keeps its working copy in step with it).
  ///
  /// On failure `document` is unchanged.
  public static func apply(_ operation: JSONPatchOperation, to document: inout JSONValue)
    throws(JSONPatchError)
  {
    let path = operation.path
    // A local function, not a closure value: its captures stay on the stack (a closure value's context
    // was allocated, and freed, for every operation).
    func fail(_ reason: String) -> JSONPatchError {
      JSONPatchError(message: "\(operation.name) \"\(path)\": \(reason)")
    }
    switch operation {
    case .test(_, let expected):
      guard let actual = document[pointer: path] else { throw fail("no value there") }
      guard actual == expected else { throw fail("the value differs") }

    case .add(_, let value):
      guard let last = path.tokens.last else {
        document = value
        return
      }
      try modifyParent(of: path, in: &document, fail) { (parent) throws(JSONPatchError) in
        if var object = parent.takeObject() {
          object[last] = value
          parent = .object(object)
        } else if var elements = parent.takeArray() {
          let index: Int
          if last == "-" {
            index = elements.count
          } else if let position = JSONPointer.arrayIndex(last), position <= elements.count {
            index = position
          } else {
            parent = .array(elements)
            throw fail("index \"\(last)\" is not within an array of \(elements.count)")
          }
          elements.insert(value, at: index)
          parent = .array(elements)
        } else {
          throw fail("the parent is \(parent.typeNameWithArticle), not an object or array")
        }
      }

    case .remove:
      guard let last = path.tokens.last else { throw fail("cannot remove the whole document") }
      try modifyParent(of: path, in: &document, fail) { (parent) throws(JSONPatchError) in
        if var object = parent.takeObject() {
          guard case .some = object[last] else {
            parent = .object(object)
            throw fail("no member \"\(last)\"")
          }
          object[last] = .none
          parent = .object(object)
        } else if var elements = parent.takeArray() {
          guard let index = JSONPointer.arrayIndex(last), index < elements.count else {
            parent = .array(elements)
            throw fail("no element \"\(last)\" in an array of \(elements.count)")
          }
          elements.remove(at: index)
          parent = .array(elements)
        } else {
          throw fail("the parent is \(parent.typeNameWithArticle), not an object or array")
        }
      }

    case .replace(_, let value):
      guard let last = path.tokens.last else {
        document = value
        return
      }
      try modifyParent(of: path, in: &document, fail) { (parent) throws(JSONPatchError) in
        if var object = parent.takeObject() {
          guard case .some = object[last] else {
            parent = .object(object)
            throw fail("no member \"\(last)\"")
          }
          object[last] = value
          parent = .object(object)
        } else if var elements = parent.takeArray() {
          guard let index = JSONPointer.arrayIndex(last), index < elements.count else {
            parent = .array(elements)
            throw fail("no element \"\(last)\" in an array of \(elements.count)")
          }
          elements[index] = value
          parent = .array(elements)
        } else {
          throw fail("the parent is \(parent.typeNameWithArticle), not an object or array")
        }
      }
    }
  }

  /// Runs `body` on the container holding the target of `path`, changing it in place.
  ///
  /// Each level is taken out of its parent while the level below changes, so every container on the
  /// path is uniquely owned and nothing is copied; `defer` puts it back, also on failure.
  /// `body` must throw before it changes anything, which keeps a failed operation a no-op.
  private static func modifyParent(
    of path: JSONPointer, in document: inout JSONValue, _ fail: (String) -> JSONPatchError,
    _ body: (inout JSONValue) throws(JSONPatchError) -> Void
  ) throws(JSONPatchError) {
    func descend(_ value: inout JSONValue, level: Int) throws(JSONPatchError) {
      guard level < path.tokens.count - 1 else { return try body(&value) }
      let token = path.tokens[level]
      func missing() -> JSONPatchError {
        let parent = JSONPointer(tokens: Array(path.tokens[...level]))
        return fail("\"\(parent)\" does not exist (create it first)")
      }
      if var object = value.takeObject() {
        defer { value = .object(object) }
        guard var child = object.take(token) else { throw missing() }
        defer { object[token] = child }
        try descend(&child, level: level + 1)
      } else if var elements = value.takeArray() {
        defer { value = .array(elements) }
        guard let index = JSONPointer.arrayIndex(token), index < elements.count else { throw missing() }
        try descend(&elements[index], level: level + 1)
      } else {
        let parent = JSONPointer(tokens: Array(path.tokens[..<level]))
        throw fail("\"\(parent)\" is \(value.typeNameWithArticle), not an object or array")
      }
    }
    try descend(&document, level: 0)
  }

  /// Decodes a patch from its JSON form, an array of `{op, path, value}`; move and copy are refused.
  public init(json: JSONValue) throws(JSONPatchError) {
    guard case .array(let items) = json else {
      throw JSONPatchError(
        message: "a JSON patch is an array, not \(json.typeNameWithArticle)")
    }
    var operations: [JSONPatchOperation] = []
    operations.reserveCapacity(items.count)
    for (number, item) in items.enumerated() {
      let fail = { (reason: String) in JSONPatchError(message: "operation \(number): \(reason)") }
      guard case .object(let object) = item else {
        throw fail("is \(item.typeNameWithArticle), not an object")
      }
      guard case .string(let name)? = object["op"] else { throw fail("has no \"op\" string") }
      guard case .string(let pathText)? = object["path"] else {
        throw fail("has no \"path\" string")
      }
      let path: JSONPointer
      do throws(JSONPointerError) {
        path = try JSONPointer(parsing: pathText)
      } catch {
        throw fail(error.message)
      }
      let value = object["value"]
      switch (name, value) {
      case ("add", let value?): operations.append(.add(path, value))
      case ("remove", _): operations.append(.remove(path))
      case ("replace", let value?): operations.append(.replace(path, value))
      case ("test", let value?): operations.append(.test(path, value))
      case ("add", nil), ("replace", nil), ("test", nil): throw fail("\"\(name)\" has no \"value\"")
      case ("move", _), ("copy", _): throw fail("\"\(name)\" is not supported")
      default: throw fail("unknown op \"\(name)\"")
      }
    }
    self.operations = operations
  }
}
