// glibc's start-up for the static executable, without CPU detection in CGI and function-runtime
// processes (scripts/build, static mode, defines CSTART_STATIC_EXECUTABLE and links glibc's own
// libc-start.o with its entry renamed CStart_glibcStartMain and its call of __tunables_init renamed
// CStart_glibcTunablesInit, and its dl-origin.o with _dl_get_origin renamed CStart_glibcGetOrigin).
// Such a process also finds one cache of the Swift standard library filled; and every process, through
// either entry, reads glibc's tunables only when the environment has some, and leaves the executable's
// directory unread during start-up unless an LD_ variable may need it (all further down).
//
// A static glibc program runs init_cpu_features before main: some 40 CPUID instructions (features,
// then cache sizes, leaf by leaf). On a virtual machine every CPUID traps to the hypervisor; measured
// on the benchmark machine, that is 150-250 µs per process, more than half of what a static C CGI
// program costs in all and more than podinject's whole review. Its results only choose among
// equivalent string-function variants and size cache thresholds. So a process that
//   - was started as a CGI or function-runtime program (REQUEST_METHOD, GATEWAY_INTERFACE or
//     Http_Method is set) and
//   - has no arguments (a CGI program has none; the detached Event deliverer, `events flush` and every
//     offline command have some)
// goes through the same steps as glibc 2.36's __libc_start_main, in the same order, minus that
// detection: the string functions resolve to their baseline SSE2 versions, the cache thresholds get
// glibc's own defaults. Every other process (stdin mode, the deliverer, the tools) calls glibc's entry,
// whose steps are glibc's own but for the two narrowed above. A fast-started process must not dlopen:
// glibc refuses to load a library whose ISA level it cannot check ("CPU ISA level is lower than
// required"). Only Event delivery loads libcurl, and CGI and function-runtime modes hand delivery to
// the detached deliverer, which starts with detection; were that ever not so, the Events would stay in
// the outbox with that message in the log, for the next deliverer. Tests/e2e/test_start.py checks which processes take which path.
//
// Should a glibc update change these internal symbols, the link fails (a missing or duplicate symbol);
// it cannot silently keep a stale sequence.
#if defined(CSTART_STATIC_EXECUTABLE) && defined(__x86_64__)

#include <elf.h>
#include <link.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// glibc's own start-up steps (hidden symbols of libc.a, which a static link may call).
extern char **__environ;
extern void *__libc_stack_end;
extern int __libc_enable_secure;
extern void *_dl_random;
extern void _dl_aux_init(ElfW(auxv_t) * auxv);
extern void _dl_relocate_static_pie(void);
extern void __libc_setup_tls(void);
extern void __pthread_initialize_minimal(void) __attribute__((weak));
extern void __libc_early_init(_Bool initial);
extern void __libc_init_first(int argc, char **argv, char **environment);
extern void __libc_check_standard_fds(void);
extern void *_dl_debug_initialize(ElfW(Addr) load_delta, long namespace_id);
extern void __libc_fatal(const char *message) __attribute__((noreturn));
extern int __cxa_atexit(void (*function)(void *), void *argument, void *handle);
extern void exit(int status) __attribute__((noreturn));
extern const ElfW(Rela) __rela_iplt_start[] __attribute__((weak));
extern const ElfW(Rela) __rela_iplt_end[] __attribute__((weak));
extern void (*__preinit_array_start[])(int, char **, char **);
extern void (*__preinit_array_end[])(int, char **, char **);
extern void (*__init_array_start[])(int, char **, char **);
extern void (*__init_array_end[])(int, char **, char **);
extern void (*__fini_array_start[])(void);
extern void (*__fini_array_end[])(void);
extern void _init(void);
extern void _fini(void);

// Cache thresholds of the string functions, defined (with glibc's defaults) by libc-start.o; the two
// that glibc leaves at zero until detection fills them are set here.
extern long int __x86_shared_cache_size;
extern long int __x86_shared_non_temporal_threshold;
extern long int __x86_rep_movsb_stop_threshold;

/// glibc's own entry (libc-start.o, renamed by scripts/build).
extern int CStart_glibcStartMain(int (*main)(int, char **, char **), int argc, char **argv, void (*init)(void),
                                 void (*fini)(void), void (*rtld_fini)(void), void *stack_end);

