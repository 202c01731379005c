"""Every pod of the corpus (harness.corpus_files: the vendored subset, and ../shared/corpus when it is there),
admitted with fixtures/every-kind.yaml.

Each pod is wrapped the way the API server would send it (controllers' pods as the controller
creates them) and must come back with a JSON Patch that applies to the object exactly as sent,
keeps the pod valid for Kubernetes 1.37 (or adds no new error to an already invalid pod), changes
nothing it was not asked to, renders every template as the SPEC says, and is idempotent.
"""

from __future__ import annotations

import json

import pytest

import harness as h

CASES, UNPARSEABLE = h.corpus_pod_cases()

RULE_NAMES = ["app-env", "init-first", "init-last", "sidecar", "scheduling", "non-system"]
INJECTED_CONTAINERS = {"podinject-init-first", "podinject-init-last", "podinject-agent"}


def _env(container: dict) -> dict:
    return {e.get("name"): e for e in container.get("env") or [] if isinstance(e, dict)}


def _labels(pod: dict) -> dict:
    labels = (pod.get("metadata") or {}).get("labels")
    return labels if isinstance(labels, dict) else {}


def _admit_case(case: h.PodCase, pod: dict | None = None, uid: str | None = None):
    review = h.review_for(case, uid=uid, pod=pod)
    result = h.admit(review)
    assert result.returncode == 0, result.describe()
    answer = result.json()
    h.check_echo(answer, review)
    return review, answer, result


def test_every_corpus_file_yields_pods_or_is_unparseable():
    sources = {c.source for c in CASES}
    silent = [p.name for p in h.corpus_files("pods") if p.name not in sources and p.name not in UNPARSEABLE]
    assert CASES and not silent, silent


@pytest.mark.parametrize("case", CASES, ids=[c.case_id for c in CASES])
def test_corpus_pod(case: h.PodCase, podinject_bin, every_kind):
    review, answer, result = _admit_case(case)
    resp = answer["response"]
    assert resp["allowed"] is True, resp  # every rule of every-kind.yaml is onError: Allow
    ops = h.patch_of(answer)
    assert ops, f"no patch for a pod every rule matches\n{result.describe()}"

    # 1. The patch applies to the object exactly as sent.
    try:
        patched = h.apply_patch(case.pod, ops)
    except Exception as e:  # noqa: BLE001 - report which op failed
        raise AssertionError(f"patch does not apply: {e}\n{json.dumps(ops, indent=1)[:4000]}") from e

    # 2. Valid for Kubernetes 1.37 (strict), or at least no new error.
    before = h.pod_validation_errors(case.pod)
    after = h.pod_validation_errors(patched)
    assert not (after - before), (
        f"new validation errors {sorted(after - before)}\n" + "\n".join(h.explain_errors(patched, after)))

    # 3. The status annotation lists every matching rule; nothing fails on the corpus.
    status = h.status_annotation(patched, every_kind["statusAnnotation"])
    matching = [r["name"] for r in every_kind["rules"] if h.rule_matches_namespace(r, case.namespace)]
    applied = status.get("applied", [])
    failed = status.get("failed", [])
    assert failed == [], f"rules failed on a corpus pod: {failed}\nwarnings: {resp.get('warnings')}"
    assert sorted(applied) == sorted(matching), (applied, matching)
    assert not resp.get("warnings"), resp.get("warnings")

    # 4. What each rule injects, rendered as the SPEC says.
    _check_injections(case, patched)

    # 5. Everything podinject does not own comes back unchanged.
    inj = h.injected_by(every_kind)
    assert h.strip_injected(patched, inj, case.pod) == h.strip_injected(case.pod, inj, case.pod), \
        "fields podinject does not own changed"

    # 6. No secret leaves the pod spec.
    outside = json.dumps([resp.get("warnings"), resp.get("auditAnnotations"), status]) + result.err
    assert h.CANARY_CFG not in outside

    # 7. Idempotent: the patched pod, admitted again, gets no change.
    _, again, result2 = _admit_case(case, pod=patched, uid=h.stable_uid(case.case_id + "/second-pass"))
    ops2 = h.patch_of(again)
    assert not ops2, f"second pass changed the pod again: {ops2}\n{result2.describe()}"
    assert again["response"]["allowed"] is True


