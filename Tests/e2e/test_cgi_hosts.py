"""podinject behind real CGI hosts on 127.0.0.1 (SPEC §1): lighttpd mod_cgi, and nginx + fcgiwrap.

Functional only (status, headers, body); no timing. The hosts are started per module on free loopback
ports and stopped afterwards.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

import harness as h

SAMPLE = (h.SAMPLES / "review-plain-pod.json").read_bytes()
DENY = (h.SAMPLES / "review-deny.json").read_bytes()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"host exited with {proc.returncode}: {log.read_text() if log.exists() else ''}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"host did not listen on {port}: {log.read_text() if log.exists() else ''}")


def _request(port: int, method: str, body: bytes | None, content_type: str | None = "application/json"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=h.TIMEOUT)
    headers = {}
    if content_type:
        headers["Content-Type"] = content_type
    conn.request(method, "/mutate?timeout=10s", body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


@pytest.fixture(scope="module")
def host_dir(tmp_path_factory, podinject_bin):
    d = tmp_path_factory.mktemp("cgi-hosts")
    h.config_copy(h.SAMPLES / "config.yaml", d, logFile=str(d / "events.log"))
    return d


@pytest.fixture(scope="module")
def lighttpd(host_dir):
    exe = shutil.which("lighttpd") or "/usr/sbin/lighttpd"
    assert os.path.exists(exe), "lighttpd is not installed (scripts/setup installs it)"
    www = host_dir / "www"
    www.mkdir()
    shutil.copy2(h.BIN, www / "mutate")
    port = _free_port()
    conf = host_dir / "lighttpd.conf"
    conf.write_text(f"""
