import FuzzSupport
import PodInject

// Template text, as it appears in any string value of a rule: parsed, then rendered against the sample
// pod (with its request) and against odd shapes. The input also serves as the content of a string
// literal, which every form of the language must give back unchanged.
runFuzzer { bytes in
  let text = String(decoding: bytes, as: UTF8.self)
  if let template = try? Template.parse(text) {
    check(template.text == text, "the template does not keep its text")
    check((try? Template.parse(text)) == template, "parsing is not deterministic")
    check(template.isLiteral == !holdsActionOpener(text), "text is literal exactly when it holds no {{")
    _ = template.references
    for root in Fixtures.templateRoots {
      let rendered = try? template.render(root)
      check(!template.isLiteral || rendered == text, "literal text does not render as itself")
    }
  } else {
    check(holdsActionOpener(text), "text without {{ is refused")
  }

  let literal = goStringLiteral(text)
  for form in [
    "{{ \(literal) }}", "{{\(literal)}}", "{{ (\(literal)) }}", "{{ .no.such.path | default \(literal) }}",
    "{{ default \(literal) .no.such.path }}", "{{ index .metadata.labels \"no such label\" | default \(literal) }}",
    "{{/* a comment */}}{{ \(literal) }}",
  ] {
    let rendered: String?
    do {
      rendered = try Template.parse(form).render(Fixtures.templateRoots[0])
    } catch {
      fatal("invariant failed: \(form) does not render: \(error)")
    }
    check(rendered == text, "\(form) renders \(rendered.map { "\"\($0)\"" } ?? "nothing"), not the literal's text")
  }
  let trimmed = try? Template.parse("a \n {{- \(literal) -}} \t\nb").render(.null)
  check(trimmed == "a" + text + "b", "trim markers around \(literal) give \(trimmed ?? "nothing")")
}

/// Whether the bytes `{{` occur in `text` (as Characters they need not: `{` takes a combining mark).
func holdsActionOpener(_ text: String) -> Bool {
  let bytes = Array(text.utf8)
  return zip(bytes, bytes.dropFirst()).contains { $0 == UInt8(ascii: "{") && $1 == UInt8(ascii: "{") }
}

/// `text` as a Go interpreted string literal, escaping only what must be escaped.
func goStringLiteral(_ text: String) -> String {
  var out = "\""
  for scalar in text.unicodeScalars {
    switch scalar {
    case "\"": out += "\\\""
    case "\\": out += "\\\\"
    case "\n": out += "\\n"
    case _ where scalar.value < 0x20:
      let hex = String(scalar.value, radix: 16)
      out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    default: out.unicodeScalars.append(scalar)
    }
  }
  return out + "\""
}
