/// A Kubernetes LabelSelector (matchLabels + matchExpressions with In, NotIn, Exists, DoesNotExist), with
/// Kubernetes semantics: an empty selector matches everything, all terms are ANDed, and NotIn/DoesNotExist
/// match when the key is absent.
public struct LabelSelector: Sendable, Equatable {
  /// One term of the selector; `matchLabels` entries become `.equals` requirements.
  public struct Requirement: Sendable, Equatable {
    /// The comparison a requirement makes.
    public enum Operator: String, Sendable, Equatable {
      case equals = "="
      case `in` = "In"
      case notIn = "NotIn"
      case exists = "Exists"
      case doesNotExist = "DoesNotExist"
    }

    public let key: String
    public let `operator`: Operator
    /// The accepted (or refused, for NotIn) values; empty for Exists and DoesNotExist.
    public let values: [String]

    public init(key: String, operator: Operator, values: [String] = []) {
      self.key = key
      self.operator = `operator`
      self.values = values
    }

    /// Whether `labels` satisfy this term. A label value that is not a string equals nothing, so it fails
    /// `=`, In and NotIn alike (the API server never stores one; failing closed keeps a rule from applying
    /// to an object it cannot read).
    public func matches(_ labels: JSONObject?) -> Bool {
      let value = labels?[key]
      switch self.operator {
      case .exists:
        return value != nil
      case .doesNotExist:
        return value == nil
      case .equals, .in:
        guard case .string(let text)? = value else { return false }
        return values.contains(text)
      case .notIn:
        guard let value else { return true }
        guard case .string(let text) = value else { return false }
        return !values.contains(text)
      }
    }

    /// The term as kubectl prints it: `app=web`, `tier in (a,b)`, `env notin (prod)`, `debug`, `!debug`.
    public var summary: String {
      switch self.operator {
      case .equals: return "\(key)=\(values.first ?? "")"
      case .in: return "\(key) in (\(Self.sortedSet(values).joined(separator: ",")))"
      case .notIn: return "\(key) notin (\(Self.sortedSet(values).joined(separator: ",")))"
      case .exists: return key
      case .doesNotExist: return "!\(key)"
      }
    }

    /// Values as Go's string sets list them: unique, in byte order.
    private static func sortedSet(_ values: [String]) -> [String] {
      var unique: [String] = []
      for value in values where !unique.contains(value) { unique.append(value) }
      return unique.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }
  }

  /// The terms, ordered by key as Kubernetes orders them (as written, among equal keys).
  public let requirements: [Requirement]

  /// The selector with no terms.
  public static let everything = LabelSelector(requirements: [])

  /// A selector of the given terms, which are assumed valid.
  public init(requirements: [Requirement]) {
    self.requirements = requirements.enumerated().sorted { lhs, rhs in
      if lhs.element.key == rhs.element.key { return lhs.offset < rhs.offset }
      return lhs.element.key.utf8.lexicographicallyPrecedes(rhs.element.key.utf8)
    }.map(\.element)
  }

  /// Whether a pod with these `metadata.labels` (nil when it has none) is selected.
  public func matches(_ labels: JSONObject?) -> Bool {
    firstUnmatched(labels) == nil
  }

  /// The first term that `labels` fail, for explaining why a rule did not match; nil when all hold.
  public func firstUnmatched(_ labels: JSONObject?) -> Requirement? {
    requirements.first { !$0.matches(labels) }
  }

  /// The selector as kubectl prints it, e.g. `app=web,tier in (a,b),!debug`; empty for `everything`.
  public var summary: String {
    requirements.map(\.summary).joined(separator: ",")
  }
}

extension LabelSelector {
  /// Reads a `metav1.LabelSelector` and validates it like the API server: keys are qualified names, values
  /// label values, In/NotIn need at least one value, Exists/DoesNotExist none, unknown members are refused.
  /// `null` is the empty selector. Every problem is reported, joined by "; ", each with its field path
  /// relative to the selector (e.g. `matchExpressions[0].values`).
  public init(json: JSONValue) throws(RuleSyntaxError) {
    var problems: [String] = []
    var requirements: [Requirement] = []
    switch json {
    case .null:
      self = .everything
      return
    case .object(let object):
      for member in object.members {
        switch member.key {
        case "matchLabels":
          Self.readMatchLabels(member.value, into: &requirements, problems: &problems)
        case "matchExpressions":
          Self.readMatchExpressions(member.value, into: &requirements, problems: &problems)
        default:
          problems.append(
            "unknown field \(RuleSyntaxError.quoted(member.key)); a label selector has matchLabels and matchExpressions"
          )
        }
      }
    default:
      throw RuleSyntaxError(
        message: "must be an object with matchLabels and/or matchExpressions, not \(json.typeName)")
    }
    if !problems.isEmpty { throw RuleSyntaxError(message: problems.joined(separator: "; ")) }
    self.init(requirements: requirements)
  }

