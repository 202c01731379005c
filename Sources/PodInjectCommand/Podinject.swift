import PodInject

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// The process entry. Nonisolated and apart from `Podinject`: closures written inside an `@main` type
/// are checked for the main actor at run time, and those checks link Swift Concurrency and libdispatch,
/// whose start-up code (threads, CPU counts) every admission would then run.
@main
enum Entry {
  nonisolated static func main() { Podinject.main() }
}

/// The `podinject` command line: the webhook itself plus offline tools for operators.
enum Podinject {
  /// Every command; `review` is the default.
  nonisolated(unsafe) static let commands: [any Command.Type] = [
    ReviewCommand.self, ApplyCommand.self, ExplainCommand.self, CheckConfigCommand.self, EventsFlushCommand.self,
    MetricsCommand.self, VersionCommand.self,
  ]

  static func main() {
    // A CGI program has no arguments: then the runtime's [String] of argv is never built.
    let arguments = CommandLine.argc > 1 ? CommandLine.arguments.dropFirst() : []
    var command: any Command.Type = ReviewCommand.self
    var rest = arguments
    // A CGI program is started without arguments: the host names the command (`GET /metrics`).
    if arguments.isEmpty, SystemHost().environment("PODINJECT_CGI_COMMAND") == MetricsCommand.name {
      command = MetricsCommand.self
    }
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
        switch arguments.dropFirst().first {
        case "flush"?: break
        case "-h"?, "--help"?, "help"?:
          IO.write(1, eventsOverview)
          exit(0)
        case let other?:
          fail("unknown events command \"\(other)\" (the one events command is flush; see 'podinject events --help')")
        case nil:
          fail("events needs a subcommand: flush (see 'podinject events --help')")
        }
        command = EventsFlushCommand.self
        rest = arguments.dropFirst(2)
      } else if let chosen = commands.first(where: { $0.name == first }) {
        command = chosen
        rest = rest.dropFirst()
      } else if !first.hasPrefix("-") {
        // The default command takes no arguments, so a word here is a mistyped or unknown command:
        // said so, rather than as an unexpected argument of `review`.
        let hint = suggestion(for: first).map { "did you mean \"\($0)\"? " } ?? ""
        fail("unknown command \"\(first)\" (\(hint)see 'podinject --help' for the commands)")
      }
    }
    if rest.contains("-h") || rest.contains("--help") {
      IO.write(1, usage(command))
      exit(0)
    }
    do {
      // Without arguments (every CGI admission) the option table is not built: its array type would be
      // instantiated for nothing (about 0.5% of an admission's instructions).
      exit(command.run(rest.isEmpty ? ParsedArguments() : try parse(rest, options: command.options)))
    } catch {
      fail(error.message + "\n\n" + usage(command))
    }
  }

  /// Prints a usage error and exits with status 1.
  static func fail(_ message: String) -> Never {
    IO.write(2, "podinject: error: \(message)\n")
    exit(1)
  }

  /// The command a mistyped word most likely meant: one at most two edits away (`aply`), or the
  /// group of a subcommand given alone (`flush`).
  static func suggestion(for word: String) -> String? {
    let names = commands.map { $0.name }
    if let full = names.first(where: { $0.hasSuffix(" " + word) }) { return full }
    return names.filter { !$0.containsText(" ") }.first { editDistance($0, word) <= 2 }
  }

  /// Levenshtein distance, for a handful of short words.
  static func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.utf8)
    let b = Array(b.utf8)
    var previous = Array(0...b.count)
    for (i, x) in a.enumerated() {
      var current = [i + 1]
      for (j, y) in b.enumerated() {
        current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
      }
      previous = current
    }
    return previous[b.count]
  }

  /// `podinject events --help`: the group and its one subcommand.
  static var eventsOverview: String {
    [
      "Deliver the Events podinject keeps in its outbox.", "",
      "USAGE: podinject events <subcommand> [options]", "", "SUBCOMMANDS:",
      "  " + "flush".padding(to: 18) + EventsFlushCommand.abstract, "",
      "See 'podinject events flush --help' for its options.",
    ].joined(separator: "\n") + "\n"
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

/// `podinject version`.
enum VersionCommand: Command {
  static let name = "version"
  static let abstract = "Print the version."
  static let options: [OptionSpec] = []
  static func run(_ arguments: ParsedArguments) -> Int32 {
    IO.write(1, "podinject \(PodInjectVersion.current)\n")
    return ExitStatus.success
  }
}
