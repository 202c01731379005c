// No Swift backtracer in the static executable (scripts/build, static mode).
//
// The runtime's backtracer (Backtrace.cpp in libswiftCore.a) has a static constructor that looks for
// the `swift-backtrace` helper beside the executable at every start: a readlink of /proc/self/exe,
// eight stat calls, two isatty checks. The image ships no helper, so it never finds one, and a crash
// is reported by podinject's own last words (Limits) anyway. Two symbols link that object: this
// function, from swiftrt.o, and the settings, which the runtime's fatal-error path reads to decide
// whether the backtracer takes over (it does not when `enabled` is Off, zero). Defining both here keeps
// the object, its constructor and its crash handler out. Should a toolchain need the object for another
// symbol, the link fails with a duplicate definition instead of silently keeping it.
#if defined(CSTART_STATIC_EXECUTABLE)

#include <stdbool.h>
#include <stdint.h>

/// The runtime's BacktraceSettings (include/swift/Runtime/Backtrace.h), all zero: the backtracer is Off.
/// Its 19 fields take under 100 bytes; the room here is generous.
__attribute__((aligned(16))) uint64_t _swift_backtraceSettings[32];

/// Whether a symbol is a thunk, for the backtracer's reports; there is no backtracer to ask.
bool _swift_backtrace_isThunkFunction(const char *name) {
  (void)name;
  return false;
}

#endif
