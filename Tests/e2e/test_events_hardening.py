"""Hostile neighbours and hostile input against Event delivery (issue 12, part 2 of 5), end to end: the built
binary against the strict fake API server of kubeapi.py, and the shipped hosts.

1. Only a private directory is used for the outbox and the configuration cache: another user's, a group- or
   world-writable, or a symlinked one is never read, never written, and `events flush` never moves or
   deletes a file of a symlink's target; the admission is still answered and its Event sent from memory.
   The defaults are per user. `events.logFile` is never followed through another user's symlink.
2. Entries read back from the outbox are checked again: a planted entry whose namespace climbs out of the
   Event path never leaves the machine.
3. One bad entry never holds the others back.
4. A CA that is given is the only trust anchor: no system store besides it.
5. One deliverer per outbox: a burst of CGI admissions against a stalled, then recovering, API server
   counts every occurrence exactly with at most a couple of `events flush` processes at once.
6. The deliverer's environment is built by podinject: no `HTTP_*` of the request (httpoxy), no host
   variable it does not need; the operator's HTTPS_PROXY and NO_PROXY work as client-go reads them; the
   shipped nginx clears a `Proxy:` header.
"""

from __future__ import annotations

import base64
import concurrent.futures as cf
import json
import os
import re
import select
import shutil
import socket
import socketserver
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

import harness as h
from hosts_fixtures import *  # noqa: F401,F403
from hosts_fixtures import HOST_UID, HostFiles, call, own_by_host_user, run_as_prefix, start_entrypoint, \
    stop_process_tree
from kubeapi import CORE, KubeAPI
from kubeapi_fixtures import *  # noqa: F401,F403
from test_events_delivery import (NS, Site, config_doc, count_of, deny_review, failing_review, log_line, make_site)
from test_events_guarantees import deliverer_pids, kill_deliverers, mode_env, wait_until

WAIT = 20.0
OTHER_UID = 65534  # nobody: "another local user"
EVENT_PATH = re.compile(r"^/api/v1/namespaces/" + NS + r"/events(/[a-z0-9.-]+)?$")


@pytest.fixture
def site_factory(kubeapi, tmp_path):
    def make(events_api: str = CORE, creds: str = "token", sub: str = "site", api: KubeAPI | None = None,
             **kw) -> Site:
        return make_site(api or kubeapi, tmp_path / sub, events_api, creds, **kw)

    return make


