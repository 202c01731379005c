/// Why a document could not be read, with the byte offset where reading stopped.
public struct JSONParseError: Error, CustomStringConvertible, Sendable, Equatable {
  /// The 0-based byte offset of the first byte that could not be accepted (the input length when it ended early).
  public var offset: Int
  /// One line saying what was wrong, without the offset.
  public var message: String

  public init(offset: Int, message: String) {
    self.offset = offset
    self.message = message
  }

  public var description: String { "byte \(offset): \(message)" }
}
