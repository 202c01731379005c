import PodInject

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Raw file-descriptor I/O: unbuffered, no Foundation, retrying on EINTR.
enum IO {
  /// Reads up to `limit` bytes from `fd`; `overflowed` says whether more was waiting.
  static func read(_ fd: Int32, limit: Int) -> (bytes: [UInt8], overflowed: Bool) {
    LocalFiles.read(fd, limit: limit)
  }

  /// Reads exactly `count` bytes (fewer only at end of input).
  static func read(_ fd: Int32, exactly count: Int) -> [UInt8] {
    [UInt8](unsafeUninitializedCapacity: count) { buffer, filled in
      filled = 0
      while filled < count {
        let n = Glibc.read(fd, buffer.baseAddress! + filled, count - filled)
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { break }
        filled += n
      }
    }
  }

  /// Reads and drops up to `count` bytes (or to end of input when nil), so a host that writes the
  /// whole body before reading the answer is not cut off.
  static func drain(_ fd: Int32, upTo count: Int?, cap: Int) {
    var left = min(count ?? cap, cap)
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64 * 1024) { chunk in
      while left > 0 {
        let n = Glibc.read(fd, chunk.baseAddress, min(chunk.count, left))
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { return }
        left -= n
      }
    }
  }

  /// Writes all of `bytes`; false when the reader went away.
  @discardableResult
  static func write(_ fd: Int32, _ bytes: [UInt8]) -> Bool { LocalFiles.writeAll(fd, bytes) }

  @discardableResult
  static func write(_ fd: Int32, _ text: String) -> Bool { write(fd, Array(text.utf8)) }
}
