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


def _dump_quoted(docs: list) -> str:
    """YAML with every string double-quoted: PyYAML writes `1e3` plain, which YAML 1.1 as go-yaml (kubectl,
    and podinject) reads is a number, while PyYAML reads it back as a string."""
    import yaml

    class Quoted(yaml.SafeDumper):
        pass

    Quoted.add_representer(str, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s, style='"'))
    return yaml.dump_all(docs, Dumper=Quoted, sort_keys=False)


@pytest.fixture
def every_kind_manifest(tmp_path):
    docs = _every_kind_manifest()
    path = tmp_path / "workloads.yaml"
    path.write_text(_dump_quoted(docs))
    config = h.config_copy(CONFIG, tmp_path / "cfg")  # events.api v1, its outbox under tmp_path
    return docs, path, config


def _apply(path_or_dash: str, config, output: str, stdin: bytes = b"", env=None) -> h.Result:
    r = h.run_podinject(["apply", "-f", path_or_dash, "--config", str(config), "-o", output], stdin, env=env)
    assert r.returncode == 0, r.describe()
    return r


def _items_of_json_list(r: h.Result) -> list:
    """-o json of several documents: one Kubernetes List holding them, in order."""
    printed = json.loads(r.out)  # one JSON document, not a stream
    assert list(printed) == ["apiVersion", "kind", "items"], list(printed)
    assert printed["apiVersion"] == "v1" and printed["kind"] == "List", printed
    return printed["items"]


def test_apply_patch_json_and_yaml_agree_on_every_kind(every_kind_manifest, podinject_bin):
    docs, path, config = every_kind_manifest
    as_json = _items_of_json_list(_apply(str(path), config, "json"))
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
    # JSON input on stdin works as well (one JSON document, a Pod), and one document is printed as itself
    r = _apply("-", config, "json", stdin=json.dumps(docs[0]).encode())
    assert [r.json()] == _items_of_json_list(_apply(str(path), config, "json"))[:1]


def test_apply_json_of_several_documents_is_one_list(every_kind_manifest, podinject_bin):
    """kubectl's way: several objects as JSON are one `List` (a stream of JSON documents is not JSON);
    one document stays itself, a List given stays that List (not wrapped again)."""
    docs, path, config = every_kind_manifest
    items = _items_of_json_list(_apply(str(path), config, "json"))
    assert items == h.load_yaml_docs(_apply(str(path), config, "yaml").out)
    assert [i["kind"] for i in items] == [d["kind"] for d in docs]
    given = {"apiVersion": "v1", "kind": "List", "items": docs[:2]}
    r = _apply("-", config, "json", stdin=json.dumps(given).encode())
    assert r.json()["kind"] == "List" and r.json()["items"] == items[:2]


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


# --------------------------------------------------------------------------------------------
# Unusable configuration: apply and explain both refuse (exit 1), naming the file
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["apply", "explain"])
@pytest.mark.parametrize("problem", ["missing", "directory", "invalid"])
def test_offline_commands_refuse_an_unusable_config(command, problem, tmp_path, podinject_bin):
    if problem == "missing":
        config, words = tmp_path / "absent.yaml", ("cannot read", "no such file")
    elif problem == "directory":
        config, words = tmp_path, ("cannot read", "directory")
    else:
        config, words = tmp_path / "config.yaml", ("statusanotation",)
        config.write_text(CONFIG.read_text().replace("statusAnnotation:", "statusAnotation:"))
    r = h.run_podinject([command, "-f", str(h.SAMPLES / "review-plain-pod.json"), "--config", str(config)])
    assert r.returncode == 1, r.describe()
    assert r.stdout == b"", f"nothing is explained or printed with an unusable config\n{r.describe()}"
    lines = r.err.splitlines()
    assert lines and all(ln.startswith(f"podinject: {config}:") for ln in lines[:1]), r.describe()
    assert any(w in r.err.lower() for w in words), r.describe()


