"""A template nested deep enough to overflow the stack (issue 12, finding 2): `check-config` reports it as
a config error, and an admission fails only the rule that holds it, never a crash (SIGSEGV, after which
every pod would be admitted with no injection and no signal)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import harness as h


def _status(answer: dict, review: bytes) -> dict:
    ops = json.loads(base64.b64decode(answer["response"].get("patch", "")) or b"[]")
    return h.status_annotation(h.apply_patch(json.loads(review)["request"]["object"], ops))


def _write(tmp_path: Path, rules: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text("apiVersion: podinject.dev/v1alpha1\nkind: InjectionConfig\nevents:\n  api: none\n"
                    "rules:\n" + rules)
    return path


def _deep_template_config(tmp_path: Path) -> Path:
    depth = 200_000
    template = "{{" + "(" * depth + ".metadata.name" + ")" * depth + "}}"
    return _write(tmp_path, f"- name: deep\n  labels:\n    example.com/deep: '{template}'\n"
                            "- name: fine\n  labels:\n    example.com/fine: 'yes'\n")


def test_check_config_reports_a_deeply_nested_template(tmp_path, podinject_bin):
    cfg = _deep_template_config(tmp_path)
    r = h.run_podinject(["check-config", "--config", str(cfg)])
    assert r.returncode == 1, r.describe()  # not -11 (SIGSEGV)
    assert r.err.strip() == f"{cfg}:8:23: template: column 67: template nested deeper than 64", r.err


def test_an_admission_fails_only_the_rule_with_the_deep_template(tmp_path, podinject_bin):
    cfg = _deep_template_config(tmp_path)
    review = json.loads((h.SAMPLES / "review-plain-pod.json").read_text())
    r = h.admit(review, config=cfg, env=h.clean_env({"PODINJECT_CACHE_DIR": ""}, home=tmp_path))
    assert r.returncode == 0, r.describe()
    answer = r.json()
    status = _status(answer, h.review_bytes(review))
    assert status == {"applied": ["fine"], "failed": [{"rule": "deep", "reason": "ConfigInvalid"}]}, status
