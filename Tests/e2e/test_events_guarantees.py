"""Event delivery guarantees that test_events_delivery.py leaves open (SPEC §1, §2 `events`, §5; issue 3):
libcurl loaded only when something is sent, the hygiene of the detached deliverer, `events.logFile`, the
outbox bound, the delivery budget for a whole invocation, concurrent first reports, the default
`reportingInstance`, `events.api: none`, and the bound on entries set aside after a permanent refusal.

Same world as test_events_delivery.py: the built binary against the strict fake API server of kubeapi.py.
Processes are inspected through /proc (session, fds, ignored signals) and strace where the question is
what a process opened.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

import pytest

import harness as h
from kubeapi import CORE, EVENTS, SA_USER, KubeAPI
from kubeapi_fixtures import *  # noqa: F401,F403
from test_events_delivery import (APIS, CONTROLLER, STDOUT_BOUND, Site, check_event, config_doc, count_of,
                                  failing_review, log_line, make_site, passing_review, reference_answer)

STRACE = "/usr/bin/strace"
WAIT = 15.0  # generous bound for things that should happen "soon" on a loaded 2-core machine
OUTBOX_CAPACITY = 1000  # Sources/PodInject/Events/Outbox.swift: Outbox(capacity: 1000)
SIGPIPE_BIT = 1 << (signal.SIGPIPE - 1)  # /proc/PID/status Sig* masks: bit n-1 is signal n


@pytest.fixture
def site_factory(kubeapi, tmp_path):
    def make(events_api: str = CORE, creds: str = "token", sub: str = "site", api: KubeAPI | None = None,
             **kw) -> Site:
        return make_site(api or kubeapi, tmp_path / sub, events_api, creds, **kw)

    return make


def wait_until(predicate: Callable[[], Any], timeout: float = WAIT, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def mode_env(site: Site, mode: str, body: bytes) -> dict[str, str]:
    """The site's environment plus what a CGI host (fcgiwrap) or the OpenFaaS watchdog would set."""
    if mode == "cgi":
        base = h.clean_env()
        return dict(site.env, **{k: v for k, v in h.cgi_env(content_length=len(body)).items() if base.get(k) != v})
    assert mode == "function-runtime", mode
    return dict(site.env, Http_Method="POST", Http_Path="/mutate", Http_Query="timeout=10s",
                Http_Content_Type="application/json", Http_Content_Length=str(len(body)))


# ------------------------------------------------------------------------------------------------
# /proc: finding the detached deliverer and looking at it
# ------------------------------------------------------------------------------------------------


def deliverer_pids(config: Path) -> list[int]:
    """Live `podinject events flush --config CONFIG ...` processes (the detached deliverers of one site).

    A zombie has an empty cmdline, so a finished deliverer not yet reaped by init does not count."""
    needle = str(config).encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"events" in argv and b"flush" in argv and needle in argv:
            pids.append(int(entry))
    return pids


def kill_deliverers(config: Path) -> None:
    """Cleanup: a deliverer our test started (through podinject) must not outlive the test."""
    for pid in deliverer_pids(config):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def proc_stat(pid: int) -> dict[str, int]:
    """ppid, pgrp, session and tty_nr from /proc/PID/stat (fields 4-7; comm may hold spaces)."""
    rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return {"state": rest[0], "ppid": int(rest[1]), "pgrp": int(rest[2]), "session": int(rest[3]),
            "tty_nr": int(rest[4])}


def proc_status(pid: int) -> dict[str, str]:
    out = {}
    for ln in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = ln.partition(":")
        out[k] = v.strip()
    return out


def proc_fds(pid: int) -> dict[int, str]:
    d = Path(f"/proc/{pid}/fd")
    out = {}
    for fd in os.listdir(d):
        try:
            out[int(fd)] = os.readlink(d / fd)
        except FileNotFoundError:
            pass
    return out


def tcp_peers() -> dict[int, tuple[str, int, int]]:
    """socket inode → (remote address, remote port, state) for every TCP socket of this network namespace."""
    out = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for ln in lines:
            f = ln.split()
            rem_addr, rem_port = f[2].split(":")
            out[int(f[9])] = (rem_addr, int(rem_port, 16), int(f[3], 16))
    return out


