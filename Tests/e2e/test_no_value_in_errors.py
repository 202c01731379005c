"""No value in any signal (issue 12, finding 4): an error names a position and a type, never the text it
could not read. A canary in a config's mistyped scalar, or in a review that cannot be read, appears in no
output of any mode: not in check-config's diagnostics, the admission's warnings, audit annotations, log
line or Event files, nor in a refusal (stdin, CGI or function runtime)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import harness as h

CANARY = "CANARY-SCALAR-4b7e2c9d1a60"


def _config(tmp_path: Path, tag: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"""\
apiVersion: podinject.dev/v1alpha1
kind: InjectionConfig
events:
  outbox: {tmp_path / 'outbox'}
rules:
- name: typed
  env:
  - name: PASSWORD
    value: !!{tag} {CANARY}
- name: fine
  labels:
    example.com/fine: "yes"
""")
    return path


@pytest.mark.parametrize("tag", ["int", "float", "bool", "null"])
def test_a_mistyped_config_scalar_is_never_repeated(tag, tmp_path, closed_port, podinject_bin):
    cfg = _config(tmp_path, tag)
    r = h.run_podinject(["check-config", "--config", str(cfg)])
    assert r.returncode == 1, r.describe()
    assert f"{cfg}:8:5: the value tagged !!{tag} is not" in r.err, r.err
    assert CANARY not in r.out + r.err

    kubeconfig = h.write_kubeconfig(tmp_path / "kubeconfig", closed_port)
    env = h.clean_env({"KUBECONFIG": str(kubeconfig)}, home=tmp_path)
    review = json.loads((h.SAMPLES / "review-plain-pod.json").read_text())
    r = h.admit(review, config=cfg, env=env)
    assert r.returncode == 0, r.describe()
    resp = r.json()["response"]
    assert any('rule "typed" not applied: ConfigInvalid' in w for w in resp["warnings"]), resp
    files = [p for p in (tmp_path / "outbox").rglob("*") if p.is_file()]
    assert files, r.describe()
    for where, text in [("the response", json.dumps(resp)), ("stderr", r.err)] + [
            (f"outbox file {p.name}", p.read_text(errors="replace")) for p in files]:
        assert CANARY not in text, f"{where}: {text[:1500]}"


BODIES = {
    "json-apiVersion": json.dumps({"apiVersion": CANARY, "kind": "AdmissionReview", "request": {"uid": "u"}}),
    "json-kind": json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": CANARY, "request": {"uid": "u"}}),
    "json-truncated": '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"' + CANARY,
    "json-bad-escape": '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"'
                       + CANARY + '\\q"}}',
    "yaml-apiVersion": f"apiVersion: {CANARY}\nkind: AdmissionReview\nrequest: {{uid: u}}\n",
    "yaml-tag": f"apiVersion: admission.k8s.io/v1\nkind: AdmissionReview\nrequest: {{uid: !!int {CANARY}}}\n",
    "yaml-alias": f"apiVersion: admission.k8s.io/v1\nkind: AdmissionReview\nrequest: {{uid: *{CANARY}}}\n",
    "yaml-syntax": f"apiVersion: admission.k8s.io/v1\nkind: AdmissionReview\nrequest: [{CANARY}\n",
}


@pytest.mark.parametrize("mode", ["stdin", "cgi", "function-runtime"])
@pytest.mark.parametrize("name", sorted(BODIES))
def test_a_review_that_cannot_be_read_is_not_echoed(name, mode, tmp_path, podinject_bin):
    body = BODIES[name].encode()
    cfg = h.config_copy(h.SAMPLES / "config.yaml", tmp_path, api="none")
    if mode == "stdin":
        r = h.admit(body, config=cfg)
        assert r.returncode == 2 and len(r.err.splitlines()) == 1, r.describe()
    elif mode == "cgi":
        env = h.cgi_env(content_length=len(body), extra={"PODINJECT_CONFIG": str(cfg)}, home=tmp_path)
        r = h.run_podinject([], body, env=env)
        assert h.parse_cgi(r.stdout).status == 400, r.describe()
    else:
        env = h.clean_env({"Http_Method": "POST", "Http_Content_Type": "application/json",
                           "PODINJECT_CONFIG": str(cfg)}, home=tmp_path)
        r = h.run_podinject([], body, env=env)
        assert r.returncode == 2 and r.json()["code"] == 400, r.describe()
    assert CANARY not in r.out + r.err, r.describe()
