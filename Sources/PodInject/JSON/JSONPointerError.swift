/// Why a string is not an RFC 6901 JSON Pointer.
public struct JSONPointerError: Error, CustomStringConvertible, Sendable {
  public var message: String

  public init(message: String) { self.message = message }

  public var description: String { message }
}
