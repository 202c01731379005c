import PodInject
import Testing

@testable import KubeClient

/// Finding the API server and how to authenticate to it: `--kubeconfig`, then `$KUBECONFIG`, then
/// in-cluster, else none (SPEC §5); errors are clear and never quote a secret.
struct CredentialsTests {
  /// Secrets that must never appear in an error message.
  static let canaryToken = "canary-token-7f3a9c2e1b"
  static let canaryKey = Array("-----BEGIN EC PRIVATE KEY-----\ncanary-key-4d8e61\n-----END EC PRIVATE KEY-----\n".utf8)
  static let canaryKeyText = "canary-key-4d8e61"

  static let ca = Array("-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n".utf8)
  static let otherCA = Array("-----BEGIN CERTIFICATE-----\nother\n-----END CERTIFICATE-----\n".utf8)
  static let certificate = Array("-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n".utf8)

  static let kubeconfigPath = "/home/me/.kube/config"

  /// The outcome of `resolve` when only `environment` and `files` exist.
  static func resolve(
    option: String? = nil, environment: [String: String] = [:], files: [String: [UInt8]] = [:]
  ) -> Result<Credentials?, CredentialsError> {
    CredentialSource.resolve(kubeconfigOption: option, environment: { environment[$0] }, readFile: { files[$0] })
  }

  /// The credentials `kubeconfig` (stored at `path`, beside `files`) gives.
  static func credentials(
    _ kubeconfig: String, path: String = kubeconfigPath, files: [String: [UInt8]] = [:],
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws -> Credentials {
    var all = files
    all[path] = Array(kubeconfig.utf8)
    return try #require(try resolve(option: path, files: all).get(), sourceLocation: sourceLocation)
  }

  /// The error message `kubeconfig` (stored at `path`, beside `files`) gives.
  static func failure(
    _ kubeconfig: String, path: String = kubeconfigPath, files: [String: [UInt8]] = [:],
    sourceLocation: SourceLocation = #_sourceLocation
  ) -> String {
    var all = files
    all[path] = Array(kubeconfig.utf8)
    return message(resolve(option: path, files: all), sourceLocation: sourceLocation)
  }

  /// The error's message; an issue (and "") when `result` is not an error.
  static func message(
    _ result: Result<Credentials?, CredentialsError>, sourceLocation: SourceLocation = #_sourceLocation
  ) -> String {
    switch result {
    case .success(let credentials):
      Issue.record("expected an error, got \(String(describing: credentials))", sourceLocation: sourceLocation)
      return ""
    case .failure(let error):
      return error.message
    }
  }

  /// A one-context kubeconfig whose cluster and user entries are given as YAML mapping bodies.
  static func kubeconfig(
    cluster: String = "server: https://api.example:6443", user: String = "token: \(canaryToken)"
  ) -> String {
    """
    apiVersion: v1
    kind: Config
    current-context: ctx
    clusters:
    - name: c
      cluster:
    \(indented(cluster))
    contexts:
    - name: ctx
      context:
        cluster: c
        user: u
    users:
    - name: u
      user:
    \(indented(user))
    """
  }

  private static func indented(_ lines: String) -> String {
    lines.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n")
  }

  static let inCluster = [
    "KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "6443",
  ]
  static let serviceAccountFiles = [CredentialSource.serviceAccountDirectory + "/ca.crt": ca]

  // MARK: precedence

  @Test func nothingConfiguredMeansNoAPI() {
    #expect(Self.resolve() == .success(nil))
    #expect(Self.resolve(option: "", environment: ["KUBECONFIG": "", "KUBERNETES_SERVICE_HOST": ""]) == .success(nil))
  }

  @Test func theKubeconfigOptionWinsOverTheVariableAndInCluster() throws {
    var environment = Self.inCluster
    environment["KUBECONFIG"] = "/env/config"
    var files = Self.serviceAccountFiles
    files["/option/config"] = Array(Self.kubeconfig(cluster: "server: https://from-option:6443").utf8)
    files["/env/config"] = Array(Self.kubeconfig(cluster: "server: https://from-env:6443").utf8)
    let credentials = try #require(
      try Self.resolve(option: "/option/config", environment: environment, files: files).get())
    #expect(credentials.server == "https://from-option:6443")
    #expect(credentials.origin == "kubeconfig /option/config (context ctx)")
  }

