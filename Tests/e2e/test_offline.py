"""Offline commands on every corpus manifest (SPEC §1): `apply` and `explain` answer or refuse cleanly, and
what `apply` prints keeps every pod (template) as valid for Kubernetes 1.37 as it was."""

from __future__ import annotations

import copy
import json
import re

import pytest
import yaml

import harness as h

CONFIG = h.SAMPLES / "config.yaml"
POD_FILES = h.corpus_files("pods")
REVIEW_FILES = h.corpus_files("admissionreview")


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
    except yaml.MarkedYAMLError as e:  # PyYAML cannot read it either: podinject names the same place
        where = f"line {e.problem_mark.line + 1}, column {e.problem_mark.column + 1}:"
        assert r.returncode == 1 and where in r.err, f"expected {where!r}\n{r.describe()}"
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


# --------------------------------------------------------------------------------------------
# apply on every workload kind: -o json, -o patch, -o yaml and -f - tell the same story
# --------------------------------------------------------------------------------------------

TEMPLATE_SOURCE = h.corpus_file("pods", "kubernetes-website__pod-dependent-env-var-references.yaml")
TEMPLATE_PATHS = {"Pod": (), "Deployment": ("spec", "template"), "ReplicaSet": ("spec", "template"),
                  "StatefulSet": ("spec", "template"), "DaemonSet": ("spec", "template"),
                  "Job": ("spec", "template"), "CronJob": ("spec", "jobTemplate", "spec", "template")}
# Annotation values a careless YAML renderer turns into booleans, numbers, nulls or comments.
TRICKY = {"example.com/yes": "yes", "example.com/off": "off", "example.com/octal": "012", "example.com/float": "1e3",
          "example.com/null": "null", "example.com/tilde": "~", "example.com/date": "2026-11-29",
          "example.com/multi": "line1\nline2\n", "example.com/colon": ": x", "example.com/hash": "# not a comment",
          "example.com/empty": "", "example.com/lead": " x", "example.com/sexagesimal": "1:20"}


def _every_kind_manifest() -> list[dict]:
    """A Pod and the six workload kinds, their pod specs taken from one corpus pod. The Job's template
    has no metadata at all (so no `app` label: the `app-identity` rule fails there)."""
    spec = h.load_yaml(TEMPLATE_SOURCE)["spec"]

    def template(app: str | None) -> dict:
        t: dict = {}
        if app:
            t["metadata"] = {"labels": {"app": app}}
        t["spec"] = copy.deepcopy(spec)
        return t

    def workload(api: str, kind: str, name: str, **s) -> dict:
        return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": "shop"}, "spec": s}

    def selector(app: str) -> dict:
        return {"matchLabels": {"app": app}}

    return [
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}, "annotations": dict(TRICKY)},
         "spec": copy.deepcopy(spec)},
        workload("apps/v1", "Deployment", "deploy", selector=selector("deploy"), template=template("deploy")),
        workload("apps/v1", "ReplicaSet", "rs", selector=selector("rs"), replicas=2, template=template("rs")),
        workload("apps/v1", "StatefulSet", "sts", selector=selector("sts"), serviceName="sts",
                 template=template("sts")),
        workload("apps/v1", "DaemonSet", "ds", selector=selector("ds"), template=template("ds")),
        workload("batch/v1", "Job", "job", backoffLimit=0, template=template(None)),
        workload("batch/v1", "CronJob", "cron", schedule="*/5 * * * *",
                 jobTemplate={"spec": {"template": template("cron")}}),
    ]


def _at(obj, path):
    for p in path:
        obj = obj[p]
    return obj


def _without(obj: dict, path) -> dict:
    obj = copy.deepcopy(obj)
    if path:
        parent = _at(obj, path[:-1])
        del parent[path[-1]]
    return obj


