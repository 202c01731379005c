"""Event delivery end to end (SPEC §5, issue 3): the built podinject binary against the strict fake
API server of kubeapi.py (HTTPS, real validation, one store for both Event APIs, injected faults).

Every test runs the real binary as a subprocess; the fake server's store and request log are the
evidence. Stdin mode delivers in-process after stdout is closed, so when the process has exited the
Event has arrived (or its outbox file is still there); CGI and function-runtime modes hand off to a
detached deliverer, so those tests poll the store.
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import pytest
import yaml

import harness as h
from kubeapi import CERT_USER, CORE, EVENTS, SA_USER, KubeAPI
from kubeapi_fixtures import *  # noqa: F401,F403

NS = "shop"
RS = "web-5d8f7c9b6"
RS_UID = "2f9c1e7a-4b3d-4a6e-9c8f-0d1e2a3b4c5d"
OWNER = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": RS, "uid": RS_UID, "controller": True,
         "blockOwnerDeletion": True}
REGARDING = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": RS, "namespace": NS, "uid": RS_UID}
CONTROLLER = "podinject.dev/e2e"
INSTANCE = "e2e-runner"
EVENT_NAME = re.compile(r"^" + re.escape(RS) + r"\.[0-9a-f]{16}$")

CANARY_POD_ENV = "CANARY-POD-ENV-5e1f0a9b7c3d2e4f"
CANARY_POD_ARG = "CANARY-POD-ARG-9a8b7c6d5e4f3a2b"
CANARY_ANNOTATION = "CANARY-POD-NOTE-1122334455667788"
CANARIES = (h.CANARY_CFG, CANARY_POD_ENV, CANARY_POD_ARG, CANARY_ANNOTATION)

APIS = [CORE, EVENTS]
CREDENTIALS = ["token", "tokenFile", "cert-data", "cert-files", "in-cluster"]
STDOUT_BOUND = 0.5  # SPEC §9 / issue 3: the answer is complete in under 0.5 s whatever the API server does


def config_doc(events_api: str, tmp: Path, **events: Any) -> dict:
    ev = {"api": events_api, "reportingController": CONTROLLER, "reportingInstance": INSTANCE, "regarding": "Owner",
          "timeoutMilliseconds": 4000, "outbox": str(tmp / "outbox"), "logFile": str(tmp / "deliverer.log")}
    ev.update(events)
    return {
        "apiVersion": "podinject.dev/v1alpha1", "kind": "InjectionConfig",
        "defaults": {"onError": "Allow", "conflict": "Skip"},
        "statusAnnotation": "podinject.dev/status",
        "events": ev,
        "rules": [
            # fails for a pod without a `team` label: TemplateValueMissing → InjectionFailed
            {"name": "needs-team", "env": [{"name": "TEAM", "value": h.CANARY_CFG + '/{{ index .metadata.labels "team" }}'}]},
            # only for pods labelled example.com/deny=yes; its template never resolves → InjectionDenied
            {"name": "deny-marked", "onError": "Deny",
             "match": {"labelSelector": {"matchLabels": {"example.com/deny": "yes"}}},
             "env": [{"name": "DB_PASSWORD", "value": h.CANARY_CFG + "{{ .metadata.labels.nonexistent }}"}]},
            {"name": "fine", "labels": {"podinject.dev/ok": "true"}},
        ],
    }


def make_pod(i: int, *, labels: dict | None = None, owner: bool = True, name: str | None = None) -> dict:
    meta: dict[str, Any] = {"namespace": NS, "labels": {"app": "web", "pod-template-hash": "5d8f7c9b6", **(labels or {})},
                            "annotations": {"example.com/secret-note": CANARY_ANNOTATION}}
    if owner:
        meta["generateName"] = f"{RS}-"
        meta["ownerReferences"] = [dict(OWNER)]
    else:
        meta["name"] = name or "lonely"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"containers": [{
        "name": "web", "image": "registry.example.com/web:1.4.2",
        "env": [{"name": "API_KEY", "value": CANARY_POD_ENV}],
        "args": ["--serve", f"--token={CANARY_POD_ARG}", f"--replica={i}"]}]}}


def make_review(i: int, *, dry_run: bool = False, **pod_kw: Any) -> dict:
    return h.make_review(make_pod(i, **pod_kw), namespace=NS, uid=h.stable_uid(f"delivery/{i}/{dry_run}/{pod_kw}"),
                         username=h.CONTROLLER_USERS["ReplicaSet"], groups=h.CONTROLLER_GROUPS, dry_run=dry_run)


def failing_review(i: int, **kw: Any) -> dict:
    return make_review(i, **kw)


def passing_review(i: int) -> dict:
    return make_review(i, labels={"team": "payments"})


def deny_review(i: int) -> dict:
    return make_review(i, labels={"team": "payments", "example.com/deny": "yes"})


def log_line(r: h.Result) -> dict:
    lines = h.stderr_json_lines(r)
    assert lines, f"no log line\n{r.describe()}"
    line = lines[-1]
    ev = line.get("events")
    assert isinstance(ev, dict) and {"sent", "aggregated", "spooled", "dropped"} <= set(ev), line
    return line


def strings_in(obj: Any) -> Iterable[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from strings_in(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from strings_in(v)


def json_lines(text: str) -> list[Any]:
    out = []
    for ln in text.splitlines():
        ln = ln.strip()
        if ln:
            try:
                out.append(json.loads(ln))
            except ValueError:
                out.append(ln)
    return out


# ================================================================================================
# One test's world: the fake API server, a config, an outbox, and credentials
# ================================================================================================


@dataclass
class Site:
    api: KubeAPI
    tmp: Path
    events_api: str
    creds: str
    config: Path
    args: list[str]
    env: dict[str, str]

    @property
    def outbox(self) -> Path:
        return self.tmp / "outbox"

    @property
    def logfile(self) -> Path:
        return self.tmp / "deliverer.log"

    @property
    def identity(self) -> str | None:
        return {"cert-data": CERT_USER, "cert-files": CERT_USER, "none": None}.get(self.creds, SA_USER)

    def admit(self, review: dict, *, timeout: float = 30) -> h.Result:
        r = h.run_podinject(["--config", str(self.config), *self.args], h.review_bytes(review), env=self.env,
                            timeout=timeout)
        assert r.returncode == 0, r.describe()
        return r

    def flush(self, *, timeout: float = 30) -> h.Result:
        return h.run_podinject(["events", "flush", "--config", str(self.config), *self.args], b"", env=self.env,
                               timeout=timeout)

    def argv(self) -> list[str]:
        return [str(h.BIN), "--config", str(self.config), *self.args]

    def pending(self) -> list[Path]:
        """Outbox files waiting for delivery (top level, not hidden)."""
        if not self.outbox.is_dir():
            return []
        return sorted(p for p in self.outbox.iterdir() if p.is_file() and not p.name.startswith("."))

    def all_files(self) -> list[Path]:
        return sorted(p for p in self.outbox.rglob("*") if p.is_file()) if self.outbox.is_dir() else []

    def logs(self, *results: h.Result) -> str:
        text = "\n".join(r.err for r in results)
        if self.logfile.exists():
            text += "\n" + self.logfile.read_text(errors="replace")
        return text

    # ---- evidence on the server side
    def stored(self) -> list[dict]:
        return self.api.events(self.events_api)

    def only_event(self) -> dict:
        evs = self.stored()
        assert len(evs) == 1, f"expected exactly one Event, got {len(evs)}: {[e['metadata']['name'] for e in evs]}" \
                              f"\nrequests: {self.request_summary()}"
        return evs[0]

    def request_summary(self) -> list[tuple]:
        return [(q.method, q.path, q.identity, q.status, q.fault) for q in self.api.requests]

    def check_requests_clean(self) -> None:
        """Every request authenticated as expected, well-formed, no unknown field, no refusal except the 409s of
        aggregation."""
        for q in self.api.requests:
            assert q.identity == self.identity, (q.method, q.path, q.identity, q.credential, self.request_summary())
            assert not q.warnings, (q.method, q.path, q.warnings, q.text[:500])
            if q.status is not None and q.status >= 400 and q.fault is None:
                assert q.status == 409 and q.response.get("reason") in ("AlreadyExists", "Conflict"), \
                    (q.method, q.path, q.status, q.response)
            assert q.api in (None, self.events_api), f"{q.method} {q.path}: events.api is {self.events_api}"


def make_site(api: KubeAPI, tmp: Path, events_api: str, creds: str, *, config: dict | None = None,
              **events: Any) -> Site:
    tmp.mkdir(parents=True, exist_ok=True)
    cfg = tmp / "config.yaml"
    cfg.write_text(yaml.safe_dump(config or config_doc(events_api, tmp, **events), sort_keys=False))
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    args: list[str] = []
    extra: dict[str, str] = {}
    if creds in ("token", "cert-data"):  # passed with --kubeconfig
        args = ["--kubeconfig", str(api.write_kubeconfig(tmp / "kubeconfig", creds))]
    elif creds in ("tokenFile", "cert-files"):  # passed with $KUBECONFIG
        extra["KUBECONFIG"] = str(api.write_kubeconfig(tmp / "kubeconfig", creds, ca="file"))
    elif creds == "in-cluster":
        extra.update(api.write_serviceaccount_dir(tmp / "serviceaccount"))
    elif creds != "none":
        raise ValueError(creds)
    return Site(api, tmp, events_api, creds, cfg, args, h.clean_env(extra, home=home))


@pytest.fixture
def site_factory(kubeapi, tmp_path):
    def make(events_api: str = CORE, creds: str = "token", sub: str = "site", api: KubeAPI | None = None,
             **kw) -> Site:
        return make_site(api or kubeapi, tmp_path / sub, events_api, creds, **kw)

    return make


def reference_answer(tmp: Path, review: dict, events_api: str) -> dict:
    """The answer with no API server at all: Event delivery must never change it."""
    site = make_site(None, tmp / "reference", events_api, "none")  # type: ignore[arg-type]
    return site.admit(review).json()


def check_event(ev: dict, events_api: str, reason: str, rule: str, *, regarding: dict = REGARDING) -> None:
    assert EVENT_NAME.match(ev["metadata"]["name"]) or regarding is not REGARDING, ev["metadata"]["name"]
    assert ev["metadata"]["namespace"] == NS
    assert ev["type"] == "Warning" and ev["reason"] == reason, ev
    if events_api == CORE:
        assert ev["involvedObject"] == regarding, ev["involvedObject"]
        assert rule in ev["message"] and len(ev["message"].encode()) <= 1024, ev["message"]
        assert ev["reportingComponent"] == CONTROLLER and ev["reportingInstance"] == INSTANCE, ev
        assert ev["source"].get("component") == CONTROLLER, ev["source"]
        assert ev["firstTimestamp"] and ev["lastTimestamp"] >= ev["firstTimestamp"], ev
    else:
        assert ev["regarding"] == regarding, ev["regarding"]
        assert rule in ev["note"] and len(ev["note"].encode()) <= 1024, ev["note"]
        assert ev["reportingController"] == CONTROLLER and ev["reportingInstance"] == INSTANCE, ev
        assert ev["action"] == "Inject" and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", ev["eventTime"])


def count_of(ev: dict, events_api: str) -> int:
    if events_api == CORE:
        return ev.get("count", 0)
    return (ev.get("series") or {}).get("count", 1)


# ================================================================================================
# An Event arrives, for each API and each kind of credentials
# ================================================================================================


@pytest.mark.parametrize("creds", CREDENTIALS)
@pytest.mark.parametrize("events_api", APIS)
def test_event_arrives_regarding_the_replicaset(site_factory, podinject_bin, events_api, creds, tmp_path):
    site = site_factory(events_api, creds)
    review = failing_review(1)
    r = site.admit(review)
    assert r.json() == reference_answer(tmp_path, review, events_api), "delivery must not change the answer"
    ev = site.only_event()
    check_event(ev, events_api, "InjectionFailed", "needs-team")
    assert count_of(ev, events_api) == 1
    if events_api == EVENTS:
        assert "series" not in ev, "a single occurrence has no series"
    posts = [q for q in site.api.requests if q.method == "POST"]
    assert len(posts) == 1, site.request_summary()
    assert posts[0].path == ("/api/v1" if events_api == CORE else "/apis/events.k8s.io/v1") + f"/namespaces/{NS}/events"
    site.check_requests_clean()
    assert site.pending() == [] and site.all_files() == [], "a delivered Event leaves the outbox"
    line = log_line(r)
    assert line["events"]["sent"] == 1 and line["events"]["dropped"] == 0, line


@pytest.mark.parametrize("events_api", APIS)
def test_denied_pod_makes_injection_denied_event(site_factory, podinject_bin, events_api):
    site = site_factory(events_api)
    r = site.admit(deny_review(1))
    resp = h.response_of(r.json())
    assert resp["allowed"] is False and resp["status"]["code"] == 403
    check_event(site.only_event(), events_api, "InjectionDenied", "deny-marked")
    site.check_requests_clean()


@pytest.mark.parametrize("events_api", APIS)
def test_invalid_config_makes_config_invalid_event(site_factory, podinject_bin, events_api, tmp_path):
    cfg = config_doc(events_api, tmp_path / "site")
    cfg["rules"][0]["name"] = "Not_A_DNS_Label"  # the whole configuration is unusable
    site = site_factory(events_api, config=cfg)
    r = site.admit(failing_review(1))
    assert h.response_of(r.json())["allowed"] is True  # defaults.onError: Allow
    # With the config unusable, its `events` section may not be honoured: look through either API.
    evs = [e for e in site.api.events(CORE) if e["reason"] == "ConfigInvalid"]
    assert len(evs) == 1, (site.api.events(CORE), site.request_summary(), r.err[-2000:])
    assert evs[0]["involvedObject"]["kind"] == "ReplicaSet" and evs[0]["involvedObject"]["uid"] == RS_UID
    assert evs[0]["type"] == "Warning"


@pytest.mark.parametrize("events_api", APIS)
def test_long_message_is_cut_to_1024_bytes(site_factory, podinject_bin, events_api, tmp_path):
    """A failure detail longer than 1 KiB (multi-byte text): the message/note is cut to ≤ 1024 bytes with ` ...`
    (the API server refuses a longer note with 422)."""
    cfg = config_doc(events_api, tmp_path / "site")
    long_key = "ключ-" * 300  # 2700 bytes of UTF-8
    cfg["rules"][0]["env"][0]["value"] = '{{ index .metadata.labels "' + long_key + '" }}'
    cfg["rules"][0]["env"] += [{"name": f"V{i}", "value": '{{ index .metadata.labels "' + long_key + f'{i}" }}}}'}
                               for i in range(3)]
    site = site_factory(events_api, config=cfg)
    site.admit(failing_review(1))
    site.admit(failing_review(2))
    ev = site.only_event()
    text = ev["message"] if events_api == CORE else ev["note"]
    assert len(text.encode()) <= 1024, len(text.encode())
    assert "needs-team" in text
    assert count_of(ev, events_api) == 2
    site.check_requests_clean()


def test_pod_without_controller_is_regarded_by_itself(site_factory, podinject_bin):
    site = site_factory(CORE)
    site.admit(failing_review(1, owner=False, name="lonely"))
    ev = site.only_event()
    assert re.fullmatch(r"lonely\.[0-9a-f]{16}", ev["metadata"]["name"]), ev["metadata"]["name"]
    inv = ev["involvedObject"]
    assert (inv["kind"], inv["name"], inv["namespace"]) == ("Pod", "lonely", NS), inv
    assert inv.get("apiVersion") == "v1"


@pytest.mark.parametrize("ca", ["file", "insecure"])
def test_kubeconfig_certificate_authority_variants(kubeapi, tmp_path, podinject_bin, ca):
    kc = kubeapi.write_kubeconfig(tmp_path / "kc" / "kubeconfig", "token", ca=ca)
    site = make_site(kubeapi, tmp_path / "site", CORE, "none")
    site.args = ["--kubeconfig", str(kc)]
    site.admit(failing_review(1))
    assert site.only_event()["reason"] == "InjectionFailed"
    assert site.api.requests[0].identity == SA_USER


def test_kubeconfig_tls_server_name(kubeapi_factory, tmp_path, podinject_bin):
    """The server's certificate names only kubernetes.default.svc; the kubeconfig says so with tls-server-name."""
    api = kubeapi_factory(sans=("DNS:kubernetes.default.svc",))
    kc = api.write_kubeconfig(tmp_path / "kc" / "kubeconfig", "token", tls_server_name="kubernetes.default.svc")
    site = make_site(api, tmp_path / "site", CORE, "none")
    site.args = ["--kubeconfig", str(kc)]
    site.admit(failing_review(1))
    assert site.only_event()["reason"] == "InjectionFailed"


