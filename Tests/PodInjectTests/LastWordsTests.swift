import Testing

@testable import PodInject

/// What a stopped admission still says, per mode, prepared before anything can stop it.
struct LastWordsTests {
  static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

  @Test func beforeTheReviewIsReadStdinModeGivesAReasonAndExit2() {
    let words = LastWords.beforeReview(.stdin)
    #expect(words.stdout.isEmpty)
    #expect(Self.text(words.stderr) == "podinject: \u{0}\n")
    #expect(words.status == ExitStatus.badInput)
  }

  @Test func beforeTheReviewIsReadCGIModeAnswers500() {
    let words = LastWords.beforeReview(.cgi)
    #expect(Self.text(words.stdout).hasPrefix("Status: 500 Internal Server Error\r\n"))
    #expect(words.status == ExitStatus.success)
  }

  @Test func onceTheReviewIsReadTheAnswerAppliesNoRuleAndEchoesTheUID() throws {
    let request = try Fixture.request(pod: Fixture.pod)
    let allowed = LastWords.interrupted(request, deny: false, mode: .stdin)
    #expect(Self.text(allowed.stdout).contains(request.uid))
    #expect(Self.text(allowed.stderr).contains(#""allowed":true"#))
    let denied = LastWords.interrupted(request, deny: true, mode: .cgi)
    #expect(Self.text(denied.stdout).hasPrefix("Status: 200 OK\r\n"))
    #expect(Self.text(denied.stderr).contains(#""allowed":false"#))
    #expect(LastWords.interrupted(request, deny: false, mode: .functionRuntime).stderr.isEmpty)
  }
}