def tree(path: Path) -> dict[str, tuple[int, bytes | str]]:
    """Everything under `path` (not following links): name -> (mode, content or link target)."""
    out: dict[str, tuple[int, bytes | str]] = {}
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            p = Path(root) / name
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[str(p.relative_to(path))] = (st.st_mode, os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                out[str(p.relative_to(path))] = (st.st_mode, p.read_bytes())
            else:
                out[str(p.relative_to(path))] = (st.st_mode, "")
    return out


def planted_entry(namespace: str = "planted", name: str = "planted-rs.0123456789abcdef") -> bytes:
    """An outbox entry as another user (or an attacker) would leave it: well formed, for another Event."""
    body = {"apiVersion": "v1", "kind": "Event", "metadata": {"namespace": namespace, "name": name},
            "involvedObject": {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "planted-rs",
                               "namespace": namespace},
            "reason": "InjectionFailed", "message": "planted", "type": "Warning",
            "source": {"component": "podinject.dev/e2e"}, "reportingComponent": "podinject.dev/e2e",
            "reportingInstance": "e2e-runner", "firstTimestamp": "2026-11-29T10:00:00Z",
            "lastTimestamp": "2026-11-29T10:00:00Z", "count": 1}
    return json.dumps({"apiVersion": "podinject.dev/v1alpha1", "kind": "OutboxEntry", "api": "v1",
                       "namespace": namespace, "name": name, "reason": "InjectionFailed", "rule": "x",
                       "note": "planted", "lastTimestamp": "2026-11-29T10:00:00Z",
                       "lastObservedTime": "2026-11-29T10:00:00.000000Z", "event": body}).encode()


HOSTILE = ["another-user", "world-writable", "group-writable", "symlink", "symlinked-parent"]


def make_hostile_outbox(site: Site, kind: str) -> Path:
    """Makes `site.outbox` something podinject must refuse, with files in it; returns the directory whose
    content must stay as it is."""
    victim = site.outbox if kind in ("another-user", "world-writable", "group-writable") else site.tmp / "victim"
    victim.mkdir(mode=0o700)
    (victim / "1795929000.1-1-0-0123456789abcdef.json").write_bytes(planted_entry())
    (victim / "precious.txt").write_text("not podinject's\n")
    (victim / "rejected").mkdir(mode=0o700)
    (victim / "rejected" / "old.json").write_text("{}")
    if kind == "symlink":
        site.outbox.symlink_to(victim)
    elif kind == "symlinked-parent":
        # The configured outbox is <shared>/podinject/outbox; <shared> is /tmp-like, and another user put a
        # symlink where podinject's own directory should be.
        shared = site.tmp / "shared"
        shared.mkdir()
        os.chmod(shared, 0o1777)
        (victim / "outbox").mkdir(mode=0o700)
        (victim / "outbox" / "1795929000.2-1-0-0123456789abcdef.json").write_bytes(planted_entry())
        link = shared / "podinject"
        link.symlink_to(victim)
        os.lchown(link, OTHER_UID, OTHER_UID)
        doc = yaml.safe_load(site.config.read_text())
        doc["events"]["outbox"] = str(link / "outbox")
        site.config.write_text(yaml.safe_dump(doc, sort_keys=False))
    elif kind == "another-user":
        for root, dirs, files in os.walk(victim):
            for name in [root, *[os.path.join(root, f) for f in dirs + files]]:
                os.chown(name, OTHER_UID, OTHER_UID)
    elif kind == "world-writable":
        os.chmod(victim, 0o777)
    else:
        os.chmod(victim, 0o770)
    return victim


def requests_other_than_ours(site: Site) -> list[tuple[str, str]]:
    return [(q.method, q.path) for q in site.api.requests if not EVENT_PATH.match(q.path.split("?")[0])
            or "planted" in q.path]


# ================================================================================================
# 1. Only a private outbox (and cache) is used
# ================================================================================================


@pytest.mark.parametrize("kind", HOSTILE)
def test_a_foreign_outbox_is_never_read_nor_written_and_the_event_still_goes(site_factory, podinject_bin, kind):
    site = site_factory(CORE)
    victim = make_hostile_outbox(site, kind)
    before = tree(victim)
    r = site.admit(failing_review(1))
    assert h.response_of(r.json())["allowed"] is True
    # The Event went directly, from memory; nothing planted was sent.
    ev = site.only_event()
    assert ev["reason"] == "InjectionFailed" and count_of(ev, CORE) == 1
    assert requests_other_than_ours(site) == [], site.request_summary()
    line = log_line(r)
    assert line["events"]["sent"] == 1 and line["events"]["spooled"] == 0, line
    assert any("outbox refused" in n for n in line.get("notes", [])), line
    assert tree(victim) == before, f"{kind}: the refused outbox was changed"

    n = len(site.api.requests)
    f = site.flush()
    assert f.returncode == 1, f.describe()
    assert "outbox refused" in site.logs(f), site.logs(f)[-1500:]
    assert len(site.api.requests) == n, f"flush sent something from a refused outbox: {site.request_summary()[n:]}"
    assert tree(victim) == before, f"{kind}: `events flush` changed the refused outbox"


@pytest.mark.parametrize("kind", ["world-writable", "symlink"])
def test_cgi_mode_hands_events_of_a_refused_outbox_to_the_deliverer_in_memory(site_factory, podinject_bin, kind):
    site = site_factory(CORE)
    victim = make_hostile_outbox(site, kind)
    before = tree(victim)
    body = h.review_bytes(failing_review(1))
    try:
        p = subprocess.run(site.argv(), input=body, capture_output=True, env=mode_env(site, "cgi", body), timeout=30)
        assert p.returncode == 0 and h.parse_cgi(p.stdout).status == 200, p.stderr.decode(errors="replace")
        # With events.logFile set, a CGI admission's log line goes there (the container's log stream).
        assert not p.stderr.strip(), p.stderr.decode(errors="replace")
        admission = next(json.loads(ln) for ln in reversed(site.logfile.read_text().splitlines()) if '"operation"' in ln)
        assert any("from memory" in n for n in admission.get("notes", [])), admission
        assert site.api.wait_for(lambda a: a.events(CORE), WAIT), f"{site.request_summary()}\n{site.logs()[-1500:]}"
        assert count_of(site.only_event(), CORE) == 1
        assert wait_until(lambda: not deliverer_pids(site.config), WAIT)
        assert requests_other_than_ours(site) == [], site.request_summary()
        assert tree(victim) == before
    finally:
        kill_deliverers(site.config)


def test_an_outbox_in_a_world_writable_parent_is_made_private(site_factory, podinject_bin):
    """An emptyDir (mounted 0777 by Kubernetes) as the outbox's parent: podinject makes the outbox itself, 0700."""
    site = site_factory(CORE)
    shared = site.tmp / "emptydir"
    shared.mkdir()
    os.chmod(shared, 0o777)
    doc = yaml.safe_load(site.config.read_text())
    doc["events"]["outbox"] = str(shared / "outbox")
    site.config.write_text(yaml.safe_dump(doc, sort_keys=False))
    site.api.stop()
    site.admit(failing_review(1))
    st = (shared / "outbox").lstat()
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == os.geteuid()
    assert len(list((shared / "outbox").iterdir())) == 1
    site.api.start()
    assert site.flush().returncode == 0
    assert count_of(site.only_event(), CORE) == 1


OTHER = 64999  # a uid no test or engineer on this machine uses


@pytest.fixture
def other_user_world():
    """Files uid OTHER can read (pytest's tmp dirs are private to root), and its default directories cleaned."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run podinject as another user")
    d = Path(tempfile.mkdtemp(prefix="podinject-uid-", dir="/tmp"))
    os.chmod(d, 0o755)
    default = Path(f"/tmp/podinject-{OTHER}")
    shutil.rmtree(default, ignore_errors=True)
    try:
        yield d, default
    finally:
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(default, ignore_errors=True)


def test_default_outbox_and_cache_are_per_user_and_private(kubeapi, other_user_world, podinject_bin):
    d, default = other_user_world
    doc = config_doc(CORE, d)
    del doc["events"]["outbox"]
    del doc["events"]["logFile"]
    config = d / "config.yaml"
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    kc = kubeapi.write_kubeconfig(d / "kc" / "kubeconfig", "token")
    for p in (d / "kc", kc, config):
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    env = h.clean_env({"KUBECONFIG": str(kc)})
    env.pop("PODINJECT_CACHE_DIR", None)
    argv = ["setpriv", f"--reuid={OTHER}", f"--regid={OTHER}", "--clear-groups", str(h.BIN), "--config", str(config)]
    kubeapi.stop()
    p = subprocess.run(argv, input=h.review_bytes(failing_review(1)), capture_output=True, env=env, timeout=30)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    for sub in ("", "outbox", "cache"):
        st = (default / sub).lstat()
        assert stat.S_ISDIR(st.st_mode) and st.st_uid == OTHER and stat.S_IMODE(st.st_mode) == 0o700, (sub, st)
    assert len([x for x in (default / "outbox").iterdir() if x.suffix == ".json"]) == 1
    assert len(list((default / "cache").iterdir())) == 1, "the validated config is cached per user"

    # Another user took the name first (a 0777 directory): it is refused; the Event is sent from memory.
    shutil.rmtree(default)
    default.mkdir()
    os.chmod(default, 0o777)
    os.chown(default, OTHER_UID, OTHER_UID)
    kubeapi.start()
    p = subprocess.run(argv, input=h.review_bytes(failing_review(2)), capture_output=True, env=env, timeout=30)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    assert list(default.iterdir()) == [], "podinject wrote into another user's directory"
    assert kubeapi.events(CORE), p.stderr.decode(errors="replace")
    assert "outbox refused" in p.stderr.decode()


def test_a_cache_directory_others_can_write_is_not_read(site_factory, podinject_bin):
    """A planted cache entry (a configuration with no rules) in a 0777 cache directory is never used."""
    site = site_factory(CORE)
    cache = site.tmp / "cache"
    site.env["PODINJECT_CACHE_DIR"] = str(cache)
    site.api.stop()
    site.admit(failing_review(1))  # writes the cache entry
    entries = list(cache.iterdir())
    assert len(entries) == 1 and stat.S_IMODE(cache.stat().st_mode) == 0o700
    os.chmod(cache, 0o777)
    # "another user" swaps in an entry that would admit everything untouched: the real config is read instead
    entries[0].write_bytes(b"garbage that must not even be opened")
    r = site.admit(failing_review(2))
    assert h.status_annotation(h.apply_patch(failing_review(2)["request"]["object"], h.patch_of(r.json())))[
        "failed"], "the rules of the real configuration ran"
    assert entries[0].read_bytes() == b"garbage that must not even be opened", "a refused cache was rewritten"


# ---- events.logFile


def test_logfile_is_not_followed_through_another_users_symlink(site_factory, podinject_bin, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    link = shared / "deliverer.log"
    link.symlink_to(victim)
    os.lchown(link, OTHER_UID, OTHER_UID)
    site = site_factory(CORE, logFile=str(link))
    site.api.stop()
    site.admit(failing_review(1))
    f = site.flush()
    assert f.returncode == 3, f.describe()
    assert victim.read_text() == "precious\n", "the log line went through another user's symlink"
    assert '"command":"events flush"' in f.err, "the line falls back to stderr"


def test_logfile_that_is_a_fifo_of_another_user_does_not_hang(site_factory, podinject_bin, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    fifo = shared / "deliverer.log"
    os.mkfifo(fifo)
    os.chown(fifo, OTHER_UID, OTHER_UID)
    site = site_factory(CORE, logFile=str(fifo))
    site.api.stop()
    site.admit(failing_review(1))
    t0 = time.monotonic()
    f = site.flush(timeout=8)
    assert time.monotonic() - t0 < 5 and f.returncode == 3, f.describe()


def test_a_logfile_that_refuses_the_line_falls_back_to_stderr(site_factory, podinject_bin):
    """A log file that opens but takes nothing (a full disk; here /dev/full) must not swallow the line."""
    site = site_factory(CORE, logFile="/dev/full")
    site.api.stop()
    site.admit(failing_review(1))
    f = site.flush()
    assert f.returncode == 3, f.describe()
    assert '"command":"events flush"' in f.err, "the line was lost with the failed write, not sent to stderr"


def test_logfile_through_proc_fd_reaches_the_pipe(site_factory, podinject_bin):
    """The Deployment's logFile is /proc/1/fd/1, a link (in a directory nobody else can write) to a pipe."""
    r, w = os.pipe()
    try:
        site = site_factory(CORE, logFile=f"/proc/{os.getpid()}/fd/{w}")
        site.api.stop()
        site.admit(failing_review(1))
        f = site.flush()
        assert f.returncode == 3, f.describe()
        assert select.select([r], [], [], 5)[0], "nothing reached the pipe"
        line = json.loads(os.read(r, 65536).decode().splitlines()[0])
        assert line["command"] == "events flush" and line["events"]["waiting"] == 1, line
    finally:
        os.close(r)
        os.close(w)


# ================================================================================================
# 2. Entries are checked again when read back; 3. one bad entry never blocks the others
# ================================================================================================

TRAVERSAL = "x/../../../../api/v1/namespaces/kube-system/configmaps?x="


def test_a_planted_entry_that_climbs_out_of_the_event_path_never_leaves(site_factory, podinject_bin):
    site = site_factory(CORE)
    site.api.stop()
    site.admit(failing_review(1))  # makes the (private) outbox, with one genuine entry
    assert len(site.pending()) == 1
    planted = "1700000000.1-1-0-0123456789abcdef.json"
    body = json.loads(planted_entry(TRAVERSAL, "cm"))
    body["event"] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "kube-system"},
                     "data": {"owned": "yes"}}
    (site.outbox / planted).write_text(json.dumps(body))
    traversal_event = "1700000000.2-1-0-1123456789abcdef.json"
    (site.outbox / traversal_event).write_bytes(planted_entry(TRAVERSAL, "web.0123456789abcdef"))
    site.api.start()
    f = site.flush()
    assert f.returncode == 0, f.describe()
    assert requests_other_than_ours(site) == [], f"a request left for another path: {site.request_summary()}"
    assert [q.method for q in site.api.requests] == ["POST"], site.request_summary()
    assert count_of(site.only_event(), CORE) == 1
    assert sorted(x.name for x in (site.outbox / "rejected").iterdir()) == sorted([planted, traversal_event])
    logged = site.logs(f)
    for name in (planted, traversal_event):
        assert re.search(re.escape(name) + r" is unreadable \(its namespace is not a DNS-1123 label\); set aside",
                         logged), logged[-2000:]
    assert "kube-system" not in logged, "the planted value is echoed in the log"