def test_kubeconfig_relative_paths_resolve_against_its_directory(kubeapi, tmp_path, podinject_bin):
    """kubectl resolves certificate-authority, client-certificate/-key and tokenFile relative to the file."""
    kc = kubeapi.write_kubeconfig(tmp_path / "kc" / "kubeconfig", "cert-files", ca="file", relative=True)
    site = make_site(kubeapi, tmp_path / "site", CORE, "none")
    site.args = ["--kubeconfig", str(kc)]
    site.env["KUBECONFIG"] = "/nonexistent/kubeconfig"  # --kubeconfig wins over $KUBECONFIG
    site.admit(failing_review(1))
    assert site.only_event()["reason"] == "InjectionFailed"
    assert site.api.requests[0].identity == CERT_USER


def test_kubeconfig_list_is_merged_as_kubectl_merges_it(kubeapi, tmp_path, podinject_bin):
    """$KUBECONFIG as a list: missing files are skipped; the first file to set current-context wins, and the
    first to define a name; relative paths resolve against the file holding the entry."""
    kc = kubeapi.write_kubeconfig(tmp_path / "kc" / "kubeconfig", "cert-files", ca="file", relative=True)
    full = yaml.safe_load(kc.read_text())
    context = full["current-context"]
    # First file: only the current context, and a decoy context of the same name in a later file.
    first = tmp_path / "first" / "config"
    first.parent.mkdir()
    first.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": context,
                                     "contexts": full["contexts"]}))
    decoy = dict(full, **{"current-context": "decoy", "clusters": [], "users": []})
    decoy["contexts"] = [{"name": context, "context": {"cluster": "nowhere", "user": "nobody"}}]
    last = tmp_path / "last" / "config"
    last.parent.mkdir()
    last.write_text(yaml.safe_dump(decoy))
    # The clusters and users stay in the generated file, beside the relative files they name.
    rest = dict(full)
    rest.pop("current-context")
    rest["contexts"] = []
    kc.write_text(yaml.safe_dump(rest))
    site = make_site(kubeapi, tmp_path / "site", CORE, "none")
    site.env["KUBECONFIG"] = ":".join([str(first), "/nonexistent/config", str(kc), str(last)])
    site.admit(failing_review(1))
    assert site.only_event()["reason"] == "InjectionFailed"
    assert [(q.method, q.identity, q.status) for q in site.api.requests] == [("POST", CERT_USER, 201)]


