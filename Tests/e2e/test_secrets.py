"""Nothing secret leaves the pod (SPEC §4): canary values from the config, the pod (env values, container
arguments, annotation values) and the kubeconfig never appear in the response outside the pod spec, the
status annotation, the log line, the deliverer's log or the Event files of the outbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import harness as h

CONFIG = h.FIXTURES / "leak-canaries.yaml"
POD_ENV = "CANARY-POD-ENV-51e0c9a7d3b2"
POD_ENV2 = "CANARY-POD-ENV-2b8f17c4e6a9"
POD_ARG = "CANARY-POD-ARG-9d4c2a1f7e30"
POD_ANN = "CANARY-POD-ANN-6a3e8b0c5d17 is not a label value!"
POD_ANN2 = "CANARY-POD-ANN-0f9e7d6c5b4a"
KUBE_TOKEN = "CANARY-KUBE-TOKEN-3e7a91c0b5d2"
ALL = [h.CANARY_CFG, POD_ENV, POD_ENV2, POD_ARG, POD_ANN, POD_ANN2, KUBE_TOKEN, "CANARY-"]
FAILING_RULES = {"conflicting-secret": "Conflict", "template-secret": "TemplateValueMissing",
                 "invalid-secret": "InvalidValue", "sidecar-secret": "Conflict"}


def _pod(deny: bool = False) -> dict:
    labels = {"app": "payments-api"}
    if deny:
        labels["example.com/deny"] = "yes"
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "generateName": "payments-api-6c8d9f7b5-", "namespace": "payments", "labels": labels,
            "annotations": {"example.com/secret-note": POD_ANN, "example.com/credentials": POD_ANN2},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "payments-api-6c8d9f7b5",
                                 "uid": "5d0c7e2a-9b14-4f3e-a8c6-1e2d3f4a5b6c", "controller": True,
                                 "blockOwnerDeletion": True}],
        },
        "spec": {
            "containers": [
                {"name": "payments-api", "image": "registry.example.com/payments/api:7.1.0",
                 "args": ["--db-password", POD_ARG],
                 "env": [{"name": "API_KEY", "value": POD_ENV}, {"name": "DB_PASSWORD", "value": POD_ENV2}]},
                {"name": "vault-agent", "image": "registry.example.com/vault/agent:1.18.0",
                 "args": ["agent", f"--token={POD_ARG}"]},
            ],
        },
    }


def _run(tmp_path: Path, closed_port: int, *, deny: bool = False, dry_run: bool = False):
    cfg = h.config_copy(CONFIG, tmp_path, logFile=str(tmp_path / "deliverer.log"))
    review = h.make_review(_pod(deny), namespace="payments", uid=h.stable_uid(f"leak/{deny}/{dry_run}"),
                           username=h.CONTROLLER_USERS["ReplicaSet"], groups=h.CONTROLLER_GROUPS, dry_run=dry_run)
    kubeconfig = h.write_kubeconfig(tmp_path / "kubeconfig", closed_port, token=KUBE_TOKEN, namespace="payments")
    env = h.clean_env({"KUBECONFIG": str(kubeconfig)}, home=tmp_path)
    r = h.admit(review, config=cfg, env=env)
    assert r.returncode == 0, r.describe()
    answer = r.json()
    h.check_echo(answer, review)
    return review, answer, r, tmp_path / "outbox", tmp_path / "deliverer.log"


def _outbox_files(outbox: Path) -> list[Path]:
    return sorted(p for p in outbox.rglob("*") if p.is_file()) if outbox.exists() else []


def _assert_no_canary(where: str, text: str) -> None:
    for c in ALL:
        assert c not in text, f"secret {c!r} leaked into {where}:\n{text[:2000]}"


def test_no_secret_in_any_signal(tmp_path, closed_port, podinject_bin):
    review, answer, r, outbox, logfile = _run(tmp_path, closed_port)
    resp = answer["response"]
    assert resp["allowed"] is True
    ops = h.patch_of(answer)
    pod = h.apply_patch(review["request"]["object"], ops)
    status = h.status_annotation(pod)
    assert {f["rule"]: f["reason"] for f in status.get("failed", [])} == FAILING_RULES, status
    # every failed rule is named in a warning
    for rule in FAILING_RULES:
        assert any(f'rule "{rule}"' in w for w in resp.get("warnings") or []), resp.get("warnings")
    # the response outside the patch; the patch may carry the pod's own values (e.g. a rewritten
    # annotations map) but none of the config's: every canary-bearing rule failed
    _assert_no_canary("the response", json.dumps({k: v for k, v in resp.items() if k != "patch"}))
    assert h.CANARY_CFG not in json.dumps(ops), "a failed rule's value reached the patch"
    _assert_no_canary("the status annotation", h.annotations_of(pod)["podinject.dev/status"])
    _assert_no_canary("stderr", r.err)
    if logfile.exists():
        _assert_no_canary("events.logFile", logfile.read_text(errors="replace"))
    files = _outbox_files(outbox)
    assert files, ("the API server refused the connection, so the Events must wait in the outbox "
                   f"({outbox}); none found\n{r.describe()}")
    for f in files:
        text = f.read_text(errors="replace")
        json.loads(text)  # one JSON Event per file
        _assert_no_canary(f"outbox file {f.name}", text)
        assert "InjectionFailed" in text, text[:2000]


def test_no_secret_in_a_denial(tmp_path, closed_port, podinject_bin):
    review, answer, r, outbox, logfile = _run(tmp_path, closed_port, deny=True)
    resp = answer["response"]
    assert resp["allowed"] is False and resp["status"]["code"] == 403, resp
    assert "deny-secret" in resp["status"]["message"]
    _assert_no_canary("the response", json.dumps(answer))  # a denial carries no patch
    _assert_no_canary("stderr", r.err)
    files = _outbox_files(outbox)
    assert files, r.describe()
    texts = [f.read_text(errors="replace") for f in files]
    for t in texts:
        _assert_no_canary("an outbox file", t)
    assert any("InjectionDenied" in t for t in texts), texts


def test_dry_run_creates_no_event(tmp_path, closed_port, podinject_bin):
    _, answer, r, outbox, _ = _run(tmp_path, closed_port, dry_run=True)
    assert answer["response"]["allowed"] is True
    assert _outbox_files(outbox) == [], "dryRun must create no Event (sideEffects: NoneOnDryRun)"
    _assert_no_canary("stderr", r.err)


@pytest.mark.parametrize("sample", sorted(p.name for p in h.SAMPLES.glob("review-*.json")))
def test_every_kind_canary_stays_in_the_spec(sample, tmp_path, podinject_bin):
    """With every-kind.yaml the canary is injected into the spec, and appears nowhere else."""
    review = json.loads((h.SAMPLES / sample).read_text())
    r = h.admit(review, config=h.EVERY_KIND)
    assert r.returncode == 0, r.describe()
    answer = r.json()
    resp = answer["response"]
    outside = json.dumps({k: v for k, v in resp.items() if k != "patch"})
    _assert_no_canary("the response", outside)
    _assert_no_canary("stderr", r.err)
    ops = h.patch_of(answer)
    if ops:
        pod = h.apply_patch(review["request"]["object"], ops)
        _assert_no_canary("the status annotation", h.annotations_of(pod).get("podinject.dev/status", ""))
