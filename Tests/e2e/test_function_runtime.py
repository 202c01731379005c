"""Function-runtime mode (OpenFaaS watchdog; SPEC §1): the body only on stdout, nothing on stderr."""

from __future__ import annotations

import json

import pytest

import harness as h

GOOD = (h.SAMPLES / "review-plain-pod.json").read_bytes()


def fn_env(tmp_path, with_length: bool, body: bytes, **extra) -> dict:
    config = h.config_copy(h.SAMPLES / "config.yaml", tmp_path, logFile=str(tmp_path / "events.log"))
    env = {"Http_Method": "POST", "Http_Content_Type": "application/json", "Http_Path": "/",
           "Http_Query": "timeout=10s", "Http_User_Agent": "kube-apiserver-admission",
           "PODINJECT_CONFIG": str(config), **extra}
    if with_length:
        env["Http_Content_Length"] = str(len(body))
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return h.clean_env(env, home=home)


@pytest.mark.parametrize("with_length", [True, False], ids=["classic-watchdog", "of-watchdog-no-length"])
@pytest.mark.parametrize("sample", ["review-plain-pod.json", "review-deny.json", "review-template-failure.json",
                                    "review-v1beta1.json"])
def test_answer_only_on_stdout(sample, with_length, tmp_path, podinject_bin):
    body = (h.SAMPLES / sample).read_bytes()
    r = h.run_podinject([], body, env=fn_env(tmp_path, with_length, body))
    assert r.returncode == 0, r.describe()
    assert r.stderr == b"", f"stderr would be merged into the HTTP body by the watchdog\n{r.describe()}"
    answer = r.json()  # the whole stdout is the AdmissionReview, no CGI headers
    h.check_echo(answer, json.loads(body))


@pytest.mark.parametrize("body", [b"", b"{not json", GOOD[:100], b'{"kind":"Pod"}',
                                  b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}'],
                         ids=["empty", "not-json", "truncated", "wrong-document", "no-uid"])
def test_bad_input_is_status_on_stdout(body, tmp_path, podinject_bin):
    r = h.run_podinject([], body, env=fn_env(tmp_path, True, body))
    assert r.returncode == 2, r.describe()
    assert r.stderr == b"", r.describe()
    status = r.json()
    assert status.get("kind") == "Status" and status.get("apiVersion") == "v1", status
    assert status.get("status") == "Failure" and isinstance(status.get("message"), str) and status["message"]
    assert status.get("code") == 400, status


def test_oversized_body_is_status_on_stdout(tmp_path, podinject_bin):
    compact = h.review_bytes(json.loads(GOOD))
    body = compact + b" " * (h.MAX_BODY + 1 - len(compact))
    r = h.run_podinject([], body, env=fn_env(tmp_path, False, body))
    assert r.returncode == 2, r.describe()
    assert r.stderr == b"", r.describe()
    status = r.json()
    assert status.get("kind") == "Status" and status.get("code") == 413, status