def test_untrusted_server_gets_nothing(kubeapi, tmp_path, podinject_bin):
    """A kubeconfig without the cluster's CA: podinject must not skip verification; the answer is still right."""
    kc = kubeapi.write_kubeconfig(tmp_path / "kc" / "kubeconfig", "token", ca="none")
    site = make_site(kubeapi, tmp_path / "site", CORE, "none")
    site.args = ["--kubeconfig", str(kc)]
    review = failing_review(1)
    r = site.admit(review)
    assert r.json() == reference_answer(tmp_path, review, CORE)
    assert kubeapi.requests == [] and kubeapi.events() == [], "nothing may be sent to an unverified server"
    assert log_line(r)["events"]["sent"] == 0


def test_kubeconfig_beats_in_cluster(kubeapi, tmp_path, podinject_bin):
    site = make_site(kubeapi, tmp_path / "site", CORE, "cert-data")
    site.env.update(kubeapi.write_serviceaccount_dir(tmp_path / "sa"))
    site.admit(failing_review(1))
    assert {q.identity for q in kubeapi.requests} == {CERT_USER}, site.request_summary()


def test_no_credentials_no_api_said_in_the_log(kubeapi, tmp_path, podinject_bin):
    site = make_site(kubeapi, tmp_path / "site", CORE, "none")
    review = failing_review(1)
    r = site.admit(review)
    assert kubeapi.requests == []
    line = log_line(r)
    assert line["events"]["sent"] == 0, line
    said = [s for s in strings_in(line) if re.search(r"(?i)\b(no|without)\b.*\b(api|credential|kubeconfig|in-cluster)",
                                                      s)]
    assert said, f"the log line must say there is no API server to send to: {line}"
    assert line["failed"] and line["failed"][0]["rule"] == "needs-team"


