"""podinject behind the hosts it ships for (issue 4, SPEC §1 and §8), run from the deploy/ files themselves:
nginx + fcgiwrap started by the container's entrypoint (deploy/docker/entrypoint.sh rendering
deploy/hosts/nginx.conf), lighttpd with deploy/hosts/lighttpd.conf, both over TLS with the certificate
deploy/tls/make-certs.sh makes for podinject.podinject.svc; and the OpenFaaS classic watchdog's
function-runtime mode with the environment of deploy/openfaas/podinject.yml. The entrypoint's own duties
are tested here too: certificate reload, clean shutdown, and Events it delivers from the outbox
(periodically with backoff, and at SIGTERM) against the fake API server.

The client calls as the API server does: HTTPS verified against the CA for the service name, POST,
`Content-Type: application/json`, `/?timeout=10s`. No host ever answers 502 (checked on every call).
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import time
from pathlib import Path

import pytest
import yaml

import harness as h
from hosts_fixtures import *  # noqa: F401,F403
from hosts_fixtures import (DEPLOY, SERVICE_SANS, Host, call, call_reading_early, make_certs, own_by_host_user,
                            start_entrypoint, stop_process_tree)
from kubeapi import CORE
from kubeapi_fixtures import *  # noqa: F401,F403
from test_events_delivery import NS as EVENT_NS
from test_events_delivery import config_doc, failing_review

HOSTS = ["nginx_host", "lighttpd_host"]
SAMPLE = (h.SAMPLES / "review-plain-pod.json").read_bytes()
MIB = 1024 * 1024


# --------------------------------------------------------------------------------------------
# Inputs: every corpus pod as its controller would create it, and every corpus AdmissionReview
# --------------------------------------------------------------------------------------------


POD_CASES, _ = h.corpus_pod_cases()  # a file PyYAML cannot read gives nothing to send (test_corpus_pods covers it)
REVIEW_FILES = h.corpus_files("admissionreview")


def _review_file_bytes(path: Path) -> bytes:
    """The review as the API server would post it: JSON files as they are, YAML ones as JSON."""
    if path.suffix == ".json":
        return path.read_bytes()
    return h.review_bytes(h.load_yaml(path))


@pytest.fixture(scope="module")
def stdin_config(tmp_path_factory) -> Path:
    """The hosts' config for stdin mode: the same rules, its own outbox (written as this user)."""
    d = tmp_path_factory.mktemp("stdin-config")
    return h.config_copy(h.EVERY_KIND, d, logFile=str(d / "events.log"))


def _same_as_stdin(host: Host, body: bytes, config: Path) -> None:
    """The host's answer equals stdin mode's: the same AdmissionReview (200), or 400 where stdin mode
    finds the input unusable (exit 2)."""
    expected = h.admit(body, config)
    got = call(host, body)
    if expected.returncode == 0:
        assert got.status == 200, f"{host.name}: {got.describe()}\nstdin mode:\n{expected.describe()}"
        assert got.headers.get("content-type", "").startswith("application/json"), got.headers
        assert got.json() == expected.json(), f"{host.name} answer differs from stdin mode\n{got.describe()}"
    else:
        assert expected.returncode == 2, expected.describe()
        assert got.status == 400, f"{host.name}: stdin mode refused it (exit 2), the host said {got.describe()}"
        status = got.json()
        assert status.get("kind") == "Status" and status.get("code") == 400, status


# --------------------------------------------------------------------------------------------
# The hosts answer as stdin mode does
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("host_name", HOSTS)
@pytest.mark.parametrize("case", POD_CASES, ids=[c.case_id for c in POD_CASES])
def test_corpus_pod_answer_same_as_stdin(host_name, case, stdin_config, request):
    host = request.getfixturevalue(host_name)
    _same_as_stdin(host, h.review_bytes(h.review_for(case)), stdin_config)


@pytest.mark.parametrize("host_name", HOSTS)
@pytest.mark.parametrize("path", REVIEW_FILES, ids=[p.name for p in REVIEW_FILES])
def test_corpus_review_answer_same_as_stdin(host_name, path, stdin_config, request):
    host = request.getfixturevalue(host_name)
    _same_as_stdin(host, _review_file_bytes(path), stdin_config)


