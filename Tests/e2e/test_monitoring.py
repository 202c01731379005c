"""deploy/monitoring (README, "Metrics"): the PrometheusRule passes `promtool check rules`, and every alert
passes its unit tests (`promtool test rules` on deploy/monitoring/tests/alerts.test.yaml); the kustomization
renders; the Service, ServiceMonitor and dashboard reach the metrics podinject really exposes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml

import harness as h

MONITORING = h.REPO / "deploy" / "monitoring"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def promtool(*args: str, cwd: Path) -> str:
    assert Path(PROMTOOL).exists(), "promtool is not installed (scripts/setup installs Debian's prometheus)"
    proc = subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"promtool {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def rule_spec() -> dict:
    doc = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    assert doc["kind"] == "PrometheusRule"
    return doc["spec"]


def test_promtool_checks_the_rules_and_runs_every_alerts_unit_tests(tmp_path):
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rule_spec()))
    shutil.copy(MONITORING / "tests" / "alerts.test.yaml", tmp_path / "alerts.test.yaml")
    out = promtool("check", "rules", "rules.yaml", cwd=tmp_path)
    assert "SUCCESS" in out
    out = promtool("test", "rules", "alerts.test.yaml", cwd=tmp_path)
    assert "SUCCESS" in out


def test_every_alert_has_a_unit_test_that_fires_it():
    alerts = {r["alert"] for g in rule_spec()["groups"] for r in g["rules"] if "alert" in r}
    tests = yaml.safe_load((MONITORING / "tests" / "alerts.test.yaml").read_text())["tests"]
    fired = {t["alertname"] for case in tests for t in case["alert_rule_test"] if t["exp_alerts"]}
    quiet = {t["alertname"] for case in tests for t in case["alert_rule_test"] if not t["exp_alerts"]}
    assert alerts == fired, f"alerts without a firing test: {alerts - fired}"
    assert alerts == quiet, f"alerts without a test where they stay quiet: {alerts - quiet}"
    for wanted in ("PodinjectInjectionsFailing", "PodinjectDenyingPods", "PodinjectEventsLost",
                   "PodinjectOutboxBackingUp", "PodinjectConfigInvalid", "PodinjectNotCalled", "PodinjectReplicaDown",
                   "PodinjectAbsent"):
        assert wanted in alerts


def exposed_names(tmp_path: Path) -> set[str]:
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps({"apiVersion": "podinject.dev/v1alpha1", "kind": "InjectionConfig",
                                  "rules": [{"name": "r", "labels": {"x": "y"}}]}))
    res = h.run_podinject(["metrics", "--config", str(config)],
                          env=h.clean_env({"PODINJECT_METRICS_FILE": str(tmp_path / "m" / "metrics")}))
    assert res.returncode == 0, res.stderr
    return {line.split("{")[0].split(" ")[0] for line in res.stdout.decode().splitlines() if line and line[0] != "#"}


def test_rules_and_dashboard_name_only_metrics_podinject_exposes(tmp_path):
    names = exposed_names(tmp_path)
    texts = [(MONITORING / "prometheusrule.yaml").read_text()]
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    texts += [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {m for text in texts for m in re.findall(r"\bpodinject_[a-z_]+", text)}
    assert used and used <= names, f"not exposed: {used - names}"


def test_the_kustomization_renders_a_service_and_monitor_that_reach_the_metrics_port():
    docs = h.kustomize(MONITORING)
    kinds = {d["kind"]: d for d in docs}
    assert set(kinds) == {"Service", "ServiceMonitor", "PrometheusRule", "ConfigMap"}
    service, monitor = kinds["Service"], kinds["ServiceMonitor"]
    (port,) = service["spec"]["ports"]
    assert monitor["spec"]["endpoints"][0]["port"] == port["name"]
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert all(service["metadata"]["labels"].get(k) == v for k, v in monitor["spec"]["selector"]["matchLabels"].items())
    # The Service selects the webhook's pods, whose container declares the metrics port it targets, and
    # sets the port nginx listens on (deploy/hosts/render.sh: PODINJECT_METRICS_PORT).
    (deployment,) = [d for d in h.kustomize(h.REPO / "deploy" / "kubernetes") if d["kind"] == "Deployment"]
    template = deployment["spec"]["template"]
    assert all(template["metadata"]["labels"].get(k) == v for k, v in service["spec"]["selector"].items())
    (container,) = [c for c in template["spec"]["containers"] if c["name"] == "podinject"]
    (declared,) = [p for p in container["ports"] if p["name"] == port["targetPort"]]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert str(declared["containerPort"]) == env["PODINJECT_METRICS_PORT"]
    assert kinds["ConfigMap"]["metadata"]["labels"]["grafana_dashboard"] == "1"
    json.loads(kinds["ConfigMap"]["data"]["podinject.json"])