@pytest.mark.parametrize("mode", ["exec", "auth-provider"])
def test_exec_and_auth_provider_are_reported_unsupported(kubeapi, tmp_path, podinject_bin, mode):
    kc = kubeapi.write_kubeconfig(tmp_path / "kc" / "kubeconfig", mode)
    site = make_site(kubeapi, tmp_path / "site", CORE, "none")
    site.args = ["--kubeconfig", str(kc)]
    review = failing_review(1)
    r = site.admit(review)
    assert r.json() == reference_answer(tmp_path, review, CORE)
    text = site.logs(r)
    assert re.search(r"(?i)unsupported|not supported|does not support", text) and mode in text, text[-2000:]
    assert not any(q.identity for q in kubeapi.requests), "no request can be authenticated"
    assert kubeapi.events() == []


def test_in_cluster_token_is_read_afresh(kubeapi, tmp_path, podinject_bin):
    site = make_site(kubeapi, tmp_path / "site", CORE, "in-cluster")
    site.admit(failing_review(1))
    old = kubeapi.token()
    new = kubeapi.rotate_token()  # rewrites <dir>/token; the old value now gets 401
    site.admit(failing_review(2))
    assert count_of(site.only_event(), CORE) == 2
    assert all(q.status != 401 for q in kubeapi.requests), site.request_summary()
    sent_tokens = {q.headers.get("Authorization") for q in kubeapi.requests}
    assert f"Bearer {new}" in sent_tokens and f"Bearer {old}" in sent_tokens


