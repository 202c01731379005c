"""Failure signals with the shipped samples (SPEC §3, §4): warnings, audit annotations, status annotation,
Deny, dryRun, non-Pods, v1beta1 — and the rest of the decision logic an operator relies on."""

from __future__ import annotations

import copy
import json
import re

import pytest

import harness as h

CONFIG = h.SAMPLES / "config.yaml"
WARNING = re.compile(r'^podinject: rule "([a-z0-9]([-a-z0-9]*[a-z0-9])?)" not applied: (.+)$')


def sample(name: str) -> dict:
    return json.loads((h.SAMPLES / name).read_text())


@pytest.fixture
def config(tmp_path):
    """The sample config with its outbox under tmp_path (no Events leave the machine: no API here)."""
    return h.config_copy(CONFIG, tmp_path, logFile=str(tmp_path / "events.log"))


def admit_sample(name: str, config, review: dict | None = None):
    review = review if review is not None else sample(name)
    r = h.admit(review, config=config, env=h.clean_env())
    assert r.returncode == 0, r.describe()
    answer = r.json()
    h.check_echo(answer, review)
    return review, answer, r


def _pod_result(review, answer):
    ops = h.patch_of(answer)
    return h.apply_patch(review["request"]["object"], ops)


def _failure_signals(answer: dict, rule: str, reason: str) -> None:
    resp = answer["response"]
    warnings = resp.get("warnings") or []
    mine = [w for w in warnings if f'rule "{rule}"' in w]
    assert len(mine) == 1, warnings
    m = WARNING.match(mine[0])
    assert m and m.group(1) == rule and reason in m.group(3), mine[0]
    assert len(mine[0]) <= 120, f"warning longer than 120 characters: {mine[0]!r}"
    audit = resp.get("auditAnnotations") or {}
    assert set(audit) >= {"failed-rules", "error"}, audit
    assert all("/" not in k for k in audit), f"audit annotation keys may not hold '/': {list(audit)}"
    assert all(isinstance(v, str) for v in audit.values()), audit
    assert rule in audit["failed-rules"], audit
    assert audit["error"], audit


def test_plain_pod_every_matching_rule_applied(config, podinject_bin):
    review, answer, r = admit_sample("review-plain-pod.json", config)
    resp = answer["response"]
    assert resp["allowed"] is True and not resp.get("warnings"), resp
    assert not (resp.get("auditAnnotations") or {}).get("failed-rules"), resp
    pod = _pod_result(review, answer)
    status = h.status_annotation(pod)
    assert sorted(status["applied"]) == sorted(["app-identity", "tracing", "log-shipper", "registry-credentials"])
    assert status.get("failed", []) == []
    app = pod["spec"]["containers"][0]
    env = {e["name"]: e for e in app["env"]}
    assert env["APP_NAME"]["value"] == "checkout-api"
    assert env["APP_TEAM"]["value"] == "payments"
    assert env["OTEL_RESOURCE_ATTRIBUTES"]["value"] == "k8s.namespace.name=shop,team=payments"
    assert env["LOG_LEVEL"] == {"name": "LOG_LEVEL", "value": "info"}  # the pod's own env stays
    assert [c["name"] for c in pod["spec"]["containers"]] == ["checkout-api", "fluent-bit"]
    assert {"name": "registry-example-com"} in pod["spec"]["imagePullSecrets"]
    assert h.pod_validation_errors(pod) == set(), h.explain_errors(pod, set())


def test_replicaset_pod(config, podinject_bin):
    review, answer, r = admit_sample("review-replicaset-generatename.json", config)
    pod = _pod_result(review, answer)
    assert "name" not in pod["metadata"] and pod["metadata"]["generateName"] == "checkout-api-7d9c5b8f6d-"
    assert h.status_annotation(pod).get("failed", []) == []
    log = h.stderr_json_lines(r)[-1]
    assert log["pod"] == "checkout-api-7d9c5b8f6d-", log


