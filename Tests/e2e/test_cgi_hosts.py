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


@pytest.fixture(scope="module")
def nginx_fcgiwrap(host_dir):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    fcgiwrap = shutil.which("fcgiwrap") or "/usr/sbin/fcgiwrap"
    assert os.path.exists(nginx) and os.path.exists(fcgiwrap), "nginx/fcgiwrap not installed (scripts/setup)"
    sock = host_dir / "fcgiwrap.sock"
    # Its own process group: fcgiwrap prefork children outlive a signal to their parent alone.
    fw = subprocess.Popen([fcgiwrap, "-c", "2", "-s", f"unix:{sock}"], stdout=subprocess.DEVNULL,
                          stderr=open(host_dir / "fcgiwrap.log", "wb"), env=h.clean_env(),
                          start_new_session=True)
    port = _free_port()
    conf = host_dir / "nginx.conf"
    temp = host_dir / "nginx-temp"
    temp.mkdir()
    conf.write_text(f"""
daemon off;
master_process off;
pid {host_dir}/nginx.pid;
error_log {host_dir}/nginx-error.log warn;
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
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME {h.BIN};
      fastcgi_param PODINJECT_CONFIG {host_dir}/config.yaml;
      fastcgi_pass unix:{sock};
    }}
  }}
}}
""")
    deadline = time.monotonic() + 10
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    ng = subprocess.Popen([nginx, "-p", str(host_dir), "-c", str(conf)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    try:
        _wait_port(port, ng, host_dir / "nginx-error.log")
        yield port
    finally:
        h.stop_process(ng)
        h.stop_process(fw)


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