def test_one_bad_entry_never_blocks_the_others(site_factory, podinject_bin):
    """A namespace libcurl cannot put in a URL (curl error 3): once it stopped every drain, valid Events waited
    for ever (`flush` exit 3, 0 requests)."""
    site = site_factory(CORE)
    site.api.stop()
    for i in range(3):
        site.admit(failing_review(i))
    assert len(site.pending()) == 3
    bad = "1700000000.1-1-0-0123456789abcdef.json"  # the oldest: first in line
    (site.outbox / bad).write_bytes(planted_entry("bad namespace", "web.0123456789abcdef"))
    site.api.start()
    f = site.flush()
    assert f.returncode == 0, f.describe()
    assert count_of(site.only_event(), CORE) == 3, site.request_summary()
    assert [x.name for x in (site.outbox / "rejected").iterdir()] == [bad]
    assert site.pending() == []


# ================================================================================================
# 4. A given CA is the only trust anchor
# ================================================================================================


def _unshare_works() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "true"], capture_output=True)
    return p.returncode == 0


@pytest.fixture
def system_store(tmp_path, kubeapi):
    """A system CA store (what libcurl loads by default on Debian: /etc/ssl/certs, directory and bundle) that
    holds the CA of the fake API server, as a public CA would be; podinject runs with it bind-mounted over
    /etc/ssl/certs in a mount namespace of its own."""
    if not _unshare_works():
        pytest.skip("needs root and unshare -m to put a CA in a private copy of the system store")
    store = tmp_path / "system-certs"
    store.mkdir()
    shutil.copy(kubeapi.ca_crt, store / "fake-public-ca.pem")
    (store / "ca-certificates.crt").write_bytes(kubeapi.ca_crt.read_bytes())
    subprocess.run(["openssl", "rehash", str(store)], check=True, capture_output=True)
    return store