# --------------------------------------------------------------------------------------------
# Input that is not a manifest: one clear line and exit 1, never exit 0 with nothing printed
# --------------------------------------------------------------------------------------------

SAMPLE_REVIEW = h.SAMPLES / "review-plain-pod.json"
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: b\n"


def _bare_request() -> str:
    return json.dumps(json.loads(SAMPLE_REVIEW.read_bytes())["request"])


# name -> (file content, or None for a directory; words the one line must hold; the commands that refuse it:
# apply prints a ConfigMap unchanged, and explain takes a bare AdmissionRequest, see the tests below)
NOT_MANIFESTS = {
    "directory": (None, ("directory",), ("apply", "explain")),
    "empty-file": ("", ("empty",), ("apply", "explain")),
    "comments-only": ("# nothing here\n---\n", ("empty",), ("apply", "explain")),
    "not-kubernetes": ("foo: bar\n", ("not a kubernetes object", "apiversion", "kind"), ("apply", "explain")),
    "json-array": ("[1, 2]\n", ("not a kubernetes object", "array"), ("apply", "explain")),
    "second-document-not-kubernetes": (CONFIGMAP + "---\nfoo: bar\n", ("document 2", "not a kubernetes object"),
                                       ("apply", "explain")),
    "bare-admission-request": (_bare_request(), ("admissionrequest", "admissionreview"), ("apply",)),
    "configmap-only": (CONFIGMAP, ("nothing to explain", "configmap/settings"), ("explain",)),
    "review-without-request": ('{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}\n', ("request",),
                               ("apply", "explain")),
}


@pytest.mark.parametrize("command,name", [(c, n) for n, (_, _, cs) in NOT_MANIFESTS.items() for c in cs],
                         ids=lambda v: v)
def test_input_that_is_not_a_manifest_is_refused_in_one_line(command, name, tmp_path, podinject_bin):
    content, words, _ = NOT_MANIFESTS[name]
    path = tmp_path / "input"
    if content is None:
        path.mkdir()
    else:
        path.write_text(content)
    for source, stdin in ((str(path), b""),) + (((("-", content.encode())),) if content is not None else ()):
        r = h.run_podinject([command, "-f", source, "--config", str(CONFIG)], stdin)
        assert r.returncode == 1, r.describe()
        assert r.stdout == b"", r.describe()
        (line,) = r.err.splitlines()
        shown = "stdin" if source == "-" else str(path)
        assert line.startswith(f"podinject: {shown}: "), line
        assert all(w in line.lower() for w in words), (words, line)


def test_apply_prints_a_manifest_without_pods_unchanged_and_says_so(tmp_path, podinject_bin):
    path = tmp_path / "configmap.yaml"
    path.write_text(CONFIGMAP)
    r = h.run_podinject(["apply", "-f", str(path), "--config", str(CONFIG), "-o", "json"])
    assert r.returncode == 0, r.describe()
    assert r.json() == h.load_yaml(path)
    (line,) = r.err.splitlines()
    assert line == f"podinject: {path}: no Pod, pod template or AdmissionReview in it: printed unchanged", line


def test_explain_notes_documents_without_pods_beside_the_others(tmp_path, podinject_bin):
    path = tmp_path / "mixed.yaml"
    path.write_text(CONFIGMAP + "---\n" + (h.SAMPLES / "review-conflict.json").read_text())
    r = h.run_podinject(["explain", "-f", str(path), "--config", str(CONFIG)])
    assert r.returncode == 0, r.describe()
    assert r.out.startswith("ConfigMap/settings: no pod or pod template, nothing to explain\n\nAdmissionReview "), r.out


@pytest.mark.parametrize("sample", ["review-plain-pod.json", "review-conflict.json", "review-deny.json",
                                    "review-not-a-pod.json", "review-v1beta1.json"])
