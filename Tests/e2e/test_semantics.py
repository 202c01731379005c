"""Mutation semantics (SPEC §2, §3) probed end to end with small purpose-made configs and pods."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

import harness as h


def _write_config(tmp_path: Path, rules: list[dict], **top) -> Path:
    cfg = {"apiVersion": "podinject.dev/v1alpha1", "kind": "InjectionConfig",
           "defaults": {"onError": "Allow", "conflict": "Skip"},
           "statusAnnotation": "podinject.dev/status",
           "events": {"api": "none", "outbox": str(tmp_path / "outbox")},
           "rules": rules}
    cfg.update(top)
    path = tmp_path / "config.yaml"
    # JSON is YAML, and has no YAML 1.1 surprises (y/n are booleans); raw UTF-8, no \u escapes
    path.write_text(json.dumps(cfg, indent=1, ensure_ascii=False), encoding="utf-8")
    return path


def _pod(**spec_overrides) -> dict:
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
           "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}
    pod["spec"].update(spec_overrides)
    return pod


def _admit(pod: dict, config: Path, seed: str, **kw):
    review = h.make_review(pod, namespace=(pod.get("metadata") or {}).get("namespace") or "shop",
                           uid=h.stable_uid("semantics/" + seed), **kw)
    r = h.admit(review, config=config)
    assert r.returncode == 0, r.describe()
    answer = r.json()
    h.check_echo(answer, review)
    ops = h.patch_of(answer)
    patched = h.apply_patch(pod, ops)
    return answer, patched, r


def _env(c: dict) -> list[tuple]:
    return [(e["name"], e.get("value")) for e in c.get("env") or []]


def test_shipped_configs_pass_check_config(podinject_bin):
    for cfg in (h.SAMPLES / "config.yaml", h.EVERY_KIND, h.FIXTURES / "leak-canaries.yaml",
                h.REPO / "bench" / "config.yaml"):
        r = h.run_podinject(["check-config", "--config", str(cfg)])
        assert r.returncode == 0, r.describe()


def test_check_config_reports_unknown_key_with_line(tmp_path, podinject_bin):
    path = tmp_path / "bad.yaml"
    text = (h.SAMPLES / "config.yaml").read_text().replace("  conflict: Skip", "  conflict: Skip\n  colour: blue", 1)
    path.write_text(text)
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "colour" in ln)
    r = h.run_podinject(["check-config", "--config", str(path)])
    assert r.returncode == 1, r.describe()
    assert f"{path}:{line}:" in r.out + r.err, r.describe()


def test_null_maps_and_lists_are_replaced(tmp_path, podinject_bin):
    cfg = _write_config(tmp_path, [{"name": "all", "env": [{"name": "A", "value": "1"}],
                                    "labels": {"x": "y"}, "annotations": {"example.com/a": "b"},
                                    "tolerations": [{"key": "k", "operator": "Exists"}],
                                    "volumes": [{"name": "v", "emptyDir": {}}]}])
    pod = _pod(tolerations=None, volumes=None)
    pod["metadata"]["labels"] = None
    pod["metadata"]["annotations"] = None
    pod["spec"]["containers"][0]["env"] = None
    answer, patched, _ = _admit(pod, cfg, "nulls")
    assert patched["metadata"]["labels"] == {"x": "y"}
    assert patched["metadata"]["annotations"]["example.com/a"] == "b"
    assert _env(patched["spec"]["containers"][0]) == [("A", "1")]
    assert patched["spec"]["tolerations"] == [{"key": "k", "operator": "Exists"}]
    assert patched["spec"]["volumes"] == [{"name": "v", "emptyDir": {}}]


def test_missing_metadata_maps_are_created(tmp_path, podinject_bin):
    cfg = _write_config(tmp_path, [{"name": "all", "labels": {"x": "y"}, "annotations": {"example.com/a": "b"},
                                    "nodeSelector": {"disk": "ssd"}}])
    pod = _pod()
    del pod["metadata"]["labels"]
    _, patched, _ = _admit(pod, cfg, "missing-maps")
    assert patched["metadata"]["labels"] == {"x": "y"} and patched["spec"]["nodeSelector"] == {"disk": "ssd"}


def test_rule_is_atomic_across_containers(tmp_path, podinject_bin):
    cfg = _write_config(tmp_path, [
        {"name": "tracing", "conflict": "Error",
         "env": [{"name": "OTEL_SERVICE_NAME", "value": "{{ .metadata.labels.app }}"}],
         "labels": {"tracing": "on"}, "volumes": [{"name": "t", "emptyDir": {}}]},
        {"name": "other", "labels": {"other": "yes"}}])
    pod = _pod()
    pod["spec"]["containers"].append({"name": "helper", "image": "busybox",
                                      "env": [{"name": "OTEL_SERVICE_NAME", "value": "helper-own"}]})
    answer, patched, _ = _admit(pod, cfg, "atomic")
    assert answer["response"]["allowed"] is True
    status = h.status_annotation(patched)
    assert status["applied"] == ["other"] and status["failed"] == [{"rule": "tracing", "reason": "Conflict"}]
    assert _env(patched["spec"]["containers"][0]) == [], "no part of a failed rule is applied"
    assert "tracing" not in patched["metadata"]["labels"] and "volumes" not in patched["spec"]


@pytest.mark.parametrize("policy,expected", [("Skip", "pod-own"), ("Override", "from-rule")])
def test_conflict_skip_and_override(policy, expected, tmp_path, podinject_bin):
    cfg = _write_config(tmp_path, [{"name": "r", "conflict": policy,
                                    "env": [{"name": "MODE", "value": "from-rule"}, {"name": "NEW", "value": "n"}],
                                    "labels": {"app": "from-rule"}}])
    pod = _pod()
    pod["spec"]["containers"][0]["env"] = [{"name": "MODE", "value": "pod-own"}]
    answer, patched, _ = _admit(pod, cfg, "conflict-" + policy)
    status = h.status_annotation(patched)
    assert status["applied"] == ["r"] and not status.get("failed"), status
    assert _env(patched["spec"]["containers"][0]) == [("MODE", expected), ("NEW", "n")]
    assert patched["metadata"]["labels"]["app"] == ("web" if policy == "Skip" else "from-rule")
    assert not answer["response"].get("warnings")


def test_container_globs_and_init_containers(tmp_path, podinject_bin):
    cfg = _write_config(tmp_path, [{"name": "r", "containers": ["app-*"], "includeInitContainers": True,
                                    "env": [{"name": "X", "value": "1"}]}])
    pod = _pod(containers=[{"name": "app-main", "image": "a"}, {"name": "proxy", "image": "p"},
                           {"name": "app-worker", "image": "w"}],
               initContainers=[{"name": "app-init", "image": "i"}, {"name": "setup", "image": "s"}],
               ephemeralContainers=[{"name": "app-debug", "image": "d"}])
    _, patched, _ = _admit(pod, cfg, "globs")
    got = {c["name"]: _env(c) for k in ("containers", "initContainers", "ephemeralContainers")
           for c in patched["spec"][k]}
    assert got == {"app-main": [("X", "1")], "proxy": [], "app-worker": [("X", "1")],
                   "app-init": [("X", "1")], "setup": [], "app-debug": []}, got


def test_label_selector_and_annotation_match(tmp_path, podinject_bin):
    cfg = _write_config(tmp_path, [
        {"name": "in", "match": {"labelSelector": {"matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["web", "api"]}]}}, "labels": {"m-in": "y"}},
        {"name": "exists", "match": {"labelSelector": {"matchExpressions": [
            {"key": "tier", "operator": "Exists"}]}}, "labels": {"m-exists": "y"}},
        {"name": "absent", "match": {"labelSelector": {"matchExpressions": [
            {"key": "tier", "operator": "DoesNotExist"}]}}, "labels": {"m-absent": "y"}},
        {"name": "labels", "match": {"labelSelector": {"matchLabels": {"app": "web", "tier": "db"}}},
         "labels": {"m-labels": "y"}},
        {"name": "annotated", "match": {"annotations": {"example.com/inject": "yes"}}, "labels": {"m-ann": "y"}},
        {"name": "ns", "match": {"namespaces": ["sh*"], "excludeNamespaces": ["shadow"]}, "labels": {"m-ns": "y"}},
        {"name": "update-only", "match": {"operations": ["UPDATE"]}, "labels": {"m-update": "y"}},
    ])
    pod = _pod()
    pod["metadata"]["labels"]["tier"] = "web"
    pod["metadata"]["annotations"] = {"example.com/inject": "yes"}
    _, patched, _ = _admit(pod, cfg, "selectors")
    assert sorted(h.status_annotation(patched)["applied"]) == ["annotated", "exists", "in", "ns"]
    pod["metadata"]["namespace"] = "shadow"
    _, patched, _ = _admit(pod, cfg, "selectors-shadow")
    assert "ns" not in h.status_annotation(patched)["applied"]


def test_templates(tmp_path, podinject_bin):
    cfg = _write_config(tmp_path, [{"name": "t", "env": [
        {"name": "APP", "value": "{{ .metadata.labels.app }}"},
        {"name": "TEAM", "value": '{{ index .metadata.annotations "example.com/team" }}'},
        {"name": "NS", "value": "{{ .metadata.namespace }}"},
        {"name": "USER", "value": "{{ .request.userInfo.username }}"},
        {"name": "DEF", "value": '{{ .metadata.labels.nope | default "fallback" }}'},
        {"name": "MIX", "value": 'a-{{.metadata.labels.app}}-b-{{ .metadata.namespace }}-$(HOME)'},
        {"name": "REF", "value": "$(APP)/$$(ESCAPED)"},
    ]}])
    pod = _pod()
    del pod["metadata"]["namespace"]  # filled from the request
    pod["metadata"]["annotations"] = {"example.com/team": "payments"}
    _, patched, _ = _admit(pod, cfg, "templates", username="alice@example.com")
    assert _env(patched["spec"]["containers"][0]) == [
        ("APP", "web"), ("TEAM", "payments"), ("NS", "shop"), ("USER", "alice@example.com"),
        ("DEF", "fallback"), ("MIX", "a-web-b-shop-$(HOME)"), ("REF", "$(APP)/$$(ESCAPED)")]
    assert "namespace" not in patched["metadata"], "podinject does not write the namespace into the pod"


@pytest.mark.parametrize("field,value,reason", [
    ("labels", {"team": "{{ .request.userInfo.username }}"}, "InvalidValue"),  # ':' and '@' in a label value
    ("env", [{"name": "{{ .metadata.labels.app }}_X", "value": "1"}], None),  # 'web_X': a valid env name
    ("env", [{"name": "A={{ .metadata.labels.app }}", "value": "1"}], "InvalidValue"),  # '=' never valid
    ("sidecars", [{"name": "{{ .metadata.labels.app }}_SIDE", "image": "x"}], "InvalidValue"),
    ("env", [{"name": "A", "value": "{{ .metadata.labels.nope }}"}], "TemplateValueMissing"),
])
def test_templated_values_are_validated(field, value, reason, tmp_path, podinject_bin):
    cfg = _write_config(tmp_path, [{"name": "v", field: value}])
    answer, patched, _ = _admit(_pod(), cfg, f"validate-{field}-{reason}", username="alice@example.com")
    status = h.status_annotation(patched)
    if reason is None:
        assert status["applied"] == ["v"] and not status.get("failed"), status
    else:
        assert status.get("failed") == [{"rule": "v", "reason": reason}], status
        assert answer["response"]["allowed"] is True
    assert h.pod_validation_errors(patched) == set()


def test_reinvocation_without_status_annotation_adds_nothing_twice(tmp_path, podinject_bin):
    """Another webhook dropped our status annotation: identical items are no conflict (not even under
    conflict Error) and are not added again. Rules that add containers are left out: their containers
    would then count as the pod's own and receive the env rules, as they should."""
    sample = h.load_yaml(h.SAMPLES / "config.yaml")
    sample["rules"] = [r for r in sample["rules"] if not (r.get("sidecars") or r.get("initContainers"))]
    assert any(r.get("conflict") == "Error" for r in sample["rules"])
    cfg = _write_config(tmp_path, sample["rules"])
    for name in ("review-plain-pod.json", "review-replicaset-generatename.json", "review-v1beta1.json"):
        review = json.loads((h.SAMPLES / name).read_text())
        r = h.admit(review, config=cfg)
        assert r.returncode == 0, r.describe()
        first = h.apply_patch(review["request"]["object"], h.patch_of(r.json()))
        again_pod = copy.deepcopy(first)
        del again_pod["metadata"]["annotations"]["podinject.dev/status"]
        review2 = copy.deepcopy(review)
        review2["request"]["uid"] = h.stable_uid(name + "/reinvoked")
        review2["request"]["object"] = again_pod
        r2 = h.admit(review2, config=cfg)
        assert r2.returncode == 0, r2.describe()
        answer2 = r2.json()
        assert answer2["response"]["allowed"] is True and not answer2["response"].get("warnings"), answer2
        second = h.apply_patch(again_pod, h.patch_of(answer2))
        assert second == first, name


