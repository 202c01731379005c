import Testing

@testable import PodInject

struct HTTPFrontTests {
  /// The CGI variables of one request and the verdict SPEC §6 gives it.
  struct Case: CustomTestStringConvertible, Sendable {
    let name: String
    let method: String?
    let contentType: String?
    let contentLength: String?
    let transferEncoding: String?
    let status: Int?
    let plan: HTTPFront.BodyPlan?
    var testDescription: String { name }
  }

  static let limit = 1000
  static let json = "application/json"

  static let cases: [Case] = [
    Case(
      name: "a plain POST", method: "POST", contentType: json, contentLength: "120",
      transferEncoding: nil, status: nil, plan: .length(120)),
    Case(
      name: "an empty body", method: "POST", contentType: json, contentLength: "0",
      transferEncoding: nil, status: nil, plan: .length(0)),
    Case(
      name: "exactly the limit", method: "POST", contentType: json, contentLength: "1000",
      transferEncoding: nil, status: nil, plan: .length(1000)),
    Case(
      name: "a charset parameter", method: "POST", contentType: "application/json; charset=utf-8",
      contentLength: "5", transferEncoding: nil, status: nil, plan: .length(5)),
    Case(
      name: "a media type in capitals", method: "POST", contentType: "Application/JSON",
      contentLength: "5", transferEncoding: nil, status: nil, plan: .length(5)),
    Case(
      name: "spaces around the media type", method: "POST",
      contentType: " application/json ;charset=UTF-8", contentLength: "5", transferEncoding: nil,
      status: nil, plan: .length(5)),
    Case(
      name: "chunked without a length", method: "POST", contentType: json, contentLength: nil,
      transferEncoding: "chunked", status: nil, plan: .toEOF),
    Case(
      name: "chunked in capitals with a length", method: "POST", contentType: json,
      contentLength: "99999", transferEncoding: "Chunked", status: nil, plan: .toEOF),
    Case(
      name: "GET", method: "GET", contentType: nil, contentLength: nil, transferEncoding: nil,
      status: 405, plan: nil),
    Case(
      name: "PUT with a body to drain", method: "PUT", contentType: json, contentLength: "10",
      transferEncoding: nil, status: 405, plan: .length(10)),
    Case(
      name: "no method", method: nil, contentType: json, contentLength: "10", transferEncoding: nil,
      status: 405, plan: .length(10)),
    Case(
      name: "text/plain", method: "POST", contentType: "text/plain", contentLength: "10",
      transferEncoding: nil, status: 415, plan: .length(10)),
    Case(
      name: "no Content-Type", method: "POST", contentType: nil, contentLength: "10",
      transferEncoding: nil, status: 415, plan: .length(10)),
    Case(
      name: "a JSON look-alike", method: "POST", contentType: "application/json-patch+json",
      contentLength: "10", transferEncoding: nil, status: 415, plan: .length(10)),
    Case(
      name: "YAML", method: "POST", contentType: "application/yaml", contentLength: nil,
      transferEncoding: "chunked", status: 415, plan: .toEOF),
    Case(
      name: "no length, not chunked", method: "POST", contentType: json, contentLength: nil,
      transferEncoding: nil, status: 411, plan: nil),
    Case(
      name: "an empty CONTENT_LENGTH", method: "POST", contentType: json, contentLength: "",
      transferEncoding: nil, status: 411, plan: nil),
    Case(
      name: "a CONTENT_LENGTH that is not a number", method: "POST", contentType: json,
      contentLength: "ten", transferEncoding: nil, status: 400, plan: nil),
    Case(
      name: "a negative CONTENT_LENGTH", method: "POST", contentType: json, contentLength: "-1",
      transferEncoding: nil, status: 400, plan: nil),
    Case(
      name: "one byte over the limit", method: "POST", contentType: json, contentLength: "1001",
      transferEncoding: nil, status: 413, plan: .length(1001)),
    Case(
      name: "far over the limit", method: "POST", contentType: json, contentLength: "50000000",
      transferEncoding: nil, status: 413, plan: .length(50_000_000)),
  ]

  @Test(arguments: cases)
  func checksTheRequestBeforeReadingTheBody(_ check: Case) {
    let verdict = HTTPFront.check(
      method: check.method, contentType: check.contentType, contentLength: check.contentLength,
      transferEncoding: check.transferEncoding, maxBodyBytes: Self.limit)
    switch (verdict, check.status) {
    case (.read(let plan), nil):
      #expect(plan == check.plan)
    case (.refuse(let error, let drain), let status?):
      #expect(error.status == status)
      #expect(drain == check.plan, "what to drain before answering")
      #expect(error.reasonPhrase != "Internal Server Error")
      #expect(error.body["code"] == .number(String(status)))
      #expect(error.body["kind"] == "Status")
      #expect(error.body["status"] == "Failure")
    default:
      Issue.record(
        "\(check.name): got \(verdict), expected \(check.status.map(String.init) ?? "read")")
    }
  }

  @Test func theCGIHeaderBlockEndsLinesWithCRLF() {
    #expect(
      HTTPFront.cgiHeader(status: 200, reason: "OK")
        == "Status: 200 OK\r\nContent-Type: application/json\r\n\r\n")
    #expect(
      HTTPFront.cgiHeader(status: 405, reason: "Method Not Allowed", extra: ["Allow: POST"])
        == "Status: 405 Method Not Allowed\r\nContent-Type: application/json\r\nAllow: POST\r\n\r\n"
    )
  }

  @Test func theDefaultLimitIsThreeMebibytes() {
    #expect(HTTPFront.defaultMaxBodyBytes == 3 * 1024 * 1024)
    #expect(HTTPFront.drainCapBytes >= HTTPFront.defaultMaxBodyBytes)
    #expect(HTTPFront.tooLarge(10).status == 413)
  }
}