@pytest.mark.parametrize("host_name", HOSTS)
def test_chunked_request_same_as_stdin(host_name, stdin_config, request):
    """nginx and lighttpd de-chunk the body and give podinject CONTENT_LENGTH."""
    host = request.getfixturevalue(host_name)
    body = h.review_bytes(h.review_for(POD_CASES[0]))
    expected = h.admit(body, stdin_config)
    got = call(host, body, chunked=True)
    assert got.status == 200 and got.json() == expected.json(), got.describe()


@pytest.mark.parametrize("host_name", HOSTS)
def test_keep_alive_connection_serves_many_admissions(host_name, stdin_config, request):
    """The API server reuses its connections to a webhook."""
    host = request.getfixturevalue(host_name)
    conn = host.connection()
    try:
        for case in POD_CASES[:5]:
            body = h.review_bytes(h.review_for(case))
            got = call(host, body, conn=conn)
            assert got.status == 200 and got.json() == h.admit(body, stdin_config).json(), got.describe()
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------
# Bad requests (SPEC §6), through the shipped host configs
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("host_name", HOSTS)
def test_get_is_405_with_allow_post(host_name, request):
    host = request.getfixturevalue(host_name)
    got = call(host, None, method="GET", content_type=None)
    assert got.status == 405, got.describe()
    assert got.headers.get("allow", "").replace(" ", "").upper() == "POST", got.describe()
    assert got.json().get("kind") == "Status", got.describe()  # podinject's own answer, not the host's


@pytest.mark.parametrize("host_name", HOSTS)
def test_text_plain_is_415(host_name, request):
    host = request.getfixturevalue(host_name)
    got = call(host, SAMPLE, content_type="text/plain")
    assert got.status == 415, got.describe()
    assert got.json().get("code") == 415, got.describe()


