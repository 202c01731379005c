#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// A file that could not be read or written, and why.
public struct FileError: Error, Sendable, Equatable, CustomStringConvertible {
  public var path: String
  public var reason: String
  /// The path does not exist (which, for a directory podinject makes itself, only means it is empty).
  public var missing: Bool
  public init(path: String, reason: String, missing: Bool = false) {
    self.path = path
    self.reason = reason
    self.missing = missing
  }
  public var description: String { "\(path): \(reason)" }
}

/// The few file operations podinject needs, on raw descriptors (no Foundation), in one place.
public enum LocalFiles {
  /// Reads up to `limit` bytes from `fd`; `overflowed` says whether more was waiting.
  public static func read(_ fd: Int32, limit: Int) -> (bytes: [UInt8], overflowed: Bool) {
    let (bytes, overflowed, _) = readReportingErrors(fd, limit: limit)
    return (bytes, overflowed)
  }

  /// `read(_:limit:)`, and the `errno` of a read that failed (0 when the input simply ended).
  static func readReportingErrors(_ fd: Int32, limit: Int) -> (bytes: [UInt8], overflowed: Bool, error: Int32) {
    // A temporary buffer that is never zeroed: a fresh 64 KiB array per read cost page faults that
    // showed in every admission. (At 16 KiB, withUnsafeTemporaryAllocation takes it from the heap, not
    // the stack; reading a file straight into an array of its size measured no better.)
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16 * 1024) { chunk in
      var bytes: [UInt8] = []
      while true {
        let n = Glibc.read(fd, chunk.baseAddress, chunk.count)
        if n < 0 && errno == EINTR { continue }
        if n < 0 { return (bytes, false, errno) }
        guard n > 0 else { return (bytes, false, 0) }
        if bytes.count + n > limit {
          bytes.append(contentsOf: chunk[0..<(limit - bytes.count)])
          return (bytes, true, 0)
        }
        bytes.append(contentsOf: chunk[0..<n])
      }
    }
  }

  /// The whole content of a file. (Typed throws, not `Result`: instantiating `Result<_, FileError>`
  /// costs a scan of every protocol conformance in the executable, at every start.)
  public static func read(_ path: String, limit: Int = 16 * 1024 * 1024) throws(FileError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw FileError(path: path, reason: String(cString: strerror(errno))) }
    defer { close(fd) }
    var info = stat()
    if fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR {
      throw FileError(path: path, reason: "is a directory, not a file")
    }
    return try readWhole(fd, path: path, limit: limit)
  }

  /// Everything `fd` holds, `path` naming it in errors: a read error is an error, not the end of the
  /// file, and more than `limit` bytes is refused.
  static func readWhole(_ fd: Int32, path: String, limit: Int) throws(FileError) -> [UInt8] {
    let (bytes, overflowed, error) = readReportingErrors(fd, limit: limit)
    guard error == 0 else { throw FileError(path: path, reason: String(cString: strerror(error))) }
    guard !overflowed else { throw FileError(path: path, reason: "larger than \(limit) bytes") }
    return bytes
  }

  /// The names in a directory (without `.` and `..`); empty when it cannot be read.
  public static func names(in directory: String) -> [String] {
    guard let handle = opendir(directory) else { return [] }
    defer { closedir(handle) }
    return names(of: handle)
  }

  /// The names an open directory stream holds from where it stands (without `.` and `..`).
  static func names(of handle: OpaquePointer) -> [String] {
    var names: [String] = []
    while let entry = readdir(handle) {
      let name = withUnsafePointer(to: entry.pointee.d_name) {
        $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
      }
      if name != "." && name != ".." { names.append(name) }
    }
    return names
  }

  /// Writes all of `bytes` to `fd` (again after an interrupted or a short write); false when a write
  /// fails, `errno` then saying why.
  @discardableResult
  public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    var written = 0
    while written < bytes.count {
      let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
      if n < 0 && errno == EINTR { continue }
      guard n > 0 else { return false }
      written += n
    }
    return true
  }

  /// Writes `bytes` to `temporary` and renames it to `path`, in the directory that holds them (which the
  /// caller has chosen), so no reader sees half a file; nil on success, else why not. Neither name is
  /// followed if it is a symbolic link.
  public static func writeAtomically(_ bytes: [UInt8], to path: String, temporary: String) -> String? {
    let (parent, name) = split(path)
    let temporaryName = split(temporary).name
    let directory = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard directory >= 0 else { return "cannot open \(parent): \(String(cString: strerror(errno)))" }
    defer { close(directory) }
    return writeAtomically(bytes, named: name, temporary: temporaryName, in: directory, path: parent)
  }

  /// Writes `bytes` to `temporary` in the open `directory` (created exclusively: never a file that was
  /// there, never through a symbolic link) and renames it to `name`; nil on success, else why not.
  /// `path` names the directory in messages.
  public static func writeAtomically(
    _ bytes: [UInt8], named name: String, temporary: String, in directory: Int32, path: String
  ) -> String? {
    let flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
    var fd = openat(directory, temporary, flags, 0o600)
    if fd < 0 && errno == EEXIST {
      // Left by a writer that died with this pid: only this user can write here.
      unlinkat(directory, temporary, 0)
      fd = openat(directory, temporary, flags, 0o600)
    }
    guard fd >= 0 else { return "cannot write \(path)/\(temporary): \(String(cString: strerror(errno)))" }
    guard writeAll(fd, bytes) else {
      let problem = "cannot write \(path)/\(temporary): \(String(cString: strerror(errno)))"
      close(fd)
      unlinkat(directory, temporary, 0)
      return problem
    }
    close(fd)
    guard renameat(directory, temporary, directory, name) == 0 else {
      let problem = "cannot rename into \(path)/\(name): \(String(cString: strerror(errno)))"
      unlinkat(directory, temporary, 0)
      return problem
    }
    return nil
  }

  /// Opens `path` to append log lines (`events.logFile`), creating it when missing; nil when it cannot
  /// be used. The way to it follows the rules of `PrivateDirectory`. In a directory only root or this
  /// user can write, the name is opened as it is, a symbolic link included: `/proc/1/fd/1`, the
  /// container's log stream, is one (to a pipe). In a directory others can write, only a regular file
  /// of this user is used, never through a symbolic link another user could have put there.
  public static func openForAppending(_ path: String) -> Int32? {
    let (parent, name) = split(path)
    guard !name.isEmpty,
      let directory = try? PrivateDirectory.descriptor(reaching: parent, create: false, privateEnd: false)
    else { return nil }
    defer { close(directory) }
    var info = stat()
    guard fstat(directory, &info) == 0 else { return nil }
    let closed = PrivateDirectory.closedToOthers(info)
    // Non-blocking while opening: a FIFO nobody reads would otherwise hang the open.
    let flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK | (closed ? 0 : O_NOFOLLOW)
    let fd = openat(directory, name, flags, closed ? 0o644 : 0o600)
    guard fd >= 0 else { return nil }
    guard fstat(fd, &info) == 0, closed || ((info.st_mode & S_IFMT) == S_IFREG && info.st_uid == geteuid()) else {
      close(fd)
      return nil
    }
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
    return fd
  }

  /// The directory part (`.` when there is none) and the last name of `path`.
  static func split(_ path: String) -> (directory: String, name: String) {
    guard let slash = path.lastIndex(of: "/") else { return (".", path) }
    let directory = path[..<slash]
    return (directory.isEmpty ? "/" : String(directory), String(path[path.index(after: slash)...]))
  }
}

extension LocalFiles {
  /// The file's fingerprint, or nil when it cannot be looked at.
  public static func fingerprint(_ path: String) -> FileFingerprint? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    func time(_ spec: timespec) -> Timestamp {
      Timestamp(secondsSinceEpoch: Int64(spec.tv_sec), microseconds: Int(spec.tv_nsec / 1000))
    }
    return FileFingerprint(
      device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
      modified: time(info.st_mtim), changed: time(info.st_ctim))
  }
}
