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
    if let paths = kubeconfigPaths(option: kubeconfigOption, variable: environment("KUBECONFIG")) {
      // As kubectl: the files of a $KUBECONFIG list that do not exist are skipped.
      let read = paths.compactMap { path in readFile(path).map { (path, $0) } }
      guard !read.isEmpty else {
        return .failure(CredentialsError("cannot read kubeconfig \(paths.joined(separator: ":"))"))
      }
      return Result { () throws(CredentialsError) in
        try Kubeconfig.credentials(
          read.map { (path, bytes) throws(CredentialsError) in
            try Kubeconfig.File(bytes, path: path)
          }, readFile: readFile)
      }
    }
    guard let host = environment("KUBERNETES_SERVICE_HOST"), !host.isEmpty else { return .success(nil) }
    let port = environment("KUBERNETES_SERVICE_PORT").flatMap { $0.isEmpty ? nil : $0 } ?? "443"
    let directory =
      environment("PODINJECT_SERVICEACCOUNT_DIR").flatMap { $0.isEmpty ? nil : $0 }
      ?? serviceAccountDirectory
    let hostPart = host.containsText(":") ? "[\(host)]" : host
    var credentials = Credentials(server: "https://\(hostPart):\(port)", origin: "in-cluster (\(directory))")
    credentials.token = .file(directory + "/token")
    guard let ca = readFile(directory + "/ca.crt") else {
      return .failure(CredentialsError("in-cluster: cannot read \(directory)/ca.crt"))
    }
    credentials.certificateAuthority = ca
    return .success(credentials)
  }

  /// The kubeconfig files to read: `--kubeconfig` alone, else the `$KUBECONFIG` list (empty entries
  /// ignored, as kubectl does); nil when neither names a file.
  static func kubeconfigPaths(option: String?, variable: String?) -> [String]? {
    if let option, !option.isEmpty { return [option] }
    let paths = (variable ?? "").split(separator: ":").map(String.init)
    return paths.isEmpty ? nil : paths
  }
}

/// The subset of kubeconfig podinject understands: the current context's cluster and user, from one
/// file or from a `$KUBECONFIG` list merged the way kubectl merges it: the first file to set
/// `current-context` wins, and so does the first file to define a context, cluster or user of a given
/// name; relative file paths are resolved against the file that holds the entry.
enum Kubeconfig {
  /// One kubeconfig file, read.
  struct File {
    let path: String
    let document: JSONValue

    init(_ bytes: [UInt8], path: String) throws(CredentialsError) {
      self.path = path
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
    }

    /// The directory relative paths in this file start from.
    var directory: String { path.containsText("/") ? String(path[..<path.lastIndex(of: "/")!]) : "." }
  }

  /// An entry of a kubeconfig list (`clusters`, `contexts`, `users`) and the file it came from.
  struct Entry {
    let value: JSONValue?
    let file: File
  }

  static func credentials(_ files: [File], readFile: FileReader) throws(CredentialsError) -> Credentials {
    let origin = files.map(\.path).joined(separator: ":")
    let currentContext = files.lazy.compactMap { $0.document["current-context"]?.stringValue }.first { !$0.isEmpty }
    guard let contextName = currentContext else { throw CredentialsError("\(origin): no current-context") }
    guard let context = named("contexts", contextName, in: files)?.value?["context"] else {
      throw CredentialsError("\(origin): context \(contextName) not found")
    }
    let clusterName = context["cluster"]?.stringValue ?? ""
    guard let clusterEntry = named("clusters", clusterName, in: files), let cluster = clusterEntry.value?["cluster"]
    else {
      throw CredentialsError("\(origin): cluster \(clusterName) not found")
    }
    let clusterPath = clusterEntry.file.path
    guard let server = cluster["server"]?.stringValue, server.hasPrefix("https://") else {
      throw CredentialsError("\(clusterPath): cluster \(clusterName) needs an https:// server")
    }
    func resolve(_ file: String, in source: File) -> String {
      file.hasPrefix("/") ? file : source.directory + "/" + file
    }
    func material(_ entry: JSONValue?, from source: File, data: String, file: String, what: String)
      throws(CredentialsError) -> [UInt8]?
    {
      if let encoded = entry?[data]?.stringValue {
        // Go's base64 decoder (kubectl's) skips line breaks, so wrapped data must work here too.
        let digits = encoded.filter { !$0.isNewline }
        guard let decoded = Base64.decode(digits) else {
          throw CredentialsError("\(source.path): \(data) is not base64")
        }
        return decoded
      }
      if let name = entry?[file]?.stringValue {
        guard let bytes = readFile(resolve(name, in: source)) else {
          throw CredentialsError("\(source.path): cannot read \(what) \(name)")
        }
        return bytes
      }
      return nil
    }

    var credentials = Credentials(
      server: server.hasSuffix("/") ? String(server.dropLast()) : server,
      origin: "kubeconfig \(origin) (context \(contextName))")
    credentials.certificateAuthority = try material(
      cluster, from: clusterEntry.file, data: "certificate-authority-data", file: "certificate-authority",
      what: "certificate authority")
    credentials.insecureSkipTLSVerify = cluster["insecure-skip-tls-verify"]?.boolValue ?? false
    credentials.tlsServerName = cluster["tls-server-name"]?.stringValue

    let userName = context["user"]?.stringValue ?? ""
    let userEntry = userName.isEmpty ? nil : named("users", userName, in: files)
    guard userName.isEmpty || userEntry != nil else {
      throw CredentialsError("\(origin): user \(userName) not found")
    }
    guard let userEntry, let user = userEntry.value?["user"] else { return credentials }
    let userPath = userEntry.file.path
    if user["exec"] != nil {
      throw CredentialsError("\(userPath): user \(userName) uses an exec plugin, which podinject does not support")
    }
    if user["auth-provider"] != nil {
      throw CredentialsError(
        "\(userPath): user \(userName) uses an auth-provider plugin, which podinject does not support")
    }
    if let token = user["token"]?.stringValue, !token.isEmpty {
      credentials.token = .literal(token)
    } else if let file = user["tokenFile"]?.stringValue, !file.isEmpty {
      credentials.token = .file(resolve(file, in: userEntry.file))
    }
    credentials.clientCertificate = try material(
      user, from: userEntry.file, data: "client-certificate-data", file: "client-certificate",
      what: "client certificate")
    credentials.clientKey = try material(
      user, from: userEntry.file, data: "client-key-data", file: "client-key", what: "client key")
    if (credentials.clientCertificate == nil) != (credentials.clientKey == nil) {
      throw CredentialsError("\(userPath): user \(userName) needs both a client certificate and a client key")
    }
    return credentials
  }

  /// The first entry called `name` in the `list` (`clusters`, `contexts`, `users`) of any file, in order.
  private static func named(_ list: String, _ name: String, in files: [File]) -> Entry? {
    for file in files {
      if let value = file.document[list]?.arrayValue?.first(where: { $0["name"]?.stringValue == name }) {
        return Entry(value: value, file: file)
      }
    }
    return nil
  }
}
