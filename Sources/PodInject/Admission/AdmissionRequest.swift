/// The part of an AdmissionReview podinject decides on, as the API server sent it.
public struct AdmissionRequest: Sendable {
  public static let v1 = "admission.k8s.io/v1"
  public static let v1beta1 = "admission.k8s.io/v1beta1"

  /// The AdmissionReview apiVersion, echoed in the answer.
  public var reviewAPIVersion: String
  public var uid: String
  /// `request.kind.kind`, or the object's own kind when the request does not say.
  public var kind: String
  /// `request.kind.group`; empty for the core group.
  public var group: String
  public var subResource: String
  public var operation: String
  public var namespace: String
  public var object: JSONValue?
  public var dryRun: Bool
  /// The whole `request` member, as templates see it under `.request`.
  public var raw: JSONValue
  /// At least the compact JSON size of `object`, when known for free: the length of the JSON text
  /// the review was read from (writing a parsed value never takes more bytes than its text did).
  public var objectBytesBound: Int? = nil

  /// Whether this is a Pod itself (not a subresource such as `pods/status`).
  public var isPod: Bool { kind == "Pod" && group.isEmpty && subResource.isEmpty }

  /// The name the pod goes by at admission: its name, else its generateName.
  public var podName: String {
    let metadata = object?["metadata"]
    return metadata?["name"]?.stringValue ?? metadata?["generateName"]?.stringValue ?? ""
  }
}

/// Why the input cannot be answered at all (SPEC §6): exit 2 in stdin mode, 400 in CGI mode.
public struct ReviewInputError: Error, Sendable, Equatable, CustomStringConvertible {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

extension AdmissionRequest {
  /// What a parsed review may take in memory, estimated while it is read (JSON), so that with
  /// everything else an admission stays within its 64 MiB: a 3 MiB body of the API server's own
  /// making takes well under half of it, while `[[1],[1],...]` would take twenty times its size.
  public static let maxMemory = 40 * 1024 * 1024
  /// The nodes a YAML review may have (stdin mode), each about a hundred bytes in memory.
  public static let maxYAMLNodes = 250_000

  /// Reads an AdmissionReview: JSON, or also YAML when `allowingYAML` (stdin mode, SPEC §1; the HTTP
  /// modes read JSON only, as the API server sends it). JSON text is always read by the JSON parser,
  /// also after a byte order mark (which it refuses, as the API server's decoder does).
  public static func decode(_ bytes: [UInt8], allowingYAML: Bool = true, maxDepth: Int = 256)
    throws(ReviewInputError) -> AdmissionRequest
  {
    let (document, isJSON) = try parseDocument(bytes, allowingYAML: allowingYAML, maxDepth: maxDepth)
    var request = try decode(review: document)
    if isJSON { request.objectBytesBound = bytes.count }
    return request
  }

  /// Parses the input document, reporting where reading stopped. Messages give positions and types,
  /// never the input's own text.
  static func parseDocument(_ bytes: [UInt8], allowingYAML: Bool, maxDepth: Int) throws(ReviewInputError)
    -> (document: JSONValue, isJSON: Bool)
  {
    guard bytes.contains(where: { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }) else {
      throw ReviewInputError("not valid JSON: byte \(bytes.count): empty input, expected an AdmissionReview")
    }
    let kind = JSONCompatibility.kind(of: bytes)
    guard kind == .yaml, allowingYAML else {
      let hint = kind == .yaml ? " (this mode reads JSON only)" : ""
      return (try parseJSON(bytes, maxDepth: maxDepth, hint: hint), true)
    }
    // YAML is accepted too. Text that is YAML but not a mapping is reported as the JSON error it
    // also is, which names the byte offset; broken YAML is reported with both readings.
    let documents: [JSONValue]
    do {
      documents = try YAML.parseJSONDocuments(bytes, maxNodes: maxYAMLNodes)
    } catch {
      let yamlReason = "YAML \(error.description)"
      do {
        _ = try JSONParser.parse(bytes, maxDepth: maxDepth, maxMemory: maxMemory)
      } catch {
        throw ReviewInputError("not valid JSON or YAML: \(yamlReason); JSON \(error.description)")
      }
      throw ReviewInputError("not valid JSON or YAML: \(yamlReason)")
    }
    guard documents.count == 1, let document = documents.first, document.objectValue != nil else {
      return (try parseJSON(bytes, maxDepth: maxDepth, hint: ""), true)
    }
    return (document, false)
  }