@pytest.fixture
def every_kind_manifest(tmp_path):
    import yaml

    class Quoted(yaml.SafeDumper):
        """Every string double-quoted: PyYAML writes `1e3` plain, which YAML 1.1 as go-yaml (kubectl, and
        podinject) reads is a number, while PyYAML reads it back as a string."""

    Quoted.add_representer(str, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s, style='"'))
    docs = _every_kind_manifest()
    path = tmp_path / "workloads.yaml"
    path.write_text(yaml.dump_all(docs, Dumper=Quoted, sort_keys=False))
    config = h.config_copy(CONFIG, tmp_path / "cfg")  # events.api v1, its outbox under tmp_path
    return docs, path, config


def _apply(path_or_dash: str, config, output: str, stdin: bytes = b"", env=None) -> h.Result:
    r = h.run_podinject(["apply", "-f", path_or_dash, "--config", str(config), "-o", output], stdin, env=env)
    assert r.returncode == 0, r.describe()
    return r


def test_apply_patch_json_and_yaml_agree_on_every_kind(every_kind_manifest, podinject_bin):
    docs, path, config = every_kind_manifest
    as_json = _json_stream(_apply(str(path), config, "json").out)
    patches = _json_stream(_apply(str(path), config, "patch").out)
    as_yaml = h.load_yaml_docs(_apply(str(path), config, "yaml").out)
    assert [d.get("kind") for d in as_json] == [d["kind"] for d in docs]
    assert len(patches) == len(docs), f"one patch per document, got {len(patches)}"
    assert as_yaml == as_json, "-o yaml must hold the same objects as -o json"
    for before, patch, after in zip(docs, patches, as_json):
        kind, tpath = before["kind"], TEMPLATE_PATHS[before["kind"]]
        assert isinstance(patch, list) and patch, (kind, patch)
        # The patch applies to the document as written and gives exactly what -o json printed ...
        assert h.apply_patch(before, patch) == after, kind
        # ... re-rooted at the pod template: nothing outside it is touched.
        prefix = "".join("/" + p for p in tpath)
        assert all(op["path"].startswith(prefix + "/") for op in patch), (kind, [op["path"] for op in patch])
        if tpath:
            assert _without(after, tpath) == _without(before, tpath), kind
        pod = _at(after, tpath)
        status = h.status_annotation(pod)
        env = {e["name"] for e in pod["spec"]["containers"][0]["env"]}
        if kind == "Job":
            assert status["failed"] == [{"rule": "app-identity", "reason": "TemplateValueMissing"}], status
            assert "APP_NAME" not in env, "a failed rule applies nothing (atomic)"
        else:
            assert status["failed"] == [] and "app-identity" in status["applied"], (kind, status)
            assert "APP_NAME" in env
        assert "tracing" in status["applied"] and "OTEL_SERVICE_NAME" in env, (kind, status)
        # The pod's own env (with its $(VAR) references) is kept, first and unchanged.
        own = _at(before, tpath)["spec"]["containers"][0]["env"]
        assert pod["spec"]["containers"][0]["env"][:len(own)] == own
        # A template the controllers stamp out: no generateName/namespace/ownerReferences leak into it.
        if tpath:
            assert not {"generateName", "ownerReferences", "namespace"} & set(pod.get("metadata", {})), kind
    assert as_json[0]["metadata"]["annotations"].items() >= TRICKY.items()


def test_apply_reads_stdin(every_kind_manifest, podinject_bin):
    docs, path, config = every_kind_manifest
    data = path.read_bytes()
    for output in ("json", "yaml", "patch"):
        from_file = _apply(str(path), config, output)
        from_stdin = _apply("-", config, output, stdin=data)
        assert from_stdin.out == from_file.out, output
        assert from_stdin.err == from_file.err, output
    # JSON input on stdin works as well (one JSON document, a Pod)
    r = _apply("-", config, "json", stdin=json.dumps(docs[0]).encode())
    assert _json_stream(r.out) == [_json_stream(_apply(str(path), config, "json").out)[0]]