# ================================================================================================
# Aggregation
# ================================================================================================


@pytest.mark.parametrize("events_api", APIS)
def test_repeat_makes_one_event_with_count_2(site_factory, podinject_bin, events_api):
    site = site_factory(events_api)
    site.admit(failing_review(1))
    first = site.only_event()
    r = site.admit(failing_review(2))
    ev = site.only_event()
    assert ev["metadata"]["name"] == first["metadata"]["name"] and ev["metadata"]["uid"] == first["metadata"]["uid"]
    assert count_of(ev, events_api) == 2, ev
    if events_api == CORE:
        assert ev["count"] == 2 and ev["lastTimestamp"] >= first["lastTimestamp"]
        assert ev["firstTimestamp"] == first["firstTimestamp"]
    else:
        assert ev["series"]["count"] == 2 and ev["series"]["lastObservedTime"] >= first["eventTime"]
        assert ev["eventTime"] == first["eventTime"]
    check_event(ev, events_api, "InjectionFailed", "needs-team")
    methods = [q.method for q in site.api.requests]
    assert methods.count("POST") == 2 and "PATCH" in methods, site.request_summary()
    conflict = [q for q in site.api.requests if q.status == 409]
    assert conflict and conflict[0].response["reason"] == "AlreadyExists"
    site.check_requests_clean()
    line = log_line(r)
    assert line["events"]["aggregated"] == 1, line


@pytest.mark.parametrize("events_api", APIS)
def test_eight_concurrent_repeats_count_exactly_ten(site_factory, podinject_bin, events_api):
    site = site_factory(events_api, timeoutMilliseconds=20000)
    site.admit(failing_review(1))
    site.admit(failing_review(2))
    procs = []
    for i in range(3, 11):
        p = subprocess.Popen(site.argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=site.env)
        procs.append(p)
    with cf.ThreadPoolExecutor(8) as pool:
        outs = list(pool.map(lambda ip: ip[1].communicate(h.review_bytes(failing_review(ip[0])), timeout=60),
                             zip(range(3, 11), procs)))
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err.decode()[-2000:]
        assert json.loads(out)["response"]["allowed"] is True
    ev = site.only_event()
    assert count_of(ev, events_api) == 10, (ev, site.request_summary())
    assert site.pending() == [], [p.name for p in site.pending()]
    site.check_requests_clean()


# ================================================================================================
# dryRun
# ================================================================================================


