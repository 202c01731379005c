import PodInject

/// A detached `podinject events flush --detached`, started after a CGI or function-runtime answer so
/// that the host gets the whole answer at once: with the outbox lock (as its fd 3), to drain the
/// outbox; with held Events (on its stdin), to deliver those the outbox could not take.
public enum DetachedDeliverer {
  /// The names of the variables a deliverer is started with, besides those that start with `PODINJECT_`.
  /// A CGI host passes its whole environment and the request's headers as `HTTP_*` (a `Proxy:` header
  /// becomes `HTTP_PROXY`: "httpoxy"), so the deliverer's environment is built here, not inherited.
  public static let variables: Set<String> = [
    "PATH", "HOSTNAME", "POD_NAME", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "KUBECONFIG",
    "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy",
  ]

  /// The `NAME=value` entries of `entries` that a deliverer needs.
  public static func environment(_ entries: [String]) -> [String] {
    entries.filter { entry in
      guard let equals = entry.firstIndex(of: "=") else { return false }
      let name = entry[..<equals]
      return name.hasPrefix("PODINJECT_") || variables.contains(String(name))
    }
  }

  /// The spawn that starts a deliverer for `configPath` and `kubeconfig`, with `lock` and `held`.
  public static func request(
    configPath: String, kubeconfig: String?, lock: OutboxLock?, held: [HeldEntry], environment: [String]
  ) -> SpawnRequest {
    var arguments = ["podinject", "events", "flush", "--detached", "--config", configPath]
    if let kubeconfig, !kubeconfig.isEmpty { arguments += ["--kubeconfig", kubeconfig] }
    if !held.isEmpty { arguments.append("--stdin") }
    return SpawnRequest(
      arguments: arguments, environment: Self.environment(environment),
      input: held.isEmpty ? nil : HeldEntry.serialize(held), passedDescriptor: lock?.descriptor)
  }

  /// Starts a deliverer and returns a note for the log line.
  public static func start(
    configPath: String, kubeconfig: String?, lock: OutboxLock?, held: [HeldEntry], host: any Host
  ) -> String {
    let request = request(
      configPath: configPath, kubeconfig: kubeconfig, lock: lock, held: held, environment: host.environmentEntries())
    switch host.spawnDetached(request) {
    case .noPipe(let reason):
      return "\(held.count) Event(s) lost: no pipe to a deliverer: \(reason)"
    case .failed(let reason):
      return "Events wait in the outbox: cannot start a deliverer: \(reason)"
    case .started(let pid):
      return held.isEmpty
        ? "Events handed to a detached deliverer (pid \(pid))"
        : "Events handed to a detached deliverer (pid \(pid)), \(held.count) of them from memory"
    }
  }
}
