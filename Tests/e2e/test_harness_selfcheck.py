"""Checks of the harness itself and of the shipped samples/fixtures; they need no binary.

If one of these fails, the end-to-end results cannot be trusted.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonpatch
import pytest

import harness as h

SAMPLE_REVIEWS = sorted(h.SAMPLES.glob("review-*.json"))


@pytest.mark.parametrize("folder", h.CORPUS_FOLDERS)
def test_the_tests_read_every_corpus_file_provenance_lists(folder):
    """The vendored corpus always; the shared one too when it is there (each file once, by name)."""
    listed = {Path(row.file).name for root in h.corpus_roots() for row in h.provenance(root).values()
              if row.file.startswith(folder + "/")}
    vendored = {Path(row.file).name for row in h.provenance(h.VENDORED_CORPUS).values()
                if row.file.startswith(folder + "/")}
    assert vendored, f"no vendored {folder} in {h.VENDORED_CORPUS / 'PROVENANCE.md'}"
    assert [p.name for p in h.corpus_files(folder)] == sorted(listed)


def test_vendored_corpus_files_are_the_upstream_bytes():
    rows = h.provenance(h.VENDORED_CORPUS)
    on_disk = sorted(f"{p.parent.name}/{p.name}" for folder in h.CORPUS_FOLDERS
                     for p in (h.VENDORED_CORPUS / folder).iterdir())
    assert on_disk == sorted(rows), "every vendored file has its PROVENANCE.md row, and every row its file"
    for file, row in rows.items():
        data = (h.VENDORED_CORPUS / file).read_bytes()
        assert h.git_blob_id(data) == row.blob, f"{file} differs from the upstream blob {row.blob}"
        shared = h.SHARED_CORPUS / file
        if shared.is_file():
            assert shared.read_bytes() == data, f"{file} differs from {shared}"


def test_vendored_corpus_carries_its_licences():
    """Apache-2.0: the licence text; MIT and BSD-3-Clause: the text with the repository's copyright line;
    CC BY 4.0: the attribution of each file."""
    licences = h.VENDORED_CORPUS / "LICENSES"
    for row in h.provenance(h.VENDORED_CORPUS).values():
        if row.licence == "Apache-2.0":
            assert "Apache License" in (licences / "Apache-2.0.txt").read_text(), row.file
        elif row.licence == "CC-BY-4.0":
            assert row.file in (licences / "CC-BY-4.0.txt").read_text(), f"{row.file} lacks its attribution"
        else:
            text = (licences / f"{row.licence}-{row.repository.replace('/', '-')}.txt").read_text()
            assert text.startswith("Copyright"), row.file


def test_pod_extraction_covers_every_workload_kind():
    cases, unparseable = h.corpus_pod_cases()
    kinds = set()
    for c in cases:
        assert c.pod["kind"] == "Pod" or c.pod.get("apiVersion") == "apps/v1", c.case_id
        json.dumps(c.pod)  # JSON-serialisable: no datetime or other YAML-only values
        owners = c.pod["metadata"].get("ownerReferences") or []
        kinds |= {o.get("kind") for o in owners if isinstance(o, dict)}
    assert {"ReplicaSet", "StatefulSet", "DaemonSet", "Job"} <= kinds, kinds
    assert unparseable == h.malformed_corpus_files("pods"), unparseable
    by_id = {c.case_id: c for c in cases}
    deploy = by_id["istio__inject-deployment-template-probes#0.0"].pod["metadata"]
    assert "name" not in deploy and deploy["generateName"].startswith("hello-") and deploy["generateName"].endswith("-")
    rs = deploy["ownerReferences"][0]
    assert rs["kind"] == "ReplicaSet" and rs["controller"] is True and rs["uid"] and \
        deploy["generateName"] == rs["name"] + "-"
    assert by_id["istio__inject-statefulset-template#0.0"].pod["metadata"]["name"] == "hello-0"
    cron = by_id["istio__inject-cronjob-template#0.0"].pod
    assert cron["metadata"]["ownerReferences"][0]["kind"] == "Job" and cron["spec"]["containers"]
    listed = h.load_yaml(h.corpus_file("pods", "istio__inject-list-of-deployments.yaml"))["items"]
    assert len([c for c in cases if c.source == "istio__inject-list-of-deployments.yaml"]) == len(listed) > 1


@pytest.mark.parametrize("ci, body, verdict", [
    ("", "@pytest.mark.parametrize('x', [])\ndef test_nothing(x):\n    pass\n", "its parameter table is empty"),
    ("true", "def test_unable():\n    pytest.skip('no tool')\n", "cannot run here, which fails CI: Skipped: no tool"),
], ids=["empty-table", "skip-in-ci"])
def test_a_test_that_cannot_run_fails_the_run(tmp_path, ci, body, verdict):
    for name in ("conftest.py", "harness.py"):
        shutil.copy(Path(__file__).with_name(name), tmp_path / name)
    (tmp_path / "test_probe.py").write_text("import pytest\n\n" + body)
    env = {k: v for k, v in os.environ.items() if k != "CI"} | ({"CI": ci} if ci else {})
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                       capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)
    assert r.returncode == 1 and verdict in r.stdout, r.stdout + r.stderr


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