/// glibc's own `_dl_get_origin` (dl-origin.o, renamed by scripts/build): the executable's directory.
extern const char *CStart_glibcGetOrigin(void);

/// glibc's own `__tunables_init` (dl-tunables.o, unchanged), which its start-up calls renamed
/// CStart_glibcTunablesInit (scripts/build renames the call in libc-start.o).
extern void __tunables_init(char **environment);

/// Whether the environment holds anything glibc's tunables read (GLIBC_TUNABLES or an alias such as
/// MALLOC_ARENA_MAX or LD_HWCAP_MASK): found by `__libc_start_main` before glibc's start-up runs.
static bool tunables_present;

/// Set while start-up runs without LD_ variables: the executable's directory is then left unknown.
static bool origin_deferred;

/// glibc's start-up reads the tunables from the environment: every variable compared with each tunable's
/// name and alias, some 30,000 instructions per process. Without any variable they could read, reading
/// them changes nothing, so it is skipped.
void CStart_glibcTunablesInit(char **environment) {
  if (tunables_present) __tunables_init(environment);
}

/// The executable's directory, for a `$ORIGIN` in a later dlopen; glibc's start-up asks for it first
/// thing (a readlink of /proc/self/exe, a path walk through procfs: about 5% of a CGI admission).
/// During start-up without LD_ variables (LD_LIBRARY_PATH may name $ORIGIN, and glibc expands it at
/// start) it gets NULL, the value glibc's loader itself treats as "not looked up yet" and fills in on
/// first use (dl-load.o and dl-deps.o call this again when a path names $ORIGIN); a CGI program never
/// loads a library, and the one that does (libcurl, for Events) is found without $ORIGIN.
const char *_dl_get_origin(void) {
  if (origin_deferred) return NULL;
  return CStart_glibcGetOrigin();
}

/// Start-up is over (constructors run after glibc's own start-up steps, before main): from here on,
/// the executable's directory is looked up when asked for.
__attribute__((constructor)) static void start_up_done(void) { origin_deferred = false; }

/// What a Swift type metadata accessor returns: the metadata and its state (swiftcall, two registers).
typedef struct {
  const void *metadata;
  uintptr_t state;
} MetadataResponse;

// Swift's runtime and standard library (libswiftCore.a): generic metadata as the demangler gets it, the
// metadata accessor of the `_StringBreadcrumbs` class, `Optional`'s type descriptor, and the cache of the
// metadata of `_StringBreadcrumbs?`.
extern __attribute__((swiftcall)) MetadataResponse swift_getGenericMetadata(
    uintptr_t request, const void *const *arguments, const void *description);
extern __attribute__((swiftcall)) MetadataResponse CStart_breadcrumbsMetadata(uintptr_t request)
    __asm__("$ss18_StringBreadcrumbsCMa");
extern const char CStart_optionalDescriptor __asm__("$sSqMn");
extern intptr_t CStart_optionalBreadcrumbsCache __asm__("$ss18_StringBreadcrumbsCSgMD");

/// Fills the standard library's cache of the metadata of `_StringBreadcrumbs?`, which the first string
/// of 64 bytes or more to be freed needs. Left empty, the cache holds the type's mangled name, and
/// filling it runs the runtime's demangler, cold code and data met nowhere else in an admission: about
/// 3% of one. A negative cache is a name still to resolve; a metadata pointer is what the runtime itself
/// would store (Tests/e2e/test_start.py compares the two). Got the way the demangler gets it: `Optional`'s
/// own accessor would first register every prespecialization of `Optional` in the runtime's cache.
static void resolve_optional_breadcrumbs(void) {
  const void *wrapped = CStart_breadcrumbsMetadata(0).metadata;
  MetadataResponse optional = swift_getGenericMetadata(0, &wrapped, &CStart_optionalDescriptor);
  __atomic_store_n(&CStart_optionalBreadcrumbsCache, (intptr_t)optional.metadata, __ATOMIC_RELEASE);
}

/// Whether `entry` ("NAME=value") starts with `name` followed by '='. Plain loops: before the IRELATIVE
/// relocations are applied, no string function of glibc may be called.
static bool names(const char *entry, const char *name) {
  while (*name != '\0') {
    if (*entry++ != *name++) return false;
  }
  return *entry == '=';
}

