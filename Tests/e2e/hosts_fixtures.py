"""The shipped deploy/ files, run for real: TLS from deploy/tls/make-certs.sh, nginx + fcgiwrap started by
deploy/docker/entrypoint.sh, lighttpd with deploy/hosts/lighttpd.conf (both rendered by
deploy/hosts/render.sh), and an HTTPS client that calls podinject the way the API server does.

Use in a test module with:

    from hosts_fixtures import *  # noqa: F401,F403

The hosts run as a non-root user, as in the container: the current user, or uid/gid 65532 (through
setpriv) when the tests run as root, so that nginx keeps its workers in the same user as fcgiwrap and
nothing is written as root. Their files live in a directory of their own under /tmp (pytest's own
tmp dirs are private to root).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import harness as h

__all__ = ["deploy_tls", "host_files", "nginx_host", "lighttpd_host", "Host", "HTTPResponse", "HostFiles",
           "TLSFiles", "call", "call_reading_early", "SERVICE_NAME", "SERVICE_SANS", "DEPLOY", "make_certs", "start_entrypoint",
           "stop_process_tree", "HOST_UID", "run_as_prefix", "own_by_host_user"]

DEPLOY = h.REPO / "deploy"
SERVICE_NAME = "podinject.podinject.svc"  # the name the API server dials and verifies
SERVICE_SANS = ["podinject", "podinject.podinject", "podinject.podinject.svc", "podinject.podinject.svc.cluster.local"]
HOST_UID = 65532 if os.geteuid() == 0 else None  # the image's user; None: run as the current user
STARTUP_TIMEOUT = 15.0


def run_as_prefix() -> list[str]:
    """The command prefix that runs a host as the container's non-root user when we are root."""
    if HOST_UID is None:
        return []
    setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
    return [setpriv, f"--reuid={HOST_UID}", f"--regid={HOST_UID}", "--clear-groups"]


def own_by_host_user(path: Path) -> None:
    """Hands a file tree to the host user (no-op when not root)."""
    if HOST_UID is None:
        return
    for root, dirs, files in os.walk(path):
        os.chown(root, HOST_UID, HOST_UID)
        for name in files:
            os.chown(os.path.join(root, name), HOST_UID, HOST_UID)


def _host_env(extra: dict[str, str]) -> dict[str, str]:
    env = h.clean_env(extra)
    path = env.get("PATH", "/usr/bin:/bin")
    for d in ("/usr/sbin", "/sbin"):
        if d not in path.split(":"):
            path += ":" + d
    env["PATH"] = path
    env.pop("HOME", None)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------
# TLS: deploy/tls/make-certs.sh, as an operator runs it
# --------------------------------------------------------------------------------------------


@dataclass
class TLSFiles:
    directory: Path
    ca_crt: Path
    ca_key: Path
    tls_crt: Path
    tls_key: Path
    kustomization: Path


def make_certs(out: Path, env: dict[str, str] | None = None) -> TLSFiles:
    script = DEPLOY / "tls" / "make-certs.sh"
    proc = subprocess.run([str(script), str(out)], capture_output=True, text=True, timeout=60,
                          env=h.clean_env(env or {}))
    assert proc.returncode == 0, f"make-certs.sh failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return TLSFiles(out, out / "ca.crt", out / "ca.key", out / "tls.crt", out / "tls.key", out / "kustomization.yaml")


@pytest.fixture(scope="session")
def deploy_tls(tmp_path_factory) -> TLSFiles:
    return make_certs(tmp_path_factory.mktemp("deploy-tls") / "generated")


# --------------------------------------------------------------------------------------------
# The files a host serves: the binary, a config, the certificate
# --------------------------------------------------------------------------------------------


@dataclass
class HostFiles:
    directory: Path
    binary: Path
    config: Path
    tls_crt: Path
    tls_key: Path
    ca_crt: Path


@pytest.fixture(scope="session")
def host_files(deploy_tls: TLSFiles, podinject_bin: Path):
    """A copy of the binary, the every-kind config (outbox and logFile inside) and the TLS files, owned by
    the host user. Removed at the end of the session."""
    d = Path(tempfile.mkdtemp(prefix="podinject-hosts-", dir="/tmp"))
    os.chmod(d, 0o755)
    try:
        binary = d / "podinject"
        shutil.copy2(podinject_bin, binary)
        config = h.config_copy(h.EVERY_KIND, d / "config", logFile=str(d / "config" / "events.log"))
        tls = d / "tls"
        tls.mkdir()
        for f in (deploy_tls.tls_crt, deploy_tls.tls_key, deploy_tls.ca_crt):
            shutil.copy2(f, tls / f.name)
        own_by_host_user(d)
        yield HostFiles(d, binary, config, tls / "tls.crt", tls / "tls.key", tls / "ca.crt")
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# A client that calls the webhook as the API server does
# --------------------------------------------------------------------------------------------


@dataclass
class HTTPResponse:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)

    def describe(self) -> str:
        return f"{self.status} {self.reason} {self.headers}\n{self.body[:800]!r}"


