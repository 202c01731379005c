/// How the request body reaches podinject in CGI and function-runtime modes, and what HTTP answer
/// each kind of bad request gets (SPEC §6). Pure: the executable does the reading and writing.
public enum HTTPFront {
  /// The default body limit, the API server's own cap on webhook requests.
  public static let defaultMaxBodyBytes = 3 * 1024 * 1024
  /// How much of an oversized body is read (and dropped) before refusing it, so that hosts such as
  /// fcgiwrap, which write the whole body before reading the answer, see a clean 413 and not a 502.
  public static let drainCapBytes = 64 * 1024 * 1024

  /// What to do with the body.
  public enum BodyPlan: Sendable, Equatable {
    /// Read exactly this many bytes.
    case length(Int)
    /// Read to end of input (chunked, or a function runtime).
    case toEOF
  }

  /// The verdict on the request line and headers, before the body is read.
  public enum Verdict: Sendable, Equatable {
    case read(BodyPlan)
    /// Refuse with `status`; drain the body first when `drain` says how.
    case refuse(HTTPError, drain: BodyPlan?)
  }

  /// An HTTP refusal: status, reason phrase and message; the body is a Kubernetes `Status`.
  public struct HTTPError: Error, Sendable, Equatable {
    public var status: Int
    public var message: String
    public init(status: Int, message: String) {
      self.status = status
      self.message = message
    }

    public var reasonPhrase: String {
      switch status {
      case 400: return "Bad Request"
      case 405: return "Method Not Allowed"
      case 411: return "Length Required"
      case 413: return "Payload Too Large"
      case 415: return "Unsupported Media Type"
      default: return "Internal Server Error"
      }
    }

    /// The `Status.reason` Kubernetes clients understand.
    var statusReason: String {
      switch status {
      case 400: return "BadRequest"
      case 405: return "MethodNotAllowed"
      case 413: return "RequestEntityTooLarge"
      case 415: return "UnsupportedMediaType"
      case 500: return "InternalError"
      default: return "BadRequest"
      }
    }

    /// A `meta/v1 Status` body.
    public var body: JSONValue {
      .object(
        JSONObject([
          ("kind", "Status"), ("apiVersion", "v1"), ("metadata", .object(JSONObject())), ("status", "Failure"),
          ("message", .string(message)), ("reason", .string(statusReason)), ("code", .number(String(status))),
        ]))
    }
  }

  /// Checks a CGI request (RFC 3875 variables) before its body is read.
  public static func check(
    method: String?, contentType: String?, contentLength: String?, transferEncoding: String?, maxBodyBytes: Int
  ) -> Verdict {
    let chunked = transferEncoding?.lowercased().containsText("chunked") ?? false
    let length = contentLength.flatMap { Int($0.trimmingSpaces) }.flatMap { $0 >= 0 ? $0 : nil }
    let body: BodyPlan? = chunked ? .toEOF : length.map { .length($0) }
    guard method == "POST" else {
      return .refuse(HTTPError(status: 405, message: "method \(method ?? "(none)") not allowed; use POST"), drain: body)
    }
    guard isJSON(contentType) else {
      return .refuse(
        HTTPError(status: 415, message: "Content-Type must be application/json, got \(contentType ?? "none")"),
        drain: body)
    }
    guard let body else {
      if let contentLength, !contentLength.isEmpty {
        return .refuse(HTTPError(status: 400, message: "invalid CONTENT_LENGTH"), drain: nil)
      }
      return .refuse(HTTPError(status: 411, message: "a Content-Length (or a chunked body) is required"), drain: nil)
    }
    if case .length(let count) = body, count > maxBodyBytes {
      return .refuse(tooLarge(maxBodyBytes), drain: body)
    }
    return .read(body)
  }

  /// The refusal for a body over the limit.
  public static func tooLarge(_ maxBodyBytes: Int) -> HTTPError {
    HTTPError(status: 413, message: "request body is over the limit of \(maxBodyBytes) bytes")
  }

  /// Whether a Content-Type names JSON (`application/json`, any parameters).
  static func isJSON(_ contentType: String?) -> Bool {
    guard let contentType else { return false }
    // Bytes, not `split`: the generic collection split instantiates its metadata at run time, and this
    // runs once per admission in a process that lives for one.
    let bytes = Array(contentType.utf8)
    let media = String(decoding: bytes[..<(bytes.firstIndex(of: 0x3B) ?? bytes.count)], as: UTF8.self)
    return media.trimmingSpaces.lowercased() == "application/json"
  }

  /// The CGI header block: `Status:` and `Content-Type:` lines ending in CRLF, then a blank line.
  public static func cgiHeader(status: Int, reason: String, extra: [String] = []) -> String {
    // Plain appends: the first call of the standard library's generic `joined` resolves its
    // associated types by demangling at run time, a sixteenth of a whole CGI admission.
    var header = "Status: " + status.decimalText + " " + reason + "\r\nContent-Type: application/json\r\n"
    for line in extra { header += line + "\r\n" }
    return header + "\r\n"
  }
}

extension String {
  /// The text without leading and trailing spaces and tabs.
  var trimmingSpaces: String {
    let bytes = Array(utf8)
    guard let start = bytes.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }),
      let end = bytes.lastIndex(where: { $0 != 0x20 && $0 != 0x09 })
    else { return "" }
    return String(decoding: bytes[start...end], as: UTF8.self)
  }
}