def test_template_failure_is_admitted_with_every_signal(config, podinject_bin):
    review, answer, r = admit_sample("review-template-failure.json", config)
    resp = answer["response"]
    assert resp["allowed"] is True
    _failure_signals(answer, "app-identity", "TemplateValueMissing")
    pod = _pod_result(review, answer)
    status = h.status_annotation(pod)
    assert {"rule": "app-identity", "reason": "TemplateValueMissing"} in status["failed"], status
    assert "app-identity" not in status["applied"]
    assert "tracing" in status["applied"] and "registry-credentials" in status["applied"]
    # atomic: nothing of the failed rule, the other rules' changes still apply
    env = {e["name"] for e in pod["spec"]["containers"][0].get("env") or []}
    assert not env & {"APP_NAME", "APP_NAMESPACE", "APP_TEAM", "CLUSTER_NAME", "POD_IP"}, env
    assert "example.com/cluster" not in (pod["metadata"].get("labels") or {})
    assert "OTEL_SERVICE_NAME" in env
    log = h.stderr_json_lines(r)[-1]
    assert {"rule": "app-identity", "reason": "TemplateValueMissing"} in log["failed"], log


def test_conflict_under_error(config, podinject_bin):
    review, answer, r = admit_sample("review-conflict.json", config)
    resp = answer["response"]
    assert resp["allowed"] is True
    _failure_signals(answer, "tracing", "Conflict")
    pod = _pod_result(review, answer)
    status = h.status_annotation(pod)
    assert {"rule": "tracing", "reason": "Conflict"} in status["failed"], status
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    assert env["OTEL_SERVICE_NAME"] == "cart-v0"  # the pod's own value is kept
    assert "OTEL_RESOURCE_ATTRIBUTES" not in env  # atomic: none of the rule's changes
    assert "example.com/tracing-injected" not in h.annotations_of(pod)
    assert "app-identity" in status["applied"]


def test_identical_item_is_not_a_conflict(config, podinject_bin):
    review = sample("review-conflict.json")
    env = review["request"]["object"]["spec"]["containers"][0]["env"]
    env[:] = [e for e in env if e["name"] != "OTEL_SERVICE_NAME"]  # keep the identical endpoint only
    review["request"]["uid"] = h.stable_uid("identical-item")
    _, answer, _ = admit_sample("", config, review)
    pod = _pod_result(review, answer)
    status = h.status_annotation(pod)
    assert "tracing" in status["applied"], status
    names = [e["name"] for e in pod["spec"]["containers"][0]["env"]]
    assert names.count("OTEL_EXPORTER_OTLP_ENDPOINT") == 1, names


def test_deny(config, podinject_bin):
    review, answer, r = admit_sample("review-deny.json", config)
    resp = answer["response"]
    assert resp["allowed"] is False, resp
    status = resp.get("status") or {}
    assert status.get("code") == 403, status
    assert "database-credentials" in status.get("message", "") and \
        "TemplateValueMissing" in status.get("message", ""), status
    assert not resp.get("patch"), "a refused pod gets no patch"
    _failure_signals(answer, "database-credentials", "TemplateValueMissing")
    log = h.stderr_json_lines(r)[-1]
    assert log["allowed"] is False


def test_dry_run_gives_the_same_response(tmp_path, podinject_bin):
    for name in ("review-dryrun.json", "review-template-failure.json", "review-deny.json"):
        wet = sample(name)
        dry = copy.deepcopy(wet)
        wet["request"]["dryRun"] = False
        dry["request"]["dryRun"] = True
        answers = []
        for review in (wet, dry):
            cfg = h.config_copy(CONFIG, tmp_path / f"{name}-{review['request']['dryRun']}".replace(".", "-"))
            _, answer, r = admit_sample(name, cfg, review)
            answers.append(answer)
            log = h.stderr_json_lines(r)[-1]
            assert log["dryRun"] is review["request"]["dryRun"], log
        assert answers[0] == answers[1], name


def test_not_a_pod(config, podinject_bin):
    review, answer, r = admit_sample("review-not-a-pod.json", config)
    resp = answer["response"]
    assert resp["allowed"] is True and not resp.get("patch") and not resp.get("warnings"), resp