  private static func readMatchLabels(
    _ value: JSONValue, into requirements: inout [Requirement], problems: inout [String]
  ) {
    switch value {
    case .null:
      return
    case .object(let labels):
      for member in labels.members {
        let path = "matchLabels[\(RuleSyntaxError.quoted(member.key))]"
        if let problem = KubernetesValidation.qualifiedName(member.key) {
          problems.append("\(path): invalid key: \(problem)")
        }
        guard case .string(let text) = member.value else {
          problems.append("\(path): must be a string, not \(member.value.typeName)")
          continue
        }
        if let problem = KubernetesValidation.labelValue(text) {
          problems.append("\(path): invalid value \(RuleSyntaxError.quoted(text)): \(problem)")
        }
        requirements.append(Requirement(key: member.key, operator: .equals, values: [text]))
      }
    default:
      problems.append(
        "matchLabels: must be an object of label keys and values, not \(value.typeName)")
    }
  }

  private static func readMatchExpressions(
    _ value: JSONValue, into requirements: inout [Requirement], problems: inout [String]
  ) {
    switch value {
    case .null:
      return
    case .array(let items):
      for (index, item) in items.enumerated() {
        if let requirement = readExpression(
          item, path: "matchExpressions[\(index)]", problems: &problems)
        {
          requirements.append(requirement)
        }
      }
    default:
      problems.append("matchExpressions: must be an array, not \(value.typeName)")
    }
  }

  private static func readExpression(_ item: JSONValue, path: String, problems: inout [String])
    -> Requirement?
  {
    guard case .object(let object) = item else {
      problems.append(
        "\(path): must be an object with key, operator and values, not \(item.typeName)")
      return nil
    }
    let before = problems.count
    var key: String?
    var op: Requirement.Operator?
    var values: [String] = []
    var sawOperator = false
    var valuesUnreadable = false
    for member in object.members {
      switch member.key {
      case "key":
        guard case .string(let text) = member.value else {
          problems.append("\(path).key: must be a string, not \(member.value.typeName)")
          continue
        }
        key = text
      case "operator":
        sawOperator = true
        guard case .string(let text) = member.value else {
          problems.append("\(path).operator: must be a string, not \(member.value.typeName)")
          continue
        }
        op = Requirement.Operator(rawValue: text)
        if op == nil || op == .equals {
          op = nil
          problems.append(
            "\(path).operator: \(RuleSyntaxError.quoted(text)) is not a valid selector operator (In, NotIn, Exists, DoesNotExist)"
          )
        }
      case "values":
        switch member.value {
        case .null:
          break
        case .array(let items):
          for (index, item) in items.enumerated() {
            guard case .string(let text) = item else {
              valuesUnreadable = true
              problems.append("\(path).values[\(index)]: must be a string, not \(item.typeName)")
              continue
            }
            if let problem = KubernetesValidation.labelValue(text) {
              problems.append(
                "\(path).values[\(index)]: invalid value \(RuleSyntaxError.quoted(text)): \(problem)"
              )
            }
            values.append(text)
          }
        default:
          valuesUnreadable = true
          problems.append(
            "\(path).values: must be an array of strings, not \(member.value.typeName)")
        }
      default:
        problems.append(
          "\(path): unknown field \(RuleSyntaxError.quoted(member.key)); an expression has key, operator and values"
        )
      }
    }
    if let key {
      if key.isEmpty {
        problems.append("\(path).key: must be non-empty")
      } else if let problem = KubernetesValidation.qualifiedName(key) {
        problems.append("\(path).key: \(problem)")
      }
    } else {
      problems.append("\(path).key: required")
    }
    if !sawOperator {
      problems.append("\(path).operator: required (In, NotIn, Exists or DoesNotExist)")
    }
    switch op {
    case .in?, .notIn?:
      if values.isEmpty && !valuesUnreadable {
        problems.append("\(path).values: must be specified when `operator` is 'In' or 'NotIn'")
      }
    case .exists?, .doesNotExist?:
      if !values.isEmpty {
        problems.append(
          "\(path).values: may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
      }
    default:
      break
    }
    guard problems.count == before, let key, let op else { return nil }
    return Requirement(key: key, operator: op, values: values)
  }
}
