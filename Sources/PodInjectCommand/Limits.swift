import PodInject

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// The bounds a review puts on itself, so that no input keeps it past the host's 10 s timeout (the
/// API server's) or lets it take the container's memory: CPU time, wall time and address space.
///
/// A limit that is hit stops the process with a signal; so does a crash. Either way the process
/// writes, from the signal handler, an answer prepared beforehand (`LastWords`), so that the stop is
/// visible, and exits: before the review is read, a 500 (CGI) or a one-line reason (exit 2); after,
/// an AdmissionReview that applies no rule, with a warning (or a denial, under `defaults.onError:
/// Deny`) and audit annotations, and the log line. Only the soft limits are lowered, and they are
/// put back once the answer is written, so that Event delivery (and the deliverer it starts) runs
/// with the limits it had.
enum Limits {
  /// CPU seconds (`RLIMIT_CPU`, then SIGXCPU); an admission takes milliseconds, any input up to the
  /// body limit well under one second.
  static let cpuSeconds = 4
  /// Wall-clock seconds (`alarm`, then SIGALRM): the API server gives up after 10.
  static let wallSeconds = 8
  /// Address space (`RLIMIT_AS`): twice the 64 MiB an admission may take, far below what the
  /// container is allowed, so that one admission can never make the kernel kill its neighbours.
  static let addressSpaceBytes = 128 * 1024 * 1024

  /// The soft limits found at start, put back by `disarm`.
  nonisolated(unsafe) private static var saved: (cpu: rlimit?, addressSpace: rlimit?) = (nil, nil)

  /// Lowers the limits and installs the handler that writes `words` when one of them (or a crash)
  /// stops the process.
  static func arm(_ words: LastWords) {
    install(words)
    var action = sigaction()
    action.__sigaction_handler.sa_handler = lastWordsHandler
    sigemptyset(&action.sa_mask)
    // One shot: a second fault inside the handler ends the process the default way.
    action.sa_flags = Int32(bitPattern: SA_RESETHAND) | SA_ONSTACK
    // A stack of its own, so that the handler also runs when the main stack is what ran out.
    var stack = stack_t()
    let size = 64 * 1024
    stack.ss_sp = malloc(size)
    stack.ss_size = size
    if stack.ss_sp != nil { sigaltstack(&stack, nil) }
    for signal in [SIGXCPU, SIGALRM, SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE] {
      sigaction(signal, &action, nil)
    }
    saved.cpu = lower(resource(RLIMIT_CPU), to: rlim_t(cpuSeconds))
    saved.addressSpace = lower(resource(RLIMIT_AS), to: rlim_t(addressSpaceBytes))
    alarm(UInt32(wallSeconds))
  }

  /// Replaces what the handler writes (once the review is read, and once the policy is known).
  static func update(_ words: LastWords) {
    install(words)
  }

  /// The answer is being written: nothing more is said by the handler, and the limits are as before.
  static func disarm() {
    clear()
    alarm(0)
    if var cpu = saved.cpu { setrlimit(resource(RLIMIT_CPU), &cpu) }
    if var addressSpace = saved.addressSpace { setrlimit(resource(RLIMIT_AS), &addressSpace) }
    saved = (nil, nil)
  }

  /// The block the handler reads, nil when there is nothing to say: the last words in one raw block
  /// that a signal handler can read without the Swift runtime:
  /// `[status: Int32][stdout count: Int][stderr count: Int][stdout bytes][stderr bytes]`.
  nonisolated(unsafe) fileprivate static var block: UnsafeMutableRawPointer? = nil

  fileprivate static let headerSize = 24

  private static func install(_ words: LastWords) {
    let size = headerSize + words.stdout.count + words.stderr.count
    guard let new = malloc(size) else { return }
    new.storeBytes(of: words.status, as: Int32.self)
    new.storeBytes(of: words.stdout.count, toByteOffset: 8, as: Int.self)
    new.storeBytes(of: words.stderr.count, toByteOffset: 16, as: Int.self)
    words.stdout.withUnsafeBytes { (new + headerSize).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    words.stderr.withUnsafeBytes {
      (new + headerSize + words.stdout.count).copyMemory(from: $0.baseAddress!, byteCount: $0.count)
    }
    // One store: a signal sees the old block or the new one, never half of either.
    let old = block
    block = new
    free(old)
  }

  private static func clear() {
    let old = block
    block = nil
    free(old)
  }

  private static func resource(_ value: __rlimit_resource) -> __rlimit_resource_t {
    __rlimit_resource_t(value.rawValue)
  }

  /// Sets the soft limit of `resource` to `value` (never above the hard limit); returns the old one.
  private static func lower(_ resource: __rlimit_resource_t, to value: rlim_t) -> rlimit? {
    var current = rlimit()
    guard getrlimit(resource, &current) == 0 else { return nil }
    var lowered = current
    lowered.rlim_cur = min(value, current.rlim_max)
    if lowered.rlim_cur < current.rlim_cur { setrlimit(resource, &lowered) }
    return current
  }
}

/// Writes the prepared last words with the reason for `signal`, and exits. Only async-signal-safe
/// calls: `write` and `_exit` on bytes prepared beforehand.
private let lastWordsHandler: @convention(c) (Int32) -> Void = { signal in
  guard let block = Limits.block else { return }
  Limits.block = nil
  let reason: StaticString
  switch signal {
  case SIGXCPU: reason = "stopped over its CPU time limit (4 s)"
  case SIGALRM: reason = "stopped over its time limit (8 s)"
  default: reason = "stopped by a crash (or over its memory limit, 128 MiB)"
  }
  let status = block.load(as: Int32.self)
  let outCount = block.load(fromByteOffset: 8, as: Int.self)
  let errCount = block.load(fromByteOffset: 16, as: Int.self)
  let bytes = block.assumingMemoryBound(to: UInt8.self) + Limits.headerSize
  writeWithReason(1, bytes, outCount, reason)
  writeWithReason(2, bytes + outCount, errCount, reason)
  _exit(status)
}

/// Writes `count` bytes to `fd`, the reason in place of each mark.
private func writeWithReason(_ fd: Int32, _ bytes: UnsafeMutablePointer<UInt8>, _ count: Int, _ reason: StaticString) {
  var start = 0
  var index = 0
  while index <= count {
    if index == count || bytes[index] == LastWords.reasonMark {
      writeAll(fd, bytes + start, index - start)
      if index < count { writeAll(fd, UnsafeMutablePointer(mutating: reason.utf8Start), reason.utf8CodeUnitCount) }
      start = index + 1
    }
    index += 1
  }
}

private func writeAll(_ fd: Int32, _ bytes: UnsafeMutablePointer<UInt8>, _ count: Int) {
  var written = 0
  while written < count {
    let n = write(fd, bytes + written, count - written)
    if n < 0 && errno == EINTR { continue }
    guard n > 0 else { return }
    written += n
  }
}
