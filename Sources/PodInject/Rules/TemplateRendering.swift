extension JSONValue {
  /// The value with its templated strings rendered against `root`, or nil when it holds none: one
  /// walk that reads each string once and copies a container only when something inside it changed.
  func renderedTemplates(_ root: JSONValue) throws(PlanError) -> JSONValue? {
    switch self {
    case .string(let text):
      guard text.holdsTemplateAction else { return nil }
      return .string(try renderTemplate(text, root))
    case .array(let items):
      var copy: [JSONValue]? = nil
      for index in items.indices {
        guard let rendered = try items[index].renderedTemplates(root) else { continue }
        if copy == nil { copy = items }
        copy![index] = rendered
      }
      return copy.map(JSONValue.array)
    case .object(let object):
      var copy: JSONObject? = nil
      for index in object.members.indices {
        guard let rendered = try object.members[index].value.renderedTemplates(root) else { continue }
        if copy == nil { copy = object }
        copy!.setValue(rendered, at: index)
      }
      return copy.map(JSONValue.object)
    default:
      return nil
    }
  }
}

/// Renders one templated string, turning template errors into rule failures.
func renderTemplate(_ text: String, _ root: JSONValue) throws(PlanError) -> String {
  do {
    return try Template.parse(text).render(root)
  } catch let error as TemplateError {
    switch error {
    case .valueMissing(let path): throw PlanError(reason: .templateValueMissing, detail: "\(path) has no value")
    case .notAScalar(let path): throw PlanError(reason: .invalidValue, detail: "\(path) is not a string")
    }
  } catch {
    throw PlanError(reason: .invalidValue, detail: "template: \(error)")
  }
}