def run_with_store(store: Path, argv: list[str], env: dict[str, str], body: bytes) -> subprocess.CompletedProcess:
    script = 'mount --bind "$1" /etc/ssl/certs && shift && exec "$@"'
    return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", str(store), *argv],
                          input=body, capture_output=True, env=env, timeout=30)


@pytest.mark.parametrize("source", ["kubeconfig-data", "kubeconfig-file", "in-cluster"])
def test_a_given_ca_is_the_only_trust_anchor(site_factory, podinject_bin, system_store, kube_pki, source):
    """The server's certificate is signed by a CA of the system store, not by the CA the credentials give:
    podinject must refuse it (and so never send its token), as client-go does."""
    rogue = kube_pki.rogue_ca_crt.read_bytes()  # a real CA, but not the one that signed the server
    site = site_factory(CORE, "in-cluster" if source == "in-cluster" else "token")
    if source == "in-cluster":
        (Path(site.env["PODINJECT_SERVICEACCOUNT_DIR"]) / "ca.crt").write_bytes(rogue)
    else:
        kc = Path(site.args[1])
        doc = yaml.safe_load(kc.read_text())
        cluster = next(c for c in doc["clusters"] if c["name"] == "fake")["cluster"]
        if source == "kubeconfig-data":
            cluster["certificate-authority-data"] = base64.b64encode(rogue).decode()
        else:
            del cluster["certificate-authority-data"]
            (kc.parent / "given-ca.crt").write_bytes(rogue)
            cluster["certificate-authority"] = str(kc.parent / "given-ca.crt")
        kc.write_text(yaml.safe_dump(doc))
    p = run_with_store(system_store, site.argv(), site.env, h.review_bytes(failing_review(1)))
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    assert site.stored() == [], "the system store stood in for the given CA"
    assert [q for q in site.api.requests] == [], "a request (with the token) reached a server the CA did not sign"
    assert "curl error 60" in p.stderr.decode(), p.stderr.decode()[-1500:]


