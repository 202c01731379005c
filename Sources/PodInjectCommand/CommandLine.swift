/// A small command-line layer in the style of swift-argument-parser, without its start-up cost: the
/// webhook runs once per admission, and swift-argument-parser's reflection alone cost more than the
/// rest of an admission (measured with callgrind: 73% of all instructions).
protocol Command {
  /// The subcommand word, e.g. `check-config`.
  static var name: String { get }
  /// One line for `--help`.
  static var abstract: String { get }
  /// The options this command accepts.
  static var options: [OptionSpec] { get }
  /// Runs the command and returns the exit status.
  static func run(_ arguments: ParsedArguments) -> Int32
}

/// One option: its spellings, whether it takes a value, and its help text.
struct OptionSpec {
  var names: [String]
  var valueName: String?
  var help: String

  /// The canonical key: the long name without dashes.
  var key: String { names.last!.drop { $0 == "-" }.description }

  static func value(_ names: String..., valueName: String, help: String) -> OptionSpec {
    OptionSpec(names: names, valueName: valueName, help: help)
  }

  static func flag(_ names: String..., help: String) -> OptionSpec {
    OptionSpec(names: names, valueName: nil, help: help)
  }

  static let config = value(
    "--config", valueName: "PATH",
    help: "configuration file (default: $PODINJECT_CONFIG, else /etc/podinject/config.yaml)")
  static let kubeconfig = value(
    "--kubeconfig", valueName: "PATH", help: "kubeconfig for sending Events (default: $KUBECONFIG, else in-cluster)")
}

/// The options given to one command. Plain arrays: a handful of options, and no Dictionary or Set
/// whose first use would cost the webhook a runtime protocol-conformance lookup at every start.
struct ParsedArguments {
  var values: [(key: String, value: String)] = []
  var flags: [String] = []

  /// The last value given for `key`.
  subscript(key: String) -> String? { values.last { $0.key == key }?.value }
  func has(_ flag: String) -> Bool { flags.contains(flag) }
}

/// A usage mistake, reported as `podinject: error: ...` with exit status 1.
struct UsageError: Error {
  var message: String
}

/// Parses `arguments` for a command that accepts `options`.
func parse(_ arguments: ArraySlice<String>, options: [OptionSpec]) throws(UsageError) -> ParsedArguments {
  var parsed = ParsedArguments()
  var index = arguments.startIndex
  while index < arguments.endIndex {
    let word = arguments[index]
    index += 1
    var name = word
    var inlineValue: String?
    if word.hasPrefix("--"), let equals = word.firstIndex(of: "=") {
      name = String(word[..<equals])
      inlineValue = String(word[word.index(after: equals)...])
    }
    guard let option = options.first(where: { $0.names.contains(name) }) else {
      throw UsageError(message: word.hasPrefix("-") ? "unknown option \(word)" : "unexpected argument \(word)")
    }
    guard option.valueName != nil else {
      parsed.flags.append(option.key)
      continue
    }
    if let inlineValue {
      parsed.values.append((option.key, inlineValue))
    } else if index < arguments.endIndex {
      parsed.values.append((option.key, arguments[index]))
      index += 1
    } else {
      throw UsageError(message: "\(name) needs a value")
    }
  }
  return parsed
}

/// The help text of one command.
func usage(_ command: any Command.Type) -> String {
  var lines = ["\(command.abstract)", "", "USAGE: podinject \(command.name) [options]", "", "OPTIONS:"]
  for option in command.options {
    let spelling = option.names.joined(separator: ", ") + (option.valueName.map { " \($0)" } ?? "")
    lines.append("  " + spelling.padding(to: 28) + option.help)
  }
  lines.append("  " + "-h, --help".padding(to: 28) + "show this help")
  return lines.joined(separator: "\n") + "\n"
}

extension String {
  /// The text padded with spaces to `width` (or followed by one space when longer).
  func padding(to width: Int) -> String {
    count < width ? self + String(repeating: " ", count: width - count) : self + " "
  }
}
