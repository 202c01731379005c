"""What runs before main in the static executable (Sources/CStart, scripts/build).

- A CGI or function-runtime program without arguments starts without glibc's CPU detection (a trap to
  the hypervisor per CPUID on a virtual machine); every other process goes through glibc's own entry,
  renamed CStart_glibcStartMain. Which path a process took is seen with gdb: a breakpoint on glibc's
  entry is hit, or not.
- A start without LD_ variables, through either entry, leaves the executable's directory (glibc's
  $ORIGIN, a readlink of /proc/self/exe) for glibc's loader to look up when first needed; glibc's
  tunables are read only when the environment has some.
- A CGI start fills the standard library's cache of the metadata of `_StringBreadcrumbs?`, so that an
  admission never runs the runtime's demangler; it holds what the demangler would have stored.
- A class's superclass named by a direct reference (that of every array's storage class) is found
  through its accessor, not the demangler (Sources/CStart/Superclass.c); the classes get the same
  superclass.
- The pieces of the runtime that every start would otherwise pay for stay out of the link: the
  backtracer's constructor, Swift Concurrency with libdispatch's constructor, and the regex engine.
- A process started either way answers the same bytes; the Events of a fast-started CGI admission are
  delivered by the detached deliverer, which starts through glibc's entry and can load libcurl
  (test_events_delivery.py::test_detached_delivery_modes_answer_first covers the delivery itself).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import harness as h

REVIEW = h.VENDORED_CORPUS / "admissionreview" / \
    "salesforce-generic-sidecar-injector__v1-pod-create-replicaset-generatename.json"
GLIBC_ENTRY = "CStart_glibcStartMain"


@pytest.fixture(scope="module")
def static_bin(podinject_bin) -> Path:
    kind = subprocess.run(["file", "-b", str(podinject_bin)], capture_output=True, text=True, check=True).stdout
    assert "statically linked" in kind, f"these checks are about the static executable scripts/build makes: {kind}"
    assert shutil.which("gdb"), "gdb is missing (scripts/setup installs it)"
    return podinject_bin


def _symbols(binary: Path) -> str:
    return subprocess.run(["nm", str(binary)], capture_output=True, text=True, check=True).stdout


def _config(tmp_path: Path) -> Path:
    return h.config_copy(h.REPO / "bench" / "config.yaml", tmp_path)


def _cgi_env(config: Path, cache: Path, **extra: str) -> dict[str, str]:
    return h.clean_env({
        "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "POST", "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(REVIEW.stat().st_size), "PODINJECT_CONFIG": str(config),
        "PODINJECT_CACHE_DIR": str(cache), **extra})


def _run_under_gdb(binary: Path, args: str, env: dict[str, str], tmp_path: Path,
                   function: str = GLIBC_ENTRY) -> tuple[bool, bytes]:
    """Runs the binary under gdb (through a shell, so the program gets exactly `args`), stdin from the
    review; returns whether `function` (glibc's entry) was reached, and what the program wrote on stdout."""
    out = tmp_path / "stdout"
    command = f"run {args} < {REVIEW} > {out} 2> {tmp_path / 'stderr'}"
    proc = subprocess.run(
        ["gdb", "-batch", "-nx", "-ex", f"break {function}", "-ex", command, "-ex", "continue",
         "-ex", "info breakpoints", str(binary)],
        capture_output=True, text=True, env=env, timeout=120)
    assert "Breakpoint 1 at" in proc.stdout, f"no breakpoint on {function}: {proc.stdout}{proc.stderr}"
    assert "exited normally" in proc.stdout or "exited with code" in proc.stdout, proc.stdout + proc.stderr
    return "breakpoint already hit" in proc.stdout, out.read_bytes()


def test_a_cgi_admission_starts_without_cpu_detection(static_bin, tmp_path):
    config = _config(tmp_path)
    (tmp_path / "cache").mkdir()
    reached, answer = _run_under_gdb(static_bin, "", _cgi_env(config, tmp_path / "cache"), tmp_path)
    assert not reached, "a CGI admission went through glibc's entry (and its CPU detection)"
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"Status: 200 OK"), answer[:200]
    assert json.loads(body)["response"]["allowed"] is True


@pytest.mark.parametrize("case", ["stdin", "forced-cgi", "events-flush", "check-config"])
def test_every_other_process_starts_through_glibc(case, static_bin, tmp_path):
    config = _config(tmp_path)
    (tmp_path / "cache").mkdir()
    env = h.clean_env({"PODINJECT_CONFIG": str(config), "PODINJECT_CACHE_DIR": str(tmp_path / "cache")})
    args = {"stdin": "", "forced-cgi": "--cgi", "events-flush": "events flush", "check-config": "check-config"}[case]
    if case == "forced-cgi":
        env = _cgi_env(config, tmp_path / "cache")
    reached, _ = _run_under_gdb(static_bin, args, env, tmp_path)
    assert reached, f"{case}: glibc's entry was not reached (a process that may load libcurl needs it)"