  @Test func theVariableWinsOverInClusterAndTheFirstFileToSetAValueWins() throws {
    var environment = Self.inCluster
    environment["KUBECONFIG"] = "/first/config:/second/config"
    var files = Self.serviceAccountFiles
    files["/first/config"] = Array(Self.kubeconfig(cluster: "server: https://first:6443").utf8)
    files["/second/config"] = Array(Self.kubeconfig(cluster: "server: https://second:6443").utf8)
    let credentials = try #require(try Self.resolve(environment: environment, files: files).get())
    #expect(credentials.server == "https://first:6443")
    #expect(credentials.origin == "kubeconfig /first/config:/second/config (context ctx)")
  }

  @Test func aKubeconfigListIsMergedTheWayKubectlMergesIt() throws {
    // The context comes from the first file, the cluster and user it names from the second, whose
    // relative paths start from its own directory; a file that does not exist is skipped.
    let first = """
      current-context: work
      contexts:
      - name: work
        context: {cluster: prod, user: deployer}
      """
    let second = """
      current-context: ignored
      clusters:
      - name: prod
        cluster: {server: "https://prod.example:6443", certificate-authority: ca.crt}
      users:
      - name: deployer
        user: {tokenFile: tokens/deployer}
      """
    let files = [
      "/home/me/.kube/first": Array(first.utf8), "/etc/kube/second": Array(second.utf8), "/etc/kube/ca.crt": Self.ca,
    ]
    let environment = ["KUBECONFIG": "/home/me/.kube/first::/nowhere/config:/etc/kube/second"]
    let credentials = try #require(try Self.resolve(environment: environment, files: files).get())
    #expect(credentials.server == "https://prod.example:6443")
    #expect(credentials.certificateAuthority == Self.ca)
    #expect(credentials.token == .file("/etc/kube/tokens/deployer"))
    #expect(credentials.origin.hasSuffix("(context work)"))
    // Not one of them readable: an error naming the list.
    let none = Self.message(Self.resolve(environment: ["KUBECONFIG": "/a/config:/b/config"]))
    #expect(none == "cannot read kubeconfig /a/config:/b/config")
  }