def test_apply_sends_nothing_and_prints_would_be_events(every_kind_manifest, tmp_path, podinject_bin):
    """Credentials that point at a loopback listener: apply never connects, writes no outbox, and
    prints the Event it would have sent (for the Job's failed rule) on stderr, not stdout."""
    import socket
    import time

    docs, path, config = every_kind_manifest
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.setblocking(False)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{listener.getsockname()[1]}",
                                                "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
    env = h.clean_env({"KUBECONFIG": str(kubeconfig), "KUBERNETES_SERVICE_HOST": "127.0.0.1",
                       "KUBERNETES_SERVICE_PORT": str(listener.getsockname()[1])})
    try:
        for output in ("yaml", "json", "patch"):
            t = time.monotonic()
            r = _apply(str(path), config, output, env=env)
            assert time.monotonic() - t < 3, f"apply took {time.monotonic() - t:.1f}s: did it try to send?"
            lines = r.err.splitlines()
            assert len(lines) == 1, r.describe()
            assert re.fullmatch(
                r'would send Event: Warning InjectionFailed Job/job: rule "app-identity" failed for pod job- in '
                r'namespace shop: TemplateValueMissing: env\[0\] APP_NAME: \.metadata\.labels\.app has no value; '
                r'the pod was admitted without it', lines[0]), lines[0]
            assert "would send Event" not in r.out
        with pytest.raises(BlockingIOError):
            conn, _ = listener.accept()
            conn.close()
            raise AssertionError("apply connected to the API server")
    finally:
        listener.close()
    assert not (config.parent / "outbox").exists(), "apply must not spool Events"


# --------------------------------------------------------------------------------------------
# explain on the samples: the trace agrees, rule by rule, with what the webhook does
# --------------------------------------------------------------------------------------------

# sample review -> (rule that fails, its reason, onError, allowed)
EXPLAIN_SAMPLES = {
    "review-template-failure.json": ("app-identity", "TemplateValueMissing", "Allow", True),
    "review-conflict.json": ("tracing", "Conflict", "Allow", True),
    "review-deny.json": ("database-credentials", "TemplateValueMissing", "Deny", False),
    "review-plain-pod.json": (None, None, None, True),
}


def _webhook_answer(review_path, tmp_path):
    """What the webhook itself answers for a sample, and its log line (the applied/skipped/failed truth)."""
    config = h.config_copy(CONFIG, tmp_path, api="none")
    r = h.admit(review_path.read_bytes(), config=config)
    assert r.returncode == 0, r.describe()
    return r.json(), h.stderr_json_lines(r)[-1]


