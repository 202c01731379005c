#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Checks names and values the way the Kubernetes API server validates them; each returns nil when valid,
/// else a short reason.
///
/// Reasons use the API server's wording but never include the value itself: a templated value may be a
/// secret, and these reasons end up in Events, warnings and logs. Several problems are joined with "; ".
/// Lengths are counted in UTF-8 bytes, as Go's `len` does.
public enum KubernetesValidation {
  static let dns1123LabelMaxLength = 63
  static let dns1123SubdomainMaxLength = 253
  static let qualifiedNameMaxLength = 63
  static let labelValueMaxLength = 63
  /// `TotalAnnotationSizeLimitB` in k8s.io/apimachinery/pkg/api/validation.
  public static let totalAnnotationSizeLimit = 256 * 1024

  static let dns1123LabelMessage =
    "must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"
  static let dns1123SubdomainMessage =
    "must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
  static let qualifiedNameMessage =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
  static let labelValueMessage =
    "must be empty or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"

  /// An RFC 1123 label: at most 63 characters of `[a-z0-9-]`, alphanumeric at both ends (container, volume names).
  public static func dns1123Label(_ s: String) -> String? {
    var problems: [String] = []
    let bytes = s.utf8
    if bytes.count > dns1123LabelMaxLength { problems.append(maxLength(dns1123LabelMaxLength)) }
    if !isDNS1123Label(bytes[...]) {
      // The API server singles out dots, the usual mistake of putting a domain where a label goes.
      problems.append(isDNS1123Subdomain(bytes) ? "must not contain dots" : dns1123LabelMessage)
    }
    return joined(problems)
  }

  /// An RFC 1123 subdomain: at most 253 characters, labels joined by '.'; as in Kubernetes, the single labels
  /// are not limited to 63 characters.
  public static func dns1123Subdomain(_ s: String) -> String? {
    var problems: [String] = []
    if s.utf8.count > dns1123SubdomainMaxLength {
      problems.append(maxLength(dns1123SubdomainMaxLength))
    }
    if !isDNS1123Subdomain(s.utf8) { problems.append(dns1123SubdomainMessage) }
    return joined(problems)
  }

  /// A qualified name (label key, annotation key, nodeSelector key): `[prefix/]name`, the prefix a DNS
  /// subdomain, the name at most 63 characters of `[A-Za-z0-9-_.]`, alphanumeric at both ends.
  public static func qualifiedName(_ s: String) -> String? {
    joined(qualifiedNameProblems(Array(s.utf8)))
  }

  /// A label value: empty, or at most 63 characters of `[A-Za-z0-9-_.]`, alphanumeric at both ends.
  public static func labelValue(_ s: String) -> String? {
    var problems: [String] = []
    let bytes = s.utf8
    if bytes.count > labelValueMaxLength { problems.append(maxLength(labelValueMaxLength)) }
    if !bytes.isEmpty && !isQualifiedNamePart(bytes[...]) { problems.append(labelValueMessage) }
    return joined(problems)
  }

  /// An annotation key: a qualified name in which case does not matter (the API server lower-cases the key
  /// with Go's `strings.ToLower` before checking it, so `Example.COM/Team` is accepted).
  public static func annotationKey(_ s: String) -> String? {
    joined(qualifiedNameProblems(goLowercasedUTF8(s)))
  }

  /// An environment variable name, as validated since RelaxedEnvironmentVariableValidation went GA:
  /// non-empty, printable ASCII (space to '~'), no '='.
  public static func envVarName(_ s: String) -> String? {
    if s.utf8.isEmpty { return "environment variable name must be non-empty" }
    for byte in s.utf8 where byte < 0x20 || byte > 0x7E || byte == UInt8(ascii: "=") {
      return "must consist only of printable ASCII characters other than '='"
    }
    return nil
  }

  /// A container name: an RFC 1123 label.
  public static func containerName(_ s: String) -> String? {
    dns1123Label(s)
  }

