/// A rule fragment (label selector, template) that cannot be used as written; found when the config is loaded.
public struct RuleSyntaxError: Error, CustomStringConvertible, Sendable, Equatable {
  /// What is wrong and where (a field path or a column), relative to the fragment that was parsed.
  public var message: String

  public init(message: String) {
    self.message = message
  }

  public var description: String { message }

  /// `text` in double quotes with `"`, `\` and line breaks escaped, for naming keys and values in messages.
  static func quoted(_ text: String) -> String {
    var out = "\""
    for character in text {
      switch character {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\t": out += "\\t"
      default: out.append(character)
      }
    }
    return out + "\""
  }
}