@pytest.mark.parametrize("host_name", HOSTS)
def test_truncated_json_is_400(host_name, request):
    host = request.getfixturevalue(host_name)
    got = call(host, SAMPLE[: len(SAMPLE) // 2])
    assert got.status == 400, got.describe()
    status = got.json()
    assert status.get("kind") == "Status" and status.get("code") == 400, status


@pytest.mark.parametrize("host_name", HOSTS)
def test_4_mib_body_is_413(host_name, request):
    """Over the host's own limit (3.5 MiB): the host refuses it, with 413, never 502."""
    host = request.getfixturevalue(host_name)
    compact = h.review_bytes(json.loads(SAMPLE))
    body = compact + b" " * (4 * MIB - len(compact))
    got = call_reading_early(host, body)  # lighttpd answers and closes before reading it all
    assert got.status == 413, got.describe()


@pytest.mark.parametrize("host_name", HOSTS)
def test_just_over_3_mib_is_podinjects_own_413(host_name, request):
    """Between podinject's limit (3 MiB) and the host's (3.5 MiB): podinject drains the body and explains
    the refusal with a JSON Status; this is why the host limit sits above podinject's."""
    host = request.getfixturevalue(host_name)
    compact = h.review_bytes(json.loads(SAMPLE))
    body = compact + b" " * (h.MAX_BODY + 1 - len(compact))
    got = call(host, body)
    assert got.status == 413, got.describe()
    status = got.json()
    assert status.get("kind") == "Status" and status.get("code") == 413, status


@pytest.mark.parametrize("host_name", HOSTS)
def test_review_of_exactly_3_mib_is_answered(host_name, stdin_config, request):
    """The host passes every body podinject accepts (the API server's own cap is 3 MiB)."""
    host = request.getfixturevalue(host_name)
    compact = h.review_bytes(json.loads(SAMPLE))
    body = compact + b" " * (h.MAX_BODY - len(compact))
    got = call(host, body)
    assert got.status == 200, got.describe()
    assert got.json() == h.admit(body, stdin_config).json()


@pytest.mark.parametrize("host_name", HOSTS)
def test_other_paths_are_404(host_name, request):
    host = request.getfixturevalue(host_name)
    got = call(host, SAMPLE, path="/mutate?timeout=10s")
    assert got.status == 404, got.describe()


@pytest.mark.parametrize("host_name", HOSTS)
def test_health_path_is_served_by_the_host(host_name, request):
    """The Deployment's probes (HTTPS GET /healthz) get a 2xx from the host itself."""
    host = request.getfixturevalue(host_name)
    got = call(host, None, method="GET", path="/healthz", content_type=None)
    assert 200 <= got.status < 300, got.describe()


@pytest.mark.parametrize("host_name", HOSTS)
@pytest.mark.parametrize("name", SERVICE_SANS)
def test_certificate_verifies_for_every_service_name(host_name, name, request):
    host = request.getfixturevalue(host_name)
    got = call(host, None, method="GET", path="/healthz", content_type=None,
               conn=host.connection(server_name=name))
    assert 200 <= got.status < 300


@pytest.mark.parametrize("host_name", HOSTS)
def test_certificate_is_refused_for_another_name(host_name, request):
    host = request.getfixturevalue(host_name)
    conn = host.connection(server_name="podinject.other.svc")
    with pytest.raises(ssl.SSLCertVerificationError):
        conn.request("GET", "/healthz")
    conn.close()


@pytest.mark.parametrize("host_name", HOSTS)
def test_log_line_reaches_the_host_log(host_name, request):
    """podinject's per-request log line (stderr in CGI mode, SPEC §7: one per invocation) ends up in the
    host's log stream, for every request: fcgiwrap's stderr (the container log), lighttpd's stderr.
    lighttpd SIGTERMs a CGI program as soon as its stdout closes (FIELD-NOTES), so a log line written
    after closing stdout is lost unless the program survives that."""
    host = request.getfixturevalue(host_name)
    uids = []
    for i in range(20):
        review = h.review_for(POD_CASES[i % len(POD_CASES)], uid=h.stable_uid(f"log-line-{host_name}-{i}-{time.time()}"))
        assert call(host, h.review_bytes(review)).status == 200
        uids.append(review["request"]["uid"])

    def full_logs() -> str:
        return "".join(p.read_text(errors="replace") for p in host.logs if p.exists())

    deadline = time.monotonic() + 5
    while any(u not in full_logs() for u in uids) and time.monotonic() < deadline:
        time.sleep(0.1)
    text = full_logs()
    missing = [u for u in uids if u not in text]
    assert not missing, f"{host.name}: {len(missing)} of {len(uids)} admissions left no log line\n{host.log_text()}"
    line = next(ln for ln in text.splitlines() if uids[-1] in ln)
    entry = json.loads(line[line.index("{"):])
    assert entry.get("uid") == uids[-1] and entry.get("allowed") is True, entry


# --------------------------------------------------------------------------------------------
# The container entrypoint: certificate reload and clean shutdown
# --------------------------------------------------------------------------------------------


def _served_certificate(host: Host) -> bytes:
    conn = host.connection()
    conn.connect()
    der = conn.sock.getpeercert(binary_form=True)
    conn.close()
    return der


def _host_processes(marker: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,stat,args"], capture_output=True, text=True).stdout
    return [ln for ln in out.splitlines() if marker in ln and " Z" not in ln and "<defunct>" not in ln]


def test_entrypoint_reloads_a_renewed_certificate_and_stops_cleanly(host_files, tmp_path):
    """cert-manager renews the Secret in place: the entrypoint reloads nginx. SIGTERM (pod deletion) stops
    nginx, fcgiwrap and its prefork children, and the entrypoint exits 0."""
    base = host_files.directory / f"entrypoint-{os.getpid()}-{time.monotonic_ns()}"
    run_dir = base / "run"
    own_tls = base / "tls"  # this host's own copies, swapped below
    own_tls.mkdir(parents=True)
    for name in ("tls.crt", "tls.key"):
        (own_tls / name).write_bytes((host_files.tls_crt.parent / name).read_bytes())
    own_by_host_user(base)
    host = start_entrypoint(host_files, run_dir, PODINJECT_TLS_RELOAD_SECONDS="1",
                            PODINJECT_TLS_CERT=str(own_tls / "tls.crt"), PODINJECT_TLS_KEY=str(own_tls / "tls.key"))
    rc = None
    try:
        before = _served_certificate(host)
        renewed = make_certs(tmp_path / "renewed")  # a new CA and serving certificate
        # As the kubelet updates a Secret volume: whole new files in place.
        for name in ("tls.key", "tls.crt"):
            new = own_tls / (name + ".new")
            new.write_bytes((renewed.directory / name).read_bytes())
            own_by_host_user(new)
            os.replace(new, own_tls / name)
        renewed_host = Host(host.name, host.port, renewed.ca_crt, host.proc, host.logs)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if _served_certificate(renewed_host) != before:
                    break
            except ssl.SSLError:
                pass  # still the old certificate, which the new CA does not verify
            time.sleep(0.2)
        assert _served_certificate(renewed_host) != before, f"nginx still serves the old certificate\n{host.log_text()}"
        assert call(renewed_host, SAMPLE).status == 200
        assert "TLS certificate changed" in host.log_text()
    finally:
        host.proc.send_signal(signal.SIGTERM)
        try:
            rc = host.proc.wait(timeout=15)
        finally:
            stop_process_tree(host.proc)
    try:
        assert rc == 0, host.log_text()
        deadline = time.monotonic() + 5
        while _host_processes(str(run_dir)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _host_processes(str(run_dir)), _host_processes(str(run_dir))
    finally:
        stop_process_tree(host.proc, marker=str(run_dir))  # whatever the entrypoint left behind


# --------------------------------------------------------------------------------------------
# The container entrypoint never strands an Event (its outbox is an emptyDir, gone with the pod)
# --------------------------------------------------------------------------------------------


@pytest.fixture
def event_site(host_files, kubeapi):
    """A config whose first rule fails for pods without a `team` label (an InjectionFailed Event), its
    outbox and the deliverer's log in a directory of the host user, and the in-cluster credentials for
    the fake API server (a service-account directory the host user can read)."""
    base = host_files.directory / f"flush-{os.getpid()}-{time.monotonic_ns()}"
    base.mkdir()
    doc = config_doc(CORE, base, reportingInstance="")
    (base / "config.yaml").write_text(json.dumps(doc, indent=1))
    env = kubeapi.write_serviceaccount_dir(base / "serviceaccount")
    own_by_host_user(base)
    return base, env


def _injection_failed(api) -> int:
    return sum(e.get("count", 0) for e in api.events(CORE, EVENT_NS) if e.get("reason") == "InjectionFailed")


def _start_flushing_entrypoint(host_files, base: Path, env: dict[str, str], **extra: str) -> Host:
    return start_entrypoint(host_files, base / "run", PODINJECT_CONFIG=str(base / "config.yaml"),
                            POD_NAME="podinject-flush-test", **env, **extra)


def _pending(base: Path) -> list[str]:
    outbox = base / "outbox"
    return [p.name for p in outbox.iterdir() if p.suffix == ".json" and not p.name.startswith(".")] \
        if outbox.is_dir() else []


def test_flush_if_waiting_is_silent_on_an_empty_outbox(event_site, podinject_bin):
    """What the entrypoint runs every few seconds costs one quiet process when nothing waits."""
    base, env = event_site
    r = h.run_podinject(["events", "flush", "--if-waiting", "--config", str(base / "config.yaml")], b"",
                        env=h.clean_env(env))
    assert r.returncode == 0 and r.stdout == b"" and r.stderr == b"", r.describe()
    assert not (base / "deliverer.log").exists() or (base / "deliverer.log").read_text() == ""


def test_entrypoint_flushes_a_stranded_event_with_backoff(host_files, kubeapi, event_site):
    """The API server is down when an admission's Event is due: it waits in the outbox. With no further
    admission, the entrypoint tries again on its own, backing off (1 s, 2 s, 4 s, at most
    PODINJECT_FLUSH_MAX_SECONDS), and delivers it once the API server is back."""
    base, env = event_site
    kubeapi.stop()
    host = _start_flushing_entrypoint(host_files, base, env, PODINJECT_FLUSH_SECONDS="1",
                                      PODINJECT_FLUSH_MAX_SECONDS="4")
    try:
        got = call(host, h.review_bytes(failing_review(40)))
        assert got.status == 200, got.describe()
        deadline = time.monotonic() + 15
        while "next try in 4s" not in host.log_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        log = host.log_text()
        assert "next try in 2s" in log and "next try in 4s" in log, log
        assert "next try in 8s" not in log, log  # the cap
        assert _pending(base), "the Event is not waiting in the outbox"
        kubeapi.start()
        assert kubeapi.wait_for(lambda k: _injection_failed(k) == 1, timeout=10), host.log_text()
        assert kubeapi.wait_for(lambda k: not _pending(base), timeout=5), _pending(base)
        # Back to an empty outbox: the next looks are silent (no log line, no request).
        requests = len(kubeapi.requests)
        lines = host.log_text().count("events flush")
        time.sleep(2.5)
        assert len(kubeapi.requests) == requests and host.log_text().count("events flush") == lines
    finally:
        host.proc.send_signal(signal.SIGTERM)
        try:
            assert host.proc.wait(timeout=15) == 0, host.log_text()
        finally:
            stop_process_tree(host.proc, marker=str(base))


def test_entrypoint_flushes_at_sigterm(host_files, kubeapi, event_site):
    """No admission and no periodic look (an hour apart): an Event left while the API server was down
    goes out with the entrypoint's last flush at SIGTERM, and the entrypoint exits 0."""
    base, env = event_site
    kubeapi.stop()
    host = _start_flushing_entrypoint(host_files, base, env, PODINJECT_FLUSH_SECONDS="3600")
    try:
        got = call(host, h.review_bytes(failing_review(41)))
        assert got.status == 200, got.describe()
        deadline = time.monotonic() + 10
        while not _pending(base) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _pending(base), "the Event is not waiting in the outbox"
        time.sleep(1)  # the admission's own deliverer has given up
        kubeapi.start()
        time.sleep(1)
        assert _injection_failed(kubeapi) == 0, "delivered before SIGTERM: the test proves nothing"
        host.proc.send_signal(signal.SIGTERM)
        rc = host.proc.wait(timeout=15)
        assert rc == 0, host.log_text()
        assert _injection_failed(kubeapi) == 1, host.log_text()
        assert not _pending(base)
    finally:
        stop_process_tree(host.proc, marker=str(base))


# --------------------------------------------------------------------------------------------
# Function runtime: the OpenFaaS classic watchdog, as deploy/openfaas/podinject.yml sets it up
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def openfaas_function() -> dict:
    stack = yaml.safe_load((DEPLOY / "openfaas" / "podinject.yml").read_text())
    return stack["functions"]["podinject"]


def _watchdog_env(function: dict, config: Path, body: bytes, **headers: str) -> dict[str, str]:
    """The function's environment (stack file), with its config secret here, plus what the classic
    watchdog sets per request (handler.go: Http_Method, Http_Path, Http_Query, Http_Content_Length,
    Http_<Header>)."""
    env = {k: str(v) for k, v in (function.get("environment") or {}).items()}
    env["PODINJECT_CONFIG"] = str(config)
    env.update({"fprocess": function["fprocess"], "Http_Method": "POST", "Http_Path": "/",
                "Http_Query": "timeout=10s", "Http_Content_Type": "application/json",
                "Http_Content_Length": str(len(body)), "Http_Accept": "application/json, */*",
                "Http_User_Agent": "kube-apiserver-admission", "Http_Accept_Encoding": "gzip"})
    env.update(headers)
    return h.clean_env(env)


def _fprocess(function: dict) -> list[str]:
    argv = function["fprocess"].split()
    assert argv[0] == "podinject", function["fprocess"]
    return argv[1:]


@pytest.mark.parametrize("case", POD_CASES[::4], ids=[c.case_id for c in POD_CASES[::4]])
def test_function_runtime_answers_like_stdin(case, openfaas_function, stdin_config, podinject_bin):
    body = h.review_bytes(h.review_for(case))
    r = h.run_podinject(_fprocess(openfaas_function), body, env=_watchdog_env(openfaas_function, stdin_config, body))
    assert r.returncode == 0, r.describe()
    assert r.stderr == b"", f"the watchdog would put stderr in the body\n{r.describe()}"
    answer = r.json()  # body only: no CGI header block
    h.check_echo(answer, json.loads(body))
    assert answer == h.admit(body, stdin_config).json()


@pytest.mark.parametrize("body", [b"", b"{not json", SAMPLE[:100], b'{"kind":"Pod"}'],
                         ids=["empty", "not-json", "truncated", "not-a-review"])
def test_function_runtime_bad_input_is_exit_2_with_status(body, openfaas_function, stdin_config, podinject_bin):
    r = h.run_podinject(_fprocess(openfaas_function), body, env=_watchdog_env(openfaas_function, stdin_config, body))
    assert r.returncode == 2, r.describe()
    assert r.stderr == b"", r.describe()
    status = r.json()
    assert status.get("kind") == "Status" and status.get("status") == "Failure" and status.get("code") == 400, status
