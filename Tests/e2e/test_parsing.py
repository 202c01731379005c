"""Parsing reachable over the network (issue 12, finding 3): every parser is linear in its input, the HTTP
modes read JSON only, and JSON means the same whichever path reads it.

Linearity is measured as the CPU time of the process (user + system, as the kernel counts it), the
fastest of three runs, for an adversarial input and for the same input twice as large: the larger must
take at most three times as long. Only a ratio within one test is compared, so a slow or busy machine
does not fail it; a quadratic parser takes four times as long, or more."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import adversarial as adv
import harness as h

RUNS = 3


def _cpu(data: bytes, config: Path, tmp_path: Path) -> float:
    env = h.clean_env({"PODINJECT_CACHE_DIR": ""}, home=tmp_path)
    best = float("inf")
    for _ in range(RUNS):
        run = adv.run_measured([str(h.BIN), "--config", str(config)], data, env, timeout=600)
        assert run.returncode == 0, run.stderr[:500]
        best = min(best, run.cpu)
    return best


# (name, input of size n, n, config): n chosen so that the smaller input takes some tens of milliseconds
# here, and a quadratic parser seconds.
LINEAR = [
    ("YAML mapping keys (stdin)", adv.yaml_labels, 30_000, adv.TYPICAL_RULES),
    ("Unicode-equivalent JSON keys", adv.equivalent_keys, 15_000, adv.TYPICAL_RULES),
    ("ASCII JSON keys", adv.many_labels, 60_000, adv.TYPICAL_RULES),
    ("tiny containers with env", adv.tiny_containers, 20_000, adv.TYPICAL_RULES),
    ("volumes and mounts", adv.volumes_and_mounts, 6_000, adv.MOUNT),
]


@pytest.mark.parametrize("name,make,n,config", LINEAR, ids=[c[0] for c in LINEAR])
def test_doubling_the_input_at_most_triples_the_time(name, make, n, config, tmp_path, podinject_bin):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(config)
    small, large = make(n), make(2 * n)
    assert len(large) <= adv.MAX_BODY
    t1 = _cpu(small, cfg, tmp_path)
    t2 = _cpu(large, cfg, tmp_path)
    assert t2 <= 3 * t1, f"{name}: {n} took {t1:.3f} s of CPU, {2 * n} took {t2:.3f} s ({t2 / t1:.1f}x)"


# --- the HTTP modes read JSON only ----------------------------------------------------------------

YAML_REVIEW = b"apiVersion: admission.k8s.io/v1\nkind: AdmissionReview\nrequest:\n  uid: u-1\n  operation: CREATE\n"
REASON = "podinject: not valid JSON: byte 0: expected a JSON value, found 'a' (this mode reads JSON only)"


def test_cgi_refuses_a_yaml_body_even_as_application_json(tmp_path, podinject_bin):
    cfg = h.config_copy(h.SAMPLES / "config.yaml", tmp_path, api="none")
    env = h.cgi_env(content_length=len(YAML_REVIEW), extra={"PODINJECT_CONFIG": str(cfg)}, home=tmp_path)
    r = h.run_podinject([], YAML_REVIEW, env=env)
    assert r.returncode == 0, r.describe()
    resp = h.parse_cgi(r.stdout)
    assert resp.status == 400, r.describe()
    status = json.loads(resp.body)
    assert status["message"] == REASON[len("podinject: "):], status
    assert b"u-1" not in resp.body


def test_function_runtime_refuses_a_yaml_body(tmp_path, podinject_bin):
    cfg = h.config_copy(h.SAMPLES / "config.yaml", tmp_path, api="none")
    env = h.clean_env({"Http_Method": "POST", "Http_Content_Type": "application/json",
                       "PODINJECT_CONFIG": str(cfg)}, home=tmp_path)
    r = h.run_podinject([], YAML_REVIEW, env=env)
    assert r.returncode == 2 and r.stderr == b"", r.describe()
    status = r.json()
    assert status["code"] == 400 and status["message"] == REASON[len("podinject: "):], status


def test_stdin_mode_still_reads_yaml(tmp_path, podinject_bin):
    import yaml

    review = json.loads((h.SAMPLES / "review-plain-pod.json").read_text())
    r = h.admit(yaml.safe_dump(review).encode(), config=h.config_copy(h.SAMPLES / "config.yaml", tmp_path,
                                                                      api="none"))
    assert r.returncode == 0, r.describe()
    h.check_echo(r.json(), review)


# --- JSON means the same on every path -------------------------------------------------------------


def test_a_byte_order_mark_before_a_json_review_is_refused_as_the_json_parser_refuses_it(tmp_path, podinject_bin):
    body = b"\xef\xbb\xbf" + (h.SAMPLES / "review-plain-pod.json").read_bytes()
    r = h.admit(body, config=h.config_copy(h.SAMPLES / "config.yaml", tmp_path, api="none"))
    assert r.returncode == 2, r.describe()
    assert r.err == "podinject: not valid JSON: byte 0: a byte order mark is not allowed before JSON text\n"


def test_a_json_config_means_what_json_says(tmp_path, podinject_bin):
    """A number is a number in a JSON config, as in JSON itself: `1e400` is not read as the text "1e400"."""
    config = {"apiVersion": "podinject.dev/v1alpha1", "kind": "InjectionConfig",
              "rules": [{"name": "labels", "labels": {"example.com/big": "@"}}]}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config).replace('"@"', "1e400"))
    r = h.run_podinject(["check-config", "--config", str(path)])
    assert r.returncode == 1, r.describe()
    assert "expected a string, found number" in r.err, r.err
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(config).encode())
    r = h.run_podinject(["check-config", "--config", str(path)])
    assert r.returncode == 1 and "a byte order mark is not allowed before JSON text" in r.err, r.describe()
    # YAML may start with one, as go-yaml allows.
    path.write_bytes(b"\xef\xbb\xbf" + b"apiVersion: podinject.dev/v1alpha1\nkind: InjectionConfig\nrules: []\n")
    r = h.run_podinject(["check-config", "--config", str(path)])
    assert r.returncode == 0, r.describe()