  /// A volume name: an RFC 1123 label.
  public static func volumeName(_ s: String) -> String? {
    dns1123Label(s)
  }

  /// A volumeMount's mountPath. The API server only requires it to be non-empty (relative and Windows paths,
  /// even ':', are accepted; uniqueness within a container is checked where the whole list is known).
  public static func mountPath(_ s: String) -> String? {
    s.isEmpty ? "must be non-empty" : nil
  }

  /// The total size of an object's annotations: keys plus string values, in bytes, at most 256 KiB.
  /// Values that are not strings are counted by their JSON text, which the API server would reject anyway.
  public static func annotationsSize(_ annotations: JSONObject) -> String? {
    var total = 0
    for member in annotations.members {
      total += member.key.utf8.count
      switch member.value {
      case .string(let value): total += value.utf8.count
      case .number(let text): total += text.utf8.count
      case .bool(let flag): total += flag ? 4 : 5
      default: break
      }
      if total > totalAnnotationSizeLimit {
        return
          "annotations must be no more than \(totalAnnotationSizeLimit) bytes in total (keys and values)"
      }
    }
    return nil
  }
}

extension KubernetesValidation {
  static func maxLength(_ limit: Int) -> String {
    "must be no more than \(limit) characters"
  }

  static func joined(_ problems: [String]) -> String? {
    problems.isEmpty ? nil : problems.joined(separator: "; ")
  }

  /// The checks of Go's `IsQualifiedName` (content.IsLabelKey), on bytes.
  static func qualifiedNameProblems(_ bytes: [UInt8]) -> [String] {
    var problems: [String] = []
    let slash = UInt8(ascii: "/")
    let slashes = bytes.indices.filter { bytes[$0] == slash }
    let name: ArraySlice<UInt8>
    switch slashes.count {
    case 0:
      name = bytes[...]
    case 1:
      let prefix = bytes[..<slashes[0]]
      name = bytes[(slashes[0] + 1)...]
      if prefix.isEmpty {
        problems.append("prefix part must be non-empty")
      } else {
        if prefix.count > dns1123SubdomainMaxLength {
          problems.append("prefix part " + maxLength(dns1123SubdomainMaxLength))
        }
        if !isDNS1123Subdomain(prefix) { problems.append("prefix part " + dns1123SubdomainMessage) }
      }
    default:
      return [
        "must be a name of alphanumeric characters, '-', '_' or '.', with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
      ]
    }
    if name.isEmpty {
      problems.append("name part must be non-empty")
    } else {
      if name.count > qualifiedNameMaxLength {
        problems.append("name part " + maxLength(qualifiedNameMaxLength))
      }
      if !isQualifiedNamePart(name) { problems.append("name part " + qualifiedNameMessage) }
    }
    return problems
  }

  /// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, ignoring length.
  static func isDNS1123Label<C: BidirectionalCollection<UInt8>>(_ bytes: C) -> Bool {
    guard let first = bytes.first, let last = bytes.last else { return false }
    guard isLowerAlphanumeric(first), isLowerAlphanumeric(last) else { return false }
    return bytes.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }
  }

  /// Labels joined by single dots, ignoring length.
  static func isDNS1123Subdomain<C: BidirectionalCollection<UInt8>>(_ bytes: C) -> Bool {
    guard !bytes.isEmpty else { return false }
    return bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).allSatisfy {
      isDNS1123Label($0)
    }
  }

  /// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, ignoring length: a qualified name's name part, a label value.
  static func isQualifiedNamePart<C: BidirectionalCollection<UInt8>>(_ bytes: C) -> Bool {
    guard let first = bytes.first, let last = bytes.last else { return false }
    guard isAlphanumeric(first), isAlphanumeric(last) else { return false }
    return bytes.allSatisfy {
      isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")
        || $0 == UInt8(ascii: ".")
    }
  }

  static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
    (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
      || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
  }

  static func isAlphanumeric(_ byte: UInt8) -> Bool {
    isLowerAlphanumeric(byte) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
  }

  /// The UTF-8 of `s` lower-cased as far as it matters for validation: ASCII letters, and the two non-ASCII
  /// letters that Go's `unicode.ToLower` maps into ASCII (U+0130 'İ' to 'i', U+212A KELVIN SIGN to 'k'), so
  /// that keys the API server accepts are accepted here. Other scalars stay invalid either way.
  static func goLowercasedUTF8(_ s: String) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(s.utf8.count)
    for scalar in s.unicodeScalars {
      switch scalar.value {
      case 0x41...0x5A: bytes.append(UInt8(scalar.value) + 0x20)
      case 0x130: bytes.append(UInt8(ascii: "i"))
      case 0x212A: bytes.append(UInt8(ascii: "k"))
      default: UTF8.encode(scalar) { bytes.append($0) }
      }
    }
    return bytes
  }
}