@pytest.mark.parametrize("events_api", APIS)
def test_dry_run_makes_no_request(site_factory, podinject_bin, events_api, tmp_path):
    site = site_factory(events_api)
    review = failing_review(1, dry_run=True)
    r = site.admit(review)
    wet = copy.deepcopy(review)
    wet["request"]["dryRun"] = False
    assert r.json() == reference_answer(tmp_path, wet, events_api), "dryRun: identical response"
    assert site.api.requests == [], site.request_summary()
    assert site.all_files() == []
    assert log_line(r)["events"] == {"sent": 0, "aggregated": 0, "spooled": 0, "dropped": 0}


# ================================================================================================
# Faults: API down, stalls, transient errors, permanent refusals
# ================================================================================================


@pytest.mark.parametrize("events_api", APIS)
def test_api_down_spools_then_flush_delivers_every_occurrence(site_factory, podinject_bin, events_api, tmp_path):
    site = site_factory(events_api)
    site.api.stop()
    reviews = [failing_review(i) for i in range(1, 4)]
    for review in reviews:
        t = time.monotonic()
        r = site.admit(review)
        assert time.monotonic() - t < 4 + 2, "connection refused is no reason to wait"
        assert r.json() == reference_answer(tmp_path / str(review["request"]["uid"]), review, events_api)
        line = log_line(r)
        assert line["events"]["spooled"] >= 1 and line["events"]["sent"] == 0, line
    assert len(site.pending()) == 3, [p.name for p in site.all_files()]
    down = site.flush()
    assert down.returncode != 0, "flush with the API down leaves Events waiting: non-zero\n" + down.describe()
    assert len(site.pending()) == 3
    site.api.start()
    up = site.flush()
    assert up.returncode == 0, up.describe()
    ev = site.only_event()
    assert count_of(ev, events_api) == 3, ev
    check_event(ev, events_api, "InjectionFailed", "needs-team")
    assert site.pending() == [] and site.all_files() == []
    site.check_requests_clean()


def test_spooled_events_use_the_rotated_token(kubeapi, tmp_path, podinject_bin):
    """Credentials are read at delivery time, never stored with the Event."""
    site = make_site(kubeapi, tmp_path / "site", CORE, "in-cluster")
    kubeapi.stop()
    site.admit(failing_review(1))
    assert len(site.pending()) == 1
    spooled = site.pending()[0].read_text()
    old = kubeapi.token()
    assert old not in spooled, "the outbox must not hold the token"
    kubeapi.rotate_token()
    kubeapi.start()
    assert site.flush().returncode == 0
    assert count_of(site.only_event(), CORE) == 1
    assert all(q.status != 401 for q in kubeapi.requests), site.request_summary()


def test_deliverer_killed_mid_delivery_loses_nothing(site_factory, podinject_bin):
    """A deliverer SIGKILLed while it holds an Event (its request stalled at the server): a later flush
    recovers the claim and delivers the Event exactly once."""
    site = site_factory(CORE, timeoutMilliseconds=20000)
    site.api.stop()
    site.admit(failing_review(1))
    assert len(site.pending()) == 1
    site.api.start()
    site.api.stall(60)
    p = subprocess.Popen([str(h.BIN), "events", "flush", "--config", str(site.config), *site.args],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=site.env)
    try:
        assert site.api.wait_for(lambda a: [q for q in a.requests if q.method == "POST"], 10), \
            "the flush never reached the server"
        assert site.pending() == [], "the Event is claimed while it is being delivered"
    finally:
        p.kill()
        p.communicate(timeout=10)
    site.api.stop()  # the stalled request dies with the connection: the server never stored it
    site.api.start()
    site.api.clear_faults()
    assert site.stored() == []
    r = site.flush()
    assert r.returncode == 0, r.describe()
    assert count_of(site.only_event(), CORE) == 1
    assert site.all_files() == [], [p.name for p in site.all_files()]


def _timed_stdin_run(site: Site, review: dict, timeout: float = 30) -> tuple[float, float, bytes, bytes, int]:
    """(seconds until stdout EOF, seconds until exit, stdout, stderr, exit status), from the spawn."""
    t0 = time.monotonic()
    p = subprocess.Popen(site.argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=site.env)
    box: dict[str, Any] = {}

    def read(stream, key):
        box[key] = stream.read()
        box[key + "_t"] = time.monotonic() - t0

    threads = [threading.Thread(target=read, args=(p.stdout, "out")),
               threading.Thread(target=read, args=(p.stderr, "err"))]
    for t in threads:
        t.start()
    p.stdin.write(h.review_bytes(review))
    p.stdin.close()
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        raise AssertionError(f"podinject did not exit within {timeout}s")
    exited = time.monotonic() - t0
    for t in threads:
        t.join(5)
    return box["out_t"], exited, box["out"], box["err"], p.returncode


