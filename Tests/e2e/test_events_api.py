"""Events delivered to a fake Kubernetes API server on 127.0.0.1 over HTTPS (SPEC §5).

The fake server keeps Events by name, answers 409 AlreadyExists to a repeated create, serves GET and
accepts PATCH, like the real one. Stdin mode delivers in the same process after the answer, so the
requests have arrived when podinject exits.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import harness as h

TOKEN = "e2e-token-4f1d2c3b"  # not a canary: it must be sent, as the bearer token
SECRET_ENV = "CANARY-POD-ENV-77aa66bb55cc"


class FakeAPI:
    def __init__(self, tmp: Path):
        key, crt = tmp / "api.key", tmp / "api.crt"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                        "-out", str(crt), "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
        self.ca = crt.read_bytes()
        self.requests: list[dict] = []
        self.events: dict[tuple[str, str, str], dict] = {}
        self.lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _reply(self, code, doc):
                body = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                body = json.loads(raw) if raw else None
                with api.lock:
                    api.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                         "body": body, "raw": raw.decode("utf-8", "replace")})
                    m = re.match(r"^/(api/v1|apis/events\.k8s\.io/v1)/namespaces/([^/]+)/events(?:/([^/?]+))?", self.path)
                    if not m:
                        return self._reply(404, {"kind": "Status", "code": 404})
                    group, ns, name = m.group(1), m.group(2), m.group(3)
                    if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                        return self._reply(401, {"kind": "Status", "code": 401, "message": "Unauthorized"})
                    if self.command == "POST" and name is None:
                        name = ((body or {}).get("metadata") or {}).get("name")
                        key = (group, ns, name)
                        if key in api.events:
                            return self._reply(409, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                                     "reason": "AlreadyExists", "code": 409,
                                                     "message": f'events "{name}" already exists'})
                        ev = copy.deepcopy(body)
                        ev.setdefault("metadata", {})["resourceVersion"] = "1"
                        api.events[key] = ev
                        return self._reply(201, ev)
                    key = (group, ns, name)
                    if key not in api.events:
                        return self._reply(404, {"kind": "Status", "code": 404, "reason": "NotFound"})
                    if self.command == "GET":
                        return self._reply(200, api.events[key])
                    if self.command in ("PATCH", "PUT"):
                        ev = api.events[key]
                        patch = body or {}
                        rv = (patch.get("metadata") or {}).get("resourceVersion")
                        if rv is not None and rv != ev["metadata"]["resourceVersion"]:
                            return self._reply(409, {"kind": "Status", "code": 409, "reason": "Conflict"})
                        merged = copy.deepcopy(ev)
                        for k, v in patch.items():
                            if isinstance(v, dict) and isinstance(merged.get(k), dict):
                                merged[k].update(v)
                            else:
                                merged[k] = v
                        merged["metadata"]["resourceVersion"] = str(int(ev["metadata"]["resourceVersion"]) + 1)
                        api.events[key] = merged
                        return self._reply(200, merged)
                    return self._reply(405, {"kind": "Status", "code": 405})

            do_GET = do_POST = do_PATCH = do_PUT = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(crt), str(key))
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {
                "server": f"https://127.0.0.1:{self.port}",
                "certificate-authority-data": base64.b64encode(self.ca).decode()}}],
            "users": [{"name": "fake", "user": {"token": TOKEN}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
        }))
        return path

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api(tmp_path):
    server = FakeAPI(tmp_path)
    yield server
    server.stop()


CONFIG = {
    "apiVersion": "podinject.dev/v1alpha1", "kind": "InjectionConfig",
    "defaults": {"onError": "Allow", "conflict": "Skip"},
    "statusAnnotation": "podinject.dev/status",
    "events": {"api": "v1", "reportingController": "podinject.dev/e2e", "reportingInstance": "e2e-runner",
               "regarding": "Owner", "timeoutMilliseconds": 3000},
    "rules": [
        {"name": "needs-team", "env": [{"name": "TEAM", "value": '{{ index .metadata.labels "team" }}'}]},
        {"name": "fine", "labels": {"podinject.dev/ok": "true"}},
    ],
}


def _config(tmp_path: Path, **events) -> Path:
    import yaml

    cfg = copy.deepcopy(CONFIG)
    cfg["events"].update({"outbox": str(tmp_path / "outbox"), "logFile": str(tmp_path / "deliverer.log")})
    cfg["events"].update(events)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _pod(suffix: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "generateName": "web-5d8f7c9b6-", "namespace": "shop", "labels": {"app": "web", "pod-template-hash": "5d8f7c9b6"},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d8f7c9b6",
                             "uid": "2f9c1e7a-4b3d-4a6e-9c8f-0d1e2a3b4c5d", "controller": True,
                             "blockOwnerDeletion": True}]},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "env": [{"name": "SECRET", "value": SECRET_ENV}],
                                 "args": [f"--x={suffix}"]}]}}


def _admit(api: FakeAPI, tmp_path: Path, config: Path, suffix: str, dry_run: bool = False):
    review = h.make_review(_pod(suffix), namespace="shop", uid=h.stable_uid("events/" + suffix + str(dry_run)),
                           username=h.CONTROLLER_USERS["ReplicaSet"], groups=h.CONTROLLER_GROUPS, dry_run=dry_run)
    env = h.clean_env({"KUBECONFIG": str(api.kubeconfig(tmp_path / "kubeconfig"))}, home=tmp_path)
    r = h.admit(review, config=config, env=env)
    assert r.returncode == 0, r.describe()
    assert r.json()["response"]["allowed"] is True
    return r


def _outbox(tmp_path: Path) -> list[Path]:
    d = tmp_path / "outbox"
    return sorted(p for p in d.rglob("*") if p.is_file()) if d.exists() else []


def test_core_v1_event_regards_the_owner(api, tmp_path, podinject_bin):
    r = _admit(api, tmp_path, _config(tmp_path), "a")
    posts = [q for q in api.requests if q["method"] == "POST"]
    assert len(posts) == 1, [(q["method"], q["path"]) for q in api.requests]
    q = posts[0]
    assert q["path"].startswith("/api/v1/namespaces/shop/events"), q["path"]
    assert q["headers"].get("Authorization") == f"Bearer {TOKEN}"
    ev = q["body"]
    inv = ev["involvedObject"]
    assert (inv["kind"], inv["name"], inv["uid"], inv.get("apiVersion"), inv.get("namespace")) == \
        ("ReplicaSet", "web-5d8f7c9b6", "2f9c1e7a-4b3d-4a6e-9c8f-0d1e2a3b4c5d", "apps/v1", "shop"), inv
    assert ev["type"] == "Warning" and ev["reason"] == "InjectionFailed", ev
    assert "needs-team" in ev["message"] and len(ev["message"].encode()) <= 1024
    assert re.fullmatch(r"web-5d8f7c9b6\.[0-9a-f]{16}", ev["metadata"]["name"]), ev["metadata"]["name"]
    assert ev["metadata"].get("namespace", "shop") == "shop"
    assert ev.get("count") == 1 and ev.get("firstTimestamp") and ev.get("lastTimestamp")
    assert ev.get("reportingComponent") == "podinject.dev/e2e" and ev.get("reportingInstance") == "e2e-runner"
    assert (ev.get("source") or {}).get("component")
    assert SECRET_ENV not in q["raw"]
    assert _outbox(tmp_path) == [], "a delivered Event leaves the outbox"
    log = h.stderr_json_lines(r)[-1]
    assert log["events"]["sent"] >= 1, log


def test_repeat_increments_one_event(api, tmp_path, podinject_bin):
    config = _config(tmp_path)
    _admit(api, tmp_path, config, "a")
    r = _admit(api, tmp_path, config, "b")
    assert len(api.events) == 1, list(api.events)
    (ev,) = api.events.values()
    assert ev.get("count") == 2, ev
    patches = [q for q in api.requests if q["method"] in ("PATCH", "PUT")]
    assert patches, [(q["method"], q["path"]) for q in api.requests]
    log = h.stderr_json_lines(r)[-1]
    assert log["events"]["aggregated"] >= 1, log


def test_events_k8s_io_v1(api, tmp_path, podinject_bin):
    _admit(api, tmp_path, _config(tmp_path, api="events.k8s.io/v1"), "a")
    posts = [q for q in api.requests if q["method"] == "POST"]
    assert len(posts) == 1 and posts[0]["path"].startswith("/apis/events.k8s.io/v1/namespaces/shop/events"), \
        [(q["method"], q["path"]) for q in api.requests]
    ev = posts[0]["body"]
    assert ev["regarding"]["kind"] == "ReplicaSet" and ev["regarding"]["name"] == "web-5d8f7c9b6"
    assert ev["reason"] == "InjectionFailed" and ev["type"] == "Warning" and ev["action"] == "Inject"
    assert "needs-team" in ev["note"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", ev["eventTime"]), ev["eventTime"]
    assert ev["reportingController"] == "podinject.dev/e2e" and ev["reportingInstance"] == "e2e-runner"


def test_dry_run_sends_nothing(api, tmp_path, podinject_bin):
    _admit(api, tmp_path, _config(tmp_path), "a", dry_run=True)
    assert api.requests == [] and _outbox(tmp_path) == []