def test_big_review_is_answered_correctly(tmp_path, podinject_bin):
    """The bench's 1 MiB shape (200 containers): functional check only."""
    review = json.loads(h.corpus_file(
        "admissionreview", "salesforce-generic-sidecar-injector__v1-pod-create-replicaset-generatename.json").read_text())
    pod = review["request"]["object"]
    base = pod["spec"]["containers"][0]
    pod["spec"]["containers"] = []
    for i in range(200):
        c = copy.deepcopy(base)
        c["name"] = f"{base['name']}-{i}"
        c["env"] = list(c.get("env") or []) + [{"name": f"PAD_{i}_{k}", "value": "x" * 40} for k in range(70)]
        pod["spec"]["containers"].append(c)
    body = h.review_bytes(review)
    assert len(body) > 1024 * 1024
    r = h.admit(body, config=h.REPO / "bench" / "config.yaml")
    assert r.returncode == 0, r.describe()
    answer = r.json()
    h.check_echo(answer, review)
    patched = h.apply_patch(pod, h.patch_of(answer))
    assert len(patched["spec"]["containers"]) == 201
    for c in patched["spec"]["containers"][:200]:
        names = [e["name"] for e in c["env"]]
        assert "APP_NAMESPACE" in names and "OTEL_SERVICE_NAME" in names, c["name"]


