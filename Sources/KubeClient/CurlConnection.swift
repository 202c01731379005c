import CCurl
import PodInject

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// An HTTP answer from the API server.
public struct HTTPResponse: Sendable, Equatable {
  public var status: Int
  public var body: [UInt8]
  public init(status: Int, body: [UInt8]) {
    self.status = status
    self.body = body
  }
}

/// A request that got no HTTP answer: libcurl missing, refused, timed out, TLS failure...
public struct TransportError: Error, Sendable, Equatable, CustomStringConvertible {
  /// libcurl's code (7 refused, 28 timeout, 60 untrusted server, ...); -1 when libcurl could not be loaded.
  public var code: Int32
  public var message: String
  public var description: String { code < 0 ? message : "curl error \(code): \(message)" }
}

/// Sends requests to the API server; one implementation uses libcurl, tests use others.
public protocol KubeTransport {
  func send(method: String, path: String, contentType: String?, body: [UInt8]?, timeoutMilliseconds: Int)
    -> Result<HTTPResponse, TransportError>
}

/// HTTPS to the API server over libcurl, loaded on first use; one easy handle, so the connection is reused.
public final class CurlConnection: KubeTransport {
  private let credentials: Credentials
  private let proxy: ProxySettings
  private let handle: UnsafeMutableRawPointer
  /// The URL prefix requests go to (the `tls-server-name` host when one is set, see `connectTo`).
  private let base: String
  private var connectTo: UnsafeMutableRawPointer?

  /// Loads libcurl and prepares a handle; fails when libcurl cannot be loaded.
  public init(credentials: Credentials, proxy: ProxySettings = ProxySettings()) throws(TransportError) {
    guard CCurl_load() == 0 else { throw TransportError(code: -1, message: String(cString: CCurl_load_error())) }
    guard let handle = CCurl_easy_init() else { throw TransportError(code: -1, message: "curl_easy_init failed") }
    self.credentials = credentials
    self.proxy = proxy
    self.handle = handle
    (base, connectTo) = Self.route(credentials)
  }

  deinit {
    CCurl_easy_cleanup(handle)
    if let connectTo { CCurl_slist_free_all(connectTo) }
  }