class _Connection(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1:port, verifying the certificate for `server_name` against the test CA."""

    def __init__(self, port: int, context: ssl.SSLContext, server_name: str, timeout: float):
        super().__init__(server_name, port, context=context, timeout=timeout)
        self._address = ("127.0.0.1", port)

    def connect(self) -> None:
        sock = socket.create_connection(self._address, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@dataclass
class Host:
    """A running host: where it listens and where its logs go."""

    name: str
    port: int
    ca: Path
    proc: subprocess.Popen
    logs: list[Path] = field(default_factory=list)
    metrics_port: int | None = None  # GET /metrics, plain HTTP

    def context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca))
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    def connection(self, server_name: str = SERVICE_NAME, timeout: float = h.TIMEOUT) -> _Connection:
        return _Connection(self.port, self.context(), server_name, timeout)

    def log_text(self) -> str:
        out = []
        for p in self.logs:
            try:
                out.append(f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}")
            except OSError:
                pass
        return "\n".join(out)


def call(host: Host, body: bytes | None, *, method: str = "POST", path: str = "/?timeout=10s",
         content_type: str | None = "application/json", chunked: bool = False,
         conn: http.client.HTTPSConnection | None = None, allow_reset: bool = False) -> HTTPResponse:
    """One request as the API server sends it (POST, JSON, ?timeout=10s). Never a 502."""
    own = conn is None
    conn = conn or host.connection()
    headers = {"Accept": "application/json, */*", "User-Agent": "kube-apiserver-admission"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    try:
        if chunked:
            conn.request(method, path, body=iter([body[i:i + 4096] for i in range(0, len(body), 4096)]),
                         headers=headers, encode_chunked=True)
        else:
            conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
    finally:
        if own:
            conn.close()
    out = HTTPResponse(resp.status, resp.reason, {k.lower(): v for k, v in resp.getheaders()}, data)
    assert out.status != 502, f"{host.name} answered 502 to {method} {path}\n{out.describe()}\n{host.log_text()}"
    return out


def call_reading_early(host: Host, body: bytes, *, path: str = "/?timeout=10s",
                       content_type: str = "application/json") -> HTTPResponse:
    """A POST that reads the answer while it is still sending the body, as Go's HTTP client (the API
    server's) does: a host may refuse an oversized body (413) and close the connection before the client
    has written all of it. Returns the status and headers (the body as far as it arrived)."""
    import select

    raw = socket.create_connection(("127.0.0.1", host.port), h.TIMEOUT)
    sock = host.context().wrap_socket(raw, server_hostname=SERVICE_NAME)
    head = (f"POST {path} HTTP/1.1\r\nHost: {SERVICE_NAME}:{host.port}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nUser-Agent: kube-apiserver-admission\r\n\r\n").encode()
    data = memoryview(head + body)
    sent, received, sending = 0, b"", True
    sock.setblocking(False)
    deadline = time.monotonic() + h.TIMEOUT
    try:
        while time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock] if sending else [], [], 0.5)
            if readable or sock.pending():
                try:
                    chunk = sock.recv(65536)
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    chunk = None
                except (ConnectionError, ssl.SSLError):
                    break
                if chunk == b"":
                    break
                if chunk:
                    received += chunk
                    head_end = received.find(b"\r\n\r\n")
                    if head_end >= 0:
                        length = re.search(rb"(?im)^content-length:\s*(\d+)", received[:head_end])
                        if length is None or len(received) >= head_end + 4 + int(length.group(1)):
                            break
            if sending and writable:
                try:
                    sent += sock.send(data[sent:sent + 65536])
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    pass
                except (ConnectionError, ssl.SSLError):
                    sending = False  # the host stopped reading: its answer may already be on the way
                if sent >= len(data):
                    sending = False
    finally:
        sock.close()
    head_end = received.find(b"\r\n\r\n")
    assert head_end >= 0, f"{host.name} gave no answer after {sent} of {len(data)} bytes: {received[:300]!r}\n{host.log_text()}"
    lines = received[:head_end].decode("latin-1").split("\r\n")
    m = re.fullmatch(r"HTTP/1\.[01] (\d{3}) ?(.*)", lines[0])
    assert m, lines[0]
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers[k.strip().lower()] = v.strip()
    out = HTTPResponse(int(m.group(1)), m.group(2), headers, received[head_end + 4:])
    assert out.status != 502, f"{host.name} answered 502\n{out.describe()}\n{host.log_text()}"
    return out


def _wait_ready(host: Host, path: str = "/healthz") -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last = None
    while time.monotonic() < deadline:
        if host.proc.poll() is not None:
            raise AssertionError(f"{host.name} exited with {host.proc.returncode} at start\n{host.log_text()}")
        try:
            conn = host.connection(timeout=2)
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            conn.close()
            if 200 <= resp.status < 300:
                return
            last = f"status {resp.status}"
        except (OSError, http.client.HTTPException) as e:
            last = repr(e)
        time.sleep(0.05)
    raise AssertionError(f"{host.name} not ready on port {host.port}: {last}\n{host.log_text()}")


def _group_members(pgid: int) -> list[int]:
    """Live processes whose process group is `pgid` (a group id is not reused while it has members)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(entry))
    return pids


