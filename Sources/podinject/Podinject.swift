import PodInject

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// The `podinject` command line: the webhook itself plus offline tools for operators.
@main
enum Podinject {
  /// Every command; `review` is the default.
  nonisolated(unsafe) static let commands: [any Command.Type] = [
    ReviewCommand.self, ApplyCommand.self, ExplainCommand.self, CheckConfigCommand.self, EventsFlushCommand.self,
    VersionCommand.self,
  ]

  static func main() {
    let arguments = CommandLine.arguments.dropFirst()
    var command: any Command.Type = ReviewCommand.self
    var rest = arguments
    if let first = arguments.first {
      if first == "-h" || first == "--help" || first == "help" {
        IO.write(1, overview)
        exit(0)
      }
      if first == "--version" {
        IO.write(1, "podinject \(PodInjectVersion.current)\n")
        exit(0)
      }
      if first == "events" {
        guard arguments.dropFirst().first == "flush" else { fail("events needs a subcommand: flush") }
        command = EventsFlushCommand.self
        rest = arguments.dropFirst(2)
      } else if let chosen = commands.first(where: { $0.name == first }) {
        command = chosen
        rest = rest.dropFirst()
      }
    }
    if rest.contains("-h") || rest.contains("--help") {
      IO.write(1, usage(command))
      exit(0)
    }
    do {
      exit(command.run(try parse(rest, options: command.options)))
    } catch {
      fail(error.message + "\n\n" + usage(command))
    }
  }

  /// Prints a usage error and exits with status 1.
  static func fail(_ message: String) -> Never {
    IO.write(2, "podinject: error: \(message)\n")
    exit(1)
  }

  static var overview: String {
    var lines = [
      "podinject: a mutating admission webhook for Pods that never fails silently.", "",
      "USAGE: podinject [<command>] [options]", "", "COMMANDS:",
    ]
    for command in commands {
      let name = command == ReviewCommand.self ? "review (default)" : command.name
      lines.append("  " + name.padding(to: 18) + command.abstract)
    }
    lines.append("")
    lines.append("See 'podinject <command> --help' for a command's options.")
    return lines.joined(separator: "\n") + "\n"
  }
}

/// Exit statuses shared by every command (SPEC §1).
enum Exit {
  static let success: Int32 = 0
  /// A usage or configuration error in an offline command.
  static let configuration: Int32 = 1
  /// Unusable input: nothing to answer.
  static let badInput: Int32 = 2
}

/// `podinject version`.
enum VersionCommand: Command {
  static let name = "version"
  static let abstract = "Print the version."
  static let options: [OptionSpec] = []
  static func run(_ arguments: ParsedArguments) -> Int32 {
    IO.write(1, "podinject \(PodInjectVersion.current)\n")
    return Exit.success
  }
}
