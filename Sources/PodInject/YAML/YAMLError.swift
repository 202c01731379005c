/// A YAML syntax or conversion error, positioned for `file:line: message` diagnostics.
public struct YAMLError: Error, CustomStringConvertible, Sendable {
  /// 1-based line of the problem.
  public var line: Int
  /// 1-based column of the problem.
  public var column: Int
  public var message: String

  public init(line: Int, column: Int, message: String) {
    self.line = line
    self.column = column
    self.message = message
  }

  public var description: String { "line \(line), column \(column): \(message)" }
}