def _start_env(case: str, config: Path, cache: Path) -> dict[str, str]:
    """The environment of a CGI start or of a stdin-mode start."""
    if case.startswith("cgi"):
        return _cgi_env(config, cache)
    return h.clean_env({"PODINJECT_CONFIG": str(config), "PODINJECT_CACHE_DIR": str(cache)})


@pytest.mark.parametrize("case", ["cgi", "cgi-with-ld-variable", "stdin", "stdin-with-ld-variable"])
def test_a_start_leaves_the_executables_directory_unread_unless_an_ld_variable_may_need_it(
        case, static_bin, tmp_path):
    """glibc's start-up reads /proc/self/exe for a later dlopen's $ORIGIN; without an LD_ variable
    (LD_LIBRARY_PATH may name $ORIGIN, expanded at start) it is left for glibc's loader to look up when
    a path names $ORIGIN, through either entry (test_events_delivery.py loads libcurl after such a start)."""
    config = _config(tmp_path)
    (tmp_path / "cache").mkdir()
    env = _start_env(case, config, tmp_path / "cache")
    if case.endswith("ld-variable"):
        env["LD_LIBRARY_PATH"] = "$ORIGIN/lib"
    reached, answer = _run_under_gdb(static_bin, "", env, tmp_path, function="CStart_glibcGetOrigin")
    assert reached == case.endswith("ld-variable"), f"{case}: glibc's _dl_get_origin reached: {reached}"
    assert b'"allowed":true' in answer.replace(b" ", b""), answer[:300]


@pytest.mark.parametrize("case", ["cgi", "stdin"])
@pytest.mark.parametrize("variable", [None, "GLIBC_TUNABLES=glibc.malloc.perturb=0", "MALLOC_ARENA_MAX=2"])
def test_glibc_reads_its_tunables_only_when_the_environment_has_some(case, variable, static_bin, tmp_path):
    config = _config(tmp_path)
    (tmp_path / "cache").mkdir()
    env = _start_env(case, config, tmp_path / "cache")
    if variable:
        name, _, value = variable.partition("=")
        env[name] = value
    reached, answer = _run_under_gdb(static_bin, "", env, tmp_path, function="__tunables_init")
    assert reached == (variable is not None), f"{case}, {variable}: glibc's __tunables_init reached: {reached}"
    assert b'"allowed":true' in answer.replace(b" ", b""), answer[:300]


BREADCRUMBS_CACHE = "'$ss18_StringBreadcrumbsCSgMD'"


def _breadcrumbs_cache_at_exit(binary: Path, args: str, env: dict[str, str], tmp_path: Path) -> tuple[int, ...]:
    """The standard library's cache of the metadata of `_StringBreadcrumbs?` when the program exits:
    the cached word, then the metadata's kind and its generic argument (Optional's layout)."""
    command = f"run {args} < {REVIEW} > {tmp_path / 'stdout'} 2> {tmp_path / 'stderr'}"
    proc = subprocess.run(
        ["gdb", "-batch", "-nx", "-ex", "break exit", "-ex", command,
         "-ex", f"print/x *(long*)&{BREADCRUMBS_CACHE}",
         "-ex", f"print/x **(long**)&{BREADCRUMBS_CACHE}",
         "-ex", f"print/x *(*(long**)&{BREADCRUMBS_CACHE} + 2)", str(binary)],
        capture_output=True, text=True, env=env, timeout=120)
    values = tuple(int(line.split("=")[1], 16) for line in proc.stdout.splitlines() if line.startswith("$"))
    assert len(values) == 3, proc.stdout + proc.stderr
    return values


def test_a_cgi_start_fills_the_breadcrumbs_type_as_the_runtime_would(static_bin, tmp_path):
    """A CGI start fills one cache of the standard library that would otherwise run the runtime's
    demangler at the first large string freed; it must hold what the demangler itself stores."""
    config = _config(tmp_path)
    (tmp_path / "cache").mkdir()
    env = _cgi_env(config, tmp_path / "cache")
    symbols = {line.split()[-1]: int(line.split()[0], 16) for line in _symbols(static_bin).splitlines()
               if len(line.split()) == 3}
    breadcrumbs = symbols["$ss18_StringBreadcrumbsCN"]
    fast = _breadcrumbs_cache_at_exit(static_bin, "", env, tmp_path)
    full = _breadcrumbs_cache_at_exit(static_bin, "--cgi", env, tmp_path)
    assert full[0] > 0, "the admission through glibc's entry never resolved the cache: the comparison means nothing"
    assert fast[0] > 0, "a CGI start left the cache unresolved"
    assert fast[1:] == full[1:] == (0x202, breadcrumbs), (fast, full)


