import CSpawn

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// The real `Host`: the system clocks, `environ`, the file system and `posix_spawn`.
public struct SystemHost: Host {
  public init() {}

  public func now() -> Timestamp {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Timestamp(secondsSinceEpoch: Int64(spec.tv_sec), microseconds: Int(spec.tv_nsec / 1000))
  }

  public func monotonicMilliseconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) * 1000 + Double(spec.tv_nsec) / 1_000_000
  }

  public func pause(milliseconds: Int) {
    if milliseconds > 0 { usleep(useconds_t(milliseconds) * 1000) }
  }

  /// Through `withCString` and `String(decoding:)`: the implicit conversion copied a short name into an
  /// array on the heap, and `String(cString:)` runs code of the standard library that nothing else in an
  /// admission does (three pages of code, a page fault each, in a process that lives for one admission).
  public func environment(_ name: String) -> String? {
    guard let value = name.withCString({ getenv($0) }) else { return nil }
    return String(decoding: UnsafeRawBufferPointer(start: value, count: strlen(value)), as: UTF8.self)
  }

  public func environmentEntries() -> [String] {
    var entries: [String] = []
    var entry = environ
    while let pointer = entry.pointee {
      entries.append(String(cString: pointer))
      entry += 1
    }
    return entries
  }

  public func hostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count - 1) == 0 else { return "podinject" }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  public var effectiveUserID: UInt32 { geteuid() }

  public var processID: Int32 { getpid() }

  public func read(_ path: String) throws(FileError) -> [UInt8] { try LocalFiles.read(path) }

  public func fingerprint(_ path: String) -> FileFingerprint? { LocalFiles.fingerprint(path) }

  /// False also when the write fails (a full disk, a closed pipe): the caller then writes the line
  /// where it falls back to, rather than losing it.
  public func appendLine(_ line: String, to path: String) -> Bool {
    guard let fd = LocalFiles.openForAppending(path) else { return false }
    let written = LocalFiles.writeAll(fd, Array((line + "\n").utf8))
    close(fd)
    return written
  }

  public func logToStandardError(_ line: String) { LocalFiles.writeAll(2, Array((line + "\n").utf8)) }

  public func spawnDetached(_ request: SpawnRequest) -> SpawnOutcome {
    var pipeEnds: [Int32] = [-1, -1]
    if request.input != nil {
      guard pipe(&pipeEnds) == 0 else { return .noPipe(reason: String(cString: strerror(errno))) }
      for end in pipeEnds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
    }
    let argv = request.arguments.map { strdup($0) } + [nil]
    let envp = request.environment.map { strdup($0) } + [nil]
    defer { for pointer in argv + envp { free(pointer) } }
    let pid = argv.withUnsafeBufferPointer { arguments in
      envp.withUnsafeBufferPointer { environment in
        CSpawn_detached(
          "/proc/self/exe", arguments.baseAddress, environment.baseAddress, pipeEnds[0],
          request.passedDescriptor ?? -1)
      }
    }
    if let input = request.input {
      close(pipeEnds[0])
      if pid > 0 { LocalFiles.writeAll(pipeEnds[1], input) }
      close(pipeEnds[1])
    }
    return pid > 0 ? .started(pid: pid) : .failed(reason: String(cString: strerror(-pid)))
  }
}
