/// A string with `{{ ... }}` actions, rendered against the pod being admitted.
///
/// The language is the subset of Go's text/template that injection configs use (as in Helm charts and
/// istio's injection templates): field paths (`.metadata.labels.app`, `.` for the root), `index PATH KEY...`
/// with quoted string keys and non-negative integer array indexes, string literals, and `default "text"`
/// either piped (`.a | default "x"`) or in prefix form (`default "x" .a`), parentheses for grouping,
/// `{{-`/`-}}` trim markers and `{{/* comments */}}`. Anything else is refused when the config is loaded.
///
/// Unlike Helm's `default`, which also replaces an empty string, a present empty string is used as it is:
/// the default stands in for a value that is missing, not for one that was deliberately set to "".
/// A default does not hide an object or array (`notAScalar`): that is a mistake in the config, not in the pod.
/// Kubernetes' own `$(VAR)` references are plain text and pass through untouched.
public struct Template: Sendable, Equatable {
  /// The source text, as written in the config.
  public let text: String
  let segments: [Segment]

  /// Text without actions (no `{{` at all): rendering returns `text` itself, whatever the pod.
  public let isLiteral: Bool

  init(text: String, segments: [Segment], isLiteral: Bool) {
    self.text = text
    self.segments = segments
    self.isLiteral = isLiteral
  }

  /// The field paths the template reads, in order of first use, e.g. `[".metadata.labels.app"]`; keys that
  /// are not identifiers are written `["example.com/team"]`, array indexes `[0]`. Worked out when asked
  /// (explain, check-config), not for every templated string of every admission.
  public var references: [String] {
    var references: [String] = []
    for case .action(let expression) in segments {
      expression.collectPaths { path in
        let name = path.description
        if !references.contains(name) { references.append(name) }
      }
    }
    return references
  }

  /// The template's text with every action replaced by its value in `root` (the pod, with `request`).
  public func render(_ root: JSONValue) throws(TemplateError) -> String {
    if isLiteral { return text }
    var out = ""
    for segment in segments {
      switch segment {
      case .text(let text): out += text
      case .action(let expression): out += try expression.evaluate(root)
      }
    }
    return out
  }

  /// A run of the template: literal text, or one action.
  enum Segment: Sendable, Equatable {
    case text(String)
    case action(Expression)
  }

  /// What an action computes.
  indirect enum Expression: Sendable, Equatable {
    case path(TemplatePath)
    case literal(String)
    /// The expression's value, or the text when it is missing.
    case defaulted(Expression, String)

    func evaluate(_ root: JSONValue) throws(TemplateError) -> String {
      switch self {
      case .literal(let text):
        return text
      case .path(let path):
        switch path.resolve(root) {
        case nil, .null?: throw .valueMissing(path: path.description)
        case .string(let text)?: return text
        case .number(let text)?: return text
        case .bool(let flag)?: return flag ? "true" : "false"
        case .object?, .array?: throw .notAScalar(path: path.description)
        }
      case .defaulted(let expression, let fallback):
        do throws(TemplateError) {
          return try expression.evaluate(root)
        } catch {
          if case .valueMissing = error { return fallback }
          throw error
        }
      }
    }

    /// How many expressions deep this one is: 1, plus one per default around it (counted in a loop,
    /// as the parser asks it of every chain it builds).
    var depth: Int {
      var depth = 1
      var current = self
      while case .defaulted(let inner, _) = current {
        depth += 1
        current = inner
      }
      return depth
    }

    func collectPaths(_ body: (TemplatePath) -> Void) {
      switch self {
      case .path(let path): body(path)
      case .literal: break
      case .defaulted(let expression, _): expression.collectPaths(body)
      }
    }
  }
}

/// A walk from the root through object members and array elements.
struct TemplatePath: Sendable, Equatable, CustomStringConvertible {
  enum Step: Sendable, Equatable {
    case key(String)
    case index(Int)
  }

  var steps: [Step]

  /// The value at the end of the walk; nil when a member or element is missing or a step meets the wrong
  /// kind of value (a key on an array, an index on an object, anything on null or a scalar).
  func resolve(_ root: JSONValue) -> JSONValue? {
    var current = root
    for step in steps {
      switch (step, current) {
      case (.key(let key), .object(let object)):
        guard let next = object[key] else { return nil }
        current = next
      case (.index(let index), .array(let items)):
        guard index < items.count else { return nil }
        current = items[index]
      default:
        return nil
      }
    }
    return current
  }

  /// `.metadata.labels.app`, `.metadata.annotations["example.com/team"]`, `.spec.containers[0].name`, or `.`.
  var description: String {
    if steps.isEmpty { return "." }
    var out = ""
    for step in steps {
      switch step {
      case .key(let key) where Self.isIdentifier(key): out += "." + key
      case .key(let key): out += "[" + RuleSyntaxError.quoted(key) + "]"
      case .index(let index): out += "[\(index)]"
      }
    }
    return out
  }

  /// Whether `key` can be written as a field (`.key`) in a template, so that both spellings name one path.
  static func isIdentifier(_ key: String) -> Bool {
    guard let first = key.unicodeScalars.first, !TemplateParser.isDigit(first) else { return false }
    return key.unicodeScalars.allSatisfy(TemplateParser.isIdentifierScalar)
  }
}
