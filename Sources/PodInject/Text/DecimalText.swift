extension Int {
  /// The number in decimal, as `String(self)` writes it, digit by digit. The standard library's integer
  /// printing sits in its own pages of code, which a CGI admission touches for a handful of numbers
  /// (JSON pointer indexes, the log line's counts, the CGI status): a page fault of its own per process.
  var decimalText: String {
    var rest = magnitude
    var digits = 1
    var probe = rest / 10
    while probe > 0 {
      digits += 1
      probe /= 10
    }
    let length = digits + (self < 0 ? 1 : 0)
    return String(unsafeUninitializedCapacity: length) { out in
      var position = length
      repeat {
        position -= 1
        out[position] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: rest % 10)
        rest /= 10
      } while rest > 0
      if position > 0 { out[0] = UInt8(ascii: "-") }
      return length
    }
  }
}
