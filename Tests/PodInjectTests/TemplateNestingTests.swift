import Testing

@testable import PodInject

/// Issue 12, finding 2: no template nests deep enough to overflow the stack.
struct TemplateNestingTests {
  @Test func deepParenthesesAreAConfigErrorNotACrash() throws {
    let text = "{{" + String(repeating: "(", count: 200_000) + ".a" + String(repeating: ")", count: 200_000) + "}}"
    #expect {
      _ = try Template.parse(text)
    } throws: { error in
      (error as? RuleSyntaxError)?.message == "column 67: template nested deeper than 64"
    }
    let config = RulePlannerTests.oneRule("  labels:\n    a: '\(text)'\n")
    let problem = try #require(Fixture.loadError(config)?.diagnostics.first)
    #expect(problem.description == "config.yaml:6:8: template: column 67: template nested deeper than 64")
  }

  @Test func aLongChainOfDefaultsIsCapped() throws {
    let chain = { (count: Int) in "{{ .a" + String(repeating: " | default \"x\"", count: count) + " }}" }
    #expect(try Template.parse(chain(63)).render(["a": "v"]) == "v")
    #expect(throws: RuleSyntaxError.self) { try Template.parse(chain(64)) }
    let prefix = String(repeating: "default \"x\" (", count: 70) + ".a" + String(repeating: ")", count: 70)
    #expect(throws: RuleSyntaxError.self) { try Template.parse("{{ " + prefix + " }}") }
  }

  @Test func nestingUpToTheLimitStillWorks() throws {
    let text = "{{" + String(repeating: "(", count: 63) + ".a" + String(repeating: ")", count: 63) + "}}"
    #expect(try Template.parse(text).render(["a": "v"]) == "v")
  }

  @Test func textBetweenManyCommentsIsJoinedInPlace() throws {
    let text = String(repeating: "a{{/* c */}}", count: 20_000)
    let template = try Template.parse(text)
    #expect(try template.render([:]) == String(repeating: "a", count: 20_000))
  }
}
