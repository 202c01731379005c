import Testing

@testable import PodInject

/// SPEC §1: the mode comes from the environment the host sets.
struct InvocationModeTests {
  static func mode(_ variables: [String: String], forceCGI: Bool = false) -> InvocationMode {
    InvocationMode.detect(forceCGI: forceCGI) { variables[$0] }
  }

  @Test func nothingSetIsStdinMode() {
    #expect(Self.mode([:]) == .stdin)
    #expect(Self.mode(["PATH": "/usr/bin", "CONTENT_LENGTH": "10"]) == .stdin)
  }

  @Test(arguments: [
    ["GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "POST"],
    ["GATEWAY_INTERFACE": "CGI/1.1"],
    // A host (or a fastcgi_params copy) that does not pass GATEWAY_INTERFACE.
    ["REQUEST_METHOD": "POST"],
    ["REQUEST_METHOD": "GET"],
  ])
  func eitherCGIVariableMeansCGI(_ variables: [String: String]) {
    #expect(Self.mode(variables) == .cgi)
  }

  @Test func theFlagForcesCGI() {
    #expect(Self.mode([:], forceCGI: true) == .cgi)
  }

  @Test func theWatchdogWinsOverCGIVariables() {
    #expect(Self.mode(["Http_Method": "POST", "REQUEST_METHOD": "POST"]) == .functionRuntime)
  }
}