  @Test func anEmptyOptionFallsBackToTheVariable() throws {
    let files = ["/env/config": Array(Self.kubeconfig().utf8)]
    let credentials = try #require(
      try Self.resolve(option: "", environment: ["KUBECONFIG": "/env/config"], files: files).get())
    #expect(credentials.origin == "kubeconfig /env/config (context ctx)")
  }

  @Test func anEmptyVariableFallsBackToInCluster() throws {
    var environment = Self.inCluster
    environment["KUBECONFIG"] = ""
    let credentials = try #require(try Self.resolve(environment: environment, files: Self.serviceAccountFiles).get())
    #expect(credentials.origin.hasPrefix("in-cluster"))
  }

  @Test func anUnreadableKubeconfigIsAnErrorNotAFallback() {
    var environment = Self.inCluster
    environment["KUBECONFIG"] = "/missing/config"
    let message = Self.message(Self.resolve(environment: environment, files: Self.serviceAccountFiles))
    #expect(message == "cannot read kubeconfig /missing/config")
    #expect(Self.message(Self.resolve(option: "/nope")) == "cannot read kubeconfig /nope")
  }

  // MARK: in-cluster

  @Test func inClusterUsesTheServiceAccountDirectory() throws {
    let credentials = try #require(try Self.resolve(environment: Self.inCluster, files: Self.serviceAccountFiles).get())
    var expected = Credentials(
      server: "https://10.96.0.1:6443", origin: "in-cluster (\(CredentialSource.serviceAccountDirectory))")
    expected.certificateAuthority = Self.ca
    expected.token = .file("/var/run/secrets/kubernetes.io/serviceaccount/token")
    #expect(credentials == expected)
  }

  @Test func inClusterDirectoryCanBeOverridden() throws {
    var environment = Self.inCluster
    environment["PODINJECT_SERVICEACCOUNT_DIR"] = "/sa"
    let files = ["/sa/ca.crt": Self.otherCA]
    let credentials = try #require(try Self.resolve(environment: environment, files: files).get())
    #expect(credentials.certificateAuthority == Self.otherCA)
    #expect(credentials.token == .file("/sa/token"))
    #expect(credentials.origin == "in-cluster (/sa)")
  }

  static let inClusterServers: [([String: String], String)] = [
    (["KUBERNETES_SERVICE_HOST": "fd00:10:96::1", "KUBERNETES_SERVICE_PORT": "443"], "https://[fd00:10:96::1]:443"),
    (["KUBERNETES_SERVICE_HOST": "fd00:10:96::1"], "https://[fd00:10:96::1]:443"),
    (["KUBERNETES_SERVICE_HOST": "10.0.0.1"], "https://10.0.0.1:443"),
    (["KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": ""], "https://10.0.0.1:443"),
    (
      ["KUBERNETES_SERVICE_HOST": "kubernetes.default.svc", "KUBERNETES_SERVICE_PORT": "8443"],
      "https://kubernetes.default.svc:8443"
    ),
  ]

  @Test(arguments: inClusterServers)
  func inClusterServerBracketsIPv6AndDefaultsThePort(environment: [String: String], server: String) throws {
    let credentials = try #require(try Self.resolve(environment: environment, files: Self.serviceAccountFiles).get())
    #expect(credentials.server == server)
  }

  @Test func inClusterWithoutACAFileIsAnError() {
    let message = Self.message(Self.resolve(environment: Self.inCluster))
    #expect(message == "in-cluster: cannot read /var/run/secrets/kubernetes.io/serviceaccount/ca.crt")
  }

  // MARK: kubeconfig: which context

  static let threeContexts = """
    apiVersion: v1
    kind: Config
    current-context: CURRENT
    clusters:
    - name: dev-cluster
      cluster:
        server: https://dev.example:6443
    - name: staging-cluster
      cluster:
        server: https://staging.example:6443/
        certificate-authority: certs/staging-ca.crt
        tls-server-name: api.staging.internal
    - name: prod-cluster
      cluster:
        server: https://prod.example
        insecure-skip-tls-verify: true
    contexts:
    - name: dev
      context: {cluster: dev-cluster, user: dev-user}
    - name: staging
      context: {cluster: staging-cluster, user: staging-user, namespace: team-a}
    - name: prod
      context: {cluster: prod-cluster, user: prod-user}
    users:
    - name: dev-user
      user: {token: dev-token}
    - name: staging-user
      user:
        tokenFile: tokens/staging
    - name: prod-user
      user: {client-certificate: /etc/prod/client.crt, client-key: /etc/prod/client.key}
    """

  @Test func theCurrentContextChoosesClusterAndUser() throws {
    let files = [
      "/home/me/.kube/certs/staging-ca.crt": Self.ca, "/etc/prod/client.crt": Self.certificate,
      "/etc/prod/client.key": Self.canaryKey,
    ]
    func select(_ context: String) throws -> Credentials {
      try Self.credentials(Self.threeContexts.replacing("CURRENT", with: context), files: files)
    }

    var dev = Credentials(server: "https://dev.example:6443", origin: "kubeconfig \(Self.kubeconfigPath) (context dev)")
    dev.token = .literal("dev-token")
    #expect(try select("dev") == dev)

    var staging = Credentials(
      server: "https://staging.example:6443", origin: "kubeconfig \(Self.kubeconfigPath) (context staging)")
    staging.certificateAuthority = Self.ca
    staging.tlsServerName = "api.staging.internal"
    staging.token = .file("/home/me/.kube/tokens/staging")
    #expect(try select("staging") == staging)

    var prod = Credentials(server: "https://prod.example", origin: "kubeconfig \(Self.kubeconfigPath) (context prod)")
    prod.insecureSkipTLSVerify = true
    prod.clientCertificate = Self.certificate
    prod.clientKey = Self.canaryKey
    #expect(try select("prod") == prod)
  }

  @Test func noCurrentContextIsAnError() {
    let message = Self.failure(Self.threeContexts.replacing("current-context: CURRENT\n", with: ""))
    #expect(message == "\(Self.kubeconfigPath): no current-context")
  }

  @Test func aMissingContextIsNamed() {
    let message = Self.failure(Self.threeContexts.replacing("CURRENT", with: "qa"))
    #expect(message == "\(Self.kubeconfigPath): context qa not found")
  }

  @Test func aMissingClusterIsNamed() {
    let kubeconfig = Self.threeContexts.replacing("CURRENT", with: "dev")
      .replacing("cluster: dev-cluster,", with: "cluster: gone-cluster,")
    #expect(Self.failure(kubeconfig) == "\(Self.kubeconfigPath): cluster gone-cluster not found")
  }

  @Test func aMissingUserIsNamed() {
    let kubeconfig = Self.threeContexts.replacing("CURRENT", with: "dev")
      .replacing("user: dev-user}", with: "user: gone-user}")
    let message = Self.failure(kubeconfig)
    #expect(message.contains("gone-user"))
    #expect(message.contains("not found"))
  }

  @Test(arguments: ["http://api.example:8080", "api.example:6443", ""])
  func aServerThatIsNotHTTPSIsAnError(server: String) {
    let message = Self.failure(Self.kubeconfig(cluster: "server: \"\(server)\""))
    #expect(message == "\(Self.kubeconfigPath): cluster c needs an https:// server")
  }

  @Test func aKubeconfigThatIsNotYAMLIsAnError() {
    let message = Self.failure("clusters: [\n")
    #expect(message.hasPrefix("\(Self.kubeconfigPath): "))
    #expect(message.contains("line 2"), "\(message)")
    #expect(Self.failure("") == "\(Self.kubeconfigPath): empty")
  }

  // MARK: kubeconfig: the cluster

  @Test func aRelativeCertificateAuthorityIsReadBesideTheKubeconfig() throws {
    let cluster = "server: https://api.example:6443\ncertificate-authority: pki/ca.crt"
    let nested = try Self.credentials(
      Self.kubeconfig(cluster: cluster), path: "/srv/kube/config", files: ["/srv/kube/pki/ca.crt": Self.ca])
    #expect(nested.certificateAuthority == Self.ca)
    let bare = try Self.credentials(Self.kubeconfig(cluster: cluster), path: "config", files: ["./pki/ca.crt": Self.ca])
    #expect(bare.certificateAuthority == Self.ca)
    let atRoot = try Self.credentials(
      Self.kubeconfig(cluster: cluster), path: "/config", files: ["/pki/ca.crt": Self.ca])
    #expect(atRoot.certificateAuthority == Self.ca)
  }

  @Test func anAbsoluteCertificateAuthorityIsReadAsIs() throws {
    let cluster = "server: https://api.example:6443\ncertificate-authority: /etc/pki/ca.crt"
    let credentials = try Self.credentials(Self.kubeconfig(cluster: cluster), files: ["/etc/pki/ca.crt": Self.ca])
    #expect(credentials.certificateAuthority == Self.ca)
  }

  @Test func certificateAuthorityDataIsBase64AndWinsOverTheFile() throws {
    let onlyData = "server: https://api.example:6443\ncertificate-authority-data: \(Base64.encode(Self.ca))"
    #expect(try Self.credentials(Self.kubeconfig(cluster: onlyData)).certificateAuthority == Self.ca)
    let both = onlyData + "\ncertificate-authority: ca.crt"
    let credentials = try Self.credentials(
      Self.kubeconfig(cluster: both), files: ["/home/me/.kube/ca.crt": Self.otherCA])
    #expect(credentials.certificateAuthority == Self.ca)
  }

  @Test func wrappedCertificateAuthorityDataIsAccepted() throws {
    // `base64` wraps at 76 columns; kubectl (Go's base64) skips the line breaks.
    let encoded = Base64.encode(Self.ca + Self.ca)
    var wrapped = ""
    for (offset, character) in encoded.enumerated() {
      if offset > 0 && offset % 76 == 0 { wrapped += "\n  " }
      wrapped.append(character)
    }
    let cluster = "server: https://api.example:6443\ncertificate-authority-data: |\n  \(wrapped)"
    let credentials = try Self.credentials(Self.kubeconfig(cluster: cluster))
    #expect(credentials.certificateAuthority == Self.ca + Self.ca)
  }

  @Test func noCertificateAuthorityMeansTheSystemStore() throws {
    #expect(try Self.credentials(Self.kubeconfig()).certificateAuthority == nil)
  }

  @Test func anUnreadableCertificateAuthorityIsNamed() {
    let cluster = "server: https://api.example:6443\ncertificate-authority: missing-ca.crt"
    #expect(
      Self.failure(Self.kubeconfig(cluster: cluster))
        == "\(Self.kubeconfigPath): cannot read certificate authority missing-ca.crt")
  }

  @Test func certificateAuthorityDataThatIsNotBase64IsAnError() {
    let cluster = "server: https://api.example:6443\ncertificate-authority-data: \"not*base64\""
    #expect(
      Self.failure(Self.kubeconfig(cluster: cluster))
        == "\(Self.kubeconfigPath): certificate-authority-data is not base64")
  }

  @Test func insecureSkipTLSVerifyAndTLSServerNameAreRead() throws {
    let plain = try Self.credentials(Self.kubeconfig())
    #expect(plain.insecureSkipTLSVerify == false)
    #expect(plain.tlsServerName == nil)
    let cluster = "server: https://10.0.0.5:6443\ninsecure-skip-tls-verify: true\ntls-server-name: api.internal"
    let credentials = try Self.credentials(Self.kubeconfig(cluster: cluster))
    #expect(credentials.insecureSkipTLSVerify)
    #expect(credentials.tlsServerName == "api.internal")
    #expect(credentials.server == "https://10.0.0.5:6443")
  }

  // MARK: kubeconfig: the user

  @Test func aTokenIsUsedAsGiven() throws {
    #expect(try Self.credentials(Self.kubeconfig()).token == .literal(Self.canaryToken))
  }

  @Test func aTokenFileIsReadAtEachRequestAndResolvedBesideTheKubeconfig() throws {
    // Not in `files`: the token file is read when a request is sent, not when credentials are resolved.
    let relative = try Self.credentials(Self.kubeconfig(user: "tokenFile: secrets/token"))
    #expect(relative.token == .file("/home/me/.kube/secrets/token"))
    let absolute = try Self.credentials(Self.kubeconfig(user: "tokenFile: /run/token"))
    #expect(absolute.token == .file("/run/token"))
  }

  @Test func aTokenWinsOverATokenFileAndEmptyOnesAreIgnored() throws {
    let both = try Self.credentials(Self.kubeconfig(user: "token: \(Self.canaryToken)\ntokenFile: /run/token"))
    #expect(both.token == .literal(Self.canaryToken))
    let emptyToken = try Self.credentials(Self.kubeconfig(user: "token: \"\"\ntokenFile: /run/token"))
    #expect(emptyToken.token == .file("/run/token"))
    let neither = try Self.credentials(Self.kubeconfig(user: "token: \"\"\ntokenFile: \"\""))
    #expect(neither.token == nil)
  }

  @Test func aClientCertificateAndKeyAreReadAsData() throws {
    let user =
      "client-certificate-data: \(Base64.encode(Self.certificate))\nclient-key-data: \(Base64.encode(Self.canaryKey))"
    let credentials = try Self.credentials(Self.kubeconfig(user: user))
    #expect(credentials.clientCertificate == Self.certificate)
    #expect(credentials.clientKey == Self.canaryKey)
    #expect(credentials.token == nil)
  }

  @Test func aClientCertificateAndKeyAreReadFromFiles() throws {
    let user = "client-certificate: pki/client.crt\nclient-key: /etc/keys/client.key"
    let files = ["/home/me/.kube/pki/client.crt": Self.certificate, "/etc/keys/client.key": Self.canaryKey]
    let credentials = try Self.credentials(Self.kubeconfig(user: user), files: files)
    #expect(credentials.clientCertificate == Self.certificate)
    #expect(credentials.clientKey == Self.canaryKey)
  }

  @Test(arguments: [
    "client-certificate-data: \(Base64.encode(certificate))",
    "client-key-data: \(Base64.encode(canaryKey))",
    "client-key: /etc/keys/client.key",
  ])
  func onlyOneOfCertificateAndKeyIsAnError(user: String) {
    let message = Self.failure(Self.kubeconfig(user: user), files: ["/etc/keys/client.key": Self.canaryKey])
    #expect(message == "\(Self.kubeconfigPath): user u needs both a client certificate and a client key")
  }

  @Test func anUnreadableClientKeyIsNamed() {
    let user = "client-certificate-data: \(Base64.encode(Self.certificate))\nclient-key: keys/missing.key"
    #expect(
      Self.failure(Self.kubeconfig(user: user)) == "\(Self.kubeconfigPath): cannot read client key keys/missing.key")
  }

  @Test(arguments: [
    ("exec", "exec:\n  apiVersion: client.authentication.k8s.io/v1\n  command: aws\n  args: [eks, get-token]"),
    ("auth-provider", "auth-provider:\n  name: oidc\n  config: {id-token: x}"),
  ])
  func pluginsAreReportedAsUnsupported(plugin: String, user: String) {
    let message = Self.failure(Self.kubeconfig(user: user + "\ntoken: \(Self.canaryToken)"))
    #expect(message.contains("user u"), "\(message)")
    #expect(message.contains(plugin), "\(message)")
    #expect(message.contains("does not support"), "\(message)")
  }

  // MARK: no secret in any error

  /// Kubeconfigs that fail, each holding the canary token and key.
  static let failingWithSecrets: [(String, String)] = {
    let key = "client-key-data: \(Base64.encode(canaryKey))"
    let secrets = "token: \(canaryToken)\n\(key)"
    let server = "server: https://api.example:6443"
    return [
      ("key without certificate", kubeconfig(user: secrets)),
      ("exec", kubeconfig(user: secrets + "\nexec: {command: aws}")),
      ("auth-provider", kubeconfig(user: secrets + "\nauth-provider: {name: gcp}")),
      ("http server", kubeconfig(cluster: "server: http://api.example", user: secrets)),
      ("unreadable CA", kubeconfig(cluster: server + "\ncertificate-authority: ca.crt", user: secrets)),
      ("CA not base64", kubeconfig(cluster: server + "\ncertificate-authority-data: \"*\"", user: secrets)),
      ("certificate not base64", kubeconfig(user: "client-certificate-data: \"\(canaryToken)*\"\n\(key)")),
      ("key not base64", kubeconfig(user: "client-key-data: \"\(canaryKeyText)*\"")),
      ("unreadable certificate", kubeconfig(user: secrets + "\nclient-certificate: client.crt")),
      ("missing context", kubeconfig(user: secrets).replacing("current-context: ctx", with: "current-context: x")),
      ("missing cluster", kubeconfig(user: secrets).replacing("cluster: c\n", with: "cluster: x\n")),
      ("YAML error after the token", kubeconfig(user: secrets + "\nextra: [unclosed")),
      ("YAML error on the token line", kubeconfig(user: "token: \(canaryToken) {\n  : x")),
    ]
  }()

  @Test(arguments: failingWithSecrets)
  func noErrorQuotesATokenOrAKey(_ what: String, kubeconfig: String) {
    let message = Self.failure(kubeconfig)
    #expect(!message.isEmpty, "\(what)")
    for secret in [Self.canaryToken, Self.canaryKeyText, Base64.encode(Self.canaryKey)] {
      #expect(!message.contains(secret), "\(what): \(message)")
    }
  }

  @Test func aTypedScalarErrorDoesNotQuoteTheToken() {
    let message = Self.failure(Self.kubeconfig(user: "token: !!int \(Self.canaryToken)"))
    #expect(!message.isEmpty)
    #expect(!message.contains(Self.canaryToken), "\(message)")
  }
}