def _not_matched_reason(rule: dict, labels: dict) -> str | None:
    """The reason explain must give for a rule whose matchLabels the pod lacks (None if they match)."""
    for key, value in (((rule.get("match") or {}).get("labelSelector") or {}).get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return f"labels do not match {key}={value}"
    return None


@pytest.mark.parametrize("sample", list(EXPLAIN_SAMPLES))
def test_explain_samples(sample, sample_config, tmp_path, podinject_bin):
    review_path = h.SAMPLES / sample
    review = json.loads(review_path.read_bytes())
    req = review["request"]
    pod = req["object"]
    failing, reason, on_error, allowed = EXPLAIN_SAMPLES[sample]
    r = h.run_podinject(["explain", "-f", str(review_path), "--config", str(CONFIG)])
    assert r.returncode == 0, r.describe()
    lines = r.out.splitlines()
    name = pod["metadata"].get("name") or pod["metadata"]["generateName"]
    assert lines[0] == f"AdmissionReview {req['uid']}: pod {name} in namespace {req['namespace']}, CREATE", lines[0]

    answer, log = _webhook_answer(review_path, tmp_path)
    resp = h.response_of(answer)
    assert resp["allowed"] is allowed
    failed = {f["rule"]: f["reason"] for f in log["failed"]}
    assert failed == ({failing: reason} if failing else {}), log

    # Every rule of the config, once, in config order, with the outcome the webhook had.
    rule_lines = [ln for ln in lines if ln.startswith("  rule ")]
    rules = sample_config["rules"]
    assert [ln.split(":")[0][len("  rule "):] for ln in rule_lines] == [rule["name"] for rule in rules], rule_lines
    for rule, line in zip(rules, rule_lines):
        rn = rule["name"]
        if rn in failed:
            outcome = ("onError Deny: the pod is refused" if on_error == "Deny" else "onError Allow: admitted without it")
            assert line.startswith(f"  rule {rn}: FAILED {failed[rn]}: ") and line.endswith(f"({outcome})"), line
        elif rn in log["applied"]:
            assert re.fullmatch(rf"  rule {rn}: applied(?: \(nothing left to change\))?", line), line
        elif rn in log["skipped"]:
            assert line.startswith(f"  rule {rn}: skipped: "), line
        else:
            why = _not_matched_reason(rule, pod["metadata"].get("labels") or {})
            assert why, f"the webhook did not apply {rn}, but its matchLabels match: {log}"
            assert line == f"  rule {rn}: not matched: {why}", line

    # The decision, the warnings and the Events are the webhook's own.
    if allowed:
        ops = h.patch_of(answer) or []
        assert f"decision: allowed, {len(ops)} patch operation(s)" in lines, lines
    else:
        assert resp["status"]["code"] == 403
        assert f"decision: DENIED (403): {resp['status']['message']}" in lines, lines
        assert failing in resp["status"]["message"] and reason in resp["status"]["message"]
    assert [ln[len("warning: "):] for ln in lines if ln.startswith("warning: ")] == resp.get("warnings", [])
    events = [ln for ln in lines if ln.startswith("event: ")]
    if failing:
        event_reason = "InjectionDenied" if on_error == "Deny" else "InjectionFailed"
        (event,) = events
        assert event.startswith(f"event: Warning {event_reason} regarding ") and \
            f'rule "{failing}" failed' in event and f": {reason}: " in event, event
    else:
        assert events == []


def test_explain_not_a_pod(podinject_bin, tmp_path):
    review_path = h.SAMPLES / "review-not-a-pod.json"
    req = json.loads(review_path.read_bytes())["request"]
    assert req["kind"]["kind"] != "Pod"
    r = h.run_podinject(["explain", "-f", str(review_path), "--config", str(CONFIG)])
    assert r.returncode == 0, r.describe()
    lines = r.out.splitlines()
    assert f"  not a Pod ({req['kind']['kind']}): allowed, nothing to do" in lines, lines
    assert "decision: allowed, 0 patch operation(s)" in lines, lines
    assert not [ln for ln in lines if ln.startswith(("  rule ", "warning: ", "event: "))], lines
    answer, _ = _webhook_answer(review_path, tmp_path)
    assert h.response_of(answer)["allowed"] is True and h.patch_of(answer) is None


def test_explain_reads_stdin(podinject_bin):
    review_path = h.SAMPLES / "review-conflict.json"
    from_file = h.run_podinject(["explain", "-f", str(review_path), "--config", str(CONFIG)])
    from_stdin = h.run_podinject(["explain", "-f", "-", "--config", str(CONFIG)], review_path.read_bytes())
    assert from_stdin.returncode == 0 and from_stdin.out == from_file.out, from_stdin.describe()


@pytest.mark.parametrize("count", [1, 3], ids=["one-item", "three-items"])
def test_apply_patch_of_a_list_applies_to_the_list(count, tmp_path, podinject_bin):
    """README: apply takes pod templates "also inside `List`s"; -o patch is the patch of the document given."""
    items = _every_kind_manifest()[1:1 + count]
    manifest = {"apiVersion": "v1", "kind": "List", "items": items}
    path = tmp_path / "list.json"
    path.write_text(json.dumps(manifest))
    as_json = _json_stream(_apply(str(path), CONFIG, "json").out)
    assert len(as_json) == 1 and [i["kind"] for i in as_json[0]["items"]] == [i["kind"] for i in items]
    (patch,) = _json_stream(_apply(str(path), CONFIG, "patch").out)
    assert isinstance(patch, list) and all(isinstance(op, dict) for op in patch), "one JSON Patch for the document"
    assert h.apply_patch(manifest, patch) == as_json[0]