def test_v1beta1_answered_in_v1beta1(config, podinject_bin):
    review, answer, r = admit_sample("review-v1beta1.json", config)
    assert answer["apiVersion"] == h.ADMISSION_V1BETA1
    pod = _pod_result(review, answer)
    status = h.status_annotation(pod)
    assert "spot-scheduling" in status["applied"], status
    assert pod["spec"]["nodeSelector"] == {"cloud.example.com/capacity-type": "spot"}


@pytest.mark.parametrize("name", ["review-plain-pod.json", "review-replicaset-generatename.json",
                                  "review-template-failure.json", "review-conflict.json", "review-v1beta1.json"])
def test_samples_are_idempotent(name, config, podinject_bin):
    review, answer, _ = admit_sample(name, config)
    pod = _pod_result(review, answer)
    again = copy.deepcopy(review)
    again["request"]["uid"] = h.stable_uid(name + "/again")
    again["request"]["object"] = pod
    _, answer2, r2 = admit_sample(name, config, again)
    assert not h.patch_of(answer2), r2.describe()


def test_update_operation_is_not_mutated(config, podinject_bin):
    review = sample("review-plain-pod.json")
    review["request"]["operation"] = "UPDATE"
    review["request"]["oldObject"] = copy.deepcopy(review["request"]["object"])
    review["request"]["options"] = {"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1"}
    _, answer, _ = admit_sample("", config, review)
    assert answer["response"]["allowed"] is True and not h.patch_of(answer)


def test_opt_out_annotation_skips_every_rule(config, podinject_bin):
    review = sample("review-plain-pod.json")
    review["request"]["object"]["metadata"]["annotations"]["podinject.dev/inject"] = "false"
    _, answer, _ = admit_sample("", config, review)
    assert answer["response"]["allowed"] is True
    pod = _pod_result(review, answer)
    status = h.annotations_of(pod).get("podinject.dev/status")
    if status is not None:
        assert json.loads(status).get("applied", []) == [], status
    ann = dict(h.annotations_of(pod))
    ann.pop("podinject.dev/status", None)
    pod["metadata"]["annotations"] = ann
    assert pod == review["request"]["object"]


def test_config_flag_wins_over_environment(tmp_path, podinject_bin):
    review = sample("review-plain-pod.json")
    env = h.clean_env({"PODINJECT_CONFIG": str(h.config_copy(CONFIG, tmp_path))})
    r = h.run_podinject(["--config", str(h.EVERY_KIND)], h.review_bytes(review), env=env)
    assert r.returncode == 0, r.describe()
    pod = _pod_result(review, r.json())
    assert "app-env" in h.status_annotation(pod)["applied"]
    r = h.run_podinject([], h.review_bytes(review), env=env)
    assert r.returncode == 0, r.describe()
    pod = _pod_result(review, r.json())
    assert "app-identity" in h.status_annotation(pod)["applied"]


def test_missing_config_admits_and_says_so(tmp_path, podinject_bin):
    review = sample("review-plain-pod.json")
    r = h.admit(review, config=tmp_path / "does-not-exist.yaml", env=h.clean_env())
    assert r.returncode == 0, r.describe()
    answer = r.json()
    h.check_echo(answer, review)
    resp = answer["response"]
    assert resp["allowed"] is True
    assert resp.get("warnings"), "a configuration failure is never silent"
    assert "ConfigInvalid" in json.dumps(resp) or "config" in json.dumps(resp.get("warnings")).lower()


def test_invalid_config_falls_back_to_its_default_deny(tmp_path, podinject_bin):
    cfg = h.load_yaml(CONFIG)
    cfg["defaults"]["onError"] = "Deny"
    cfg["rules"][0]["unknownKey"] = True  # unknown keys are errors
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps(cfg))
    review = sample("review-plain-pod.json")
    r = h.admit(review, config=path, env=h.clean_env())
    assert r.returncode == 0, r.describe()
    resp = r.json()["response"]
    assert resp["allowed"] is False and (resp.get("status") or {}).get("code") == 403, resp