/// Whether `entry` starts with `prefix`.
static bool starts(const char *entry, const char *prefix) {
  while (*prefix != '\0') {
    if (*entry++ != *prefix++) return false;
  }
  return true;
}

static void call_fini(void *unused) {
  (void)unused;
  size_t count = (size_t)(__fini_array_end - __fini_array_start);
  while (count-- > 0) (*__fini_array_start[count])();
  _fini();
}

/// The libc entry `_start` calls: glibc's unchanged, or (for a CGI program) its steps without CPU detection.
int __libc_start_main(int (*main)(int, char **, char **), int argc, char **argv, void (*init)(void),
                      void (*fini)(void), void (*rtld_fini)(void), void *stack_end) {
  char **environment = &argv[argc + 1];
  bool cgi = false;
  char **entry = environment;
  for (; *entry != NULL; entry++) {
    if (names(*entry, "REQUEST_METHOD") || names(*entry, "GATEWAY_INTERFACE") || names(*entry, "Http_Method")) {
      cgi = true;
    }
    // glibc's tunables and their aliases (MALLOC_ARENA_MAX, ...): read only when present.
    if (starts(*entry, "GLIBC_") || starts(*entry, "MALLOC_") || starts(*entry, "LD_")) tunables_present = true;
  }
  // Unless LD_ variables (LD_LIBRARY_PATH may name $ORIGIN) ask the loader for it at once.
  origin_deferred = !tunables_present;
  if (!cgi || argc != 1) return CStart_glibcStartMain(main, argc, argv, init, fini, rtld_fini, stack_end);

  __environ = environment;
  __libc_stack_end = stack_end;
  _dl_aux_init((ElfW(auxv_t) *)(entry + 1));
  CStart_glibcTunablesInit(__environ);
  // The string functions' thresholds, before any of them runs (glibc sets them during the detection,
  // before the IRELATIVE relocations): glibc's value for a CPU whose caches it does not know, three
  // quarters of the assumed 1 MiB. At zero, every copy over 128 bytes would take the non-temporal path.
  __x86_shared_non_temporal_threshold = __x86_shared_cache_size * 3 / 4;
  __x86_rep_movsb_stop_threshold = __x86_shared_non_temporal_threshold;
  _dl_relocate_static_pie();
  for (const ElfW(Rela) *relocation = __rela_iplt_start; relocation < __rela_iplt_end; ++relocation) {
    if (ELF64_R_TYPE(relocation->r_info) != R_X86_64_IRELATIVE) {
      __libc_fatal("Unexpected reloc type in static binary.\n");
    }
    ElfW(Addr) *target = (ElfW(Addr) *)relocation->r_offset;
    *target = ((ElfW(Addr)(*)(void))relocation->r_addend)();
  }
  __libc_setup_tls();
  // The stack protector's canary and the pointer guard, from the kernel's random bytes (AT_RANDOM),
  // as glibc derives them (the canary's low byte zero).
  uintptr_t stack_guard = ((const uintptr_t *)_dl_random)[0] & ~(uintptr_t)0xff;
  __asm__ volatile("movq %0, %%fs:0x28" : : "r"(stack_guard));
  if (__pthread_initialize_minimal != NULL) __pthread_initialize_minimal();
  uintptr_t pointer_guard = ((const uintptr_t *)_dl_random)[1];
  __asm__ volatile("movq %0, %%fs:0x30" : : "r"(pointer_guard));
  if (rtld_fini != NULL) __cxa_atexit((void (*)(void *))rtld_fini, NULL, NULL);
  __libc_early_init(true);
  __libc_init_first(argc, argv, __environ);
  __cxa_atexit(call_fini, NULL, NULL);
  if (__libc_enable_secure) __libc_check_standard_fds();

  size_t count = (size_t)(__preinit_array_end - __preinit_array_start);
  for (size_t i = 0; i < count; i++) (*__preinit_array_start[i])(argc, argv, __environ);
  _init();
  count = (size_t)(__init_array_end - __init_array_start);
  for (size_t i = 0; i < count; i++) (*__init_array_start[i])(argc, argv, __environ);
  _dl_debug_initialize(0, 0);
  resolve_optional_breadcrumbs();
  exit(main(argc, argv, __environ));
}

#endif
