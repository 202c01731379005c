"""Checks of the harness itself and of the shipped samples/fixtures; they need no binary.

If one of these fails, the end-to-end results cannot be trusted.
"""

from __future__ import annotations

import base64
import json

import jsonpatch
import pytest

import harness as h

SAMPLE_REVIEWS = sorted(h.SAMPLES.glob("review-*.json"))


def test_corpus_is_where_ci_puts_it():
    assert (h.CORPUS / "pods").is_dir() and (h.CORPUS / "admissionreview").is_dir(), h.CORPUS
    assert len(h.corpus_files("pods")) >= 60
    assert len(h.corpus_files("admissionreview")) >= 20


def test_pod_extraction_covers_every_workload_kind():
    cases, kinds, unparseable = [], set(), []
    for f in h.corpus_files("pods"):
        try:
            got = h.pod_cases_from_file(f)
        except h.CorpusParseError:
            unparseable.append(f.name)
            continue
        cases += got
    for c in cases:
        assert c.pod["kind"] == "Pod" or c.pod.get("apiVersion") == "apps/v1", c.case_id
        json.dumps(c.pod)  # JSON-serialisable: no datetime or other YAML-only values
        owners = c.pod["metadata"].get("ownerReferences") or []
        kinds |= {o.get("kind") for o in owners if isinstance(o, dict)}
    assert len(cases) >= 60, len(cases)
    assert {"ReplicaSet", "StatefulSet", "DaemonSet", "Job"} <= kinds, kinds
    assert unparseable == ["linkerd2__deployment-malformed-indentation-multidoc.yaml"], unparseable
    by_id = {c.case_id: c for c in cases}
    deploy = by_id["istio__inject-deployment-template-probes#0.0"].pod["metadata"]
    assert "name" not in deploy and deploy["generateName"].startswith("hello-") and deploy["generateName"].endswith("-")
    rs = deploy["ownerReferences"][0]
    assert rs["kind"] == "ReplicaSet" and rs["controller"] is True and rs["uid"] and \
        deploy["generateName"] == rs["name"] + "-"
    assert by_id["istio__inject-statefulset-template#0.0"].pod["metadata"]["name"] == "hello-0"
    cron = by_id["istio__inject-cronjob-template#0.0"].pod
    assert cron["metadata"]["ownerReferences"][0]["kind"] == "Job" and cron["spec"]["containers"]
    assert len([c for c in cases if c.source == "istio__inject-list-of-deployments.yaml"]) == 2


def test_timestamps_stay_strings():
    docs = h.load_yaml_docs("a: 2019-01-01T00:00:00Z\nb: 2019-01-01\n")
    assert docs == [{"a": "2019-01-01T00:00:00Z", "b": "2019-01-01"}]


def test_validator_reports_all_errors_and_is_strict():
    good = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
            "spec": {"containers": [{"name": "c", "image": "i"}]}}
    assert h.pod_validation_errors(good) == set()
    bad = json.loads(json.dumps(good))
    bad["spec"]["containers"][0]["bogus"] = 1
    bad["spec"]["containers"].append({"name": "d", "image": 7})
    errs = h.pod_validation_errors(bad)
    assert ("spec/containers/[name=c]", "additionalProperties") in errs
    assert ("spec/containers/[name=d]/image", "type") in errs
    # an init container inserted in front does not make the pod's own errors look new
    bad["spec"]["initContainers"] = [{"name": "i0", "image": "x"}, {"name": "own", "image": "x", "nope": 1}]
    before = h.pod_validation_errors(bad)
    bad["spec"]["initContainers"].insert(0, {"name": "injected", "image": "x"})
    assert h.pod_validation_errors(bad) == before