extension KubernetesValidation {
  /// A port name (IANA_SVC_NAME): 1-15 of `[a-z0-9-]`, at least one letter, no '-' at either end or twice.
  public static func portName(_ s: String) -> String? {
    let bytes = Array(s.utf8)
    if bytes.isEmpty || bytes.count > 15 { return "must be 1 to 15 characters" }
    let hyphen = UInt8(ascii: "-")
    guard bytes.allSatisfy({ isLowerAlphanumeric($0) || $0 == hyphen }) else {
      return "must contain only lower case alphanumeric characters or '-'"
    }
    guard bytes.contains(where: { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") }) else {
      return "must contain at least one letter"
    }
    if bytes.first == hyphen || bytes.last == hyphen { return "must not begin or end with '-'" }
    if zip(bytes, bytes.dropFirst()).contains(where: { $0 == hyphen && $1 == hyphen }) {
      return "must not contain consecutive '-'"
    }
    return nil
  }

  /// An HTTP header name: `[-A-Za-z0-9]+`.
  public static func httpHeaderName(_ s: String) -> String? {
    let ok = !s.utf8.isEmpty && s.utf8.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") }
    return ok ? nil : "must consist of alphanumeric characters or '-'"
  }

  /// A ConfigMap or Secret key: at most 253 of `[-._a-zA-Z0-9]`, and not `.`, `..` or starting with `..`.
  public static func configMapKey(_ s: String) -> String? {
    let bytes = Array(s.utf8)
    if bytes.isEmpty || bytes.count > dns1123SubdomainMaxLength { return "must be 1 to 253 characters" }
    let allowed = bytes.allSatisfy {
      isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
    }
    if !allowed { return "must consist of alphanumeric characters, '-', '_' or '.'" }
    if s == "." || s.hasPrefix("..") { return "must not be '.' or start with '..'" }
    return nil
  }

  /// A container resource name: cpu, memory, ephemeral-storage, hugepages-<size>, or an extended
  /// resource `domain/name` outside the kubernetes.io domains.
  public static func containerResourceName(_ s: String) -> String? {
    if ["cpu", "memory", "ephemeral-storage"].contains(s) { return nil }
    if s.hasPrefix("hugepages-") {
      return Quantity(String(s.dropFirst(10))).map { $0.value > 0 } == true ? nil : "must be hugepages-<size>"
    }
    guard s.containsText("/"), qualifiedName(s) == nil, !s.hasPrefix("requests.") else {
      return "must be cpu, memory, ephemeral-storage, hugepages-<size> or an extended resource domain/name"
    }
    let domain = s.split(separator: "/")[0]
    if domain == "kubernetes.io" || domain.hasSuffix(".kubernetes.io") {
      return "must not be in a kubernetes.io domain unless it is a standard resource"
    }
    return nil
  }

  /// Whether `s` is an IPv4 or IPv6 address as Go's net.ParseIP reads it.
  static func isIP(_ s: String) -> Bool {
    var buffer = [UInt8](repeating: 0, count: 16)
    return inet_pton(AF_INET, s, &buffer) == 1 || inet_pton(AF_INET6, s, &buffer) == 1
  }
}
