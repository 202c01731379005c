import Testing

@testable import PodInject

struct KubernetesValidationTests {
  /// A validator, a value, and the expected reason (nil: valid).
  struct Case: CustomTestStringConvertible, Sendable {
    let check: @Sendable (String) -> String?
    let name: String
    let value: String
    let reason: String?
    init(
      _ name: String, _ check: @escaping @Sendable (String) -> String?, _ value: String,
      _ reason: String?
    ) {
      self.name = name
      self.check = check
      self.value = value
      self.reason = reason
    }
    var testDescription: String { "\(name)(\(value.prefix(40))\(value.count > 40 ? "…" : ""))" }
  }

  static let a63 = String(repeating: "a", count: 63)
  static let a64 = String(repeating: "a", count: 64)
  static let labelRule =
    "must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"
  static let subdomainRule =
    "must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
  static let nameRule =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
  static let valueRule =
    "must be empty or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"

  static let label = KubernetesValidation.dns1123Label
  static let subdomain = KubernetesValidation.dns1123Subdomain
  static let qualified = KubernetesValidation.qualifiedName
  static let value = KubernetesValidation.labelValue
  static let annotation = KubernetesValidation.annotationKey
  static let env = KubernetesValidation.envVarName

  static let cases: [Case] = [
    Case("dns1123Label", label, "web", nil),
    Case("dns1123Label", label, "a", nil),
    Case("dns1123Label", label, "0", nil),
    Case("dns1123Label", label, "my-app-1", nil),
    Case("dns1123Label", label, a63, nil),
    Case("dns1123Label", label, a64, "must be no more than 63 characters"),
    Case("dns1123Label", label, a64 + "-", "must be no more than 63 characters; " + labelRule),
    Case("dns1123Label", label, "", labelRule),
    Case("dns1123Label", label, "-web", labelRule),
    Case("dns1123Label", label, "web-", labelRule),
    Case("dns1123Label", label, "Web", labelRule),
    Case("dns1123Label", label, "my_app", labelRule),
    Case("dns1123Label", label, "wéb", labelRule),
    Case("dns1123Label", label, "my.app", "must not contain dots"),
    Case("dns1123Subdomain", subdomain, "example.com", nil),
    Case("dns1123Subdomain", subdomain, "a", nil),
    Case("dns1123Subdomain", subdomain, "a-b.c-d.e", nil),
    // Kubernetes limits the whole subdomain, not each of its labels.
    Case("dns1123Subdomain", subdomain, a64 + ".com", nil),
    Case("dns1123Subdomain", subdomain, String(repeating: "a.", count: 126) + "a", nil),
    Case(
      "dns1123Subdomain", subdomain, String(repeating: "a.", count: 127),
      "must be no more than 253 characters; " + subdomainRule),
    Case(
      "dns1123Subdomain", subdomain, String(repeating: "a.", count: 127) + "a",
      "must be no more than 253 characters"),
    Case("dns1123Subdomain", subdomain, "", subdomainRule),
    Case("dns1123Subdomain", subdomain, ".com", subdomainRule),
    Case("dns1123Subdomain", subdomain, "example..com", subdomainRule),
    Case("dns1123Subdomain", subdomain, "example.com.", subdomainRule),
    Case("dns1123Subdomain", subdomain, "Example.com", subdomainRule),
    Case("dns1123Subdomain", subdomain, "a-.com", subdomainRule),
    Case("qualifiedName", qualified, "app", nil),
    Case("qualifiedName", qualified, "App_Name.v1-x", nil),
    Case("qualifiedName", qualified, "example.com/team", nil),
    Case("qualifiedName", qualified, "app.kubernetes.io/name", nil),
    Case("qualifiedName", qualified, a63, nil),
    Case("qualifiedName", qualified, "example.com/" + a63, nil),
    Case("qualifiedName", qualified, a64, "name part must be no more than 63 characters"),
    Case("qualifiedName", qualified, "", "name part must be non-empty"),
    Case("qualifiedName", qualified, "example.com/", "name part must be non-empty"),
    Case("qualifiedName", qualified, "/team", "prefix part must be non-empty"),
    Case(
      "qualifiedName", qualified, "/", "prefix part must be non-empty; name part must be non-empty"),
    Case("qualifiedName", qualified, "Example.com/team", "prefix part " + subdomainRule),
    Case("qualifiedName", qualified, "example_com/team", "prefix part " + subdomainRule),
    Case(
      "qualifiedName", qualified, String(repeating: "a", count: 254) + "/x",
      "prefix part must be no more than 253 characters"),
    Case("qualifiedName", qualified, "-app", "name part " + nameRule),
    Case("qualifiedName", qualified, "app.", "name part " + nameRule),
    Case("qualifiedName", qualified, "my app", "name part " + nameRule),
    Case("qualifiedName", qualified, "äpp", "name part " + nameRule),
    Case(
      "qualifiedName", qualified, "a/b/c",
      "must be a name of alphanumeric characters, '-', '_' or '.', with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
    ),
    Case("labelValue", value, "", nil),
    Case("labelValue", value, "v1.2_3-rc", nil),
    Case("labelValue", value, "A", nil),
    Case("labelValue", value, a63, nil),
    Case("labelValue", value, a64, "must be no more than 63 characters"),
    Case("labelValue", value, "_x", valueRule),
    Case("labelValue", value, "x.", valueRule),
    Case("labelValue", value, "a/b", valueRule),
    Case("labelValue", value, "a b", valueRule),
    Case("labelValue", value, "ünicode", valueRule),
    Case("labelValue", value, a64 + "!", "must be no more than 63 characters; " + valueRule),
    Case("annotationKey", annotation, "example.com/team", nil),
    // The API server lower-cases annotation keys before checking them.
    Case("annotationKey", annotation, "Example.COM/Team", nil),
    Case("annotationKey", annotation, "EXAMPLE.COM/x", nil),
    // Go's ToLower maps the Kelvin sign and the dotted capital I into ASCII, so the API server accepts them.
    Case("annotationKey", annotation, "\u{212A}8s.io/x", nil),
    Case("annotationKey", annotation, "\u{130}o.example/x", nil),
    Case("annotationKey", annotation, "ex_ample.com/team", "prefix part " + subdomainRule),
    Case("annotationKey", annotation, "example.com/", "name part must be non-empty"),
    Case("annotationKey", annotation, "a/b/c", KubernetesValidation.qualifiedName("a/b/c")),
    Case("envVarName", env, "HOME", nil),
    Case("envVarName", env, "my.env-name", nil),
    Case("envVarName", env, "1ST", nil),
    Case("envVarName", env, "with space", nil),
    Case("envVarName", env, "$(weird)~!", nil),
    Case("envVarName", env, "", "environment variable name must be non-empty"),
    Case(
      "envVarName", env, "A=B", "must consist only of printable ASCII characters other than '='"),
    Case(
      "envVarName", env, "TAB\t", "must consist only of printable ASCII characters other than '='"),
    Case(
      "envVarName", env, "NEW\nLINE",
      "must consist only of printable ASCII characters other than '='"),
    Case(
      "envVarName", env, "DEL\u{7F}",
      "must consist only of printable ASCII characters other than '='"),
    Case(
      "envVarName", env, "CAFÉ", "must consist only of printable ASCII characters other than '='"),
    Case("containerName", KubernetesValidation.containerName, "istio-proxy", nil),
    Case("containerName", KubernetesValidation.containerName, "Istio", labelRule),
    Case("volumeName", KubernetesValidation.volumeName, "certs", nil),
    Case("volumeName", KubernetesValidation.volumeName, "certs.d", "must not contain dots"),
    Case("mountPath", KubernetesValidation.mountPath, "/etc/certs", nil),
    Case("mountPath", KubernetesValidation.mountPath, "relative/path", nil),
    Case("mountPath", KubernetesValidation.mountPath, "C:\\data", nil),
    Case("mountPath", KubernetesValidation.mountPath, "", "must be non-empty"),
  ]