@pytest.mark.parametrize("function", [
    "swift_getTypeByMangledNameInContextImpl",   # a type by its mangled name (the breadcrumbs cache)
    "swift_getTypeByMangledNode",                # the demangled name's lookup (superclass names)
])
def test_a_cgi_admission_never_runs_the_demangler(function, static_bin, tmp_path):
    config = _config(tmp_path)
    (tmp_path / "cache").mkdir()
    reached, answer = _run_under_gdb(static_bin, "", _cgi_env(config, tmp_path / "cache"), tmp_path,
                                     function=function)
    assert not reached, f"a CGI admission reached {function} (the runtime's demangler: cold code and stack)"
    assert b'"allowed":true' in answer.replace(b" ", b""), answer[:300]


# The caches of the class metadata of arrays of two types of podinject's own, which every admission
# instantiates at run time, and the superclass the standard library gives them.
ARRAY_STORAGE_CACHES = ["$ss23_ContiguousArrayStorageCy9PodInject4RuleVGML",
                        "$ss23_ContiguousArrayStorageCy9PodInject9JSONValueOGML"]
ARRAY_STORAGE_BASE = "$ss28__ContiguousArrayStorageBaseCN"


@pytest.mark.parametrize("args", ["", "--cgi"])
def test_array_storage_classes_get_the_superclass_the_runtime_gives(args, static_bin, tmp_path):
    """Sources/CStart/Superclass.c answers a class's superclass lookup from the superclass's own accessor
    (scripts/build wraps the runtime's lookup); the classes instantiated at run time must end up with the
    superclass the standard library defines, in a fast-started CGI process and in one started by glibc."""
    config = _config(tmp_path)
    (tmp_path / "cache").mkdir()
    env = _cgi_env(config, tmp_path / "cache")
    symbols = {line.split()[-1]: int(line.split()[0], 16) for line in _symbols(static_bin).splitlines()
               if len(line.split()) == 3}
    command = f"run {args} < {REVIEW} > {tmp_path / 'stdout'} 2> {tmp_path / 'stderr'}"
    prints = []
    for cache in ARRAY_STORAGE_CACHES:
        prints += ["-ex", f"print/x *(long*)&'{cache}'", "-ex", f"print/x *(*(long**)&'{cache}' + 1)"]
    proc = subprocess.run(["gdb", "-batch", "-nx", "-ex", "break exit", "-ex", command, *prints, str(static_bin)],
                          capture_output=True, text=True, env=env, timeout=120)
    values = [int(line.split("=")[1], 16) for line in proc.stdout.splitlines() if line.startswith("$")]
    assert len(values) == 2 * len(ARRAY_STORAGE_CACHES), proc.stdout + proc.stderr
    for cache, metadata, superclass in zip(ARRAY_STORAGE_CACHES, values[0::2], values[1::2]):
        assert metadata > 0, f"{cache}: the admission never instantiated it, so this checks nothing"
        assert superclass == symbols[ARRAY_STORAGE_BASE], (cache, hex(superclass))
    assert b'"allowed":true' in (tmp_path / "stdout").read_bytes().replace(b" ", b"")


def test_the_superclass_lookup_is_wrapped(static_bin):
    names = {line.split()[-1] for line in _symbols(static_bin).splitlines() if line.strip()}
    assert "__wrap_swift_getTypeByMangledName" in names, "scripts/build no longer links Sources/CStart/Superclass.c"


def test_both_starts_give_the_same_answer(static_bin, tmp_path):
    config = _config(tmp_path)
    (tmp_path / "cache").mkdir()
    env = _cgi_env(config, tmp_path / "cache")
    fast = subprocess.run([str(static_bin)], input=REVIEW.read_bytes(), capture_output=True, env=env, timeout=10)
    full = subprocess.run([str(static_bin), "--cgi"], input=REVIEW.read_bytes(), capture_output=True, env=env,
                          timeout=10)
    assert fast.returncode == 0 and full.returncode == 0, (fast.stderr, full.stderr)
    assert fast.stdout == full.stdout
    assert json.loads(fast.stderr)["applied"] == json.loads(full.stderr)["applied"]


@pytest.mark.parametrize("symbol, what", [
    ("_GLOBAL__sub_I_Backtrace.cpp", "the Swift backtracer's constructor"),
    ("_swift_installCrashHandler", "the Swift backtracer's crash handler"),
    ("libdispatch_init", "libdispatch's constructor (linked by Swift Concurrency)"),
    ("swift_task_create", "Swift Concurrency"),
    ("$s17_StringProcessing5RegexVMn", "the regex engine (_StringProcessing)"),
])
def test_start_up_work_stays_out_of_the_link(symbol, what, static_bin):
    names = {line.split()[-1] for line in _symbols(static_bin).splitlines() if line.strip()}
    assert symbol not in names, f"{what} is linked into {static_bin.name} again, and runs or maps at every start"


def test_glibc_entry_and_the_runtime_hooks_are_there(static_bin):
    names = {line.split()[-1] for line in _symbols(static_bin).splitlines() if line.strip()}
    for symbol in (GLIBC_ENTRY, "_swift_backtrace_isThunkFunction", "_swift_stdlib_getUnsafeArgvArgc"):
        assert symbol in names, f"{symbol} is missing: scripts/build did not link Sources/CStart as designed"
