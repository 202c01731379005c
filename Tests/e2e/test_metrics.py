"""Metrics (README, "Metrics"): counters shared by every invocation of a replica, `podinject metrics`.

- A real Prometheus (Debian's) scrapes `GET /metrics` of the shipped nginx + fcgiwrap (entrypoint.sh) every
  second; after a known mix of admissions (allowed, denied, refused input, rules applied, skipped and failed,
  Events sent, aggregated, rejected, dropped and left waiting against the fake API server), the values read
  back through Prometheus' HTTP API match exactly. `promtool check metrics` passes on the output.
- 16 parallel streams of admissions give exact counts; a corrupt, foreign or linked file is replaced and
  the replacement logged; the file's size stays fixed with many rules; no pod or namespace name ever
  becomes a label value.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

import harness as h
from hosts_fixtures import *  # noqa: F401,F403
from hosts_fixtures import HostFiles, call, own_by_host_user, start_entrypoint, stop_process_tree
from kubeapi_fixtures import *  # noqa: F401,F403
from kubeapi import SA_USER

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
METRICS_SIZE = 12288

# Names that must never become label values.
SECRET_NAMESPACE = "ns-canary-7d1e"
SECRET_POD = "pod-canary-93ab"

CONFIG = {
    "apiVersion": "podinject.dev/v1alpha1",
    "kind": "InjectionConfig",
    "rules": [
        {"name": "inject-env", "env": [{"name": "INJECTED", "value": "yes"}]},
        {"name": "needs-team", "onError": "Allow",
         "env": [{"name": "TEAM", "value": '{{ index .metadata.annotations "example.com/team" }}'}]},
        {"name": "strict", "onError": "Deny", "match": {"labelSelector": {"matchLabels": {"strict": "yes"}}},
         "env": [{"name": "MISSING", "value": "{{ .metadata.labels.missing }}"}]},
    ],
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pod(owner: str, *, team: bool = True, labels: dict | None = None, annotations: dict | None = None) -> dict:
    ann = dict(annotations or {})
    if team:
        ann["example.com/team"] = "payments"
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "generateName": f"{SECRET_POD}-{owner}-", "namespace": SECRET_NAMESPACE,
            "labels": {"app": SECRET_POD, **(labels or {})}, "annotations": ann,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"{SECRET_POD}-{owner}",
                                 "uid": h.stable_uid("rs/" + owner), "controller": True}],
        },
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]},
    }


def review(p: dict, n: int, operation: str = "CREATE") -> bytes:
    return h.review_bytes(h.make_review(p, namespace=SECRET_NAMESPACE, uid=h.stable_uid(f"metrics/{n}"),
                                        operation=operation))


def write_config(directory: Path, **events) -> Path:
    cfg = json.loads(json.dumps(CONFIG))
    cfg["events"] = {"outbox": str(directory / "outbox"), **events}
    path = directory / "config.yaml"
    path.write_text(json.dumps(cfg, indent=1))
    return path


def scrape(port: int, accept: str | None = None) -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=h.TIMEOUT)
    conn.request("GET", "/metrics", headers={"Accept": accept} if accept else {})
    resp = conn.getresponse()
    body = resp.read().decode()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body


def parse_text(text: str) -> dict[tuple, float]:
    """Samples of the Prometheus text format: (name, sorted labels) -> value."""
    out: dict[tuple, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        name, _, rest = head.partition("{")
        labels = []
        if rest:
            for part in rest.rstrip("}").split('",'):
                k, _, v = part.partition('="')
                labels.append((k, v.rstrip('"')))
        out[(name, tuple(sorted(labels)))] = float(value)
    return out


def metric(samples: dict[tuple, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def promtool_check(text: str) -> None:
    proc = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30)
    assert proc.returncode == 0, f"promtool check metrics: {proc.stdout.decode()}{proc.stderr.decode()}"


# --------------------------------------------------------------------------------------------
# Prometheus scraping the shipped nginx
# --------------------------------------------------------------------------------------------


class Prometheus:
    def __init__(self, directory: Path, target_port: int):
        self.port = _free_port()
        directory.mkdir(parents=True, exist_ok=True)
        config = directory / "prometheus.yml"
        config.write_text(json.dumps({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [{"job_name": "podinject", "scrape_interval": "1s", "scrape_timeout": "1s",
                                "metrics_path": "/metrics",
                                "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}]}],
        }))
        self.log = directory / "prometheus.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={directory / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=1h"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)

    def query(self, expr: str) -> dict[tuple, float]:
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=5) as resp:
            doc = json.load(resp)
        assert doc["status"] == "success", doc
        return {tuple(sorted((k, v) for k, v in r["metric"].items() if k not in ("job", "instance"))):
                float(r["value"][1]) for r in doc["data"]["result"]}

    def wait_until(self, expr: str, want: dict[tuple, float], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        got = None
        while time.monotonic() < deadline:
            try:
                got = self.query(expr)
            except OSError:
                got = None
            if got == want:
                return
            time.sleep(0.25)
        missing = {k: v for k, v in want.items() if (got or {}).get(k) != v}
        extra = {k: v for k, v in (got or {}).items() if k not in want}
        raise AssertionError(f"Prometheus: {expr}\n  differs at {missing}\n  got (all) {got}\n  unexpected {extra}\n"
                             f"{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def L(**labels: str) -> tuple:
    return tuple(sorted(labels.items()))


def test_prometheus_scrapes_exact_counts_behind_nginx(deploy_tls, podinject_bin, kubeapi, tmp_path):
    assert os.path.exists(PROMETHEUS), "prometheus is not installed (scripts/setup installs it)"
    d = Path(tempfile.mkdtemp(prefix="podinject-metrics-", dir="/tmp"))
    os.chmod(d, 0o755)
    host = prometheus = None
    run_dir = d / "host" / "run"
    try:
        binary = d / "podinject"
        shutil.copy2(podinject_bin, binary)
        config_dir = d / "config"
        config_dir.mkdir()
        config = write_config(config_dir, timeoutMilliseconds=3000, logFile=str(config_dir / "events.log"))
        kubeconfig = kubeapi.write_kubeconfig(config_dir / "kubeconfig")
        tls = d / "tls"
        tls.mkdir()
        for f in (deploy_tls.tls_crt, deploy_tls.tls_key, deploy_tls.ca_crt):
            shutil.copy2(f, tls / f.name)
        own_by_host_user(d)
        files = HostFiles(d, binary, config, tls / "tls.crt", tls / "tls.key", tls / "ca.crt")
        metrics_port = _free_port()
        host = start_entrypoint(files, run_dir, PODINJECT_METRICS_PORT=str(metrics_port), KUBECONFIG=str(kubeconfig))
        prometheus = Prometheus(tmp_path / "prometheus", metrics_port)
        prometheus.wait_until("up", {L(__name__="up"): 1.0})

        def admit(body: bytes, **kw) -> dict:
            resp = call(host, body, **kw)
            assert resp.status == 200, resp.describe()
            return resp.json()["response"]

        def events(result: str) -> float:
            return metric(parse_text(scrape(metrics_port)[2]), "podinject_events_total", result=result)

        def wait_events(result: str, want: float) -> None:
            deadline = time.monotonic() + 15
            while events(result) != want and time.monotonic() < deadline:
                time.sleep(0.05)
            assert events(result) == want, (result, events(result), host.log_text())

        n = 0
        # A: 3 pods every rule applies to.
        for _ in range(3):
            n += 1
            assert admit(review(pod("a"), n))["allowed"]
        # B: 2 pods of one ReplicaSet failing needs-team (Allow): one Event created, then counted into.
        n += 1
        assert admit(review(pod("b", team=False), n))["allowed"]
        wait_events("sent", 1)
        n += 1
        assert admit(review(pod("b", team=False), n))["allowed"]
        wait_events("aggregated", 1)
        # C: strict fails with Deny: refused, its Event created.
        n += 1
        assert not admit(review(pod("c", labels={"strict": "yes"}), n))["allowed"]
        wait_events("sent", 2)
        # D: opted out; E: inject-env already applied.
        n += 1
        assert admit(review(pod("d", annotations={"podinject.dev/inject": "false"}), n))["allowed"]
        n += 1
        status = json.dumps({"applied": ["inject-env"]})
        assert admit(review(pod("e", annotations={"podinject.dev/status": status}), n))["allowed"]
        # F: an UPDATE no rule matches.
        n += 1
        assert admit(review(pod("f"), n, operation="UPDATE"))["allowed"]
        # Refused input: 405, 400, 415.
        assert call(host, None, method="GET").status == 405
        assert call(host, b"{not json").status == 400
        assert call(host, review(pod("x"), 999), content_type="text/plain").status == 415
        # G: the API server forbids the service account: the Event is rejected for good.
        kubeapi.forbid(SA_USER)
        n += 1
        assert admit(review(pod("g", team=False), n))["allowed"]
        wait_events("rejected", 1)
        kubeapi.authorize(SA_USER)
        # H1: the outbox is refused (open to others) and the API server is gone: the Event is lost.
        kubeapi.stop()
        outbox = config_dir / "outbox"
        os.chmod(outbox, 0o777)
        n += 1
        assert admit(review(pod("h1", team=False), n))["allowed"]
        wait_events("dropped", 1)
        # H2: the outbox is usable again, the API server still gone: the Event waits in the outbox.
        os.chmod(outbox, 0o700)
        n += 1
        assert admit(review(pod("h2", team=False), n))["allowed"]
        time.sleep(0.5)

        # What Prometheus scraped, exactly.
        admissions = {L(operation=op, result=res, code=code): 0.0 for op in ("CREATE", "UPDATE", "DELETE", "CONNECT",
                                                                             "other")
                      for res, code in (("allowed", "200"), ("denied", "403"))}
        admissions.update({L(operation="unknown", result="refused", code=str(c)): 0.0
                           for c in (400, 405, 411, 413, 415, 500)})
        admissions[L(operation="CREATE", result="allowed", code="200")] = 10
        admissions[L(operation="CREATE", result="denied", code="403")] = 1
        admissions[L(operation="UPDATE", result="allowed", code="200")] = 1
        for code in ("400", "405", "415"):
            admissions[L(operation="unknown", result="refused", code=code)] = 1
        prometheus.wait_until("podinject_admissions_total", {
            tuple(sorted(k + (("__name__", "podinject_admissions_total"),))): v for k, v in admissions.items()})

        prometheus.wait_until('podinject_rule_outcomes_total > 0', {
            L(__name__="podinject_rule_outcomes_total", rule="inject-env", outcome="applied"): 8,
            L(__name__="podinject_rule_outcomes_total", rule="inject-env", outcome="skipped", reason="OptedOut"): 1,
            L(__name__="podinject_rule_outcomes_total", rule="inject-env", outcome="skipped",
              reason="AlreadyInjected"): 1,
            L(__name__="podinject_rule_outcomes_total", rule="needs-team", outcome="applied"): 4,
            L(__name__="podinject_rule_outcomes_total", rule="needs-team", outcome="skipped", reason="OptedOut"): 1,
            L(__name__="podinject_rule_outcomes_total", rule="needs-team", outcome="failed",
              reason="TemplateValueMissing"): 5,
            L(__name__="podinject_rule_outcomes_total", rule="strict", outcome="failed",
              reason="TemplateValueMissing"): 1,
        })
        prometheus.wait_until("podinject_events_total", {
            L(__name__="podinject_events_total", result="spooled"): 5,
            L(__name__="podinject_events_total", result="sent"): 2,
            L(__name__="podinject_events_total", result="aggregated"): 1,
            L(__name__="podinject_events_total", result="rejected"): 1,
            L(__name__="podinject_events_total", result="dropped"): 1,
        })
        prometheus.wait_until("podinject_events_outbox_depth", {L(__name__="podinject_events_outbox_depth"): 1})
        prometheus.wait_until("podinject_admission_duration_seconds_count",
                              {L(__name__="podinject_admission_duration_seconds_count"): 12})
        prometheus.wait_until('podinject_admission_duration_seconds_bucket{le="+Inf"}',
                              {L(__name__="podinject_admission_duration_seconds_bucket", le="+Inf"): 12})
        prometheus.wait_until("podinject_config_valid", {L(__name__="podinject_config_valid"): 1})
        prometheus.wait_until("podinject_build_info",
                              {L(__name__="podinject_build_info", version=h.run_podinject(["version"]).stdout
                                 .decode().split()[1]): 1})
        last_load = prometheus.query("podinject_config_last_load_timestamp_seconds")
        assert abs(list(last_load.values())[0] - time.time()) < 60

        # The text Prometheus scraped is valid by its own checker; no pod or namespace name in it.
        status_code, headers, text = scrape(metrics_port)
        assert status_code == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
        promtool_check(text)
        assert SECRET_POD not in text and SECRET_NAMESPACE not in text
        status_code, headers, om = scrape(metrics_port, "application/openmetrics-text; version=1.0.0")
        assert headers["content-type"].startswith("application/openmetrics-text") and om.endswith("# EOF\n")
        assert SECRET_POD not in om and SECRET_NAMESPACE not in om
        # The webhook port does not serve metrics, the metrics port serves nothing else.
        assert call(host, None, method="GET", path="/metrics").status == 404
        conn = http.client.HTTPConnection("127.0.0.1", metrics_port, timeout=h.TIMEOUT)
        conn.request("GET", "/")
        assert conn.getresponse().status == 404
        conn.close()
    finally:
        if prometheus:
            prometheus.stop()
        if host:
            stop_process_tree(host.proc, marker=str(run_dir))
        shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# The file, in stdin mode
# --------------------------------------------------------------------------------------------


@pytest.fixture
def private_dir():
    d = Path(tempfile.mkdtemp(prefix="podinject-metrics-"))
    os.chmod(d, 0o700)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def stdin_admit(body: bytes, config: Path, metrics_file: Path) -> h.Result:
    return h.run_podinject(["--config", str(config)], body, env=h.clean_env({"PODINJECT_METRICS_FILE": str(metrics_file)}))


def stdin_metrics(config: Path, metrics_file: Path, *args: str) -> str:
    res = h.run_podinject(["metrics", "--config", str(config), *args], b"",
                          env=h.clean_env({"PODINJECT_METRICS_FILE": str(metrics_file)}))
    assert res.returncode == 0, res.stderr
    return res.stdout.decode()


def test_sixteen_parallel_streams_give_exact_counts(private_dir):
    config = write_config(private_dir, api="none")
    metrics_file = private_dir / "run" / "metrics"  # missing: the first admissions race to make it
    per_stream = 20

    def stream(i: int) -> None:
        for j in range(per_stream):
            team = (i + j) % 2 == 0
            res = stdin_admit(review(pod(f"s{i}", team=team), i * 1000 + j), config, metrics_file)
            assert res.returncode == 0, res.stderr

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(stream, range(16)))
    samples = parse_text(stdin_metrics(config, metrics_file))
    total = 16 * per_stream
    assert metric(samples, "podinject_admissions_total", operation="CREATE", result="allowed", code="200") == total
    assert metric(samples, "podinject_admission_duration_seconds_count") == total
    assert metric(samples, "podinject_rule_outcomes_total", rule="inject-env", outcome="applied") == total
    assert metric(samples, "podinject_rule_outcomes_total", rule="needs-team", outcome="applied") == total / 2
    assert metric(samples, "podinject_rule_outcomes_total", rule="needs-team", outcome="failed",
                  reason="TemplateValueMissing") == total / 2
    # One slot per rule, whoever claimed it.
    rules = {dict(k[1]).get("rule") for k in samples if k[0] == "podinject_rule_outcomes_total"}
    assert rules == {"inject-env", "needs-team", "strict"}
    assert [p.name for p in metrics_file.parent.iterdir()] == ["metrics"]


def test_processes_killed_at_any_moment_corrupt_nothing(private_dir):
    """SIGKILL at random moments, from the file's creation on: every admission that finished is counted,
    none twice, and the file stays whole (the header, the rule names, the exposition)."""
    import random
    config = write_config(private_dir, api="none")
    metrics_file = private_dir / "run" / "metrics"
    env = h.clean_env({"PODINJECT_METRICS_FILE": str(metrics_file)})
    rng = random.Random(7)
    procs = []
    for i in range(120):
        p = subprocess.Popen([str(h.BIN), "--config", str(config)], stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            p.stdin.write(review(pod("k", team=i % 2 == 0), i))
            p.stdin.close()
        except BrokenPipeError:
            pass
        if i % 2:
            time.sleep(rng.random() * 0.004)
            p.kill()
        procs.append(p)
    for p in procs:
        p.wait()
    finished = sum(1 for p in procs if p.returncode == 0)
    text = stdin_metrics(config, metrics_file)
    promtool_check(text)
    samples = parse_text(text)
    counted = metric(samples, "podinject_admissions_total", operation="CREATE", result="allowed", code="200")
    assert finished <= counted <= len(procs), (finished, counted)
    rules = {dict(k[1]).get("rule") for k in samples if k[0] == "podinject_rule_outcomes_total"}
    assert rules == {"inject-env", "needs-team", "strict"}
    assert metric(samples, "podinject_rule_outcomes_total", rule="inject-env", outcome="applied") <= len(procs)
    assert metrics_file.stat().st_size == METRICS_SIZE


@pytest.mark.parametrize("kind", ["garbage", "truncated", "symlink", "other owner", "open to others"])
def test_a_file_that_is_not_podinjects_own_is_replaced_and_logged(private_dir, kind):
    config = write_config(private_dir, api="none")
    metrics_file = private_dir / "metrics"
    target = private_dir / "target"
    target.write_bytes(b"keep me")
    if kind == "garbage":
        metrics_file.write_bytes(b"\x41" * METRICS_SIZE)
    elif kind == "truncated":
        stdin_admit(review(pod("a"), 1), config, metrics_file)
        os.truncate(metrics_file, 100)
    elif kind == "symlink":
        metrics_file.symlink_to(target)
    elif kind == "other owner":
        if os.geteuid() != 0:
            pytest.skip("needs root to give a file away")
        stdin_admit(review(pod("a"), 1), config, metrics_file)
        os.chown(metrics_file, 65532, 65532)
    else:
        stdin_admit(review(pod("a"), 1), config, metrics_file)
        os.chmod(metrics_file, 0o666)
    res = stdin_admit(review(pod("a"), 2), config, metrics_file)
    assert res.returncode == 0
    line = h.stderr_json_lines(res)[-1]
    assert any("replaced" in note for note in line.get("notes", [])), line
    assert target.read_bytes() == b"keep me"
    st = os.lstat(metrics_file)
    assert st.st_size == METRICS_SIZE and st.st_uid == os.geteuid() and (st.st_mode & 0o077) == 0
    samples = parse_text(stdin_metrics(config, metrics_file))
    assert metric(samples, "podinject_admissions_total", operation="CREATE", result="allowed", code="200") == 1


def test_size_and_series_stay_bounded_with_many_rules(private_dir):
    cfg = json.loads(json.dumps(CONFIG))
    cfg["rules"] = [{"name": f"rule-{i:03d}", "env": [{"name": f"V{i}", "value": "x"}]} for i in range(100)]
    cfg["events"] = {"api": "none", "outbox": str(private_dir / "outbox")}
    config = private_dir / "many.yaml"
    config.write_text(json.dumps(cfg))
    metrics_file = private_dir / "metrics"
    for n in range(3):
        assert stdin_admit(review(pod("m"), n), config, metrics_file).returncode == 0
    assert metrics_file.stat().st_size == METRICS_SIZE
    text = stdin_metrics(config, metrics_file)
    promtool_check(text)
    samples = parse_text(text)
    rules = {dict(k[1])["rule"] for k in samples if k[0] == "podinject_rule_outcomes_total"}
    assert len(rules) == 65 and "_overflow" in rules
    applied = [v for k, v in samples.items()
               if k[0] == "podinject_rule_outcomes_total" and dict(k[1])["outcome"] == "applied"]
    assert sum(applied) == 300
    assert metric(samples, "podinject_rule_outcomes_total", rule="_overflow", outcome="applied") == 36 * 3


def test_label_values_come_only_from_rules_and_fixed_vocabularies(private_dir):
    config = write_config(private_dir, api="none")
    metrics_file = private_dir / "metrics"
    for n, p in enumerate([pod("a"), pod("b", team=False), pod("c", labels={"strict": "yes"})]):
        stdin_admit(review(p, n), config, metrics_file)
    stdin_admit(b"not json", config, metrics_file)
    for args in ((), ("--openmetrics",)):
        text = stdin_metrics(config, metrics_file, *args)
        assert SECRET_POD not in text and SECRET_NAMESPACE not in text
        allowed = {"operation": {"CREATE", "UPDATE", "DELETE", "CONNECT", "other", "unknown"},
                   "result": {"allowed", "denied", "refused", "sent", "aggregated", "spooled", "dropped", "rejected"},
                   "code": {"200", "403", "400", "405", "411", "413", "415", "500"},
                   "rule": {"inject-env", "needs-team", "strict"},
                   "outcome": {"applied", "skipped", "failed"},
                   "reason": {"AlreadyInjected", "OptedOut", "TemplateValueMissing", "Conflict", "InvalidValue",
                              "UnpatchablePod", "ConfigInvalid"},
                   "version": {h.run_podinject(["version"]).stdout.decode().split()[1]}}
        for (name, labels) in parse_text(text.replace("# EOF\n", "")):
            for key, value in labels:
                if key == "le":
                    continue
                assert value in allowed[key], (name, key, value)
    promtool_check(stdin_metrics(config, metrics_file))


def test_metrics_as_cgi_answers_get_with_the_negotiated_format(private_dir):
    config = write_config(private_dir, api="none")
    metrics_file = private_dir / "metrics"
    env = h.clean_env({"PODINJECT_METRICS_FILE": str(metrics_file), "PODINJECT_CGI_COMMAND": "metrics",
                       "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET", "PODINJECT_CONFIG": str(config)})
    res = h.run_podinject([], b"", env=env)
    head, _, body = res.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"Status: 200 OK\r\nContent-Type: text/plain; version=0.0.4"), head
    promtool_check(body.decode())
    res = h.run_podinject([], b"", env={**env, "HTTP_ACCEPT": "application/openmetrics-text;version=1.0.0"})
    head, _, body = res.stdout.partition(b"\r\n\r\n")
    assert b"Content-Type: application/openmetrics-text" in head and body.endswith(b"# EOF\n")
    res = h.run_podinject([], b"", env={**env, "REQUEST_METHOD": "POST"})
    assert res.stdout.startswith(b"Status: 405 Method Not Allowed\r\n") and b"Allow: GET, HEAD" in res.stdout
    # Without PODINJECT_CGI_COMMAND the program is the webhook, whatever the path.
    res = h.run_podinject([], b"", env={**env, "PODINJECT_CGI_COMMAND": ""})
    assert res.stdout.startswith(b"Status: 405")
    assert b"Allow: POST" in res.stdout


# --------------------------------------------------------------------------------------------
# Both shipped hosts serve GET /metrics on their plain-HTTP port
# --------------------------------------------------------------------------------------------


def answered(samples: dict[tuple, float]) -> float:
    return sum(v for (name, labels), v in samples.items()
               if name == "podinject_admissions_total" and dict(labels)["result"] != "refused")


@pytest.mark.parametrize("host_fixture", ["nginx_host", "lighttpd_host"])
def test_shipped_hosts_serve_metrics_that_count_their_admissions(host_fixture, request):
    host = request.getfixturevalue(host_fixture)
    status, headers, before = scrape(host.metrics_port)
    assert status == 200, (before, host.log_text())
    promtool_check(before)
    resp = call(host, review(pod("hosted"), 1))
    assert resp.status == 200, resp.describe()
    _, _, after = scrape(host.metrics_port)
    assert answered(parse_text(after)) == answered(parse_text(before)) + 1
    assert metric(parse_text(after), "podinject_config_valid") == 1
    _, headers, om = scrape(host.metrics_port, "application/openmetrics-text;version=1.0.0,text/plain;q=0.5")
    assert headers["content-type"].startswith("application/openmetrics-text") and om.endswith("# EOF\n")
    # Only GET /metrics, and only on the metrics port.
    conn = http.client.HTTPConnection("127.0.0.1", host.metrics_port, timeout=h.TIMEOUT)
    conn.request("GET", "/")
    other = conn.getresponse()
    other.read()
    conn.close()
    assert other.status in (403, 404)
    assert call(host, None, method="GET", path="/metrics").status in (404, 405)


def test_metrics_need_no_client_certificate_in_mutual_tls_mode(host_files):
    run_dir = host_files.directory / f"mtls-metrics-{os.getpid()}-{time.monotonic_ns()}" / "run"
    host = start_entrypoint(host_files, run_dir, PODINJECT_CLIENT_CA=str(host_files.ca_crt))
    try:
        assert call(host, review(pod("a"), 1)).status == 403  # the webhook wants a certificate
        status, _, text = scrape(host.metrics_port)
        assert status == 200 and "podinject_build_info" in text
    finally:
        stop_process_tree(host.proc, marker=str(run_dir))
