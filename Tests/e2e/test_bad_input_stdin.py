"""Unusable input in stdin mode (SPEC §1, §6): exit 2, one line on stderr naming the problem, nothing on stdout."""

from __future__ import annotations

import json
import re

import pytest

import harness as h

GOOD = (h.SAMPLES / "review-plain-pod.json").read_bytes()
GOOD_COMPACT = h.review_bytes(json.loads(GOOD))


def _nested(depth: int) -> bytes:
    """The good review with an unknown object field nested so that the document is `depth` levels deep.

    Levels: the review `{` is 1, request 2, object 3, then depth-3 arrays.
    """
    review = json.loads(GOOD)
    marker = "@@DEEP@@"
    review["request"]["object"]["x-deep"] = marker
    text = h.review_bytes(review)
    n = depth - 3
    return text.replace(json.dumps(marker).encode(), b"[" * n + b"]" * n)


def _padded(size: int) -> bytes:
    """The good review, padded with trailing whitespace (still valid JSON) to exactly `size` bytes."""
    assert len(GOOD_COMPACT) < size
    return GOOD_COMPACT + b" " * (size - len(GOOD_COMPACT))


def _one_line(r: h.Result) -> str:
    assert r.returncode == 2, r.describe()
    assert r.stdout == b"", f"nothing may be written to stdout\n{r.describe()}"
    assert r.err.endswith("\n") or "\n" not in r.err, r.describe()
    lines = r.err.splitlines()
    assert len(lines) == 1 and lines[0].strip(), f"expected exactly one line on stderr\n{r.describe()}"
    return lines[0]


def _numbers(line: str) -> list[int]:
    return [int(n) for n in re.findall(r"(?<![\w.])(\d+)(?!\w)(?!\.\d)", line)]