def test_apply_mutates_the_pod_of_an_admission_review(sample, tmp_path, podinject_bin):
    """apply on an AdmissionReview: its request.object is mutated as the webhook would (same request:
    namespace, user, operation), and -o patch is that patch re-rooted at /request/object."""
    review_path = h.SAMPLES / sample
    review = json.loads(review_path.read_bytes())
    answer, _ = _webhook_answer(review_path, tmp_path)
    resp = h.response_of(answer)
    r = h.run_podinject(["apply", "-f", str(review_path), "--config", str(CONFIG), "-o", "json"])
    expected = copy.deepcopy(review)
    if resp["allowed"]:
        assert r.returncode == 0, r.describe()
        if review["request"].get("object") is not None:
            expected["request"]["object"] = h.apply_patch(review["request"]["object"], h.patch_of(answer))
    else:
        assert r.returncode == 1, r.describe()
        assert f"AdmissionReview {review['request']['uid']}: DENIED: {resp['status']['message']}" in r.err.splitlines()
    assert r.json() == expected
    p = h.run_podinject(["apply", "-f", str(review_path), "--config", str(CONFIG), "-o", "patch"])
    patch = p.json()
    assert all(op["path"].startswith("/request/object/") for op in patch), patch
    assert h.apply_patch(review, patch) == expected


def test_explain_takes_a_bare_admission_request(tmp_path, podinject_bin):
    """README: explain reads a bare AdmissionRequest (as policy test suites keep them) as the request of a
    v1 AdmissionReview: the same trace, titled AdmissionRequest."""
    request = tmp_path / "request.json"
    request.write_text(_bare_request())
    bare = h.run_podinject(["explain", "-f", str(request), "--config", str(CONFIG)])
    wrapped = h.run_podinject(["explain", "-f", str(SAMPLE_REVIEW), "--config", str(CONFIG)])
    assert bare.returncode == 0 and wrapped.returncode == 0, (bare.describe(), wrapped.describe())
    assert bare.out.splitlines()[0] == wrapped.out.splitlines()[0].replace("AdmissionReview ", "AdmissionRequest ", 1)
    assert bare.out.splitlines()[1:] == wrapped.out.splitlines()[1:]


# --------------------------------------------------------------------------------------------
# Every patch apply prints applies, with an independent RFC 6902 implementation (python jsonpatch), to the
# document as given, and gives exactly what -o json prints
# --------------------------------------------------------------------------------------------

PATCH_CONFIGS = [CONFIG] + sorted(p for p in h.FIXTURES.glob("*.yaml")
                                  if (h.load_yaml(p) or {}).get("kind") == "InjectionConfig")


def _template(**members) -> dict:
    return members


def _workload(kind: str, name: str, template, api: str = "apps/v1") -> dict:
    spec = {"jobTemplate": {"spec": {"template": template}}} if kind == "CronJob" else {"template": template}
    if kind != "CronJob":
        spec["selector"] = {"matchLabels": {"app": name}}
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": "shop"}, "spec": spec}


CONTAINERS = {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]}
LABELS = {"labels": {"app": "web", "example.com/inject": "standard"}}
# Pod templates missing the parents a patch needs: no spec (a misspelled key), a null spec, no metadata,
# null metadata, nothing at all; and a Pod without spec.
ODD_SHAPES = [
    _workload("Deployment", "typo", _template(metadata=LABELS, spce=CONTAINERS)),
    _workload("StatefulSet", "null-spec", _template(metadata=LABELS, spec=None)),
    _workload("DaemonSet", "no-metadata", _template(spec=CONTAINERS)),
    _workload("ReplicaSet", "null-metadata", _template(metadata=None, spec=CONTAINERS)),
    _workload("Job", "empty-template", {}, api="batch/v1"),
    _workload("CronJob", "only-metadata", _template(metadata=LABELS), api="batch/v1"),
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bare", "namespace": "shop", **LABELS}},
]


