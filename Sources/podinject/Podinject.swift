import ArgumentParser
import PodInject

/// The `podinject` command line: the webhook itself plus offline tools for operators.
@main
struct Podinject: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "podinject",
    abstract: "A mutating admission webhook for Pods that never fails silently.",
    version: PodInjectVersion.current,
    subcommands: [ReviewCommand.self, Apply.self, Explain.self, CheckConfig.self, Events.self, Version.self],
    defaultSubcommand: ReviewCommand.self)
}

/// Exit codes shared by every command (SPEC §1).
enum Exit {
  /// A usage or configuration error in an offline command.
  static let configuration = ExitCode(1)
  /// Unusable input: nothing to answer.
  static let badInput = ExitCode(2)
}

/// Options every command that reads the configuration takes.
struct ConfigOption: ParsableArguments {
  @Option(name: .long, help: "Configuration file (default: $PODINJECT_CONFIG, else /etc/podinject/config.yaml).")
  var config: String?
}

extension Podinject {
  /// `podinject version`.
  struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")
    func run() { print("podinject \(PodInjectVersion.current)") }
  }
}