@pytest.mark.parametrize("shape", ["containers-map", "env-map", "container-string", "volumes-string"])
def test_unpatchable_shapes_fail_the_rule_not_the_admission(shape, tmp_path, podinject_bin):
    cfg = _write_config(tmp_path, [{"name": "envs", "env": [{"name": "A", "value": "1"}],
                                    "volumes": [{"name": "v", "emptyDir": {}}]},
                                   {"name": "labels", "labels": {"x": "1"}}])
    pod = _pod()
    if shape == "containers-map":
        pod["spec"]["containers"] = {"name": "web", "image": "nginx"}
    elif shape == "env-map":
        pod["spec"]["containers"][0]["env"] = {"A": "1"}
    elif shape == "container-string":
        pod["spec"]["containers"].insert(0, "web")
    else:
        pod["spec"]["volumes"] = "none"
    answer, patched, r = _admit(pod, cfg, "shape-" + shape)
    assert answer["response"]["allowed"] is True
    status = h.status_annotation(patched)
    assert status["applied"] == ["labels"] and status["failed"] == [{"rule": "envs", "reason": "UnpatchablePod"}]
    assert any('rule "envs"' in w for w in answer["response"]["warnings"])


def test_delete_and_connect_are_not_mutated(tmp_path, podinject_bin):
    cfg = _write_config(tmp_path, [{"name": "all", "match": {"operations": ["CREATE", "UPDATE"]},
                                    "labels": {"x": "1"}}])
    for op, obj, old in (("DELETE", None, _pod()), ("CONNECT", None, None)):
        review = h.make_review(_pod(), namespace="shop", uid=h.stable_uid("op/" + op), operation=op)
        review["request"]["object"] = obj
        review["request"]["oldObject"] = old
        r = h.admit(review, config=cfg)
        assert r.returncode == 0, r.describe()
        answer = r.json()
        h.check_echo(answer, review)
        assert answer["response"]["allowed"] is True and not h.patch_of(answer), answer


