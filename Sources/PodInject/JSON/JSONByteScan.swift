/// Word-at-a-time scanning of UTF-8, shared by the parser and the writer: most JSON strings are
/// runs of plain ASCII, and testing eight bytes at once makes them nearly free.
enum JSONByteScan {
  /// The index of the first byte from `start` that is a quote, a backslash or a control character,
  /// or also any byte above 0x7F when `stopAtNonASCII`; `bytes.count` when there is none.
  @inline(__always)
  static func firstSpecial(
    in bytes: UnsafeBufferPointer<UInt8>, from start: Int, stopAtNonASCII: Bool
  ) -> Int {
    let end = bytes.count
    var index = start
    while index &+ 8 <= end {
      let word = loadWord(bytes, at: index)
      let quote = word ^ 0x2222_2222_2222_2222
      let backslash = word ^ 0x5C5C_5C5C_5C5C_5C5C
      // The classic tests for a zero byte and a byte below 0x20 (a set high bit marks a hit).
      // A borrow can only mark a byte after a real hit, so the lowest mark is exact.
      var marks =
        ((quote &- 0x0101_0101_0101_0101) & ~quote)
        | ((backslash &- 0x0101_0101_0101_0101) & ~backslash)
        | ((word &- 0x2020_2020_2020_2020) & ~word)
      if stopAtNonASCII { marks |= word }
      let hits = marks & 0x8080_8080_8080_8080
      if hits != 0 { return index &+ (hits.trailingZeroBitCount &>> 3) }
      index &+= 8
    }
    while index < end {
      let byte = bytes[index]
      if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20
        || (stopAtNonASCII && byte >= 0x80)
      {
        return index
      }
      index += 1
    }
    return end
  }

  /// The index of the first byte from `start` that is not a space; `bytes.count` when there is none.
  @inline(__always)
  static func firstNonSpace(in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
    let end = bytes.count
    var index = start
    while index &+ 8 <= end {
      let others = loadWord(bytes, at: index) ^ 0x2020_2020_2020_2020
      if others != 0 { return index &+ (others.trailingZeroBitCount &>> 3) }
      index &+= 8
    }
    while index < end, bytes[index] == 0x20 { index += 1 }
    return index
  }

  /// Eight bytes from `index` (which must leave eight to read), the first one lowest.
  @inline(__always)
  private static func loadWord(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> UInt64 {
    UInt64(
      littleEndian: UnsafeRawPointer(bytes.baseAddress! + index).loadUnaligned(as: UInt64.self))
  }
}
