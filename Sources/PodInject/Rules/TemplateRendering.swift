extension JSONValue {
  /// A copy with every templated string rendered against `root`; strings without `{{` are kept as they are.
  func renderingTemplates(_ root: JSONValue) throws(PlanError) -> JSONValue {
    switch self {
    case .string(let text):
      guard text.holdsTemplateAction else { return self }
      return .string(try renderTemplate(text, root))
    case .array(let items):
      var rendered: [JSONValue] = []
      rendered.reserveCapacity(items.count)
      for item in items { rendered.append(try item.renderingTemplates(root)) }
      return .array(rendered)
    case .object(var object):
      for member in object.members where member.value.holdsTemplate {
        object[member.key] = try member.value.renderingTemplates(root)
      }
      return .object(object)
    default:
      return self
    }
  }

  /// Whether any string inside holds a template action.
  var holdsTemplate: Bool {
    switch self {
    case .string(let text): return text.holdsTemplateAction
    case .array(let items): return items.contains { $0.holdsTemplate }
    case .object(let object): return object.members.contains { $0.value.holdsTemplate }
    default: return false
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
