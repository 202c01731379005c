/// What one field of a core/v1 object holds, as the Kubernetes OpenAPI schema says
/// (the table is generated: CoreV1Schema+Generated.swift).
struct CoreV1Field: Sendable, Equatable {
  /// Whether the field holds one value, a list of them or a map from strings to them.
  enum Layout: Sendable, Equatable {
    case single, list, map
  }

  /// The kind of each value.
  enum Value: Sendable, Equatable {
    case string, boolean, int32, int64, number
    /// `resource.Quantity`: a string such as `500m` or `1Gi`, or a plain number.
    case quantity
    /// `intstr.IntOrString`: a 32-bit integer or a string.
    case intOrString
    /// `metav1.Time`: an RFC 3339 string.
    case time
    /// Any JSON object (`FieldsV1`).
    case anyObject
    case object(CoreV1Type)
  }

  var layout: Layout
  var value: Value
  /// Whether an explicit `null` is allowed (the API server then treats the field as unset).
  var nullable: Bool
  /// `x-kubernetes-list-map-keys`: the members that identify an item of the list.
  var keys: [String]

  init(_ layout: Layout, _ value: Value, nullable: Bool = true, keys: [String] = []) {
    self.layout = layout
    self.value = value
    self.nullable = nullable
    self.keys = keys
  }
}
