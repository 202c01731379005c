import CLibFuzzer

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// What the running target does with one input; set once, before libFuzzer starts calling.
nonisolated(unsafe) private var currentTarget: (([UInt8]) -> Void)?

private func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  currentTarget!(Array(UnsafeBufferPointer(start: data, count: size)))
  return 0
}

/// Hands the process to libFuzzer, which calls `body` with each input and reads its own flags from
/// the command line (`-runs=`, `-max_total_time=`, corpus directories...).
///
/// A target calls this from `main.swift`: SwiftPM names every executable's entry point after its
/// module and links `main` to it, so libFuzzer's own `main` is never used.
public func runFuzzer(_ body: @escaping ([UInt8]) -> Void) -> Never {
  // Swift's backtracer, started on a crash, waits for ever on a process that AddressSanitizer and
  // libFuzzer also handle signals in; their reports are the ones wanted here.
  if getenv("SWIFT_BACKTRACE") == nil {
    setenv("SWIFT_BACKTRACE", "enable=no", 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)
    fatal("cannot restart with SWIFT_BACKTRACE=enable=no")
  }
  // A broken fixture should stop the run before the first input, not look like a finding.
  _ = (Fixtures.configs, Fixtures.review, Fixtures.templateRoots)
  currentTarget = body
  var argc = CommandLine.argc
  var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
  exit(LLVMFuzzerRunDriver(&argc, &argv, testOneInput))
}

/// Stops the run with `message` when an invariant does not hold: libFuzzer sees a crash and saves
/// the input (`crash-<sha1>`), which is what a logic bug must cost.
public func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
  guard !condition() else { return }
  fatal("invariant failed: \(message())")
}

/// Writes `message` to stderr and aborts.
public func fatal(_ message: String) -> Never {
  let line = Array((message + "\n").utf8)
  _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
  abort()
}