BAD = {
    # name: (input, words one of which must name the problem, expected byte offset range or None)
    "empty": (b"", ("empty", "no input", "no data", "0 bytes", "end of input", "eof"), (0, 0)),
    "whitespace-only": (b"  \n\t\n", ("empty", "no input", "end of input", "eof", "no document"), (5, 5)),
    "not-json": (b"hello, world\n", ("json", "yaml", "parse", "invalid", "unexpected"), (0, 13)),
    "truncated": (GOOD_COMPACT[: len(GOOD_COMPACT) // 2], ("truncated", "end of", "eof", "unexpected",
                                                            "incomplete", "unterminated", "parse"),
                  (len(GOOD_COMPACT) // 2 - 2, len(GOOD_COMPACT) // 2)),
    "binary": (b"\x00\xff\xfe\x01garbage", ("json", "yaml", "utf", "invalid", "unexpected", "parse", "control"),
               (0, 12)),
    "wrong-document-pod": (b'{"kind":"Pod"}', ("admissionreview", "kind", "request"), None),
    "json-array": (b"[1,2,3]", ("admissionreview", "object", "kind", "request"), None),
    "json-scalar": (b'"AdmissionReview"', ("admissionreview", "object", "kind", "request"), None),
    "wrong-apiversion": (b'{"apiVersion":"admission.k8s.io/v2","kind":"AdmissionReview","request":{"uid":"a"}}',
                         ("apiversion", "admission.k8s.io", "version"), None),
    "no-request": (b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}', ("request",), None),
    "request-null": (b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":null}',
                     ("request",), None),
    "no-uid": (b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"operation":"CREATE",'
               b'"kind":{"group":"","version":"v1","kind":"Pod"},"object":{"metadata":{"name":"p"}}}}',
               ("uid",), None),
    "nesting-300": (_nested(300), ("nest", "depth", "deep"), None),
    "over-3-MiB": (_padded(h.MAX_BODY + 1), ("large", "limit", "size", "bytes", "too big", "exceeds"), None),
    # YAML is accepted too (SPEC §1), so YAML's own problems must be named, not reported as JSON at byte 0
    "yaml-nesting-300": (b"apiVersion: admission.k8s.io/v1\nkind: AdmissionReview\nrequest:\n  uid: x\n  object: "
                         + b"[" * 300 + b"]" * 300 + b"\n", ("nest", "depth", "deep"), None),
    "yaml-syntax-error": (b"apiVersion: admission.k8s.io/v1\nkind: AdmissionReview\nrequest:\n  uid: x\n"
                          b"  object: {metadata: {name: \"unterminated}\n", ("yaml", "line"), None),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_input(name, podinject_bin):
    data, words, offset = BAD[name]
    r = h.admit(data)
    line = _one_line(r)
    low = line.lower()
    assert any(w in low for w in words), f"the line does not name the problem ({words}): {line!r}"
    if offset is not None:
        lo, hi = offset
        assert any(lo <= n <= hi for n in _numbers(line)), f"no byte offset in [{lo}, {hi}] in {line!r}"


@pytest.mark.parametrize("data", [b"", b"  \n\t\n"], ids=["empty", "whitespace-only"])
def test_empty_input_names_the_byte_offset(data, podinject_bin):
    """Empty input is not valid JSON: the reason says so and where the input ended (SPEC §6)."""
    line = _one_line(h.admit(data))
    assert re.search(rf"\bbyte {len(data)}\b", line), line
    assert "empty" in line.lower() and "admissionreview" in line.lower(), line


def _deepest_opener(data: bytes, depth: int) -> int:
    """The byte offset of the `[` that opens nesting level `depth` in a `_nested` document."""
    start = data.index(b"[" * (depth - 3))
    return start + depth - 4


@pytest.mark.parametrize("depth", [250, 256])
def test_nesting_up_to_256_is_answered(depth, podinject_bin, tmp_path):
    """Up to the limit, exactly 256 included: answered, and the unknown deep field is left alone by the patch."""
    data = _nested(depth)
    review = json.loads(data)
    r = h.admit(data, config=h.config_copy(h.SAMPLES / "config.yaml", tmp_path, api="none"))
    assert r.returncode == 0, r.describe()
    answer = r.json()
    h.check_echo(answer, review)
    patched = h.apply_patch(review["request"]["object"], h.patch_of(answer))
    assert patched["x-deep"] == review["request"]["object"]["x-deep"]


@pytest.mark.parametrize("depth", [257, 258, 1000])
def test_nesting_over_256_is_refused_at_its_offset(depth, podinject_bin):
    """One level too many: exit 2, one line naming nesting and the byte offset where level 257 opens."""
    data = _nested(depth)
    line = _one_line(h.admit(data))
    assert any(w in line.lower() for w in ("nest", "depth", "deep")), line
    assert "256" in line, f"the line should name the limit: {line!r}"
    offset = _deepest_opener(data, 257)
    assert data[offset:offset + 1] == b"[" and re.search(rf"\bbyte {offset}\b", line), (offset, line)


def test_exactly_3_MiB_is_accepted(podinject_bin):
    review = json.loads(GOOD)
    r = h.admit(_padded(h.MAX_BODY))
    assert r.returncode == 0, r.describe()
    h.check_echo(r.json(), review)


def test_max_body_bytes_flag(podinject_bin):
    review = json.loads(GOOD)
    r = h.admit(GOOD_COMPACT, extra_args=["--max-body-bytes", str(len(GOOD_COMPACT) - 1)])
    _one_line(r)
    r = h.admit(GOOD_COMPACT, extra_args=["--max-body-bytes", str(len(GOOD_COMPACT))])
    assert r.returncode == 0, r.describe()
    h.check_echo(r.json(), review)


def test_yaml_review_is_accepted(podinject_bin, tmp_path):
    import yaml

    review = json.loads(GOOD)
    r = h.admit(yaml.safe_dump(review).encode(), config=h.config_copy(h.SAMPLES / "config.yaml", tmp_path, api="none"))
    assert r.returncode == 0, r.describe()
    h.check_echo(r.json(), review)


@pytest.mark.parametrize("api_version", ["missing", None, ""], ids=["missing", "null", "empty"])
def test_review_without_api_version_is_answered_as_v1(api_version, podinject_bin, tmp_path):
    """SPEC §6: a missing apiVersion is read as admission.k8s.io/v1, as controller-runtime does; the
    answer says v1 and echoes the uid."""
    review = json.loads(GOOD)
    if api_version == "missing":
        del review["apiVersion"]
    else:
        review["apiVersion"] = api_version
    r = h.admit(h.review_bytes(review), config=h.config_copy(h.SAMPLES / "config.yaml", tmp_path, api="none"))
    assert r.returncode == 0, r.describe()
    answer = r.json()
    assert answer["apiVersion"] == h.ADMISSION_V1 and answer["kind"] == "AdmissionReview", answer
    resp = h.response_of(answer)
    assert resp["uid"] == review["request"]["uid"] and resp["allowed"] is True, resp
    assert h.status_annotation(h.apply_patch(review["request"]["object"], h.patch_of(answer)))["applied"]
