#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// A directory podinject keeps its own files in (the Event outbox, the configuration cache), trusted
/// only when nobody else can have put anything there: a real directory (not a symbolic link) owned by
/// the effective uid and not writable by its group or by others. It is checked once, on the descriptor
/// that is then used for everything (`openat`, `renameat`, `unlinkat`), so it cannot be swapped between
/// the check and the use.
///
/// The directories leading to it may be shared (`/tmp`, an emptyDir, which Kubernetes mounts
/// world-writable): in such a directory, the next one is opened without following a symbolic link
/// and must belong to this user or to root, since another user could otherwise have put it there. In a
/// directory only root or this user can write, symbolic links are followed (`/var/run` is one).
public final class PrivateDirectory {
  /// The path it was opened with, for messages.
  public let path: String
  /// The open directory.
  public let descriptor: Int32

  private init(path: String, descriptor: Int32) {
    self.path = path
    self.descriptor = descriptor
  }

  deinit { close(descriptor) }

  /// Opens `path` after checking it and the way to it; with `create`, what is missing is made (mode 0700).
  public static func open(_ path: String, create: Bool) throws(FileError) -> PrivateDirectory {
    PrivateDirectory(path: path, descriptor: try descriptor(reaching: path, create: create, privateEnd: true))
  }

  /// A descriptor of the directory `path`, reached by the rules above; with `privateEnd`, the directory
  /// itself must be private, else it is held to the rule of the directories before it.
  static func descriptor(reaching path: String, create: Bool, privateEnd: Bool) throws(FileError) -> Int32 {
    let bytes = Array(path.utf8)
    guard !bytes.isEmpty, !bytes.contains(0) else { throw FileError(path: path, reason: "is not a directory path") }
    // One NUL-terminated copy; each name is cut out of it in place for openat.
    let text = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
    defer { text.deallocate() }
    for index in bytes.indices { text[index] = CChar(bitPattern: bytes[index]) }
    text[bytes.count] = 0
    let slash = UInt8(ascii: "/")
    var current = Glibc.open(bytes[0] == slash ? "/" : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard current >= 0 else { throw FileError(path: path, reason: String(cString: strerror(errno))) }
    var info = stat()
    var parentClosed = fstat(current, &info) == 0 && closedToOthers(info)
    var end = bytes.count
    while end > 0 && bytes[end - 1] == slash { end -= 1 }
    var start = 0
    var opened = false
    while start < end {
      while start < end && bytes[start] == slash { start += 1 }
      var stop = start
      while stop < end && bytes[stop] != slash { stop += 1 }
      let last = stop == end
      let length = stop - start
      if length == 1 && bytes[start] == UInt8(ascii: ".") && !last {
        start = stop
        continue
      }
      if length == 2 && bytes[start] == UInt8(ascii: ".") && bytes[start + 1] == UInt8(ascii: ".") {
        close(current)
        throw FileError(path: path, reason: "must not contain '..'")
      }
      let saved = text[stop]
      text[stop] = 0
      var problem = ""
      let child = step(
        from: current, name: text + start, last: last && privateEnd, parentClosed: parentClosed, create: create,
        info: &info, problem: &problem)
      text[stop] = saved
      close(current)
      guard child >= 0 else {
        throw FileError(
          path: String(decoding: bytes[..<stop], as: UTF8.self), reason: problem, missing: problem == missingReason)
      }
      current = child
      parentClosed = closedToOthers(info)
      opened = opened || last
      start = stop
    }
    guard opened || !privateEnd else {
      close(current)
      throw FileError(path: path, reason: "is not a directory of its own")
    }
    return current
  }

  /// Opens one name under `parent`, or says why not in `problem` (and returns -1); `info` receives what it
  /// is. `last` is the directory itself, which must be private; before it, a name in a directory others
  /// can write must not be a symbolic link and must belong to this user or root.
  private static func step(
    from parent: Int32, name: UnsafePointer<CChar>, last: Bool, parentClosed: Bool, create: Bool,
    info: inout stat, problem: inout String
  ) -> Int32 {
    let strict = last || !parentClosed
    let flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (strict ? O_NOFOLLOW : 0)
    var child = openat(parent, name, flags)
    if child < 0 && errno == ENOENT && create {
      if mkdirat(parent, name, 0o700) != 0 && errno != EEXIST {
        problem = "cannot be created: \(String(cString: strerror(errno)))"
        return -1
      }
      child = openat(parent, name, flags | O_NOFOLLOW)
    }
    guard child >= 0 else {
      let error = errno
      var link = stat()
      if (error == ELOOP || error == ENOTDIR) && fstatat(parent, name, &link, AT_SYMLINK_NOFOLLOW) == 0 {
        problem = (link.st_mode & S_IFMT) == S_IFLNK ? "is a symbolic link" : "is not a directory"
      } else {
        problem = error == ENOENT ? missingReason : String(cString: strerror(error))
      }
      return -1
    }
    let euid = geteuid()
    if fstat(child, &info) != 0 {
      problem = String(cString: strerror(errno))
    } else if last && info.st_uid != euid {
      problem = "is owned by uid \(info.st_uid), not by this user (uid \(euid))"
    } else if last && info.st_mode & 0o022 != 0 {
      problem = "is writable by its group or by others (mode \(String(info.st_mode & 0o7777, radix: 8)))"
    } else if strict && info.st_uid != euid && info.st_uid != 0 {
      problem = "is owned by uid \(info.st_uid), in a directory others can write"
    } else {
      return child
    }
    close(child)
    return -1
  }

  private static let missingReason = "does not exist"

  /// Whether only root or this user can change what a directory holds.
  static func closedToOthers(_ info: stat) -> Bool {
    (info.st_uid == 0 || info.st_uid == geteuid()) && info.st_mode & 0o022 == 0
  }

  /// A subdirectory under the same rules (made when missing, with `create`).
  public func subdirectory(_ name: String, create: Bool) throws(FileError) -> PrivateDirectory {
    var info = stat()
    var problem = ""
    let child = Self.step(
      from: descriptor, name: name, last: true, parentClosed: true, create: create, info: &info, problem: &problem)
    guard child >= 0 else {
      throw FileError(path: path + "/" + name, reason: problem, missing: problem == Self.missingReason)
    }
    return PrivateDirectory(path: path + "/" + name, descriptor: child)
  }

  /// The names it holds (without `.` and `..`).
  public func names() -> [String] {
    let copy = fcntl(descriptor, F_DUPFD_CLOEXEC, 0)
    guard copy >= 0 else { return [] }
    guard let handle = fdopendir(copy) else {
      close(copy)
      return []
    }
    defer { closedir(handle) }
    rewinddir(handle)
    return LocalFiles.names(of: handle)
  }

  /// The content of the regular file `name` (never through a symbolic link, never a FIFO or device).
  public func read(_ name: String, limit: Int = 16 * 1024 * 1024) throws(FileError) -> [UInt8] {
    let fd = openat(descriptor, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
    guard fd >= 0 else { throw FileError(path: path + "/" + name, reason: String(cString: strerror(errno))) }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
      throw FileError(path: path + "/" + name, reason: "is not a regular file")
    }
    return try LocalFiles.readWhole(fd, path: path + "/" + name, limit: limit)
  }

  /// Writes `bytes` to `name` through `temporary` (see `LocalFiles.writeAtomically`); nil on success.
  public func write(_ bytes: [UInt8], to name: String, temporary: String) -> String? {
    LocalFiles.writeAtomically(bytes, named: name, temporary: temporary, in: descriptor, path: path)
  }

  /// Renames `name` to `newName`; false when it is gone.
  @discardableResult
  public func rename(_ name: String, to newName: String) -> Bool {
    renameat(descriptor, name, descriptor, newName) == 0
  }

  /// Moves `name` into `target`, as `newName`; false when it is gone.
  @discardableResult
  public func move(_ name: String, to newName: String, in target: PrivateDirectory) -> Bool {
    renameat(descriptor, name, target.descriptor, newName) == 0
  }

  /// Deletes the file `name`; false when it was not there.
  @discardableResult
  public func remove(_ name: String) -> Bool { unlinkat(descriptor, name, 0) == 0 }

  /// Takes the directory's exclusive lock (`flock`) when nobody holds it; false when another holds it.
  /// The lock belongs to the open directory, so a process started with it inherits it, and it goes
  /// with the last process holding it.
  public func tryLock() -> Bool { flock(descriptor, LOCK_EX | LOCK_NB) == 0 }

  /// Gives the lock up.
  public func unlock() { flock(descriptor, LOCK_UN) }

  /// Whether `descriptor` (inherited from another process) is this same directory.
  public func isSame(as other: Int32) -> Bool {
    var mine = stat()
    var theirs = stat()
    return fstat(descriptor, &mine) == 0 && fstat(other, &theirs) == 0 && (theirs.st_mode & S_IFMT) == S_IFDIR
      && mine.st_dev == theirs.st_dev && mine.st_ino == theirs.st_ino
  }
}
