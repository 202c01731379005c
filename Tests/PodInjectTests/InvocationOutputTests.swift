import HostTesting
import Testing

@testable import PodInject

/// What each mode writes for an answer and for input with nothing to answer (SPEC §1, §6).
struct InvocationOutputTests {
  @Test func stdinModeSaysWhyOnStderrAndExits2() {
    let output = InvocationMode.stdin.refusal(UnusableInput("not JSON at byte 0"), time: Fixture.now)
    #expect(output == InvocationOutput(stdout: [], stderr: "podinject: not JSON at byte 0", status: 2))
  }

  @Test func functionRuntimeModePutsAStatusInTheBodyAndExits2() throws {
    let output = InvocationMode.functionRuntime.refusal(.tooLarge(10), time: Fixture.now)
    #expect(output.stderr == nil)
    #expect(output.status == 2)
    let status = try JSONParser.parse(output.stdout)
    #expect(status["code"] == .number("413"))
    #expect(status["reason"] == "RequestEntityTooLarge")
  }

  @Test func cgiModeAnswersWithTheHTTPStatusAndLogsTheReason() throws {
    let refused = UnusableInput(HTTPFront.HTTPError(status: 405, message: "method GET not allowed; use POST"))
    let output = InvocationMode.cgi.refusal(refused, time: Fixture.now)
    #expect(output.status == 0)
    let text = String(decoding: output.stdout, as: UTF8.self)
    #expect(text.hasPrefix("Status: 405 Method Not Allowed\r\n"))
    #expect(text.contains("Allow: POST\r\n"))
    let line = try JSONParser.parse(Array(try #require(output.stderr).utf8))
    #expect(line["error"] == "method GET not allowed; use POST")
  }

  @Test func anAnswerIsFramedPerMode() {
    #expect(InvocationMode.stdin.framedAnswer([0x7B, 0x7D]) == [0x7B, 0x7D, 0x0A])
    #expect(String(decoding: InvocationMode.cgi.framedAnswer([0x7B, 0x7D]), as: UTF8.self).hasPrefix("Status: 200 OK"))
  }

  @Test func theLogLineNeverGoesToStderrInFunctionRuntimeMode() {
    var settings = InjectionConfig.EventSettings()
    #expect(InvocationMode.functionRuntime.logDestination(settings) == .nowhere)
    settings.logFile = "/dev/stdout"
    #expect(InvocationMode.functionRuntime.logDestination(settings) == .file("/dev/stdout", orElse: .nowhere))
  }

  @Test func aCGILogLineGoesToTheLogFileWhenOneIsSetElseToStderr() {
    var settings = InjectionConfig.EventSettings()
    #expect(InvocationMode.cgi.logDestination(nil) == .standardError)
    #expect(InvocationMode.cgi.logDestination(settings) == .standardError)
    settings.logFile = "/proc/1/fd/1"
    #expect(InvocationMode.cgi.logDestination(settings) == .file("/proc/1/fd/1", orElse: .standardError))
  }

  @Test func aStdinLogLineAlwaysGoesToStderr() {
    var settings = InjectionConfig.EventSettings()
    settings.logFile = "/proc/1/fd/1"
    #expect(InvocationMode.stdin.logDestination(settings) == .standardError)
    #expect(InvocationMode.stdin.logDestination(nil) == .standardError)
  }

  @Test func aLogLineGoesToItsFileElseToTheFallback() {
    let host = FakeHost()
    host.log("one", to: .preferring("/log/a", orElse: .standardError))
    host.unwritable = ["/log/a"]
    host.log("two", to: .preferring("/log/a", orElse: .standardError))
    host.log("three", to: .preferring("/log/a", orElse: .nowhere))
    host.log("four", to: .preferring("", orElse: .standardError))
    #expect(host.appended.map(\.line) == ["one"])
    #expect(host.standardError == ["two", "four"])
  }
}
