import Testing

@testable import PodInject

/// The checks of injected objects, from the table in Fixtures/core-v1-validation.yaml.
struct CoreV1ValidatorTests {
  struct Case: CustomTestStringConvertible, Sendable {
    let name: String
    let type: CoreV1Type
    let role: ContainerRole?
    let object: JSONValue
    /// A part of the first problem's message; nil when the object is valid.
    let problem: String?
    let at: [String]
    var testDescription: String { name }
  }

  static let cases: [Case] = {
    Fixture.table("core-v1-validation.yaml").compactMap { item -> Case? in
      guard let name = item["name"]?.stringValue, let typeName = item["type"]?.stringValue,
        let type = CoreV1Type.allCases.first(where: { $0.name == typeName }), let object = item["object"]
      else { return nil }
      let role: ContainerRole? =
        switch item["role"]?.stringValue {
        case "initContainer": .initContainer
        case "sidecar": .sidecar
        default: nil
        }
      return Case(
        name: name, type: type, role: role, object: object, problem: item["problem"]?.stringValue,
        at: item["at"]?.arrayValue?.compactMap(\.stringValue) ?? [])
    }
  }()

  @Test func theTableIsReadWhole() {
    // A case the loader could not read would silently drop out of the parameterised test.
    let rows = Fixture.table("core-v1-validation.yaml")
    #expect(!rows.isEmpty && Self.cases.count == rows.count, "\(Self.cases.count) of \(rows.count) rows")
  }

  @Test(arguments: cases)
  func validatesLikeTheAPIServer(_ c: Case) {
    let problems = CoreV1Validator.problems(in: c.object, as: c.type, role: c.role)
    guard let expected = c.problem else {
      #expect(problems.isEmpty, "\(problems)")
      return
    }
    let match = problems.first { $0.message.contains(expected) }
    #expect(match != nil, "expected \(expected), got \(problems)")
    #expect(match?.path == c.at, "\(String(describing: match))")
  }

  @Test func messagesNeverHoldTheValue() {
    let secret = "s3cr3t-VALUE"
    let objects: [(JSONValue, CoreV1Type)] = [
      (["name": .string(secret), "image": .string(" \(secret)")], .container),
      (["name": "A", "value": .string(secret), "valueFrom": ["fieldRef": ["fieldPath": .string(secret)]]], .envVar),
      (["key": .string(secret), "operator": .string(secret), "value": .string(secret)], .toleration),
      (["limits": ["cpu": .string(secret)]], .resourceRequirements),
      (["containerPort": .string(secret)], .containerPort),
    ]
    for (object, type) in objects {
      let problems = CoreV1Validator.problems(in: object, as: type)
      #expect(!problems.isEmpty)
      for problem in problems { #expect(!problem.message.contains(secret), "\(problem.message)") }
    }
  }

  static let quantities: [(String, Double)] = [
    ("500m", 0.5), ("1", 1), ("1.5Gi", 1.5 * 1024 * 1024 * 1024), (".5", 0.5), ("1.", 1), ("+2k", 2000),
    ("-1", -1), ("1e3", 1000), ("1E-3", 0.001), ("2E", 2e18), ("128974848", 128_974_848),
  ]

  @Test(arguments: quantities)
  func quantitiesParseAsTheAPIServerReadsThem(_ text: String, _ value: Double) {
    #expect(Quantity(text)?.value == value)
  }

  @Test(arguments: ["", "ten", "1 Gi", "1.2.3", "Gi", "1Ki2", "1e", "0x10", "1e+", " 1", "--1", "1mi", "."])
  func quantitiesTheAPIServerRefuses(_ text: String) {
    #expect(Quantity(text) == nil)
  }
}
