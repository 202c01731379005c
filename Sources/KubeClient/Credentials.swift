import PodInject

/// How to reach and authenticate to the API server.
public struct Credentials: Sendable, Equatable {
  /// `https://host:port`, without a trailing slash.
  public var server: String
  /// PEM bytes of the CA that signs the server's certificate; nil means the system store.
  public var certificateAuthority: [UInt8]?
  public var insecureSkipTLSVerify = false
  /// The name to verify the server certificate against, when it differs from the URL's host.
  public var tlsServerName: String?
  public var token: TokenSource?
  public var clientCertificate: [UInt8]?
  public var clientKey: [UInt8]?
  /// Where these came from, for log lines: `kubeconfig /path (context c)` or `in-cluster`.
  public var origin: String

  public init(server: String, origin: String) {
    self.server = server
    self.origin = origin
  }
}

/// A bearer token, either given or read afresh from a file on every request (service-account tokens rotate).
public enum TokenSource: Sendable, Equatable {
  case literal(String)
  case file(String)
}

/// Why no usable credentials could be built.
public struct CredentialsError: Error, Sendable, Equatable, CustomStringConvertible {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

/// Reads files for the credential loaders, so they stay testable.
public typealias FileReader = (String) -> [UInt8]?

/// Finds credentials in the order SPEC §5 gives: `--kubeconfig`, `$KUBECONFIG`, in-cluster, else none.
public enum CredentialSource {
  /// The service-account directory of a pod.
  public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

  /// nil when there is no API to talk to at all.
  public static func resolve(
    kubeconfigOption: String?, environment: (String) -> String?, readFile: FileReader
  ) -> Result<Credentials?, CredentialsError> {
    if let path = kubeconfigOption.flatMap({ $0.isEmpty ? nil : $0 }) ?? firstKubeconfig(environment("KUBECONFIG")) {
      guard let bytes = readFile(path) else { return .failure(CredentialsError("cannot read kubeconfig \(path)")) }
      return Result { () throws(CredentialsError) in try Kubeconfig.credentials(bytes, path: path, readFile: readFile) }
    }
    guard let host = environment("KUBERNETES_SERVICE_HOST"), !host.isEmpty else { return .success(nil) }
    let port = environment("KUBERNETES_SERVICE_PORT").flatMap { $0.isEmpty ? nil : $0 } ?? "443"
    let directory =
      environment("PODINJECT_SERVICEACCOUNT_DIR").flatMap { $0.isEmpty ? nil : $0 }
      ?? serviceAccountDirectory
    let hostPart = host.contains(":") ? "[\(host)]" : host
    var credentials = Credentials(server: "https://\(hostPart):\(port)", origin: "in-cluster (\(directory))")
    credentials.token = .file(directory + "/token")
    guard let ca = readFile(directory + "/ca.crt") else {
      return .failure(CredentialsError("in-cluster: cannot read \(directory)/ca.crt"))
    }
    credentials.certificateAuthority = ca
    return .success(credentials)
  }

  /// The first path of a `$KUBECONFIG` list (merging several files is not supported).
  static func firstKubeconfig(_ value: String?) -> String? {
    guard let value else { return nil }
    return value.split(separator: ":").first.map(String.init)
  }
}

/// The subset of kubeconfig podinject understands: the current context's cluster and user.
enum Kubeconfig {
  static func credentials(_ bytes: [UInt8], path: String, readFile: FileReader) throws(CredentialsError)
    -> Credentials
  {
    let document: JSONValue
    do {
      guard let first = try YAML.parseJSONDocuments(bytes).first else { throw CredentialsError("\(path): empty") }
      document = first
    } catch let error as CredentialsError {
      throw error
    } catch let error as YAMLError {
      // Only the position: a conversion error quotes the scalar, and that scalar may be a token or a key.
      throw CredentialsError("\(path): not valid YAML at line \(error.line), column \(error.column)")
    } catch {
      throw CredentialsError("\(path): \(error)")
    }
    guard let contextName = document["current-context"]?.stringValue, !contextName.isEmpty else {
      throw CredentialsError("\(path): no current-context")
    }
    guard let context = named(document["contexts"], contextName)?["context"] else {
      throw CredentialsError("\(path): context \(contextName) not found")
    }
    let clusterName = context["cluster"]?.stringValue ?? ""
    guard let cluster = named(document["clusters"], clusterName)?["cluster"] else {
      throw CredentialsError("\(path): cluster \(clusterName) not found")
    }
    guard let server = cluster["server"]?.stringValue, server.hasPrefix("https://") else {
      throw CredentialsError("\(path): cluster \(clusterName) needs an https:// server")
    }
    let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
    func resolve(_ file: String) -> String { file.hasPrefix("/") ? file : directory + "/" + file }
    func material(_ object: JSONValue?, data: String, file: String, what: String) throws(CredentialsError) -> [UInt8]? {
      if let encoded = object?[data]?.stringValue {
        // Go's base64 decoder (kubectl's) skips line breaks, so wrapped data must work here too.
        let digits = encoded.filter { !$0.isNewline }
        guard let decoded = Base64.decode(digits) else { throw CredentialsError("\(path): \(data) is not base64") }
        return decoded
      }
      if let name = object?[file]?.stringValue {
        guard let bytes = readFile(resolve(name)) else {
          throw CredentialsError("\(path): cannot read \(what) \(name)")
        }
        return bytes
      }
      return nil
    }

    var credentials = Credentials(
      server: server.hasSuffix("/") ? String(server.dropLast()) : server,
      origin: "kubeconfig \(path) (context \(contextName))")
    credentials.certificateAuthority = try material(
      cluster, data: "certificate-authority-data", file: "certificate-authority", what: "certificate authority")
    credentials.insecureSkipTLSVerify = cluster["insecure-skip-tls-verify"]?.boolValue ?? false
    credentials.tlsServerName = cluster["tls-server-name"]?.stringValue

    let userName = context["user"]?.stringValue ?? ""
    guard userName.isEmpty || named(document["users"], userName) != nil else {
      throw CredentialsError("\(path): user \(userName) not found")
    }
    let user = named(document["users"], userName)?["user"]
    if user?["exec"] != nil {
      throw CredentialsError("\(path): user \(userName) uses an exec plugin, which podinject does not support")
    }
    if user?["auth-provider"] != nil {
      throw CredentialsError("\(path): user \(userName) uses an auth-provider plugin, which podinject does not support")
    }
    if let token = user?["token"]?.stringValue, !token.isEmpty {
      credentials.token = .literal(token)
    } else if let file = user?["tokenFile"]?.stringValue, !file.isEmpty {
      credentials.token = .file(resolve(file))
    }
    credentials.clientCertificate = try material(
      user, data: "client-certificate-data", file: "client-certificate", what: "client certificate")
    credentials.clientKey = try material(user, data: "client-key-data", file: "client-key", what: "client key")
    if (credentials.clientCertificate == nil) != (credentials.clientKey == nil) {
      throw CredentialsError("\(path): user \(userName) needs both a client certificate and a client key")
    }
    return credentials
  }

  /// The entry called `name` in a kubeconfig list (`clusters`, `contexts`, `users`).
  private static func named(_ list: JSONValue?, _ name: String) -> JSONValue? {
    list?.arrayValue?.first { $0["name"]?.stringValue == name }
  }
}
