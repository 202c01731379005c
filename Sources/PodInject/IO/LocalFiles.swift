#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// A file that could not be read or written, and why.
public struct FileError: Error, Sendable, Equatable, CustomStringConvertible {
  public var path: String
  public var reason: String
  public init(path: String, reason: String) {
    self.path = path
    self.reason = reason
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
    // A stack buffer that is never zeroed: a fresh 64 KiB heap buffer per read cost page faults
    // that showed in every admission.
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
    // A read error is an error, not the end of the file.
    let (bytes, overflowed, error) = readReportingErrors(fd, limit: limit)
    guard error == 0 else { throw FileError(path: path, reason: String(cString: strerror(error))) }
    guard !overflowed else { throw FileError(path: path, reason: "larger than \(limit) bytes") }
    return bytes
  }

  /// The names in a directory (without `.` and `..`); empty when it cannot be read.
  public static func names(in directory: String) -> [String] {
    guard let handle = opendir(directory) else { return [] }
    defer { closedir(handle) }
    var names: [String] = []
    while let entry = readdir(handle) {
      let name = withUnsafePointer(to: entry.pointee.d_name) {
        $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
      }
      if name != "." && name != ".." { names.append(name) }
    }
    return names
  }

  /// Creates `path` and its parents (mode 0700); nil on success, else why not.
  public static func makeDirectory(_ path: String) -> String? {
    var current = path.hasPrefix("/") ? "" : "."
    for part in path.split(separator: "/") {
      current += "/" + part
      if mkdir(current, 0o700) != 0 && errno != EEXIST {
        return "cannot create \(current): \(String(cString: strerror(errno)))"
      }
    }
    return nil
  }

  /// Writes `bytes` to `temporary` and renames it to `path`, so no reader sees half a file; nil on
  /// success, else why not.
  public static func writeAtomically(_ bytes: [UInt8], to path: String, temporary: String) -> String? {
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { return "cannot write \(temporary): \(String(cString: strerror(errno)))" }
    var written = 0
    while written < bytes.count {
      let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
      if n < 0 && errno == EINTR { continue }
      guard n > 0 else {
        let problem = "cannot write \(temporary): \(String(cString: strerror(errno)))"
        close(fd)
        unlink(temporary)
        return problem
      }
      written += n
    }
    close(fd)
    guard rename(temporary, path) == 0 else {
      let problem = "cannot rename into \(path): \(String(cString: strerror(errno)))"
      unlink(temporary)
      return problem
    }
    return nil
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

  /// Whether `path` is a directory owned by this user and closed to others (so what is read from it
  /// was written by podinject itself).
  public static func isPrivateDirectory(_ path: String) -> Bool {
    var info = stat()
    guard lstat(path, &info) == 0 else { return false }
    return (info.st_mode & S_IFMT) == S_IFDIR && info.st_uid == geteuid() && (info.st_mode & 0o077) == 0
  }
}