server.modules = ("mod_cgi", "mod_setenv")
server.document-root = "{www}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{host_dir}/lighttpd-error.log"
server.max-request-size = 8192
cgi.assign = ("" => "")
setenv.add-environment = ("PODINJECT_CONFIG" => "{host_dir}/config.yaml")
""")
    log = host_dir / "lighttpd-error.log"
    proc = subprocess.Popen([exe, "-D", "-f", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port, proc, log)
        yield port
    finally:
        h.stop_process(proc)


def _nginx_fcgiwrap(host_dir: Path, name: str, params: Path, script: Path):
    """nginx + fcgiwrap serving `script` at /mutate, with the FastCGI params of `params`; yields the port."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    fcgiwrap = shutil.which("fcgiwrap") or "/usr/sbin/fcgiwrap"
    assert os.path.exists(nginx) and os.path.exists(fcgiwrap), "nginx/fcgiwrap not installed (scripts/setup)"
    d = host_dir / name
    d.mkdir()
    sock = d / "fcgiwrap.sock"
    # Its own process group: fcgiwrap prefork children outlive a signal to their parent alone.
    fw = subprocess.Popen([fcgiwrap, "-c", "2", "-s", f"unix:{sock}"], stdout=subprocess.DEVNULL,
                          stderr=open(d / "fcgiwrap.log", "wb"), env=h.clean_env(),
                          start_new_session=True)
    port = _free_port()
    conf = d / "nginx.conf"
    temp = d / "nginx-temp"
    temp.mkdir()
    conf.write_text(f"""
daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {temp}/body;
  fastcgi_temp_path {temp}/fastcgi;
  proxy_temp_path {temp}/proxy;
  uwsgi_temp_path {temp}/uwsgi;
  scgi_temp_path {temp}/scgi;
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 8m;
    location /mutate {{
      include {params};
      fastcgi_param SCRIPT_FILENAME {script};
      fastcgi_param PODINJECT_CONFIG {host_dir}/config.yaml;
      fastcgi_pass unix:{sock};
    }}
  }}
}}
""")
    deadline = time.monotonic() + 10
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    ng = subprocess.Popen([nginx, "-p", str(d), "-c", str(conf)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    try:
        _wait_port(port, ng, d / "nginx-error.log")
        yield port
    finally:
        h.stop_process(ng)
        h.stop_process(fw)


@pytest.fixture(scope="module")
def nginx_fcgiwrap(host_dir):
    yield from _nginx_fcgiwrap(host_dir, "nginx", Path("/etc/nginx/fastcgi_params"), h.BIN)


HOSTS = ["lighttpd", "nginx_fcgiwrap"]


@pytest.mark.parametrize("host", HOSTS)
def test_admission_through_host(host, request):
    port = request.getfixturevalue(host)
    status, headers, body = _request(port, "POST", SAMPLE)
    assert status == 200, (status, headers, body[:500])
    assert headers.get("content-type", "").startswith("application/json"), headers
    answer = json.loads(body)
    h.check_echo(answer, json.loads(SAMPLE))
    assert answer["response"]["allowed"] is True and h.patch_of(answer)


@pytest.mark.parametrize("host", HOSTS)
def test_denial_through_host(host, request):
    port = request.getfixturevalue(host)
    status, _, body = _request(port, "POST", DENY)
    assert status == 200, (status, body[:500])
    answer = json.loads(body)
    assert answer["response"]["allowed"] is False and answer["response"]["status"]["code"] == 403


@pytest.mark.parametrize("host", HOSTS)
def test_get_through_host(host, request):
    port = request.getfixturevalue(host)
    status, headers, _ = _request(port, "GET", None, content_type=None)
    assert status == 405 and headers.get("allow", "").replace(" ", "").upper() == "POST", (status, headers)


@pytest.mark.parametrize("host", HOSTS)
def test_oversized_body_through_host(host, request):
    """Over 3 MiB: 413 from podinject, never the 502 fcgiwrap gives when the body is not read."""
    port = request.getfixturevalue(host)
    compact = h.review_bytes(json.loads(SAMPLE))
    body = compact + b" " * (h.MAX_BODY + 1 - len(compact))
    status, _, data = _request(port, "POST", body)
    assert status == 413, (status, data[:500])


@pytest.mark.parametrize("host", HOSTS)
def test_truncated_through_host(host, request):
    port = request.getfixturevalue(host)
    status, _, data = _request(port, "POST", SAMPLE[:200])
    assert status == 400, (status, data[:500])
    assert json.loads(data)["kind"] == "Status"


# --------------------------------------------------------------------------------------------
# A host that does not pass GATEWAY_INTERFACE (SPEC §1: REQUEST_METHOD alone means CGI)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nginx_without_gateway_interface(host_dir):
    """nginx + fcgiwrap with a copy of Debian's fastcgi_params that leaves out GATEWAY_INTERFACE. fcgiwrap
    does not add it (it passes its own environment, but never a CGI variable such as GATEWAY_INTERFACE,
    and the tests scrub those from it anyway). The program is a wrapper that records the environment it
    was given (NUL-separated, one file per request) and execs podinject, so the test sees what podinject
    sees."""
    params = host_dir / "fastcgi_params-no-gateway-interface"
    lines = Path("/etc/nginx/fastcgi_params").read_text().splitlines()
    kept = [ln for ln in lines if "GATEWAY_INTERFACE" not in ln]
    assert len(kept) == len(lines) - 1, "Debian's fastcgi_params no longer sets GATEWAY_INTERFACE on one line"
    assert any(ln.split()[1:2] == ["REQUEST_METHOD"] for ln in kept if ln.strip()), kept
    params.write_text("\n".join(kept) + "\n")
    seen = host_dir / "seen-env"
    seen.mkdir()
    wrapper = host_dir / "record-env-then-podinject"
    wrapper.write_text(f'#!/bin/sh\nenv -0 > "{seen}/$$"\nexec "{h.BIN}" "$@"\n')
    wrapper.chmod(0o755)
    for port in _nginx_fcgiwrap(host_dir, "nginx-no-gateway-interface", params, wrapper):
        yield port, seen


def test_admission_through_host_without_gateway_interface(nginx_without_gateway_interface):
    port, seen = nginx_without_gateway_interface
    before = set(seen.iterdir())
    status, headers, body = _request(port, "POST", SAMPLE)
    (record,) = set(seen.iterdir()) - before
    env = dict(item.split("=", 1) for item in record.read_text().split("\0") if item)
    assert "GATEWAY_INTERFACE" not in env, "the host passed GATEWAY_INTERFACE after all"
    assert env.get("REQUEST_METHOD") == "POST" and env.get("CONTENT_LENGTH") == str(len(SAMPLE)), env.keys()
    assert status == 200, (status, headers, body[:500])
    assert headers.get("content-type", "").startswith("application/json"), headers
    answer = json.loads(body)
    h.check_echo(answer, json.loads(SAMPLE))
    assert answer["response"]["allowed"] is True and h.patch_of(answer)
    # A refusal is an HTTP answer as well, not a stdin-mode exit 2 that fcgiwrap turns into a 502.
    status, headers, _ = _request(port, "GET", None, content_type=None)
    assert status == 405 and headers.get("allow", "").replace(" ", "").upper() == "POST", (status, headers)