def _patch_inputs() -> list:
    inputs = [("odd-shapes.json", {"apiVersion": "v1", "kind": "List", "items": ODD_SHAPES}),
              ("odd-shapes.yaml", ODD_SHAPES), ("every-kind.yaml", _every_kind_manifest())]
    inputs += [(p.name, p) for p in sorted(h.SAMPLES.glob("review-*.json"))]
    return inputs + [(p.name, p) for p in POD_FILES]


def _documents(r: h.Result, count: int) -> list:
    """The documents -o json printed: several are one List."""
    printed = json.loads(r.out)
    return printed["items"] if count > 1 else [printed]


@pytest.mark.parametrize("name,source", _patch_inputs(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_offline_patch_applies_to_its_document(name, source, tmp_path, podinject_bin):
    import jsonpatch

    if isinstance(source, (dict, list)):
        path = tmp_path / name
        path.write_text(_dump_quoted(source) if name.endswith(".yaml") else json.dumps(source))
    else:
        path = source
    # The documents as given, read by PyYAML as Kubernetes tooling does (JSON is YAML too).
    try:
        originals = [d for d in h.load_yaml_docs(path.read_text()) if d is not None]
    except Exception:  # noqa: BLE001 - PyYAML cannot read it: nothing independent to compare with
        return
    count = len(originals)
    # ... and a config with no rules: nothing may change, not even an empty metadata or spec added.
    no_rules = tmp_path / "no-rules.yaml"
    no_rules.write_text("apiVersion: podinject.dev/v1alpha1\nkind: InjectionConfig\nrules: []\n")
    applied = 0
    for config in PATCH_CONFIGS + [no_rules]:
        as_json = h.run_podinject(["apply", "-f", str(path), "--config", str(config), "-o", "json"])
        as_patch = h.run_podinject(["apply", "-f", str(path), "--config", str(config), "-o", "patch"])
        assert as_json.returncode in (0, 1) and as_patch.returncode == as_json.returncode, as_patch.describe()
        if not as_json.stdout:  # refused as a whole (not a manifest), the same way in both formats
            assert as_json.returncode == 1 and not as_patch.stdout, as_json.describe()
            continue
        patches = _json_stream(as_patch.out)
        results = _documents(as_json, count)
        assert len(patches) == len(results) == len(originals), (config.name, len(patches), len(results))
        for i, (original, patch, result) in enumerate(zip(originals, patches, results)):
            try:
                patched = jsonpatch.JsonPatch(patch).apply(copy.deepcopy(original))
            except (jsonpatch.JsonPatchException, jsonpointer_error()) as e:
                raise AssertionError(f"{config.name}, document {i + 1}: the patch does not apply: {e}\n"
                                     f"{json.dumps(patch, indent=1)[:2000]}") from e
            assert patched == result, f"{config.name}, document {i + 1}: the patch gives another document"
            if config == no_rules:
                assert patch == [] and result == original, f"document {i + 1} changed without any rule"
            applied += len(patch)
    if name.startswith("odd-shapes"):
        assert applied, "the odd shapes must get patches"


def jsonpointer_error():
    import jsonpointer

    return jsonpointer.JsonPointerException


def test_a_pod_template_without_spec_gets_it_created_first(tmp_path, podinject_bin):
    """`spce` instead of `spec`: the webhook would see a pod without spec and create /spec; the patch re-rooted
    at the template must create /spec/template/spec before adding under it."""
    path = tmp_path / "typo.json"
    path.write_text(json.dumps(ODD_SHAPES[0]))
    patch = h.run_podinject(["apply", "-f", str(path), "--config", str(CONFIG), "-o", "patch"]).json()
    paths = [op["path"] for op in patch]
    assert "/spec/template/spec" in paths, paths
    created = paths.index("/spec/template/spec")
    assert patch[created] == {"op": "add", "path": "/spec/template/spec", "value": {}}, patch[created]
    assert all(paths.index(p) > created for p in paths if p.startswith("/spec/template/spec/")), paths
    assert h.apply_patch(ODD_SHAPES[0], patch)["spec"]["template"]["spec"]["imagePullSecrets"], patch