def _processes_mentioning(marker: str) -> list[int]:
    """Live processes whose command line contains `marker` (a directory unique to one host)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                if marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def stop_process_tree(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 15,
                      marker: str | None = None) -> int:
    """Stops a host started in its own session: the signal to the leader, then whatever is left of its
    process group, and (when the leader could not stop them: fcgiwrap has a group of its own) processes
    whose command line names the host's own directory. By pid, so that nothing but our own processes is
    ever signalled."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    leftovers = _group_members(proc.pid) + (_processes_mentioning(marker) if marker else [])
    for pid in leftovers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return proc.returncode


# --------------------------------------------------------------------------------------------
# nginx + fcgiwrap: deploy/docker/entrypoint.sh, the container's own entrypoint
# --------------------------------------------------------------------------------------------


def start_entrypoint(files: HostFiles, run_dir: Path, **extra: str) -> Host:
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    own_by_host_user(run_dir.parent)
    port = _free_port()
    stderr_log = run_dir.parent / f"{run_dir.name}.stderr"
    stdout_log = run_dir.parent / f"{run_dir.name}.stdout"
    env = _host_env({
        "PODINJECT_ADDRESS": "127.0.0.1",
        "PODINJECT_PORT": str(port),
        "PODINJECT_TLS_CERT": str(files.tls_crt),
        "PODINJECT_TLS_KEY": str(files.tls_key),
        "PODINJECT_BINARY": str(files.binary),
        "PODINJECT_CONFIG": str(files.config),
        "PODINJECT_RUN_DIR": str(run_dir),
        "PODINJECT_FCGI_CHILDREN": "4",
        # The plain-HTTP metrics port: a free one, so that hosts started side by side never collide.
        "PODINJECT_METRICS_PORT": str(_free_port()),
        **extra,
    })
    with open(stdout_log, "wb") as out, open(stderr_log, "wb") as err:
        proc = subprocess.Popen([*run_as_prefix(), str(DEPLOY / "docker" / "entrypoint.sh")], env=env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)
    # events.logFile stands in for the container's log stream: podinject's CGI log lines go there.
    host = Host("nginx+fcgiwrap", port, files.ca_crt, proc, [stderr_log, stdout_log, files.config.parent / "events.log"],
                metrics_port=int(env["PODINJECT_METRICS_PORT"]))
    try:
        _wait_ready(host)
    except BaseException:
        stop_process_tree(proc, marker=str(run_dir))
        raise
    return host


@pytest.fixture(scope="module")
def nginx_host(host_files: HostFiles):
    run_dir = host_files.directory / f"nginx-{os.getpid()}-{time.monotonic_ns()}" / "run"
    host = start_entrypoint(host_files, run_dir)
    yield host
    stop_process_tree(host.proc, marker=str(run_dir))


# --------------------------------------------------------------------------------------------
# lighttpd: deploy/hosts/lighttpd.conf
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lighttpd_host(host_files: HostFiles):
    lighttpd = shutil.which("lighttpd") or "/usr/sbin/lighttpd"
    assert os.path.exists(lighttpd), "lighttpd is not installed (scripts/setup installs it)"
    assert Path("/usr/lib/lighttpd/mod_openssl.so").exists(), \
        "lighttpd's mod_openssl is not installed (Debian: lighttpd-mod-openssl; scripts/setup installs it)"
    base = host_files.directory / f"lighttpd-{os.getpid()}-{time.monotonic_ns()}"
    run_dir = base / "run"
    run_dir.mkdir(parents=True)
    port = _free_port()
    error_log = base / "error.log"
    env = _host_env({
        "PODINJECT_ADDRESS": "127.0.0.1",
        "PODINJECT_PORT": str(port),
        "PODINJECT_TLS_CERT": str(host_files.tls_crt),
        "PODINJECT_TLS_KEY": str(host_files.tls_key),
        "PODINJECT_BINARY": str(host_files.binary),
        "PODINJECT_CONFIG": str(host_files.config),
        "PODINJECT_RUN_DIR": str(run_dir),
        "PODINJECT_ERROR_LOG": str(error_log),
        "PODINJECT_METRICS_PORT": str(_free_port()),
    })
    render = subprocess.run([str(DEPLOY / "hosts" / "render.sh"), "lighttpd"], env=env, capture_output=True,
                            timeout=30)
    assert render.returncode == 0, render.stderr.decode()
    conf = base / "lighttpd.conf"
    conf.write_bytes(render.stdout)
    own_by_host_user(base)
    stderr_log = base / "lighttpd.stderr"
    with open(stderr_log, "wb") as err:
        proc = subprocess.Popen([*run_as_prefix(), lighttpd, "-D", "-f", str(conf)], env=env,
                                stdin=subprocess.DEVNULL, stdout=err, stderr=err, start_new_session=True)
    host = Host("lighttpd", port, host_files.ca_crt, proc,
                [error_log, stderr_log, host_files.config.parent / "events.log"],
                metrics_port=int(env["PODINJECT_METRICS_PORT"]))
    try:
        _wait_ready(host)
        yield host
    finally:
        stop_process_tree(proc)