def test_warnings_stay_within_120_characters(tmp_path, podinject_bin):
    long_key = "example.com/" + "k" * 60
    cfg = _write_config(tmp_path, [{"name": "r" * 63, "env": [
        {"name": "A_VERY_LONG_ENVIRONMENT_VARIABLE_NAME_" + "X" * 40,
         "value": '{{ index .metadata.annotations "' + long_key + '" }}'}]}])
    answer, _, _ = _admit(_pod(), cfg, "long-warning")
    (warning,) = answer["response"]["warnings"]
    assert warning.startswith('podinject: rule "' + "r" * 63 + '" not applied: TemplateValueMissing'), warning
    assert len(warning) <= 120, (len(warning), warning)


def test_strings_round_trip_exactly(tmp_path, podinject_bin):
    """Escapes, non-ASCII, control characters and lone `}}` survive config -> template -> patch."""
    team = "Équipe « paiements » 支付 \U0001F4B3 \\ \" \u2029"
    cfg = _write_config(tmp_path, [{"name": "s", "env": [
        {"name": "PLAIN", "value": 'héllo 🌍 "quoted" back\\slash tab\t nl\n \u0001 {not a template} }}'},
        {"name": "TEAM", "value": '{{ index .metadata.annotations "example.com/team" }}'},
    ], "annotations": {"example.com/echo": '{{ index .metadata.annotations "example.com/team" }}'}}])
    pod = _pod()
    pod["metadata"]["annotations"] = {"example.com/team": team}
    _, patched, r = _admit(pod, cfg, "unicode")
    env = dict(_env(patched["spec"]["containers"][0]))
    assert env["PLAIN"] == 'héllo 🌍 "quoted" back\\slash tab\t nl\n \u0001 {not a template} }}'
    assert env["TEAM"] == team
    assert patched["metadata"]["annotations"]["example.com/echo"] == team
    assert patched["metadata"]["annotations"]["example.com/team"] == team


