import CCounters

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// The counters every invocation of one replica shares: a small file of fixed size (`MetricsLayout`),
/// mapped `MAP_SHARED` and changed only with atomic operations, so that concurrent admissions never lose
/// an increment and a process killed at any point leaves nothing half-written (at worst, one rule slot
/// it was claiming stays unused).
///
/// It lives in a private directory (`PrivateDirectory`): never reached through a symbolic link, never a
/// file another user owns or can write. A file that is not podinject's own (not a regular file, another
/// owner, open to others, wrong size, magic or layout version) is replaced, atomically, by a fresh one,
/// and `note` says so.
public final class MetricsFile {
  public let path: String
  /// What happened to a file that could not be used, for the log; nil when the file was fine.
  public private(set) var note: String?
  private let words: UnsafeMutablePointer<UInt64>

  private init(path: String, words: UnsafeMutablePointer<UInt64>, note: String?) {
    self.path = path
    self.words = words
    self.note = note
  }

  deinit { munmap(words, MetricsLayout.size) }

  /// Where the file is: `$PODINJECT_METRICS_FILE` (empty: no metrics), else `metrics` in
  /// `$PODINJECT_RUN_DIR`, else `/dev/shm/podinject-<euid>/metrics` (or under `/tmp` without `/dev/shm`).
  /// Memory (tmpfs) is the right place for counters: on a journalling file system, the first write of
  /// each process to a mapped page updates the file's times through the journal, which measured about
  /// 1% of a typical admission on ext4.
  public static func path(environment: (String) -> String?) -> String? {
    if let configured = environment("PODINJECT_METRICS_FILE") { return configured.isEmpty ? nil : configured }
    if let run = environment("PODINJECT_RUN_DIR"), !run.isEmpty { return run + "/metrics" }
    let base = access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : "/tmp"
    return base + "/podinject-\(geteuid())/metrics"
  }