def test_without_a_given_ca_the_system_store_is_used(site_factory, podinject_bin, system_store):
    """The control for the test above: the same private store does reach the server when no CA is given."""
    site = site_factory(CORE)
    kc = Path(site.args[1])
    doc = yaml.safe_load(kc.read_text())
    del next(c for c in doc["clusters"] if c["name"] == "fake")["cluster"]["certificate-authority-data"]
    kc.write_text(yaml.safe_dump(doc))
    p = run_with_store(system_store, site.argv(), site.env, h.review_bytes(failing_review(1)))
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    assert count_of(site.only_event(), CORE) == 1, p.stderr.decode()[-1500:]


# ================================================================================================
# 5. One deliverer per outbox, nothing lost
# ================================================================================================


@pytest.mark.parametrize("budget", [4000, 1000])
def test_a_burst_has_one_deliverer_and_loses_nothing(site_factory, podinject_bin, budget):
    """100 CGI admissions over about 2.5 s, two Events failing in turn, while the API server stalls every
    request 0.7 s for the first 1.5 s, then recovers. With a budget of 4 s one deliverer takes the whole
    burst; with 1 s, deliverers hand the lock over as their budgets run out."""
    n = 100
    site = site_factory(CORE, timeoutMilliseconds=budget)
    site.api.stall(0.7)
    stop = threading.Event()
    counts: list[int] = []

    def sample() -> None:
        while not stop.is_set():
            counts.append(len(deliverer_pids(site.config)))
            time.sleep(0.003)

    t0 = time.monotonic()

    def admit(i: int) -> None:
        time.sleep(max(0.0, t0 + i * 0.025 - time.monotonic()))
        review = failing_review(i) if i % 2 else deny_review(i)
        body = h.review_bytes(review)
        p = subprocess.run(site.argv(), input=body, capture_output=True, env=mode_env(site, "cgi", body), timeout=30)
        assert p.returncode == 0 and h.parse_cgi(p.stdout).status == 200, p.stderr.decode(errors="replace")

    def counted() -> dict[str, int]:
        return {e["reason"]: count_of(e, CORE) for e in site.stored()}

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    recover = threading.Timer(1.5, site.api.clear_faults)
    recover.start()
    expected = {"InjectionFailed": n // 2, "InjectionDenied": n // 2}
    try:
        with cf.ThreadPoolExecutor(12) as pool:
            list(pool.map(admit, range(n)))
        burst = time.monotonic() - t0
        assert wait_until(lambda: counted() == expected, 40), \
            f"{counted()} after a burst of {n} ({burst:.1f}s): {len(site.pending())} waiting\n{site.logs()[-3000:]}"
        assert wait_until(lambda: not deliverer_pids(site.config), WAIT)
    finally:
        recover.cancel()
        stop.set()
        sampler.join()
        kill_deliverers(site.config)
    assert site.pending() == [] and site.all_files() == [], [x.name for x in site.all_files()]
    assert counted() == expected, "an occurrence was counted twice"
    peak = max(counts)
    runs = len([ln for ln in site.logs().splitlines() if '"command":"events flush"' in ln])
    print(f"budget {budget} ms: burst of {n} CGI admissions in {burst:.2f}s; {len(site.api.requests)} API requests; "
          f"{runs} deliverer runs; at most {peak} `events flush` at once ({len(counts)} samples)")
    assert peak <= 2, f"{peak} deliverers ran at once"


# ================================================================================================
# 6. The deliverer's environment, proxies, and the shipped hosts
# ================================================================================================


class ConnectProxy:
    """A tiny HTTP CONNECT proxy on loopback that records the targets it tunnelled to. With `refuse`, it
    records who came and closes (an attacker's "proxy")."""

    def __init__(self, refuse: bool = False):
        self.targets: list[str] = []
        self.connections = 0
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                outer.connections += 1
                if refuse:
                    return
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = self.request.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                m = re.match(rb"CONNECT (\S+):(\d+) HTTP/1\.[01]\r\n", data)
                if not m:
                    self.request.sendall(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
                    return
                outer.targets.append(f"{m.group(1).decode()}:{m.group(2).decode()}")
                upstream = socket.create_connection((m.group(1).decode(), int(m.group(2))), 10)
                self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                pair = [self.request, upstream]
                try:
                    while True:
                        readable, _, _ = select.select(pair, [], [], 30)
                        if not readable:
                            return
                        for s in readable:
                            chunk = s.recv(65536)
                            if not chunk:
                                return
                            (upstream if s is self.request else self.request).sendall(chunk)
                finally:
                    upstream.close()

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxies():
    good, evil = ConnectProxy(), ConnectProxy(refuse=True)
    yield good, evil
    good.close()
    evil.close()


ALLOWED_ENV = {"PATH", "HOSTNAME", "POD_NAME", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "KUBECONFIG",
               "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"}


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(e.decode().split("=", 1) for e in raw if b"=" in e)


def test_the_deliverer_environment_is_built_not_inherited(site_factory, podinject_bin, proxies):
    good, evil = proxies
    site = site_factory(CORE)
    body = h.review_bytes(failing_review(1))
    env = mode_env(site, "cgi", body)
    env.update({
        "HTTP_PROXY": evil.url,  # a client's `Proxy:` header, as fcgiwrap passes it
        "HTTP_X_CANARY": "canary-header", "HTTP_COOKIE": "session=secret",
        "FCGIWRAP_OWN_SETTING": "host-only",  # fcgiwrap's own environment
        "HTTPS_PROXY": good.url, "POD_NAME": "podinject-7d9f-abcde",  # set by the operator
    })
    site.api.stall(2.0, n=1)
    try:
        p = subprocess.run(site.argv(), input=body, capture_output=True, env=env, timeout=30)
        assert p.returncode == 0 and h.parse_cgi(p.stdout).status == 200, p.stderr.decode(errors="replace")
        assert site.api.wait_for(lambda a: a.requests, WAIT), site.logs()[-1500:]
        pids = deliverer_pids(site.config)
        assert len(pids) == 1, pids
        seen = environ_of(pids[0])
        unexpected = {k for k in seen if k not in ALLOWED_ENV and not k.startswith("PODINJECT_")}
        assert not unexpected, f"the deliverer inherited {sorted(unexpected)}"
        assert seen.get("HTTPS_PROXY") == good.url and seen.get("POD_NAME") == "podinject-7d9f-abcde", seen
        assert site.api.wait_for(lambda a: a.events(CORE), WAIT), site.logs()[-1500:]
        assert good.targets == [f"127.0.0.1:{site.api.port}"], good.targets
        assert evil.connections == 0
    finally:
        kill_deliverers(site.config)


@pytest.mark.parametrize("case", ["ALL_PROXY is ignored", "NO_PROXY is honoured", "https_proxy", "HTTPS_PROXY"])
def test_proxy_variables_work_as_client_go_reads_them(site_factory, podinject_bin, proxies, case):
    good, evil = proxies
    site = site_factory(CORE)
    site.env.update({
        "ALL_PROXY is ignored": {"ALL_PROXY": evil.url, "all_proxy": evil.url},
        "NO_PROXY is honoured": {"HTTPS_PROXY": evil.url, "NO_PROXY": "localhost,127.0.0.1"},
        "https_proxy": {"https_proxy": good.url},
        "HTTPS_PROXY": {"HTTPS_PROXY": good.url, "https_proxy": evil.url, "HTTP_PROXY": evil.url},
    }[case])
    r = site.admit(failing_review(1))
    assert count_of(site.only_event(), CORE) == 1, r.err[-1500:]
    assert evil.connections == 0, f"{case}: a connection went to a proxy client-go would not use"
    through = case in ("https_proxy", "HTTPS_PROXY")
    assert good.targets == ([f"127.0.0.1:{site.api.port}"] if through else []), (case, good.targets)


def start_lighttpd(files: HostFiles, base: Path) -> Any:
    """deploy/hosts/lighttpd.conf, rendered and started as hosts_fixtures.lighttpd_host does."""
    from hosts_fixtures import _free_port, _host_env, _wait_ready, Host
    run_dir = base / "run"
    run_dir.mkdir(parents=True)
    port = _free_port()
    env = _host_env({
        "PODINJECT_ADDRESS": "127.0.0.1", "PODINJECT_PORT": str(port), "PODINJECT_TLS_CERT": str(files.tls_crt),
        "PODINJECT_TLS_KEY": str(files.tls_key), "PODINJECT_BINARY": str(files.binary),
        "PODINJECT_CONFIG": str(files.config), "PODINJECT_RUN_DIR": str(run_dir),
        "PODINJECT_ERROR_LOG": str(base / "error.log"), "PODINJECT_METRICS_PORT": str(_free_port()),
    })
    render = subprocess.run([str(h.REPO / "deploy" / "hosts" / "render.sh"), "lighttpd"], env=env,
                            capture_output=True, timeout=30)
    assert render.returncode == 0, render.stderr.decode()
    (base / "lighttpd.conf").write_bytes(render.stdout)
    own_by_host_user(base)
    proc = subprocess.Popen([*run_as_prefix(), shutil.which("lighttpd") or "/usr/sbin/lighttpd", "-D", "-f",
                             str(base / "lighttpd.conf")], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    host = Host("lighttpd", port, files.ca_crt, proc, [base / "error.log"])
    try:
        _wait_ready(host)
    except BaseException:
        stop_process_tree(proc)
        raise
    return host


@pytest.mark.parametrize("host_name", ["nginx", "lighttpd"])
def test_shipped_hosts_clear_the_proxy_header(host_files, host_name):
    """What each shipped host passes to its CGI program when a client sends `Proxy: http://evil`."""
    d = Path(tempfile.mkdtemp(prefix="podinject-envdump-", dir="/tmp"))
    os.chmod(d, 0o755)
    try:
        script = d / "envdump"
        script.write_text("#!/bin/sh\nprintf 'Status: 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\n'\n"
                          "cat >/dev/null\nenv\n")
        os.chmod(script, 0o755)
        tls = d / "tls"
        tls.mkdir()
        for f in (host_files.tls_crt, host_files.tls_key, host_files.ca_crt):
            shutil.copy2(f, tls / f.name)
        own_by_host_user(d)
        files = HostFiles(d, script, host_files.config, tls / "tls.crt", tls / "tls.key", tls / "ca.crt")
        host = start_entrypoint(files, d / "nginx" / "run") if host_name == "nginx" else start_lighttpd(files, d / "l")
        try:
            conn = host.connection()
            conn.request("POST", "/?timeout=10s", body=b"{}", headers={
                "Content-Type": "application/json", "Proxy": "http://127.0.0.1:9/evil", "X-Canary": "seen"})
            resp = conn.getresponse()
            text = resp.read().decode()
            conn.close()
        finally:
            stop_process_tree(host.proc, marker=str(d))
        assert resp.status == 200, text
        env = dict(ln.split("=", 1) for ln in text.splitlines() if "=" in ln)
        assert env.get("REQUEST_METHOD") == "POST" and env.get("HTTP_X_CANARY") == "seen", text
        assert not env.get("HTTP_PROXY"), f"{host_name} passed the client's Proxy header on: {env['HTTP_PROXY']}"
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_proxy_header_through_the_shipped_nginx_redirects_nothing(host_files, kubeapi, proxies, tmp_path):
    """The whole chain, nginx + fcgiwrap + podinject + its deliverer, with a client's `Proxy:` header: the Event
    goes straight to the API server and the deliverer has no HTTP_PROXY."""
    good, evil = proxies
    d = Path(tempfile.mkdtemp(prefix="podinject-httpoxy-", dir="/tmp"))
    os.chmod(d, 0o755)
    try:
        binary = d / "podinject"
        shutil.copy2(h.BIN, binary)
        config = d / "config.yaml"
        config.write_text(yaml.safe_dump(config_doc(CORE, d), sort_keys=False))
        kc = kubeapi.write_kubeconfig(d / "kc" / "kubeconfig", "token")
        tls = d / "tls"
        tls.mkdir()
        for f in (host_files.tls_crt, host_files.tls_key, host_files.ca_crt):
            shutil.copy2(f, tls / f.name)
        own_by_host_user(d)
        files = HostFiles(d, binary, config, tls / "tls.crt", tls / "tls.key", tls / "ca.crt")
        kubeapi.stall(2.0, n=1)
        host = start_entrypoint(files, d / "nginx" / "run", KUBECONFIG=str(kc))
        try:
            conn = host.connection()
            conn.request("POST", "/?timeout=10s", body=h.review_bytes(failing_review(1)),
                         headers={"Content-Type": "application/json", "Proxy": evil.url})
            resp = conn.getresponse()
            resp.read()
            conn.close()
            assert resp.status == 200
            assert kubeapi.wait_for(lambda a: a.requests, WAIT), host.log_text()
            pids = deliverer_pids(config)
            assert len(pids) == 1, pids
            assert not environ_of(pids[0]).get("HTTP_PROXY")
            assert kubeapi.wait_for(lambda a: a.events(CORE), WAIT), host.log_text()
        finally:
            kill_deliverers(config)
            stop_process_tree(host.proc, marker=str(d / "nginx" / "run"))
        assert evil.connections == 0 and good.targets == []
    finally:
        shutil.rmtree(d, ignore_errors=True)