def unix_peers() -> dict[int, int]:
    """socket inode → peer socket inode for connected AF_UNIX sockets (`ss -xa`: sock_diag's peer)."""
    ss = shutil.which("ss")
    assert ss, "ss (iproute2) is needed to tell a socketpair from an inherited unix socket"
    text = subprocess.run([ss, "-xaH"], capture_output=True, text=True, check=True).stdout
    out = {}
    for ln in text.splitlines():
        f = ln.split()
        # Netid State Recv-Q Send-Q Local-Address Local-Port Peer-Address Peer-Port
        if len(f) >= 8 and f[5].isdigit() and f[7].isdigit():
            out[int(f[5])] = int(f[7])
    return out


_SOCKET = re.compile(r"^socket:\[(\d+)\]$")
ESTABLISHED = 1
LOOPBACK_V4 = "0100007F"  # 127.0.0.1 in /proc/net/tcp byte order


# ================================================================================================
# 1. libcurl is loaded only when an Event is delivered
# ================================================================================================


def strace_opens(argv: list[str], stdin: bytes, env: dict[str, str], trace: Path) -> tuple[h.Result, list[str]]:
    if not os.access(STRACE, os.X_OK):
        pytest.skip(f"{STRACE} is not installed: cannot observe which files podinject opens")
    probe = subprocess.run([STRACE, "-f", "-qq", "-e", "trace=openat", "-o", os.devnull, "/bin/true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"strace cannot trace here (ptrace refused?): {probe.stderr.strip()[:300]}")
    full = [STRACE, "-f", "-qq", "-s", "4096", "-e", "trace=openat", "-o", str(trace), "--", *argv]
    proc = subprocess.run(full, input=stdin, capture_output=True, env=env, timeout=60)
    return h.Result(full, proc.returncode, proc.stdout, proc.stderr), trace.read_text().splitlines()


def libcurl_opens(lines: list[str]) -> list[str]:
    return [ln for ln in lines if re.search(r'openat\([^"]*"[^"]*/?libcurl[^"/]*\.so[^"]*"', ln)]


@pytest.mark.parametrize("case", ["no-failure", "dry-run"])
def test_admission_without_event_never_opens_libcurl(site_factory, podinject_bin, tmp_path, case):
    """API server configured (kubeconfig), but nothing to send: not one openat of any libcurl.so*."""
    site = site_factory(CORE)
    review = passing_review(1) if case == "no-failure" else failing_review(1, dry_run=True)
    r, lines = strace_opens(site.argv(), h.review_bytes(review), site.env, tmp_path / "trace")
    assert r.returncode == 0, r.describe()
    assert h.response_of(json.loads(r.stdout))["allowed"] is True
    assert lines and any("openat(" in ln for ln in lines), "strace recorded nothing: the trace is not evidence"
    assert libcurl_opens(lines) == [], "an admission that sends nothing opened libcurl:\n" + \
        "\n".join(libcurl_opens(lines))
    assert site.api.requests == [] and site.all_files() == []
    assert log_line(r)["events"] == {"sent": 0, "aggregated": 0, "spooled": 0, "dropped": 0}


def test_admission_that_delivers_an_event_opens_libcurl(site_factory, podinject_bin, tmp_path):
    site = site_factory(CORE)
    r, lines = strace_opens(site.argv(), h.review_bytes(failing_review(1)), site.env, tmp_path / "trace")
    assert r.returncode == 0, r.describe()
    loaded = [ln for ln in libcurl_opens(lines) if re.search(r"\)\s+=\s+\d+\s*$", ln)]
    assert loaded, "delivering an Event must load libcurl; opens seen:\n" + "\n".join(libcurl_opens(lines) or
                                                                                    lines[-30:])
    check_event(site.only_event(), CORE, "InjectionFailed", "needs-team")
    assert log_line(r)["events"]["sent"] == 1


# ================================================================================================
# 2. The detached deliverer: new session, fds 0-2 on /dev/null, nothing inherited, SIGPIPE ignored
# ================================================================================================


def file_id(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def run_with_extra_pipe(argv: list[str], env: dict[str, str], body: bytes, cwd: Path | None = None) \
        -> tuple[dict[str, float], dict[str, bytes], int, set[tuple[int, int]]]:
    """Runs podinject with stdin/stdout/stderr pipes plus the write end of one more pipe inherited (as
    fcgiwrap leaks its socket). Returns the seconds from spawn until EOF on each read end
    ("stdout", "stderr", "extra"), what each carried, the exit status, and the (device, inode) identities
    of the four pipes."""
    extra_r, extra_w = os.pipe()
    t0 = time.monotonic()
    try:
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                             pass_fds=(extra_w,), cwd=cwd)
    finally:
        os.close(extra_w)
    pipes = {file_id(fd) for fd in (p.stdin.fileno(), p.stdout.fileno(), p.stderr.fileno(), extra_r)}
    try:
        p.stdin.write(body)
        p.stdin.close()
    except BrokenPipeError:
        pass
    sel = selectors.DefaultSelector()
    streams = {"stdout": p.stdout.fileno(), "stderr": p.stderr.fileno(), "extra": extra_r}
    for name, fd in streams.items():
        sel.register(fd, selectors.EVENT_READ, name)
    eof: dict[str, float] = {}
    data: dict[str, bytearray] = {name: bytearray() for name in streams}
    deadline = t0 + WAIT
    while len(eof) < len(streams) and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.1):
            chunk = os.read(key.fd, 65536)
            if chunk:
                data[key.data] += chunk
            else:
                eof[key.data] = time.monotonic() - t0
                sel.unregister(key.fd)
    sel.close()
    os.close(extra_r)
    try:
        code = p.wait(WAIT)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise AssertionError(f"podinject did not exit within {WAIT}s")
    finally:
        p.stdout.close()
        p.stderr.close()
    for name in streams:
        eof.setdefault(name, float("inf"))
    return eof, {k: bytes(v) for k, v in data.items()}, code, pipes


def check_fds_not_inherited(pid: int, api_port: int, parent_pipes: set[tuple[int, int]],
                            outbox: Path | None = None) -> None:
    """fds 0-2 on /dev/null; fd 3 the outbox directory, which carries the outbox lock (the one thing a
    deliverer is handed, issue 12); anything else must be something the deliverer opened itself:
    - the outbox directory, which it works in (openat, renameat), or
    - a TCP socket connected to the fake API server (the request being delivered), or
    - one end of an AF_UNIX socketpair whose other end is in this same process (libcurl's wakeup pair), or
    - an eventfd (what newer libcurl builds use for that wakeup instead of a socketpair).
    A pipe, a regular file, or a socket whose peer is elsewhere can only have been inherited."""
    fds = proc_fds(pid)
    for fd in (0, 1, 2):
        assert fds.get(fd) == "/dev/null", f"deliverer fd {fd} is {fds.get(fd)!r}, not /dev/null (all: {fds})"
    if outbox is not None:
        assert fds.get(3) == str(outbox), f"deliverer fd 3 is {fds.get(3)!r}, not the outbox lock (all: {fds})"
    held = set()
    for fd in fds:
        try:
            st = os.stat(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue
        held.add((st.st_dev, st.st_ino))
    assert not held & parent_pipes, f"the deliverer holds one of its parent's pipes: {fds}"
    tcp = tcp_peers()
    unix = unix_peers()
    own_sockets = {int(m.group(1)) for t in fds.values() if (m := _SOCKET.match(t))}
    for fd, target in sorted(fds.items()):
        if fd <= 2 or (outbox is not None and target == str(outbox)):
            continue
        m = _SOCKET.match(target)
        if m:
            inode = int(m.group(1))
            if inode in tcp:
                addr, port, state = tcp[inode]
                assert (addr, port, state) == (LOOPBACK_V4, api_port, ESTABLISHED), \
                    f"deliverer fd {fd}: TCP socket to {addr}:{port} (state {state}), not the API server " \
                    f"127.0.0.1:{api_port}; all fds: {fds}"
                continue
            if inode in unix:
                assert unix[inode] in own_sockets, \
                    f"deliverer fd {fd}: unix socket whose peer {unix[inode]} is outside the process; fds: {fds}"
                continue
            raise AssertionError(f"deliverer fd {fd}: {target} is neither TCP nor a unix socketpair; fds: {fds}")
        assert target == "anon_inode:[eventfd]", f"deliverer fd {fd} is {target!r}: inherited? all fds: {fds}"


@pytest.mark.parametrize("mode", ["cgi", "function-runtime"])
def test_detached_deliverer_is_detached_and_holds_nothing_of_its_parent(site_factory, podinject_bin, mode):
    stall = 3.0
    site = site_factory(CORE, timeoutMilliseconds=10000)
    body = h.review_bytes(failing_review(1))
    site.api.stall(stall, n=1)
    try:
        eof, data, code, pipes = run_with_extra_pipe(site.argv(), mode_env(site, mode, body), body)
        assert code == 0, data["stderr"].decode(errors="replace")
        for stream in ("stdout", "stderr", "extra"):
            assert eof[stream] < STDOUT_BOUND, \
                f"{mode}: {stream} reached EOF after {eof[stream]:.3f}s (bound {STDOUT_BOUND}s): the detached " \
                f"deliverer still holds it (all: {eof})"
        answer = json.loads(h.parse_cgi(data["stdout"]).body if mode == "cgi" else data["stdout"])
        assert answer["response"]["allowed"] is True
        if mode == "function-runtime":
            assert data["stderr"] == b""

        # The deliverer has sent its request and sits in the stall: look at it now.
        assert site.api.wait_for(lambda a: [q for q in a.requests if q.method == "POST"], WAIT), \
            f"no request reached the API server: {site.logs()[-1500:]}"
        pids = deliverer_pids(site.config)
        assert len(pids) == 1, f"expected one detached `events flush` for {site.config}, found {pids}"
        pid = pids[0]
        st = proc_stat(pid)
        assert st["session"] == pid and st["pgrp"] == pid, f"not a new session: {st}"
        assert st["tty_nr"] == 0, st
        status = proc_status(pid)
        assert int(status["SigIgn"], 16) & SIGPIPE_BIT, f"SIGPIPE not ignored: SigIgn={status['SigIgn']}"
        assert int(status["SigBlk"], 16) == 0, f"signals blocked in the deliverer: {status['SigBlk']}"
        assert os.path.realpath(f"/proc/{pid}/exe") == os.path.realpath(h.BIN), "the deliverer is podinject"
        check_fds_not_inherited(pid, site.api.port, pipes, site.outbox)
        assert not site.stored(), "the stall is still on: nothing can be stored yet"

        # After the stall, the Event arrives and the deliverer ends.
        assert site.api.wait_for(lambda a: a.events(CORE), stall + WAIT), \
            f"no Event after the stall: {site.request_summary()}\n{site.logs()[-1500:]}"
        post = [q for q in site.api.requests if q.method == "POST"][0]
        assert post.status == 201 and post.answered - post.received >= stall - 0.1, (post.status, post.fault)
        check_event(site.only_event(), CORE, "InjectionFailed", "needs-team")
        assert wait_until(lambda: not deliverer_pids(site.config)), "the deliverer did not end after delivering"
        assert site.pending() == [] and site.all_files() == []
        logged = [json.loads(ln) for ln in site.logfile.read_text().splitlines() if ln.strip()]
        assert any(o.get("command") == "events flush" and o["events"]["sent"] == 1 for o in logged), logged
    finally:
        kill_deliverers(site.config)


# ================================================================================================
# 3. events.logFile is honoured by the detached deliverer
# ================================================================================================


def cgi_admit(site: Site, review: dict, cwd: Path | None = None, argv_prefix: list[str] = ()) \
        -> subprocess.CompletedProcess:
    body = h.review_bytes(review)
    p = subprocess.run([*argv_prefix, *site.argv()], input=body, capture_output=True,
                       env=mode_env(site, "cgi", body), timeout=60, cwd=cwd)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    assert h.parse_cgi(p.stdout).status == 200
    return p


def test_forbidden_in_cgi_mode_is_logged_to_the_logfile_and_set_aside(site_factory, podinject_bin):
    site = site_factory(CORE)
    site.api.forbid(SA_USER)
    review = failing_review(1)
    try:
        p = cgi_admit(site, review)
        # With events.logFile set, the CGI program writes nothing on stderr: its own log line goes to
        # the log file (the container's log stream), beside the deliverer's.
        assert not p.stderr.strip(), f"CGI stderr must be empty when events.logFile is set:\n{p.stderr.decode()}"
        admissions = [json.loads(ln) for ln in site.logfile.read_text().splitlines() if '"operation"' in ln]
        assert len(admissions) == 1, admissions
        admission = admissions[0]
        assert admission["uid"] == review["request"]["uid"] and "command" not in admission, admission
        assert admission["events"]["spooled"] == 1, admission

        assert site.api.wait_for(lambda a: [q for q in a.requests if q.status == 403], WAIT), site.request_summary()
        forbidden = [q for q in site.api.requests if q.status == 403][0]
        server_message = forbidden.response["message"]
        assert "is forbidden" in server_message

        def deliverer_lines():
            if not site.logfile.exists():
                return []
            return [json.loads(ln) for ln in site.logfile.read_text().splitlines()
                    if ln.strip() and '"operation"' not in ln]

        assert wait_until(lambda: deliverer_lines() and not deliverer_pids(site.config)), \
            f"the deliverer wrote nothing to events.logFile {site.logfile}"
        logged = deliverer_lines()
        assert len(logged) == 1, logged
        line = logged[0]
        assert line.get("command") == "events flush" and line.get("level") == "warning", line
        problems = line.get("problems") or []
        assert any(server_message in pr and "403" in pr for pr in problems), \
            f"the deliverer's line must quote the API server's message {server_message!r}: {line}"
        assert line["events"]["sent"] == 0 and line["events"]["waiting"] == 0, line

        # set aside, not retried
        assert site.pending() == [], [x.name for x in site.pending()]
        rejected = sorted((site.outbox / "rejected").iterdir()) if (site.outbox / "rejected").is_dir() else []
        assert len(rejected) == 1 and rejected[0].name.endswith(".json"), [x.name for x in site.all_files()]
        assert json.loads(rejected[0].read_text())["kind"] == "OutboxEntry"
        n = len(site.api.requests)
        assert site.flush().returncode == 0
        cgi_admit(site, passing_review(2))
        assert wait_until(lambda: not deliverer_pids(site.config), WAIT)
        assert len(site.api.requests) == n, f"a set-aside Event was retried: {site.request_summary()[n:]}"
        assert site.stored() == []
    finally:
        kill_deliverers(site.config)


def test_set_aside_entries_are_bounded_too(site_factory, podinject_bin):
    site = site_factory(CORE)
    site.api.forbid(SA_USER)
    site.admit(failing_review(0))
    rejected_dir = site.outbox / "rejected"
    first = sorted(rejected_dir.iterdir()) if rejected_dir.is_dir() else []
    assert len(first) == 1 and site.pending() == [], [str(x) for x in site.all_files()]
    content = first[0].read_bytes()
    suffix = first[0].name.rsplit("-", 1)[1]
    base = int(time.time()) - 100_000
    old = [f"{base + i}.{i}-{900000 + i}-0-{suffix}" for i in range(OUTBOX_CAPACITY - 1)]
    for name in old:
        (rejected_dir / name).write_bytes(content)
    assert len(list(rejected_dir.iterdir())) == OUTBOX_CAPACITY
    r = site.admit(failing_review(1))
    assert [q.status for q in site.api.requests] == [403, 403], site.request_summary()
    left = {x.name for x in rejected_dir.iterdir()}
    assert len(left) <= OUTBOX_CAPACITY, \
        f"{len(left)} set-aside entries after one more refusal: nothing bounds outbox/rejected ({r.err[-500:]})"
    assert old[0] not in left, "the oldest set-aside entry should be the one dropped"
    assert "dropped the 1 oldest set-aside Event(s)" in r.err, r.err[-800:]


def paths_in(line: str) -> list[str]:
    """The paths a traced call (strace -y) names: `AT_FDCWD, "path"`, `"path"`, or `fd</dir>, "name"` (the file
    operations of podinject are relative to a directory it opened and checked)."""
    out = []
    for m in re.finditer(r'(?:(\d+)<([^>]*)>, |AT_FDCWD, )?"([^"]*)"', line):
        directory, name = m.group(2), m.group(3)
        out.append(name if directory is None or name.startswith("/") else f"{directory}/{name}")
    return out


def test_empty_logfile_means_the_deliverer_writes_nowhere(site_factory, podinject_bin, tmp_path):
    """events.logFile "": the detached deliverer (stderr on /dev/null) creates no file and opens nothing for
    writing except in the outbox. Seen two ways: the file tree, and strace of every process of the
    invocation (the CGI program and the deliverer it spawns)."""
    if not os.access(STRACE, os.X_OK):
        pytest.skip(f"{STRACE} is not installed: cannot see what the deliverer opens")
    site = site_factory(CORE, logFile="")
    site.env["PODINJECT_CACHE_DIR"] = ""  # no config cache either: every file written is accounted for below
    site.env["PODINJECT_METRICS_FILE"] = ""  # nor metrics (their file is not an Event's business)
    site.api.forbid(SA_USER)  # the deliverer has something to say (a refusal), and nowhere to say it
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    trace = tmp_path / "trace"
    before = {x for x in tmp_path.rglob("*")}
    try:
        cgi_admit(site, failing_review(1), cwd=cwd,
                  argv_prefix=[STRACE, "-f", "-qq", "-y", "-s", "4096", "-e", "trace=openat,open,creat,mkdir,mkdirat,rename,renameat,"
                                                         "renameat2,execve", "-o", str(trace), "--"])
        # strace -f ends after the last traced process, the deliverer, has ended
        assert [q for q in site.api.requests if q.status == 403], site.request_summary()
        assert site.pending() == [] and len(list((site.outbox / "rejected").iterdir())) == 1
        assert not deliverer_pids(site.config)
    finally:
        kill_deliverers(site.config)
    created = {x for x in tmp_path.rglob("*")} - before - {trace}
    allowed = {site.outbox, site.outbox / "rejected", *site.outbox.rglob("*")}
    assert created <= allowed, f"files created outside the outbox: {sorted(map(str, created - allowed))}"
    assert list(cwd.iterdir()) == [] and list((site.tmp / "home").iterdir()) == []

    lines = trace.read_text().splitlines()
    flush_pids = {ln.split()[0] for ln in lines if "execve(" in ln and '"events", "flush"' in ln}
    assert len(flush_pids) == 1, f"expected one deliverer exec in the trace: {[ln for ln in lines if 'execve' in ln]}"
    pid = flush_pids.pop()
    changes = [ln for ln in lines if ln.split()[0] == pid and not re.search(r"= -1 E", ln) and (
        re.search(r"\b(creat|mkdirat|mkdir|rename|renameat|renameat2)\(", ln)
        or (re.search(r"\bopen(at)?\(", ln) and re.search(r"O_WRONLY|O_RDWR|O_CREAT", ln)))]
    assert any(str(site.outbox / "rejected") in ln for ln in changes), \
        "the audit must at least see the deliverer set the refused Event aside:\n" + "\n".join(changes)
    outbox = str(site.outbox) + "/"
    outside = [ln for ln in changes
               if any(not (p == "/dev/null" or p.startswith(outbox) or p == outbox[:-1]) for p in paths_in(ln))]
    assert outside == [], "the deliverer wrote outside the outbox:\n" + "\n".join(outside)


# ================================================================================================
# 4. The outbox bound
# ================================================================================================


def test_outbox_is_bounded_and_drops_the_oldest(site_factory, podinject_bin, tmp_path):
    site = site_factory(CORE)
    site.api.stop()
    r0 = site.admit(failing_review(0))
    spooled = site.pending()
    assert len(spooled) == 1, [x.name for x in site.all_files()]
    template = spooled[0]
    content = template.read_bytes()
    assert json.loads(content)["kind"] == "OutboxEntry"
    suffix = template.name.rsplit("-", 1)[1]  # the Event name's hash part, and ".json"
    # 1000 well-formed entries, all older than anything podinject writes now; names as Outbox.spool makes
    # them (`<seconds>.<microseconds>-<pid>-<index>-<hash>.json`), ordered by (seconds, microseconds).
    base = int(time.time()) - 100_000
    names = [f"{base + i}.{i}-{900000 + i}-0-{suffix}" for i in range(OUTBOX_CAPACITY)]
    for name in names:
        (site.outbox / name).write_bytes(content)
    template.unlink()
    assert len(site.pending()) == OUTBOX_CAPACITY
    assert log_line(r0)["events"]["dropped"] == 0

    review = failing_review(1)
    r = site.admit(review)
    assert r.json() == reference_answer(tmp_path, review, CORE), "a full outbox must not change the answer"
    left = {x.name for x in site.pending()}
    assert len(left) == OUTBOX_CAPACITY, f"{len(left)} entries left; the bound is {OUTBOX_CAPACITY}"
    assert names[0] not in left, "the oldest entry must be the one dropped"
    assert set(names[1:]) <= left, f"dropped more than the oldest: {sorted(set(names[1:]) - left)[:5]}"
    new = left - set(names)
    assert len(new) == 1 and json.loads((site.outbox / new.pop()).read_text())["kind"] == "OutboxEntry"
    line = log_line(r)
    assert line["events"]["dropped"] == 1 and line["events"]["spooled"] == 1 and line["events"]["sent"] == 0, line
    notes = line.get("notes") or []
    assert any(re.search(r"outbox full", n) and "dropped the 1 oldest" in n for n in notes), \
        f"the log line must say the outbox was full: {line}"
    assert not [x for x in site.all_files() if x.name.startswith(".")], "no claim or temporary file left behind"


# ================================================================================================
# 5. The budget is for the whole delivery of an invocation
# ================================================================================================


def timed_stdin_run(site: Site, review: dict) -> tuple[float, float, bytes, bytes, int]:
    """(seconds from spawn until stdout EOF, until exit, stdout, stderr, exit status)."""
    t0 = time.monotonic()
    p = subprocess.Popen(site.argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=site.env)
    p.stdin.write(h.review_bytes(review))
    p.stdin.close()
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ, "out")
    sel.register(p.stderr, selectors.EVENT_READ, "err")
    data = {"out": bytearray(), "err": bytearray()}
    out_eof = None
    deadline = t0 + 30
    while sel.get_map() and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.05):
            chunk = os.read(key.fd, 65536)
            if chunk:
                data[key.data] += chunk
            else:
                sel.unregister(key.fileobj)
                if key.data == "out":
                    out_eof = time.monotonic() - t0
    sel.close()
    try:
        p.wait(max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise AssertionError("podinject did not exit within 30s")
    exited = time.monotonic() - t0
    p.stdout.close()
    p.stderr.close()
    return out_eof if out_eof is not None else float("inf"), exited, bytes(data["out"]), bytes(data["err"]), \
        p.returncode


def two_failures_config(events_api: str, tmp: Path, **events: Any) -> dict:
    cfg = config_doc(events_api, tmp, **events)
    cfg["rules"].append({"name": "needs-tier", "env": [{"name": "TIER", "value": '{{ index .metadata.labels "tier" }}'}]})
    return cfg


@pytest.mark.parametrize("failures", [1, 2])
@pytest.mark.parametrize("events_api", APIS)
def test_stall_budget_bounds_the_whole_process(site_factory, podinject_bin, events_api, failures, tmp_path):
    budget_ms = 1000
    cfg = (two_failures_config if failures == 2 else config_doc)(events_api, tmp_path / "site",
                                                                 timeoutMilliseconds=budget_ms)
    site = site_factory(events_api, config=cfg)
    review = failing_review(1)
    site.api.stall(5)
    try:
        out_t, exit_t, out, err, code = timed_stdin_run(site, review)
        assert code == 0, err.decode(errors="replace")
        answer = json.loads(out)
        assert len(h.status_annotation(h.apply_patch(review["request"]["object"], h.patch_of(answer)))["failed"]) \
            == failures
        assert out_t < STDOUT_BOUND, f"stdout complete after {out_t:.3f}s (bound {STDOUT_BOUND}s)"
        assert exit_t < budget_ms / 1000 + 0.5, \
            f"{failures} Event(s): exited after {exit_t:.3f}s with a {budget_ms} ms budget (bound budget + 0.5 s)"
        assert site.api.requests, "it did try to deliver"
        assert len(site.pending()) == failures, "timed-out Events wait in the outbox"
        line = json.loads(err.decode().strip().splitlines()[-1])
        assert line["events"]["sent"] == 0 and line["events"]["spooled"] == failures, line
    finally:
        site.api.stop()  # the stalled handlers must not complete a create behind our back


# ================================================================================================
# 6. Concurrent first reports
# ================================================================================================


@pytest.mark.parametrize("events_api", APIS)
def test_eight_concurrent_first_reports_make_one_event_counting_8(site_factory, podinject_bin, events_api):
    site = site_factory(events_api, timeoutMilliseconds=20000)
    assert site.stored() == []
    procs = [subprocess.Popen(site.argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=site.env) for _ in range(8)]
    bodies = [h.review_bytes(failing_review(100 + i)) for i in range(8)]
    # every process is up and waiting on stdin; release them together
    for p, body in zip(procs, bodies):
        p.stdin.write(body)
    for p in procs:
        p.stdin.close()
    results = []
    try:
        for p in procs:
            out = p.stdout.read()
            err = p.stderr.read()
            p.wait(60)
            results.append((p.returncode, out, err))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
            p.stderr.close()
    for code, out, err in results:
        assert code == 0, err.decode(errors="replace")[-2000:]
        assert json.loads(out)["response"]["allowed"] is True
    ev = site.only_event()
    check_event(ev, events_api, "InjectionFailed", "needs-team")
    assert count_of(ev, events_api) == 8, (ev, site.request_summary())
    if events_api == EVENTS:
        assert ev["series"]["count"] == 8 and ev["series"]["lastObservedTime"], ev
    else:
        assert ev["count"] == 8, ev
    created = [q for q in site.api.requests if q.method == "POST" and q.status == 201]
    assert len(created) == 1, site.request_summary()
    assert site.pending() == [] and site.all_files() == [], [x.name for x in site.all_files()]
    site.check_requests_clean()
    counts = [json.loads(err.decode().strip().splitlines()[-1])["events"] for _, _, err in results]
    assert sum(c["sent"] for c in counts) == 1 and sum(c["aggregated"] for c in counts) == 7, counts


# ================================================================================================
# 7. reportingInstance: $POD_NAME, else the host name
# ================================================================================================


@pytest.mark.parametrize("pod_name", ["podinject-6f7d9c8b5-x2k9q", None])
@pytest.mark.parametrize("events_api", APIS)
def test_reporting_instance_defaults_to_pod_name_then_host_name(site_factory, podinject_bin, events_api, pod_name):
    site = site_factory(events_api, reportingInstance="")
    if pod_name:
        site.env["POD_NAME"] = pod_name
    else:
        assert "POD_NAME" not in site.env
    site.admit(failing_review(1))
    ev = site.only_event()
    expected = pod_name or socket.gethostname()
    assert expected, "the host has no name to compare with"
    assert ev["reportingInstance"] == expected, (ev["reportingInstance"], expected)
    if events_api == CORE:
        assert ev["reportingComponent"] == CONTROLLER
    else:
        assert ev["reportingController"] == CONTROLLER
    site.check_requests_clean()


# ================================================================================================
# 8. events.api: none
# ================================================================================================


def test_events_api_none_sends_and_spools_nothing(site_factory, podinject_bin, tmp_path):
    site = site_factory("none")
    review = failing_review(1)
    r = site.admit(review)
    assert h.response_of(r.json())["allowed"] is True
    line = log_line(r)
    assert line["failed"] and line["failed"][0]["rule"] == "needs-team", line
    assert line["events"] == {"sent": 0, "aggregated": 0, "spooled": 0, "dropped": 0}, line
    assert any("events.api is none" in n for n in line.get("notes") or []), line
    assert site.api.requests == [], site.request_summary()
    assert not site.outbox.exists() or list(site.outbox.rglob("*")) == [], [str(x) for x in site.outbox.rglob("*")]
    assert site.api.events(CORE) == [] and site.api.events(EVENTS) == []
    # the answer is the one with no API at all
    assert r.json() == reference_answer(tmp_path, review, CORE)