  private static func parseJSON(_ bytes: [UInt8], maxDepth: Int, hint: String) throws(ReviewInputError)
    -> JSONValue
  {
    do {
      return try JSONParser.parse(bytes, maxDepth: maxDepth, maxMemory: maxMemory)
    } catch {
      throw ReviewInputError("not valid JSON: \(error.description)\(hint)")
    }
  }

  /// Checks the document is an AdmissionReview with a request and a uid.
  public static func decode(review: JSONValue) throws(ReviewInputError) -> AdmissionRequest {
    guard case .object(let object) = review else {
      throw ReviewInputError("expected an AdmissionReview object, found \(review.typeName)")
    }
    // An AdmissionReview without apiVersion is read as v1 and answered in v1, as controller-runtime
    // does: the API server always sends one, but scripts and tests often leave it out.
    let given = object["apiVersion"]
    let apiVersion = (given?.isNull ?? true) || given?.stringValue == "" ? v1 : given?.stringValue
    guard let apiVersion, apiVersion == v1 || apiVersion == v1beta1 else {
      throw ReviewInputError(
        "not an AdmissionReview: apiVersion must be \(v1) or \(v1beta1), found \(describe(given))")
    }
    guard object["kind"]?.stringValue == "AdmissionReview" else {
      throw ReviewInputError("not an AdmissionReview: kind must be AdmissionReview, found \(describe(object["kind"]))")
    }
    guard let request = object["request"], request.objectValue != nil else {
      throw ReviewInputError("AdmissionReview has no request")
    }
    return try decode(request: request, reviewAPIVersion: apiVersion)
  }

  /// Reads the `request` member of an AdmissionReview of `reviewAPIVersion`.
  public static func decode(request: JSONValue, reviewAPIVersion apiVersion: String) throws(ReviewInputError)
    -> AdmissionRequest
  {
    guard case .object(let fields) = request else { throw ReviewInputError("AdmissionReview has no request") }
    guard let uid = fields["uid"]?.stringValue, !uid.isEmpty else {
      throw ReviewInputError("AdmissionReview request has no uid")
    }
    let pod = fields["object"].flatMap { $0.isNull ? nil : $0 }
    let kind = fields["kind"]
    let operation = fields["operation"]?.stringValue ?? ""
    if pod == nil, kind?["kind"]?.stringValue == "Pod", operation == "CREATE" || operation == "UPDATE" {
      throw ReviewInputError("AdmissionReview request for a Pod \(operation) has no object")
    }
    return AdmissionRequest(
      reviewAPIVersion: apiVersion,
      uid: uid,
      kind: kind?["kind"]?.stringValue ?? pod?["kind"]?.stringValue ?? "",
      group: kind?["group"]?.stringValue ?? "",
      subResource: fields["subResource"]?.stringValue ?? "",
      operation: operation,
      namespace: fields["namespace"]?.stringValue ?? pod?["metadata"]?["namespace"]?.stringValue ?? "",
      object: pod,
      dryRun: fields["dryRun"]?.boolValue ?? false,
      raw: request)
  }

  /// Whether `document` looks like the `request` of an AdmissionReview given without the review around
  /// it: a `uid`, and a `kind` that is a group/version/kind object rather than a string.
  public static func isBare(_ document: JSONValue) -> Bool {
    document["uid"]?.stringValue != nil && document["kind"]?.objectValue != nil
  }

  /// Names a missing or odd value by its type: the input's own text is never echoed back.
  private static func describe(_ value: JSONValue?) -> String {
    guard let value else { return "missing" }
    return value.stringValue != nil ? "another string" : value.typeName
  }
}