def _check_injections(case: h.PodCase, patched: dict) -> None:
    pod = case.pod
    spec = patched["spec"]
    labels = _labels(pod)
    annotations = h.annotations_of(pod)
    app = labels.get("app", "unlabelled")
    team = annotations.get("example.com/team", "none")

    own_names = {c.get("name") for c in (pod.get("spec") or {}).get("containers") or [] if isinstance(c, dict)}
    containers = spec.get("containers") or []
    for c in containers:
        if c.get("name") in INJECTED_CONTAINERS or not isinstance(c.get("name"), str):
            continue
        assert c.get("name") in own_names, c.get("name")
        env = _env(c)
        assert env["PODINJECT_APP"] == {"name": "PODINJECT_APP", "value": app}, env.get("PODINJECT_APP")
        assert env["PODINJECT_TEAM"]["value"] == team
        assert env["PODINJECT_NAMESPACE"]["value"] == case.namespace  # filled from the request
        assert env["PODINJECT_ADMITTED_BY"]["value"] == case.username
        assert env["PODINJECT_GREETING"]["value"] == f"hello $(PODINJECT_APP) from {case.namespace}"
        assert env["PODINJECT_CANARY"]["value"] == h.CANARY_CFG
        assert env["PODINJECT_NODE"] == {"name": "PODINJECT_NODE",
                                         "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
        assert env["PODINJECT_INIT_SEEN"]["value"] == "yes"
        assert {"prefix": "PODINJECT_CFG_", "configMapRef": {"name": "podinject-defaults", "optional": True}} \
            in (c.get("envFrom") or [])
        assert {"name": "podinject-config", "mountPath": "/etc/podinject-e2e", "readOnly": True} \
            in (c.get("volumeMounts") or [])
    assert containers and containers[-1].get("name") == "podinject-agent", [c.get("name") for c in containers]
    agent = containers[-1]
    assert _env(agent)["AGENT_POD_NAMESPACE"]["value"] == case.namespace
    assert agent["args"] == ["--listen=:9464", f"--api-key={h.CANARY_CFG}"]

    # init containers: First and Last across rules; env into the pod's own init containers only from
    # the rule with includeInitContainers.
    inits = spec.get("initContainers") or []
    names = [c.get("name") for c in inits]
    assert names[0] == "podinject-init-first" and names[-1] == "podinject-init-last", names
    assert _env(inits[0])["PODINJECT_MODE"]["value"] == app
    for c in inits[1:-1]:
        env = _env(c)
        assert "PODINJECT_INIT_SEEN" in env, (c.get("name"), env)
        assert "PODINJECT_APP" not in env, (c.get("name"), "app-env has includeInitContainers: false")

    vols = {v.get("name") for v in spec.get("volumes") or []}
    assert {"podinject-config", "podinject-work", "podinject-agent-run"} <= vols, vols
    assert {"name": "podinject-registry"} in (spec.get("imagePullSecrets") or [])
    tol_keys = {t.get("key") for t in spec.get("tolerations") or []}
    assert {"podinject.dev/dedicated", "podinject.dev/maintenance", "podinject.dev/spot"} <= tol_keys

    # nodeSelector: `scheduling` overrides (conflict Override), `init-last` keeps the pod's (Skip)
    sel = spec.get("nodeSelector") or {}
    own_sel = (pod.get("spec") or {}).get("nodeSelector") or {}
    assert sel.get("kubernetes.io/os") == "linux", sel
    assert sel.get("kubernetes.io/arch") == own_sel.get("kubernetes.io/arch", "amd64"), sel

    plabels = _labels(patched)
    assert plabels.get("podinject.dev/injected") == "true" and plabels.get("podinject.dev/app") == app
    assert plabels.get("podinject.dev/scheduling") == "standard"
    assert ("podinject.dev/non-system" in plabels) == (not case.namespace.startswith("kube-"))
    pann = h.annotations_of(patched)
    assert pann.get("podinject.dev/owner") == annotations.get("example.com/team", "platform")
    assert pann.get("podinject.dev/admitted-by") == case.username
    assert pann.get("podinject.dev/agent-version") == "3.1.4"


def test_unparseable_corpus_files_are_the_malformed_ones():
    # PyYAML cannot parse exactly the files PROVENANCE.md calls malformed YAML; podinject must refuse or
    # answer them cleanly (next test).
    assert UNPARSEABLE == h.malformed_corpus_files("pods"), UNPARSEABLE


@pytest.mark.parametrize("name", UNPARSEABLE)
def test_unparseable_manifest_inside_a_review(name, podinject_bin):
    text = h.corpus_file("pods", name).read_text()
    uid = h.stable_uid("unparseable/" + name)
    indented = "".join("      " + ln + "\n" for ln in text.splitlines())
    review = (f"apiVersion: {h.ADMISSION_V1}\nkind: AdmissionReview\nrequest:\n  uid: {uid}\n"
              f"  kind: {{group: '', version: v1, kind: Pod}}\n"
              f"  resource: {{group: '', version: v1, resource: pods}}\n"
              f"  namespace: default\n  operation: CREATE\n  userInfo: {{username: kubernetes-admin}}\n"
              f"  object:\n{indented}")
    r = h.admit(review.encode())
    assert r.returncode in (0, 2), r.describe()
    if r.returncode == 2:
        assert r.stdout == b"" and len(r.err.splitlines()) == 1 and r.err.strip(), r.describe()
    else:
        answer = r.json()
        assert answer["response"]["uid"] == uid


@pytest.mark.parametrize("path", h.corpus_files("pods"), ids=lambda p: p.name)
def test_bare_manifest_is_not_a_review(path, podinject_bin):
    """A manifest on stdin is not an AdmissionReview: exit 2, one line, nothing on stdout."""
    r = h.admit(path.read_bytes())
    assert r.returncode == 2, r.describe()
    assert r.stdout == b"", r.describe()
    lines = r.err.splitlines()
    assert len(lines) == 1 and lines[0].strip(), r.describe()
