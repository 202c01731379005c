/// Why a JSON Patch could not be decoded or applied; names operations and paths, never values.
public struct JSONPatchError: Error, CustomStringConvertible, Sendable {
  public var message: String

  public init(message: String) { self.message = message }

  public var description: String { message }
}
