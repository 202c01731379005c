/// One RFC 6902 operation.
public enum JSONPatchOperation: Sendable, Equatable {
  case add(JSONPointer, JSONValue)
  case remove(JSONPointer)
  case replace(JSONPointer, JSONValue)
  case test(JSONPointer, JSONValue)

  /// The `op` member: "add", "remove", "replace" or "test".
  public var name: String {
    switch self {
    case .add: return "add"
    case .remove: return "remove"
    case .replace: return "replace"
    case .test: return "test"
    }
  }

  /// The location the operation targets.
  public var path: JSONPointer {
    switch self {
    case .add(let path, _), .remove(let path), .replace(let path, _), .test(let path, _):
      return path
    }
  }

  /// The operation's object, `{"op":"add","path":"/a~1b","value":...}`, members in that order.
  public var json: JSONValue {
    var members = [
      JSONObject.Member(key: "op", value: .string(name)),
      JSONObject.Member(key: "path", value: .string(path.description)),
    ]
    switch self {
    case .add(_, let value), .replace(_, let value), .test(_, let value):
      members.append(JSONObject.Member(key: "value", value: value))
    case .remove: break
    }
    return .object(JSONObject(uniqueMembers: members))
  }
}