@pytest.mark.parametrize("events_api", APIS)
def test_api_stall_does_not_delay_the_answer(site_factory, podinject_bin, events_api, tmp_path):
    budget_ms = 1000
    site = site_factory(events_api, timeoutMilliseconds=budget_ms)
    review = failing_review(1)
    reference = reference_answer(tmp_path, review, events_api)
    site.api.stall(5)
    out_t, exit_t, out, err, code = _timed_stdin_run(site, review)
    assert code == 0, err.decode()
    assert json.loads(out) == reference
    assert out_t < STDOUT_BOUND, f"stdout complete after {out_t:.3f}s (bound {STDOUT_BOUND}s)"
    assert exit_t < budget_ms / 1000 + 1.0, f"exited after {exit_t:.3f}s with a {budget_ms} ms budget"
    assert exit_t < 5, "must not wait for the stalled API server"
    assert site.api.requests, "it did try to deliver"
    assert len(site.pending()) == 1, "a timeout is transient: the Event waits in the outbox"
    line = json.loads(err.decode().strip().splitlines()[-1])
    assert line["events"]["sent"] == 0 and line["events"]["spooled"] >= 1, line
    site.api.stop()  # the stalled handler must not complete the create behind our back


@pytest.mark.parametrize("fault", ["500", "503", "429", "reset"])
@pytest.mark.parametrize("events_api", APIS)
def test_transient_failure_is_delivered_by_the_next_invocation(site_factory, podinject_bin, events_api, fault):
    site = site_factory(events_api)
    if fault == "reset":
        site.api.reset_next(1)
    else:
        site.api.fail_next(1, int(fault))
    r1 = site.admit(failing_review(1))
    assert site.stored() == [] and len(site.pending()) == 1, (site.request_summary(), r1.err[-1500:])
    assert log_line(r1)["events"]["sent"] == 0
    r2 = site.admit(passing_review(2))  # any review; this one has no failure of its own
    assert h.response_of(r2.json())["allowed"] is True
    ev = site.only_event()
    check_event(ev, events_api, "InjectionFailed", "needs-team")
    assert count_of(ev, events_api) == 1
    assert site.pending() == [] and site.all_files() == []
    site.check_requests_clean()


@pytest.mark.parametrize("events_api", APIS)
def test_forbidden_is_logged_and_not_retried_forever(site_factory, podinject_bin, events_api):
    site = site_factory(events_api)
    site.api.forbid(SA_USER)
    r = site.admit(failing_review(1))
    assert h.response_of(r.json())["allowed"] is True
    forbidden = [q for q in site.api.requests if q.status == 403]
    assert forbidden, site.request_summary()
    server_message = forbidden[0].response["message"]
    text = site.logs(r)
    logged = [s for obj in json_lines(text) for s in strings_in(obj) if "is forbidden" in s]
    assert any(s.count("cannot create resource") for s in logged), \
        f"the log must carry the API server's message {server_message!r}; got:\n{text[-2000:]}"
    assert site.pending() == [], "a permanent refusal is set aside, not left for retry"
    n = len(site.api.requests)
    f1 = site.flush()
    f2 = site.flush()
    site.admit(passing_review(2))
    assert len(site.api.requests) == n, f"set-aside Event retried: {site.request_summary()[n:]}"
    assert f1.returncode == 0 and f2.returncode == 0, (f1.describe(), f2.describe())
    assert site.stored() == []


def test_unauthorized_is_permanent_too(site_factory, podinject_bin):
    site = site_factory(CORE, "token")
    site.api.revoke_token(SA_USER)
    r = site.admit(failing_review(1))
    assert [q.status for q in site.api.requests] == [401], site.request_summary()
    assert "Unauthorized" in site.logs(r)
    assert site.pending() == []
    site.flush()
    assert len(site.api.requests) == 1


# ================================================================================================
# Secrets
# ================================================================================================


@pytest.mark.parametrize("events_api", APIS)
def test_no_secret_reaches_the_api_server(site_factory, podinject_bin, events_api):
    site = site_factory(events_api)
    site.admit(failing_review(1))
    site.admit(deny_review(2))
    site.admit(failing_review(3))
    assert len(site.stored()) == 2
    for q in site.api.requests:
        blob = q.text + json.dumps({k: v for k, v in q.headers.items() if k.lower() != "authorization"}) + q.path
        for canary in CANARIES:
            assert canary not in blob, f"{canary} sent in {q.method} {q.path}: {q.text[:400]}"
    stored = json.dumps(site.api.events(CORE)) + json.dumps(site.api.events(EVENTS))
    assert not [c for c in CANARIES if c in stored]


# ================================================================================================
# CGI and function-runtime modes: the answer first, a detached deliverer afterwards
# ================================================================================================


def _wait_event(site: Site, count: int = 1, timeout: float = 10.0) -> dict | None:
    def ready(api):
        evs = api.events(site.events_api)
        return evs[0] if len(evs) == 1 and count_of(evs[0], site.events_api) >= count else None

    return site.api.wait_for(ready, timeout)