  @Test("validates like the API server", arguments: cases)
  func validation(_ c: Case) {
    #expect(c.check(c.value) == c.reason)
  }

  @Test("never echoes the value", arguments: cases)
  func reasonsHoldNoValue(_ c: Case) {
    guard let reason = c.check(c.value), c.value.count > 2 else { return }
    #expect(!reason.contains(c.value))
  }

  @Test func secretValuesStayOutOfReasons() {
    let secret = "s3cr3t=Value!"
    for check in [
      KubernetesValidation.dns1123Label, KubernetesValidation.labelValue,
      KubernetesValidation.envVarName,
    ] {
      let reason = check(secret)
      #expect(reason != nil)
      #expect(reason?.contains("s3cr3t") == false)
    }
  }

  @Test func annotationsSizeLimit() {
    let limit = KubernetesValidation.totalAnnotationSizeLimit
    #expect(limit == 262_144)
    #expect(KubernetesValidation.annotationsSize(JSONObject()) == nil)
    let exact = JSONObject([("k", .string(String(repeating: "v", count: limit - 1)))])
    #expect(KubernetesValidation.annotationsSize(exact) == nil)
    let over = JSONObject([("k", .string(String(repeating: "v", count: limit)))])
    #expect(
      KubernetesValidation.annotationsSize(over)
        == "annotations must be no more than 262144 bytes in total (keys and values)")
    // Keys count too, and sizes are UTF-8 bytes: 131072 two-byte characters fill the limit on their own.
    let split = JSONObject([
      ("a", .string(String(repeating: "é", count: limit / 2)))
    ])
    #expect(KubernetesValidation.annotationsSize(split) != nil)
    let many = JSONObject(
      (0..<1000).map {
        ("example.com/key-\($0)", JSONValue.string(String(repeating: "x", count: 200)))
      })
    #expect(KubernetesValidation.annotationsSize(many) == nil)
  }
}