def test_json_config_with_escaped_non_bmp_characters(tmp_path, podinject_bin):
    """"JSON is accepted as YAML" (SPEC §2): JSON writers escape 🌍 as the surrogate pair \\ud83c\\udf0d."""
    cfg = _write_config(tmp_path, [{"name": "s", "env": [{"name": "GREETING", "value": "hello 🌍"}]}])
    cfg.write_text(json.dumps(json.loads(cfg.read_text()), indent=1, ensure_ascii=True))
    assert "\\ud83c\\udf0d" in cfg.read_text()
    r = h.run_podinject(["check-config", "--config", str(cfg)])
    assert r.returncode == 0, r.describe()
    _, patched, _ = _admit(_pod(), cfg, "surrogates")
    assert _env(patched["spec"]["containers"][0]) == [("GREETING", "hello 🌍")]


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\u0085"], ids=["LS", "PS", "NEL"])
def test_json_config_strings_keep_unicode_line_separators(char, tmp_path, podinject_bin):
    """In JSON these are ordinary string characters; YAML 1.1 folds them as line breaks."""
    value = f"left {char} right"
    cfg = _write_config(tmp_path, [{"name": "s", "env": [{"name": "V", "value": value}]}])
    _, patched, _ = _admit(_pod(), cfg, "sep-" + repr(char))
    assert _env(patched["spec"]["containers"][0]) == [("V", value)]


def test_custom_status_and_opt_out_annotations(tmp_path, podinject_bin):
    cfg = _write_config(tmp_path, [{"name": "r", "labels": {"x": "1"}}],
                        statusAnnotation="example.com/injection-status", optOutAnnotation="example.com/no-inject")
    _, patched, _ = _admit(_pod(), cfg, "custom-keys")
    assert "podinject.dev/status" not in h.annotations_of(patched)
    assert h.status_annotation(patched, "example.com/injection-status")["applied"] == ["r"]
    pod = _pod()
    pod["metadata"]["annotations"] = {"example.com/no-inject": "false", "podinject.dev/inject": "true"}
    _, patched, _ = _admit(pod, cfg, "custom-opt-out")
    assert "x" not in (patched["metadata"].get("labels") or {}), "the configured opt-out annotation skips every rule"
