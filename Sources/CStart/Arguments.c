// The argument vector for the Swift runtime, taken from the C start-up code instead of /proc/self/maps.
//
// On Linux the runtime finds argv with a static constructor (ArgvGrabber in the stdlib's
// CommandLine.cpp) that reads /proc/self/maps through stdio and sscanf to locate the stack, then walks
// back from `environ`: a third of `podinject version`'s instructions, in a process that lives for one
// admission. glibc passes (argc, argv, envp) to every .preinit_array entry of an executable, static or
// dynamic, before any constructor runs, so the vector can be kept as given.
//
// These two functions are the whole of what CommandLine.cpp exports. Defining them here means the
// static linker never takes that object (and its constructor) from libswiftCore.a; should a toolchain
// need it for another symbol, the link fails with a duplicate definition instead of silently keeping the
// slow path. Tests/e2e/test_cli.py checks that arguments arrive intact.
#include <stddef.h>

static char **captured_argv;
static int captured_argc;
static char **override_argv;
static int override_argc;

static void capture(int argc, char **argv, char **envp) {
  (void)envp;
  captured_argc = argc;
  captured_argv = argv;
}

__attribute__((section(".preinit_array"), used)) static void (*const capture_entry)(int, char **, char **) =
    capture;

/// The runtime's source of `CommandLine.arguments` and `CommandLine.unsafeArgv`.
__attribute__((swiftcall)) char **_swift_stdlib_getUnsafeArgvArgc(int *outArgLen) {
  if (override_argv != NULL) {
    *outArgLen = override_argc;
    return override_argv;
  }
  *outArgLen = captured_argc;
  return captured_argv;
}

/// The runtime's hook for hosts that replace the arguments (unused by podinject, kept for completeness).
__attribute__((swiftcall)) void _swift_stdlib_overrideUnsafeArgvArgc(char **argv, int argc) {
  override_argv = argv;
  override_argc = argc;
}