def test_jsonpatch_applies_escaped_paths_and_rejects_missing_parents():
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}}
    ops = [
        {"op": "add", "path": "/metadata/annotations", "value": {}},
        {"op": "add", "path": "/metadata/annotations/podinject.dev~1status", "value": "{}"},
        {"op": "add", "path": "/metadata/annotations/a~0b", "value": "tilde"},
        {"op": "add", "path": "/spec/containers/0/env", "value": [{"name": "A", "value": "1"}]},
        {"op": "add", "path": "/spec/containers/-", "value": {"name": "side"}},
    ]
    raw = base64.b64encode(json.dumps(ops).encode()).decode()
    answer = {"apiVersion": h.ADMISSION_V1, "kind": "AdmissionReview",
              "response": {"uid": "u", "allowed": True, "patchType": "JSONPatch", "patch": raw}}
    patched = h.apply_patch(pod, h.patch_of(answer))
    assert patched["metadata"]["annotations"] == {"podinject.dev/status": "{}", "a~b": "tilde"}
    assert [c["name"] for c in patched["spec"]["containers"]] == ["c", "side"]
    assert pod == {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}}  # not mutated
    with pytest.raises((jsonpatch.JsonPatchException, jsonpatch.JsonPointerException)):
        h.apply_patch(pod, [{"op": "add", "path": "/metadata/labels/x", "value": "y"}])


def test_strip_injected_sees_only_injected_things(every_kind):
    inj = h.injected_by(every_kind)
    orig = {"metadata": {"name": "p", "annotations": None}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    patched = json.loads(json.dumps(orig))
    patched["metadata"]["annotations"] = {"podinject.dev/status": "{}"}
    patched["spec"]["containers"][0]["env"] = [{"name": "PODINJECT_APP", "value": "x"}]
    patched["spec"]["containers"].append({"name": "podinject-agent"})
    patched["spec"]["volumes"] = [{"name": "podinject-work", "emptyDir": {}}]
    assert h.strip_injected(patched, inj, orig) == h.strip_injected(orig, inj, orig)
    patched["spec"]["containers"][0]["image"] = "changed"
    assert h.strip_injected(patched, inj, orig) != h.strip_injected(orig, inj, orig)


def test_every_kind_fixture_uses_every_injection_kind(every_kind):
    kinds = {"env", "envFrom", "volumeMounts", "initContainers", "sidecars", "volumes", "labels",
             "annotations", "imagePullSecrets", "tolerations", "nodeSelector"}
    used = set()
    for rule in every_kind["rules"]:
        used |= {k for k in kinds if rule.get(k)}
    assert used == kinds
    assert {r.get("initContainerPosition") for r in every_kind["rules"] if r.get("initContainers")} == {"First", "Last"}
    assert {r.get("conflict") for r in every_kind["rules"]} >= {"Skip", "Override", "Error"}
    text = h.EVERY_KIND.read_text()
    for needle in ("index .metadata.annotations", "| default", ".request.userInfo", "$(", h.CANARY_CFG):
        assert needle in text, needle


@pytest.mark.parametrize("path", SAMPLE_REVIEWS, ids=lambda p: p.name)
def test_sample_reviews_are_valid(path):
    review = json.loads(path.read_text())
    assert review["kind"] == "AdmissionReview"
    assert review["apiVersion"] in (h.ADMISSION_V1, h.ADMISSION_V1BETA1)
    req = review["request"]
    assert len(req["uid"]) == 36 and req["operation"] == "CREATE" and req["namespace"]
    obj = req["object"]
    if req["kind"]["kind"] == "Pod":
        assert h.pod_validation_errors(obj) == set(), h.explain_errors(obj, set())
        assert obj["metadata"]["namespace"] == req["namespace"]


def test_sample_uids_are_distinct():
    uids = [json.loads(p.read_text())["request"]["uid"] for p in SAMPLE_REVIEWS]
    assert len(SAMPLE_REVIEWS) == 8 and len(set(uids)) == len(uids)


def test_sample_config_has_several_rules(sample_config):
    assert sample_config["apiVersion"] == "podinject.dev/v1alpha1" and sample_config["kind"] == "InjectionConfig"
    assert len(sample_config["rules"]) >= 5
    assert any(r.get("onError") == "Deny" for r in sample_config["rules"])
    assert any(r.get("conflict") == "Error" for r in sample_config["rules"])
