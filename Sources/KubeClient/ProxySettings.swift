/// The proxy HTTPS requests to the API server go through, read from the environment as client-go reads
/// it (Go's `httpproxy.FromEnvironment`): `HTTPS_PROXY`, else `https_proxy`, for https URLs; `NO_PROXY`,
/// else `no_proxy`, for the hosts reached directly. Nothing else: `HTTP_PROXY` is for http URLs, which
/// podinject never uses (and in CGI mode it may come from a client's `Proxy:` header, "httpoxy"), and
/// client-go ignores `ALL_PROXY`. libcurl is told these explicitly, so it reads no variable itself.
public struct ProxySettings: Sendable, Equatable {
  /// The proxy URL (libcurl and Go both read a bare `host:port` as `http://host:port`); nil: direct.
  public var proxy: String?
  /// The hosts, domains and CIDRs reached directly; nil: none.
  public var noProxy: String?

  public init(proxy: String? = nil, noProxy: String? = nil) {
    self.proxy = proxy
    self.noProxy = noProxy
  }

  /// The settings `environment` holds.
  public init(environment: (String) -> String?) {
    func first(_ names: String...) -> String? {
      for name in names { if let value = environment(name), !value.isEmpty { return value } }
      return nil
    }
    self.init(proxy: first("HTTPS_PROXY", "https_proxy"), noProxy: first("NO_PROXY", "no_proxy"))
  }
}
