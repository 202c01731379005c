"""Every AdmissionReview of the corpus (vendored, and ../shared/corpus when it is there): answered, or refused with exit 2; never a crash or a hang."""

from __future__ import annotations

import pytest
import yaml

import harness as h

FILES = h.corpus_files("admissionreview")


def _load(path):
    text = path.read_text()
    try:
        docs = [d for d in h.load_yaml_docs(text) if d is not None]
    except yaml.YAMLError:
        return None
    return docs[0] if len(docs) == 1 else None


def _is_answerable(doc) -> bool:
    """SPEC §6: an AdmissionReview (v1 or v1beta1; without apiVersion read as v1, as controller-runtime
    does) with a request that has a uid."""
    return (isinstance(doc, dict) and doc.get("kind") == "AdmissionReview"
            and doc.get("apiVersion") in (h.ADMISSION_V1, h.ADMISSION_V1BETA1, None, "")
            and isinstance(doc.get("request"), dict) and isinstance(doc["request"].get("uid"), str)
            and doc["request"]["uid"] != "")


def test_corpus_has_reviews_to_answer_and_to_refuse():
    """Both branches of the decision below are exercised (the files themselves: test_harness_selfcheck)."""
    answerable = [_is_answerable(_load(f)) for f in FILES]
    assert any(answerable) and not all(answerable), answerable


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_corpus_review_answered_or_refused(path, podinject_bin):
    r = h.admit(path.read_bytes())  # run_podinject fails the test on a hang (> 10 s)
    assert r.returncode in (0, 2), f"crash or unexpected exit status\n{r.describe()}"
    doc = _load(path)
    if r.returncode == 2:
        assert r.stdout == b"", r.describe()
        lines = r.err.splitlines()
        assert len(lines) == 1 and lines[0].strip(), r.describe()
        return
    answer = r.json()
    resp = h.response_of(answer)
    assert isinstance(resp.get("allowed"), bool)
    if isinstance(doc, dict):
        assert answer.get("apiVersion") == (doc.get("apiVersion") or h.ADMISSION_V1)
        assert answer.get("kind") == "AdmissionReview"
        req = doc.get("request") or {}
        if req.get("uid"):
            assert resp.get("uid") == req["uid"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_corpus_review_decision_follows_spec(path, podinject_bin, every_kind):
    """Valid reviews are answered (exit 0); reviews without uid, request or kind, or with another apiVersion, exit 2 (SPEC §6).

    For an answered Pod CREATE, the patch applies to the object as sent; anything else gets no patch.
    """
    doc = _load(path)
    r = h.admit(path.read_bytes())
    if not _is_answerable(doc):
        assert r.returncode == 2, f"not a usable AdmissionReview, expected exit 2\n{r.describe()}"
        return
    assert r.returncode == 0, r.describe()
    answer = r.json()
    h.check_echo(answer, doc)
    req = doc["request"]
    resp = answer["response"]
    is_pod = (req.get("kind") or {}).get("kind", (req.get("object") or {}).get("kind")) == "Pod" or \
        (req.get("resource") or {}).get("resource") == "pods"
    ops = h.patch_of(answer)
    if is_pod and req.get("operation") == "CREATE" and isinstance(req.get("object"), dict):
        patched = h.apply_patch(req["object"], ops)
        if resp["allowed"]:
            h.status_annotation(patched, every_kind["statusAnnotation"])
    elif (req.get("kind") or {}).get("kind") not in (None, "Pod") or req.get("operation") not in (None, "CREATE"):
        assert resp["allowed"] is True and not ops, resp
