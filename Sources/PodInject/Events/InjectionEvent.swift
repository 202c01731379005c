/// The Event reasons podinject reports (SPEC §4).
public enum EventReason: String, Sendable, Equatable {
  /// The pod was admitted without the rule.
  case injectionFailed = "InjectionFailed"
  /// The pod was refused because of the rule.
  case injectionDenied = "InjectionDenied"
  /// The configuration could not be used.
  case configInvalid = "ConfigInvalid"
}

/// The object an Event is about, as `involvedObject` (core/v1) or `regarding` (events.k8s.io/v1).
public struct ObjectReference: Sendable, Equatable {
  public var apiVersion: String
  public var kind: String
  public var name: String
  public var namespace: String
  public var uid: String

  public init(apiVersion: String, kind: String, name: String, namespace: String, uid: String) {
    self.apiVersion = apiVersion
    self.kind = kind
    self.name = name
    self.namespace = namespace
    self.uid = uid
  }

  /// The pod's controller (ownerReference with `controller: true`) under `Owner`, else the pod itself.
  public static func regarding(pod: JSONValue, namespace: String, policy: RegardingPolicy) -> ObjectReference {
    let metadata = pod["metadata"]
    if policy == .owner, let owners = metadata?["ownerReferences"]?.arrayValue,
      let owner = owners.first(where: { $0["controller"]?.boolValue == true }),
      let kind = owner["kind"]?.stringValue, let name = owner["name"]?.stringValue
    {
      return ObjectReference(
        apiVersion: owner["apiVersion"]?.stringValue ?? "", kind: kind, name: name, namespace: namespace,
        uid: owner["uid"]?.stringValue ?? "")
    }
    let name = metadata?["name"]?.stringValue ?? metadata?["generateName"]?.stringValue ?? ""
    return ObjectReference(
      apiVersion: "v1", kind: "Pod", name: name, namespace: namespace, uid: metadata?["uid"]?.stringValue ?? "")
  }

  var json: JSONValue {
    var object = JSONObject([
      ("apiVersion", .string(apiVersion)), ("kind", .string(kind)), ("name", .string(name)),
      ("namespace", .string(namespace)),
    ])
    if !uid.isEmpty { object["uid"] = .string(uid) }
    return .object(object)
  }
}

/// A Warning Event about one failed rule, ready to be written to the outbox and sent.
public struct InjectionEvent: Sendable, Equatable {
  public static let noteLimit = 1024

  public var reason: EventReason
  public var rule: String
  public var failure: FailureReason
  public var regarding: ObjectReference
  /// Human-readable text: names rules, fields and reasons, never values.
  public var note: String
  public var time: Timestamp
  public var reportingController: String
  public var reportingInstance: String

  public init(
    reason: EventReason, rule: String, failure: FailureReason, regarding: ObjectReference, note: String,
    time: Timestamp, reportingController: String, reportingInstance: String
  ) {
    self.reason = reason
    self.rule = rule
    self.failure = failure
    self.regarding = regarding
    self.note = Self.truncated(note, limit: Self.noteLimit)
    self.time = time
    self.reportingController = reportingController
    self.reportingInstance = reportingInstance
  }

  /// The Event's namespace: where the regarded object lives.
  public var namespace: String { regarding.namespace.isEmpty ? "default" : regarding.namespace }

  /// `<regarding name>.<16 hex digits>`: the same failure from any process names the same Event,
  /// so repeats aggregate into one Event with a count instead of a storm.
  public var name: String {
    let identity = [
      reportingController, regarding.kind, regarding.namespace, regarding.name, regarding.uid, reason.rawValue, rule,
    ]
    let hash = FNV1a64.hex(identity.joined(separator: "\u{0}"))
    return EventName.prefix(regarding.name) + "." + hash
  }

  /// The object to POST for `api` (core/v1 or events.k8s.io/v1).
  public func body(api: EventAPI) -> JSONValue {
    let metadata: JSONValue = .object(JSONObject([("name", .string(name)), ("namespace", .string(namespace))]))
    switch api {
    case .eventsV1:
      return .object(
        JSONObject([
          ("apiVersion", "events.k8s.io/v1"), ("kind", "Event"), ("metadata", metadata),
          ("eventTime", .string(time.microTime)), ("reportingController", .string(reportingController)),
          ("reportingInstance", .string(reportingInstance)), ("action", "Inject"),
          ("reason", .string(reason.rawValue)), ("regarding", regarding.json), ("note", .string(note)),
          ("type", "Warning"),
        ]))
    case .coreV1, .none:
      return .object(
        JSONObject([
          ("apiVersion", "v1"), ("kind", "Event"), ("metadata", metadata), ("involvedObject", regarding.json),
          ("reason", .string(reason.rawValue)), ("message", .string(note)), ("type", "Warning"),
          ("source", .object(JSONObject([("component", .string(reportingController))]))),
          ("reportingComponent", .string(reportingController)), ("reportingInstance", .string(reportingInstance)),
          ("firstTimestamp", .string(time.rfc3339)), ("lastTimestamp", .string(time.rfc3339)), ("count", 1),
        ]))
    }
  }

  /// Cuts `text` to at most `limit` UTF-8 bytes, ending in ` ...`, without splitting a character.
  static func truncated(_ text: String, limit: Int) -> String {
    guard text.utf8.count > limit else { return text }
    let marker = " ..."
    var kept = ""
    var size = 0
    for character in text {
      let length = character.utf8.count
      if size + length > limit - marker.utf8.count { break }
      kept.append(character)
      size += length
    }
    return kept + marker
  }
}

/// Turns the regarded object's name into a valid first part of an Event name (a DNS subdomain):
/// a pod known only by `generateName` ends in `-`, which a subdomain may not.
enum EventName {
  static func prefix(_ name: String) -> String {
    var bytes = Array(
      name.lowercased().utf8.filter { byte in
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x2E
      }.prefix(200))
    while let last = bytes.last, last == 0x2D || last == 0x2E { bytes.removeLast() }
    while let first = bytes.first, first == 0x2D || first == 0x2E { bytes.removeFirst() }
    return bytes.isEmpty ? "pod" : String(decoding: bytes, as: UTF8.self)
  }
}

/// The 64-bit FNV-1a hash: small, stable across processes and machines, good enough to tell Events apart.
enum FNV1a64 {
  static func hex(_ text: String) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
      hash ^= UInt64(byte)
      hash = hash &* 0x100_0000_01b3
    }
    // By hand: String(_:radix:) is generic code, which every CGI admission (its config cache's name)
    // paid for in witness-table lookups, about 1.5% of its time.
    return String(unsafeUninitializedCapacity: 16) { digits in
      for index in 0..<16 {
        let nibble = UInt8(truncatingIfNeeded: hash >> UInt64(60 - 4 * index)) & 0xf
        digits[index] = nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
      }
      return 16
    }
  }
}