  /// Opens (making when missing, replacing when not podinject's own) the file at `path`.
  ///
  /// Every admission opens it, so the usual case takes one call: the file opened without following any
  /// symbolic link on the way (openat2), and used only when the descriptor shows podinject's own file
  /// (owner, mode, size, magic, version). Anything else (missing, foreign, no openat2) takes the way of
  /// every private file: the directory reached and checked by `PrivateDirectory`, then the file in it.
  public static func open(_ path: String, now: Timestamp) throws(FileError) -> MetricsFile {
    let fast = CCounters_open_no_symlinks(path)
    if fast >= 0 {
      let checked = check(fast)
      close(fast)
      if case .success(let words) = checked { return MetricsFile(path: path, words: words, note: nil) }
    }
    let bytes = Array(path.utf8)
    let slash = bytes.lastIndex(of: UInt8(ascii: "/"))
    let directoryPath = slash.map { $0 == 0 ? "/" : String(decoding: bytes[..<$0], as: UTF8.self) } ?? "."
    let name = slash.map { String(decoding: bytes[($0 + 1)...], as: UTF8.self) } ?? path
    guard !name.isEmpty, name != ".", name != ".." else { throw FileError(path: path, reason: "is not a file path") }
    let directory = try PrivateDirectory.open(directoryPath, create: true)
    var note: String?
    for _ in 0..<3 {
      let fd = openat(directory.descriptor, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
      if fd < 0 {
        let error = errno
        if error == ENOENT {
          // Linked into place only when still missing, so two first admissions share one file.
          if let made = try create(in: directory, name: name, path: path, now: now, replacing: false) {
            return MetricsFile(path: path, words: made, note: note)
          }
          continue
        }
        guard error == ELOOP || error == EISDIR || error == ENXIO || error == EACCES else {
          throw FileError(path: path, reason: String(cString: strerror(error)))
        }
        let problem = error == ELOOP ? "is a symbolic link" : "cannot be opened (\(String(cString: strerror(error))))"
        note = replacedNote(path, problem)
        return MetricsFile(path: path, words: try replace(in: directory, name: name, path: path, now: now), note: note)
      }
      switch check(fd) {
      case .success(let words):
        close(fd)
        return MetricsFile(path: path, words: words, note: note)
      case .failure(let problem):
        close(fd)
        note = replacedNote(path, problem)
        return MetricsFile(path: path, words: try replace(in: directory, name: name, path: path, now: now), note: note)
      }
    }
    throw FileError(path: path, reason: "keeps changing while it is opened")
  }

  private static func replacedNote(_ path: String, _ problem: String) -> String {
    "metrics file \(path) \(problem): replaced with a new one (counters start again from zero)"
  }

  private enum Check {
    case success(UnsafeMutablePointer<UInt64>)
    case failure(String)
  }

  /// The mapped words of `fd` when it is podinject's own metrics file, else what is wrong with it.
  private static func check(_ fd: Int32) -> Check {
    var info = stat()
    guard fstat(fd, &info) == 0 else { return .failure("cannot be examined: \(String(cString: strerror(errno)))") }
    guard (info.st_mode & S_IFMT) == S_IFREG else { return .failure("is not a regular file") }
    guard info.st_uid == geteuid() else { return .failure("is owned by uid \(info.st_uid), not by this user") }
    guard info.st_mode & 0o022 == 0 else { return .failure("is writable by its group or by others") }
    guard info.st_size == MetricsLayout.size else {
      return .failure("has \(info.st_size) bytes, not \(MetricsLayout.size)")
    }
    guard let words = map(fd) else { return .failure("cannot be mapped: \(String(cString: strerror(errno)))") }
    let magic = CCounters_load(words + MetricsLayout.magicWord)
    let version = CCounters_load(words + MetricsLayout.versionWord)
    let size = CCounters_load(words + MetricsLayout.sizeWord)
    guard magic == MetricsLayout.magic, version == MetricsLayout.version, size == UInt64(MetricsLayout.size) else {
      munmap(words, MetricsLayout.size)
      return .failure(
        magic == MetricsLayout.magic ? "has another layout (version \(version))" : "is not a metrics file")
    }
    return .success(words)
  }

  private static func map(_ fd: Int32) -> UnsafeMutablePointer<UInt64>? {
    let address = mmap(nil, MetricsLayout.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
    guard let address, address != MAP_FAILED else { return nil }
    return address.assumingMemoryBound(to: UInt64.self)
  }

  /// Puts a fresh file in place of whatever `name` is, atomically (rename).
  private static func replace(
    in directory: PrivateDirectory, name: String, path: String, now: Timestamp
  ) throws(FileError) -> UnsafeMutablePointer<UInt64> {
    guard let words = try create(in: directory, name: name, path: path, now: now, replacing: true) else {
      throw FileError(path: path, reason: "cannot be replaced")
    }
    return words
  }

  /// Writes a fresh file under a temporary name, then links it as `name` (only when missing) or renames
  /// it over `name` (`replacing`). Nil when another process made `name` first.
  private static func create(
    in directory: PrivateDirectory, name: String, path: String, now: Timestamp, replacing: Bool
  ) throws(FileError) -> UnsafeMutablePointer<UInt64>? {
    let temporary = ".\(name).\(getpid()).tmp"
    unlinkat(directory.descriptor, temporary, 0)
    let fd = openat(
      directory.descriptor, temporary, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode_t(0o600))
    guard fd >= 0 else { throw FileError(path: path, reason: "cannot be created: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    let image = initialImage(now: now)
    let written = image.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    guard written == MetricsLayout.size, let words = map(fd) else {
      let reason = String(cString: strerror(errno))
      unlinkat(directory.descriptor, temporary, 0)
      throw FileError(path: path, reason: "cannot be written: \(reason)")
    }
    if replacing {
      guard renameat(directory.descriptor, temporary, directory.descriptor, name) == 0 else {
        let reason = String(cString: strerror(errno))
        munmap(words, MetricsLayout.size)
        unlinkat(directory.descriptor, temporary, 0)
        throw FileError(path: path, reason: "cannot be replaced: \(reason)")
      }
      return words
    }
    let linked = linkat(directory.descriptor, temporary, directory.descriptor, name, 0) == 0
    let error = errno
    unlinkat(directory.descriptor, temporary, 0)
    if linked { return words }
    munmap(words, MetricsLayout.size)
    guard error == EEXIST else {
      throw FileError(path: path, reason: "cannot be created: \(String(cString: strerror(error)))")
    }
    return nil
  }

  /// The content of a new file: the header, and the overflow rule slot ready.
  static func initialImage(now: Timestamp) -> [UInt64] {
    var image = [UInt64](repeating: 0, count: MetricsLayout.size / 8)
    image[MetricsLayout.magicWord] = MetricsLayout.magic
    image[MetricsLayout.versionWord] = MetricsLayout.version
    image[MetricsLayout.sizeWord] = UInt64(MetricsLayout.size)
    image[MetricsLayout.createdWord] = UInt64(max(0, now.secondsSinceEpoch))
    let overflow = slotWord(MetricsLayout.ruleSlots)
    image[overflow] = MetricsLayout.slotStateReady
    for (index, word) in nameWords(MetricsLayout.overflowRule).enumerated() { image[overflow + 1 + index] = word }
    return image
  }

  // MARK: Counting

  /// Adds `amount` to the counter at `word`.
  func add(_ word: Int, _ amount: UInt64 = 1) {
    guard amount > 0 else { return }
    CCounters_add(words + word, amount)
  }

  /// Sets the gauge at `word`.
  func store(_ word: Int, _ value: UInt64) { CCounters_store(words + word, value) }

  static func slotWord(_ slot: Int) -> Int { MetricsLayout.rulesByte / 8 + slot * MetricsLayout.slotWords }

  /// `name` as the words of a slot's name field (NUL-padded, at most `ruleNameBytes` bytes). Plain loops:
  /// this runs for every rule of every admission, where a generic sequence's first use costs more.
  static func nameWords(_ name: String) -> [UInt64] {
    var result = [UInt64](repeating: 0, count: MetricsLayout.ruleNameBytes / 8)
    var index = 0
    for byte in name.utf8 {
      guard index < MetricsLayout.ruleNameBytes else { break }
      result[index >> 3] |= UInt64(byte) << UInt64((index & 7) * 8)
      index += 1
    }
    return result
  }

  /// The first word of the counters of rule `name`: its slot, claimed when it has none yet (a
  /// compare-and-swap, the name written, then the slot published), else the overflow slot.
  func ruleCounters(_ name: String) -> Int {
    let nameWordCount = MetricsLayout.ruleNameBytes / 8
    guard name.utf8.count <= MetricsLayout.ruleNameBytes else {
      return Self.slotWord(MetricsLayout.ruleSlots) + 1 + nameWordCount
    }
    let wanted = Self.nameWords(name)
    var slot = 0
    var waited = 0
    while slot < MetricsLayout.ruleSlots {
      let base = Self.slotWord(slot)
      let state = CCounters_load(words + base)
      if state == MetricsLayout.slotStateReady {
        // A published slot's name never changes (read after the acquiring load of its state).
        var same = true
        var index = 0
        while same && index < nameWordCount {
          same = words[base + 1 + index] == wanted[index]
          index += 1
        }
        if same { return base + 1 + nameWordCount }
        slot += 1
        waited = 0
      } else if state == MetricsLayout.slotStateFree {
        let claim = MetricsLayout.slotStateClaimed | UInt64(getpid()) << 2
        if CCounters_compare_exchange(words + base, state, claim) {
          for index in 0..<nameWordCount { CCounters_store(words + base + 1 + index, wanted[index]) }
          CCounters_store(words + base, MetricsLayout.slotStateReady)
          return base + 1 + nameWordCount
        }
        // Another process claimed it meanwhile: look at it again (it may be claiming this same name).
      } else {
        // Being claimed: wait a moment for the name, unless its claimer is gone (the slot stays unused).
        let claimer = pid_t(truncatingIfNeeded: state >> 2)
        if waited > 1000 || (kill(claimer, 0) != 0 && errno == ESRCH) {
          slot += 1
          waited = 0
        } else {
          waited += 1
          sched_yield()
        }
      }
    }
    return Self.slotWord(MetricsLayout.ruleSlots) + 1 + nameWordCount
  }

  // MARK: Reading

  /// Every counter as it is now.
  public func snapshot() -> MetricsSnapshot {
    var values = [UInt64](repeating: 0, count: MetricsLayout.size / 8)
    for index in values.indices { values[index] = CCounters_load(words + index) }
    return MetricsSnapshot(words: values)
  }
}