  /// With `tls-server-name`, requests name that host (for SNI and verification) and CONNECT_TO sends
  /// them to the real address.
  private static func route(_ credentials: Credentials) -> (String, UnsafeMutableRawPointer?) {
    guard let name = credentials.tlsServerName, !name.isEmpty else { return (credentials.server, nil) }
    let authority = credentials.server.dropFirst("https://".count)
    let (host, port): (Substring, Substring)
    if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
      host = authority[authority.index(after: authority.startIndex)..<close]
      let rest = authority[authority.index(after: close)...]
      port = rest.hasPrefix(":") ? rest.dropFirst() : "443"
    } else if let colon = authority.lastIndex(of: ":") {
      host = authority[..<colon]
      port = authority[authority.index(after: colon)...]
    } else {
      host = authority
      port = "443"
    }
    let target = host.containsText(":") ? "[\(host)]" : String(host)
    let list = CCurl_slist_append(nil, "\(name):\(port):\(target):\(port)")
    return ("https://\(name):\(port)", list)
  }

  public func send(method: String, path: String, contentType: String?, body: [UInt8]?, timeoutMilliseconds: Int)
    -> Result<HTTPResponse, TransportError>
  {
    CCurl_easy_reset(handle)
    var headers: UnsafeMutableRawPointer? = CCurl_slist_append(nil, "Accept: application/json")
    defer { CCurl_slist_free_all(headers) }
    if let contentType { headers = CCurl_slist_append(headers, "Content-Type: \(contentType)") }
    switch credentials.token {
    case .literal(let token)?: headers = CCurl_slist_append(headers, "Authorization: Bearer \(token)")
    case .file(let file)?:
      guard let token = readToken(file) else {
        return .failure(TransportError(code: -1, message: "cannot read token file \(file)"))
      }
      headers = CCurl_slist_append(headers, "Authorization: Bearer \(token)")
    case nil: break
    }
    var errorBuffer = [CChar](repeating: 0, count: 256)
    var buffer = CCurl_Buffer(data: nil, length: 0, limit: 4 * 1024 * 1024)
    defer { CCurl_buffer_free(&buffer) }
    let code: Int32 = errorBuffer.withUnsafeMutableBufferPointer { errors in
      set(CCurl_OPT_URL, base + path)
      set(CCurl_OPT_PROTOCOLS_STR, "https")
      set(CCurl_OPT_NOSIGNAL, 1)
      set(CCurl_OPT_CONNECTTIMEOUT_MS, max(1, min(timeoutMilliseconds, 5000)))
      set(CCurl_OPT_TIMEOUT_MS, max(1, timeoutMilliseconds))
      CCurl_setopt_pointer(handle, Int32(CCurl_OPT_ERRORBUFFER), errors.baseAddress)
      CCurl_setopt_pointer(handle, Int32(CCurl_OPT_HTTPHEADER), headers)
      if let connectTo { CCurl_setopt_pointer(handle, Int32(CCurl_OPT_CONNECT_TO), connectTo) }
      // Always set, so that libcurl never reads a proxy variable itself (an empty value means none).
      set(CCurl_OPT_PROXY, proxy.proxy ?? "")
      set(CCurl_OPT_NOPROXY, proxy.noProxy ?? "")
      configureTLS()
      if method == "GET" {
        set(CCurl_OPT_HTTPGET, 1)
      } else {
        set(CCurl_OPT_CUSTOMREQUEST, method)
        let payload = body ?? []
        set(CCurl_OPT_POSTFIELDSIZE, payload.count)
        if payload.isEmpty {
          set(CCurl_OPT_COPYPOSTFIELDS, "")
        } else {
          // COPYPOSTFIELDS copies the bytes now: Swift's buffer is only valid during this call.
          payload.withUnsafeBytes {
            _ = CCurl_setopt_pointer(
              handle, Int32(CCurl_OPT_COPYPOSTFIELDS), UnsafeMutableRawPointer(mutating: $0.baseAddress))
          }
        }
      }
      CCurl_collect_body(handle, &buffer)
      return CCurl_perform(handle)
    }
    let status = CCurl_response_code(handle)
    // A transfer cut short (usually by the time budget) after the status line arrived still tells what
    // the API server did: a create or update it answered 2xx happened, and must not be sent again.
    guard code == 0 || status >= 200 else {
      let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
      return .failure(
        TransportError(code: code, message: detail.isEmpty ? String(cString: CCurl_strerror(code)) : detail))
    }
    let bytes = buffer.data.map { Array(UnsafeRawBufferPointer(start: $0, count: buffer.length)) } ?? []
    return .success(HTTPResponse(status: status, body: bytes))
  }

  private func set(_ option: Int, _ value: Int) { CCurl_setopt_long(handle, Int32(option), value) }
  private func set(_ option: Int, _ value: String) { CCurl_setopt_string(handle, Int32(option), value) }

  private func configureTLS() {
    if credentials.insecureSkipTLSVerify {
      set(CCurl_OPT_SSL_VERIFYPEER, 0)
      set(CCurl_OPT_SSL_VERIFYHOST, 0)
    }
    if let ca = credentials.certificateAuthority {
      // The given CA is the only trust anchor, as in client-go. libcurl ignores its default CA bundle
      // when given a blob, but still loads its default CA directory (Debian: /etc/ssl/certs), so that
      // any public CA could stand in for the API server: both defaults go.
      CCurl_setopt_pointer(handle, Int32(CCurl_OPT_CAPATH), nil)
      CCurl_setopt_pointer(handle, Int32(CCurl_OPT_CAINFO), nil)
      blob(CCurl_OPT_CAINFO_BLOB, ca)
    }
    if let certificate = credentials.clientCertificate, let key = credentials.clientKey {
      set(CCurl_OPT_SSLCERTTYPE, "PEM")
      set(CCurl_OPT_SSLKEYTYPE, "PEM")
      blob(CCurl_OPT_SSLCERT_BLOB, certificate)
      blob(CCurl_OPT_SSLKEY_BLOB, key)
    }
  }

  private func blob(_ option: Int, _ bytes: [UInt8]) {
    bytes.withUnsafeBytes { _ = CCurl_setopt_blob(handle, Int32(option), $0.baseAddress, $0.count) }
  }

  /// The token, trimmed of the newline files usually end with.
  private func readToken(_ path: String) -> String? {
    guard var bytes = try? LocalFiles.read(path, limit: 64 * 1024) else { return nil }
    while let last = bytes.last, last == 0x0A || last == 0x0D || last == 0x20 { bytes.removeLast() }
    return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
  }
}
