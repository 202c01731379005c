"""Offline commands on every corpus manifest (SPEC §1): `apply` and `explain` answer or refuse cleanly, and
what `apply` prints keeps every pod (template) as valid for Kubernetes 1.37 as it was."""

from __future__ import annotations

import copy
import json

import pytest

import harness as h

CONFIG = h.SAMPLES / "config.yaml"
POD_FILES = h.corpus_files("pods") if (h.CORPUS / "pods").is_dir() else []
REVIEW_FILES = h.corpus_files("admissionreview") if (h.CORPUS / "admissionreview").is_dir() else []


def _pod_of(obj):
    """The Pod, or the pod template as a Pod, of a manifest object (None for other kinds)."""
    if not isinstance(obj, dict):
        return None
    kind = obj.get("kind")
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    if kind == "Pod":
        pod = copy.deepcopy(obj)
    elif kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job"):
        pod = copy.deepcopy(spec.get("template") or {})
    elif kind == "CronJob":
        pod = copy.deepcopy((((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")) or {})
    else:
        return None
    pod["apiVersion"], pod["kind"] = "v1", "Pod"
    return pod


def _json_stream(text: str) -> list:
    """One JSON document per input document (multi-document input gives several, one after another)."""
    dec, i, docs = json.JSONDecoder(), 0, []
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return docs
        doc, i = dec.raw_decode(text, i)
        docs.append(doc)


def _objects(doc):
    if isinstance(doc, dict) and doc.get("kind") == "List":
        out = []
        for item in doc.get("items") or []:
            out += _objects(item)
        return out
    return [doc] if isinstance(doc, dict) else []


@pytest.mark.parametrize("path", POD_FILES, ids=lambda p: p.name)
def test_apply(path, podinject_bin):
    r = h.run_podinject(["apply", "-f", str(path), "--config", str(CONFIG), "-o", "json"])
    assert r.returncode in (0, 1), f"crash or unexpected exit status\n{r.describe()}"
    try:
        originals = [o for d in h.load_yaml_docs(path.read_text()) for o in _objects(d)]
    except Exception:  # noqa: BLE001 - PyYAML cannot read it either
        assert r.returncode == 1 and r.err.strip(), r.describe()
        return
    assert r.returncode == 0, r.describe()
    results = [o for d in _json_stream(r.out) for o in _objects(d)]
    assert len(results) == len(originals), (len(results), len(originals))
    for before, after in zip(originals, results):
        assert after.get("kind") == before.get("kind")
        pb, pa = _pod_of(before), _pod_of(after)
        if pb is None:
            assert after == before, "objects without a pod template are printed unchanged"
            continue
        new = h.pod_validation_errors(pa) - h.pod_validation_errors(pb)
        assert not new, (sorted(new), h.explain_errors(pa, new))
        h.status_annotation(pa)


@pytest.mark.parametrize("path", POD_FILES + REVIEW_FILES, ids=lambda p: p.name)
def test_explain(path, podinject_bin):
    r = h.run_podinject(["explain", "-f", str(path), "--config", str(CONFIG)])
    assert r.returncode in (0, 1), f"crash or unexpected exit status\n{r.describe()}"
    if r.returncode == 0:
        assert r.out.strip(), "explain printed nothing"
    else:
        assert r.err.strip(), r.describe()