def _timed_spawn(argv: list[str], env: dict[str, str], body: bytes) -> tuple[float, bytes, bytes, int]:
    """Seconds until stdout AND stderr are closed and the process has exited (what fcgiwrap/the watchdog wait for)."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = p.communicate(body, timeout=30)
    return time.monotonic() - t0, out, err, p.returncode


@pytest.mark.parametrize("mode", ["cgi", "function-runtime"])
@pytest.mark.parametrize("events_api", APIS)
def test_detached_delivery_modes_answer_first(site_factory, podinject_bin, events_api, mode):
    site = site_factory(events_api, timeoutMilliseconds=6000)
    body = h.review_bytes(failing_review(1))
    if mode == "cgi":
        base = h.clean_env()
        env = dict(site.env, **{k: v for k, v in h.cgi_env(content_length=len(body)).items() if base.get(k) != v})
    else:
        env = dict(site.env, Http_Method="POST", Http_Path="/mutate", Http_Query="timeout=10s",
                   Http_Content_Type="application/json", Http_Content_Length=str(len(body)))
    site.api.stall(1.5)
    elapsed, out, err, code = _timed_spawn(site.argv(), env, body)
    assert code == 0, err.decode()
    assert elapsed < STDOUT_BOUND, f"{mode}: pipes closed and exited after {elapsed:.3f}s"
    if mode == "cgi":
        answer = json.loads(h.parse_cgi(out).body)
    else:
        answer = json.loads(out)
        assert err == b"", "function-runtime mode writes nothing on stderr"
    assert answer["response"]["allowed"] is True
    assert site.stored() == [], "the Event cannot have arrived yet: the API server stalls"
    ev = _wait_event(site, timeout=10)
    assert ev, f"the detached deliverer did not deliver within 10s: {site.request_summary()}\n" \
               f"{site.logs()[-2000:]}"
    check_event(ev, events_api, "InjectionFailed", "needs-team")
    assert site.api.wait_for(lambda a: not site.pending(), 5), [p.name for p in site.pending()]
    site.check_requests_clean()
    assert site.api.wait_for(lambda a: site.logfile.exists() and site.logfile.read_text().strip(), 5), \
        "the detached deliverer logs to events.logFile"


# ---- real nginx + fcgiwrap ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def nginx_site(site_factory, podinject_bin, tmp_path):
    """nginx (single process, as the current user) + fcgiwrap on a unix socket, running podinject as CGI with a
    config and a kubeconfig for the fake API server."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    fcgiwrap = shutil.which("fcgiwrap") or "/usr/sbin/fcgiwrap"
    assert os.path.exists(nginx) and os.path.exists(fcgiwrap), "nginx/fcgiwrap missing (scripts/setup installs them)"
    made: dict[str, Any] = {}

    def start(events_api: str) -> tuple[Site, int]:
        site = site_factory(events_api, "token", timeoutMilliseconds=6000)
        kubeconfig = site.args[1]
        d = tmp_path / "nginx"
        d.mkdir()
        sock = d / "fcgiwrap.sock"
        fw = subprocess.Popen([fcgiwrap, "-c", "2", "-s", f"unix:{sock}"], stdout=subprocess.DEVNULL,
                              stderr=open(d / "fcgiwrap.log", "wb"), env=h.clean_env(home=site.tmp / "home"),
                              start_new_session=True)
        made["fcgiwrap"] = fw
        deadline = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sock.exists(), "fcgiwrap did not create its socket"
        port = _free_port()
        (d / "temp").mkdir()
        conf = d / "nginx.conf"
        conf.write_text(f"""
daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/temp/body;
  fastcgi_temp_path {d}/temp/fastcgi;
  proxy_temp_path {d}/temp/proxy;
  uwsgi_temp_path {d}/temp/uwsgi;
  scgi_temp_path {d}/temp/scgi;
  server {{
    listen 127.0.0.1:{port};
    location /mutate {{
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME {h.BIN};
      fastcgi_param PODINJECT_CONFIG {site.config};
      fastcgi_param KUBECONFIG {kubeconfig};
      fastcgi_read_timeout 30s;
      fastcgi_pass unix:{sock};
    }}
  }}
}}
""")
        ng = subprocess.Popen([nginx, "-p", str(d), "-c", str(conf)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        made["nginx"] = ng
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert ng.poll() is None, (d / "error.log").read_text() if (d / "error.log").exists() else "nginx died"
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.02)
        site.args = []  # the CGI environment carries KUBECONFIG
        return site, port

    yield start
    for name in ("nginx", "fcgiwrap"):
        if name in made:
            h.stop_process(made[name])


@pytest.mark.parametrize("events_api", APIS)
def test_cgi_under_nginx_fcgiwrap_answers_while_the_api_stalls(nginx_site, events_api):
    site, port = nginx_site(events_api)
    site.api.stall(1.5)
    body = h.review_bytes(failing_review(1))
    t0 = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    conn.request("POST", "/mutate?timeout=10s", body=body, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    elapsed = time.monotonic() - t0
    conn.close()
    assert resp.status == 200, (resp.status, data[:500])
    answer = json.loads(data)
    assert answer["response"]["uid"] == failing_review(1)["request"]["uid"]
    assert answer["response"]["allowed"] is True
    assert elapsed < STDOUT_BOUND, f"HTTP answer after {elapsed:.3f}s while the API server stalls 1.5 s"
    assert site.stored() == []
    ev = _wait_event(site, timeout=10)
    assert ev, f"no Event within 10s after the answer: {site.request_summary()}\n{site.logs()[-2000:]}"
    check_event(ev, events_api, "InjectionFailed", "needs-team")
    site.check_requests_clean()
