/// The answer to one AdmissionRequest, built with a small vocabulary: allowed, denied, patched.
public struct AdmissionResponse: Sendable {
  public var uid: String
  public var allowed: Bool
  public var patch: JSONPatch
  public var warnings: [String] = []
  /// Keys hold no `/`: the API server stores them as `<webhook name>/<key>`.
  public var auditAnnotations = JSONObject()
  /// The code and message of a denial.
  public var status: DenialStatus?

  /// An answer that admits the object unchanged.
  public static func allowed(uid: String) -> AdmissionResponse {
    AdmissionResponse(uid: uid, allowed: true, patch: JSONPatch())
  }

  /// An explicit refusal: 403 with the reason, never an HTTP error.
  public static func denied(uid: String, message: String) -> AdmissionResponse {
    AdmissionResponse(uid: uid, allowed: false, patch: JSONPatch(), status: DenialStatus(code: 403, message: message))
  }

  /// The complete AdmissionReview, in the apiVersion the request came in.
  public func review(apiVersion: String) -> JSONValue {
    var response = JSONObject(uniqueMembers: [.init("uid", .string(uid)), .init("allowed", .bool(allowed))])
    if allowed && !patch.isEmpty {
      response["patchType"] = "JSONPatch"
      response["patch"] = .string(Base64.encode(patch.serializedBytes()))
    }
    if let status {
      response["status"] = .object(
        JSONObject(uniqueMembers: [
          .init("code", .number(status.code.decimalText)), .init("status", "Failure"), .init("reason", "Forbidden"),
          .init("message", .string(status.message)),
        ]))
    }
    if !warnings.isEmpty { response["warnings"] = .array(warnings.map(JSONValue.string)) }
    if !auditAnnotations.isEmpty { response["auditAnnotations"] = .object(auditAnnotations) }
    return .object(
      JSONObject(uniqueMembers: [
        .init("apiVersion", .string(apiVersion)), .init("kind", "AdmissionReview"),
        .init("response", .object(response)),
      ]))
  }
}

/// The `status` of a refused request: an HTTP-style code and a message for the user.
public struct DenialStatus: Sendable, Equatable {
  public var code: Int
  public var message: String
}

/// RFC 4648 base64, which the `patch` field needs; Foundation is not loaded for it.
public enum Base64 {
  private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

  public static func encode(_ bytes: [UInt8]) -> String {
    let length = (bytes.count + 2) / 3 * 4
    // Over raw buffers, three bytes to four digits at a time: every admission encodes its patch.
    let digits: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    let table = digits.utf8Start
    return bytes.withUnsafeBufferPointer { input in
      String(unsafeUninitializedCapacity: length) { out in
        var written = 0
        var index = 0
        while index + 2 < input.count {
          let n = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
          out[written] = table[Int(n >> 18)]
          out[written + 1] = table[Int(n >> 12 & 63)]
          out[written + 2] = table[Int(n >> 6 & 63)]
          out[written + 3] = table[Int(n & 63)]
          written += 4
          index += 3
        }
        let rest = input.count - index
        if rest > 0 {
          let n = UInt32(input[index]) << 16 | (rest == 2 ? UInt32(input[index + 1]) << 8 : 0)
          out[written] = table[Int(n >> 18)]
          out[written + 1] = table[Int(n >> 12 & 63)]
          out[written + 2] = rest == 2 ? table[Int(n >> 6 & 63)] : UInt8(ascii: "=")
          out[written + 3] = UInt8(ascii: "=")
          written += 4
        }
        return written
      }
    }
  }

  /// Decodes standard base64 (padding optional); nil on any other character.
  public static func decode(_ text: String) -> [UInt8]? {
    var values: [UInt8] = []
    for byte in text.utf8 where byte != UInt8(ascii: "=") {
      guard let value = alphabet.firstIndex(of: byte) else { return nil }
      values.append(UInt8(value))
    }
    var out: [UInt8] = []
    var index = 0
    while index + 1 < values.count {
      let chunk = values[index..<min(index + 4, values.count)]
      var n: UInt32 = 0
      for (offset, value) in chunk.enumerated() { n |= UInt32(value) << (18 - 6 * UInt32(offset)) }
      out.append(UInt8(n >> 16 & 255))
      if chunk.count > 2 { out.append(UInt8(n >> 8 & 255)) }
      if chunk.count > 3 { out.append(UInt8(n & 255)) }
      index += 4
    }
    return out
  }
}

extension AdmissionResponse {
  /// The answer to write when the admission is stopped before it decided (a limit of its own, or a
  /// crash): JSON text with a zero byte (which JSON text never holds) in the two places where the
  /// reason goes, since whatever stops the process can then only copy bytes, and the reason is known
  /// only then. No rule was applied, so the pod is admitted unchanged, or refused under `deny` (the
  /// configuration's `defaults.onError`); either way with a warning or a denial message and the audit
  /// annotations of a failure. Built for every admission, so written straight as bytes.
  public static func interruptedReview(uid: String, apiVersion: String, deny: Bool) -> [UInt8] {
    var text: [UInt8] = []
    text.reserveCapacity(512)
    func add(_ literal: StaticString) {
      text.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }
    add(#"{"apiVersion":"#)
    JSONValue.string(apiVersion).serialize(into: &text)
    add(#","kind":"AdmissionReview","response":{"uid":"#)
    JSONValue.string(uid).serialize(into: &text)
    if deny {
      add(#","allowed":false,"status":{"code":403,"status":"Failure","reason":"Forbidden","message":"#)
      add(#""podinject: no rule applied: \#u{0}"},"auditAnnotations":{"failed-rules":"*","error":"\#u{0}"}}}"#)
    } else {
      add(#","allowed":true,"warnings":["podinject: no rule applied: \#u{0}"],"#)
      add(#""auditAnnotations":{"failed-rules":"*","error":"\#u{0}"}}}"#)
    }
    return text
  }
}
