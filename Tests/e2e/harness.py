"""Shared helpers for the podinject end-to-end tests.

Everything here is independent of podinject's implementation: it builds inputs the way a
Kubernetes API server would, runs the built binary as a subprocess, and checks its answers with
independent tools (python `jsonpatch`, `kubernetes-validate`'s strict 1.37 schemas).
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

REPO = Path(__file__).resolve().parents[2]
# The corpus of real manifests and reviews: the subset vendored in this repository, always; the shared
# corpus beside the repository (or $PODINJECT_CORPUS) in addition, when it is there.
VENDORED_CORPUS = REPO / "Tests" / "fixtures" / "corpus"
SHARED_CORPUS = Path(os.environ.get("PODINJECT_CORPUS", REPO.parent / "shared" / "corpus")).resolve()
CORPUS_FOLDERS = ("pods", "admissionreview")
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLES = REPO / "samples"
EVERY_KIND = FIXTURES / "every-kind.yaml"
BIN = Path(os.environ.get("PODINJECT_BIN", REPO / ".build" / "release" / "podinject"))

TIMEOUT = 10  # seconds; SPEC: the API server calls with ?timeout=10s
MAX_BODY = 3 * 1024 * 1024
CANARY_CFG = "CANARY-CFG-7f3a2b9e41d05c68"

ADMISSION_V1 = "admission.k8s.io/v1"
ADMISSION_V1BETA1 = "admission.k8s.io/v1beta1"

# Environment variables that would change podinject's mode, config or Event delivery.
_SCRUB = re.compile(
    r"^(PODINJECT_.*|KUBECONFIG|KUBERNETES_.*|POD_NAME|GATEWAY_INTERFACE|REQUEST_METHOD|CONTENT_TYPE|"
    r"CONTENT_LENGTH|HTTP_.*|Http_.*|SERVER_.*|SCRIPT_.*|QUERY_STRING|PATH_INFO|REMOTE_.*)$"
)


# --------------------------------------------------------------------------------------------
# YAML: load the way Kubernetes tooling does (timestamps stay strings; `=` is a plain string).
# --------------------------------------------------------------------------------------------


class K8sLoader(yaml.SafeLoader):
    pass


K8sLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
K8sLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def load_yaml_docs(text: str) -> list[Any]:
    return list(yaml.load_all(text, Loader=K8sLoader))


def load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=K8sLoader)


# --------------------------------------------------------------------------------------------
# Pods out of corpus manifests, as the controllers would create them.
# --------------------------------------------------------------------------------------------

_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery rand.SafeEncodeString alphabet


def _hash_suffix(seed: str, n: int = 10) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:n])


def stable_uid(seed: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "podinject-e2e:" + seed))


@dataclass
class PodCase:
    """One pod to admit: where it came from, the pod object and the request context."""

    case_id: str
    source: str
    pod: dict
    namespace: str
    username: str
    groups: list[str] = field(default_factory=list)


CONTROLLER_USERS = {
    "ReplicaSet": "system:serviceaccount:kube-system:replicaset-controller",
    "StatefulSet": "system:serviceaccount:kube-system:statefulset-controller",
    "DaemonSet": "system:serviceaccount:kube-system:daemon-set-controller",
    "Job": "system:serviceaccount:kube-system:job-controller",
}
CONTROLLER_GROUPS = ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"]
ADMIN_USER = "kubernetes-admin"
ADMIN_GROUPS = ["kubeadm:cluster-admins", "system:authenticated"]


def _pod_from_template(template: Any, namespace: str, owner: dict, *, name: str | None = None,
                       generate_name: str | None = None, extra_labels: dict | None = None) -> dict:
    template = copy.deepcopy(template) if isinstance(template, dict) else {}
    meta = template.get("metadata")
    meta = dict(meta) if isinstance(meta, dict) else {}
    if extra_labels:
        labels = meta.get("labels")
        labels = dict(labels) if isinstance(labels, dict) else {}
        labels.update(extra_labels)
        meta["labels"] = labels
    meta.pop("name", None)
    meta.pop("generateName", None)
    if name is not None:
        meta["name"] = name
    if generate_name is not None:
        meta["generateName"] = generate_name
    meta["namespace"] = namespace
    meta["ownerReferences"] = [owner]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta}
    pod["spec"] = template.get("spec") if "spec" in template else {}
    return pod


def _owner(api_version: str, kind: str, name: str, seed: str) -> dict:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name,
        "uid": stable_uid(seed + "/owner"),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def pods_from_object(obj: Any, seed: str) -> list[tuple[dict, str, str, list[str]]]:
    """Pods that the API server would see at CREATE for one manifest object.

    Returns (pod, namespace, username, groups) tuples; objects without a pod template give none.
    """
    if not isinstance(obj, dict):
        return []
    kind = obj.get("kind")
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    ns = meta.get("namespace") or "default"
    name = meta.get("name") or "unnamed"
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    if kind == "List":
        out = []
        for i, item in enumerate(obj.get("items") or []):
            out += pods_from_object(item, f"{seed}/items/{i}")
        return out
    if kind == "Pod":
        return [(copy.deepcopy(obj), ns, ADMIN_USER, ADMIN_GROUPS)]
    if kind in ("Deployment", "ReplicaSet"):
        if kind == "Deployment":
            h = _hash_suffix(seed)
            rs = f"{name}-{h}"
            extra = {"pod-template-hash": h}
        else:
            rs, extra = name, None
        owner = _owner("apps/v1", "ReplicaSet", rs, seed)
        pod = _pod_from_template(spec.get("template"), ns, owner, generate_name=f"{rs}-", extra_labels=extra)
        return [(pod, ns, CONTROLLER_USERS["ReplicaSet"], CONTROLLER_GROUPS)]
    if kind == "StatefulSet":
        owner = _owner("apps/v1", "StatefulSet", name, seed)
        extra = {
            "controller-revision-hash": f"{name}-{_hash_suffix(seed)}",
            "statefulset.kubernetes.io/pod-name": f"{name}-0",
            "apps.kubernetes.io/pod-index": "0",
        }
        pod = _pod_from_template(spec.get("template"), ns, owner, name=f"{name}-0", extra_labels=extra)
        return [(pod, ns, CONTROLLER_USERS["StatefulSet"], CONTROLLER_GROUPS)]
    if kind == "DaemonSet":
        owner = _owner("apps/v1", "DaemonSet", name, seed)
        extra = {"controller-revision-hash": _hash_suffix(seed), "pod-template-generation": "1"}
        pod = _pod_from_template(spec.get("template"), ns, owner, generate_name=f"{name}-", extra_labels=extra)
        return [(pod, ns, CONTROLLER_USERS["DaemonSet"], CONTROLLER_GROUPS)]
    if kind == "Job":
        owner = _owner("batch/v1", "Job", name, seed)
        job_uid = owner["uid"]
        extra = {"batch.kubernetes.io/controller-uid": job_uid, "batch.kubernetes.io/job-name": name,
                 "controller-uid": job_uid, "job-name": name}
        pod = _pod_from_template(spec.get("template"), ns, owner, generate_name=f"{name}-", extra_labels=extra)
        return [(pod, ns, CONTROLLER_USERS["Job"], CONTROLLER_GROUPS)]
    if kind == "CronJob":
        job_template = spec.get("jobTemplate") if isinstance(spec.get("jobTemplate"), dict) else {}
        job_spec = job_template.get("spec") if isinstance(job_template.get("spec"), dict) else {}
        job = f"{name}-29170560"  # scheduled-time suffix, as the CronJob controller names Jobs
        owner = _owner("batch/v1", "Job", job, seed)
        extra = {"batch.kubernetes.io/controller-uid": owner["uid"], "batch.kubernetes.io/job-name": job}
        pod = _pod_from_template(job_spec.get("template"), ns, owner, generate_name=f"{job}-", extra_labels=extra)
        return [(pod, ns, CONTROLLER_USERS["Job"], CONTROLLER_GROUPS)]
    return []


class CorpusParseError(Exception):
    pass


def pod_cases_from_file(path: Path) -> list[PodCase]:
    """All pods of one corpus file. Raises CorpusParseError when PyYAML itself cannot parse it."""
    try:
        docs = load_yaml_docs(path.read_text())
    except yaml.YAMLError as e:
        raise CorpusParseError(str(e)) from e
    cases = []
    for d, doc in enumerate(docs):
        for p, (pod, ns, user, groups) in enumerate(pods_from_object(doc, f"{path.name}#{d}")):
            cases.append(PodCase(f"{path.stem}#{d}.{p}", path.name, pod, ns, user, groups))
    return cases


def corpus_roots() -> list[Path]:
    """The vendored corpus, then the shared one when it is there."""
    return [VENDORED_CORPUS] + ([SHARED_CORPUS] if SHARED_CORPUS.is_dir() else [])


def corpus_files(sub: str) -> list[Path]:
    """Every file of one corpus folder, sorted by name: the vendored ones, and those of the shared corpus
    whose name is not vendored (a vendored file is a byte-for-byte copy of the shared one)."""
    by_name: dict[str, Path] = {}
    for root in corpus_roots():
        folder = root / sub
        for p in sorted(folder.iterdir()) if folder.is_dir() else []:
            if p.is_file():
                by_name.setdefault(p.name, p)
    return [by_name[name] for name in sorted(by_name)]


def corpus_file(sub: str, name: str) -> Path:
    """One corpus file by name (tests that need a particular file use vendored ones)."""
    (path,) = [p for p in corpus_files(sub) if p.name == name]
    return path


def corpus_pod_cases() -> tuple[list[PodCase], list[str]]:
    """Every pod of the corpus, as its controller would create it, and the names of the files PyYAML
    cannot parse."""
    cases: list[PodCase] = []
    unparseable: list[str] = []
    for path in corpus_files("pods"):
        try:
            cases += pod_cases_from_file(path)
        except CorpusParseError:
            unparseable.append(path.name)
    return cases, unparseable


@dataclass
class ProvenanceRow:
    file: str  # e.g. "pods/x.yaml"
    repository: str  # owner/name
    licence: str  # an SPDX identifier
    blob: str  # `git hash-object` of the file
    notes: str


def provenance(root: Path) -> dict[str, ProvenanceRow]:
    """The Files table of a corpus's PROVENANCE.md, by file path relative to the corpus."""
    rows = {}
    for line in (root / "PROVENANCE.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 8 and cells[0].startswith("`") and "/" in cells[0]:
            file = cells[0].strip("`")
            rows[file] = ProvenanceRow(file, cells[1], cells[4], cells[6].strip("`"), cells[7])
    return rows


def malformed_corpus_files(sub: str) -> list[str]:
    """The names of the files of one corpus folder that PROVENANCE.md calls malformed YAML (written when
    they were collected, from their upstream purpose, not from any parser's output)."""
    notes: dict[str, str] = {}
    for root in corpus_roots():
        for row in provenance(root).values():
            notes.setdefault(row.file, row.notes)
    return sorted(Path(f).name for f, n in notes.items() if f.startswith(sub + "/") and "malformed YAML" in n)


def git_blob_id(data: bytes) -> str:
    """What `git hash-object` prints for a file holding `data`."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def kustomize(directory: Path) -> list[dict]:
    """`kubectl kustomize directory`, as documents. Without a kubectl able to render it, the test fails
    saying why (scripts/setup installs one, or stops with the same reason)."""
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is not on PATH: scripts/setup installs it (Debian's kubernetes-client, or any kubectl 1.21+)"
    proc = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (
        f"{kubectl} kustomize {directory} failed; the tests need kubectl 1.21 or later (kustomize v4+):\n{proc.stderr}")
    docs = [d for d in load_yaml_docs(proc.stdout) if d is not None]
    assert docs, f"kubectl kustomize {directory} rendered nothing"
    return docs


# --------------------------------------------------------------------------------------------
# AdmissionReviews
# --------------------------------------------------------------------------------------------


def make_review(pod: dict, *, namespace: str, uid: str, username: str = ADMIN_USER,
                groups: list[str] | None = None, operation: str = "CREATE",
                api_version: str = ADMISSION_V1, dry_run: bool = False) -> dict:
    req: dict[str, Any] = {
        "uid": uid,
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
        "requestResource": {"group": "", "version": "v1", "resource": "pods"},
        "namespace": namespace,
        "operation": operation,
        "userInfo": {"username": username, "uid": stable_uid("user/" + username),
                     "groups": list(groups if groups is not None else ADMIN_GROUPS)},
        "object": pod,
        "oldObject": None,
        "dryRun": dry_run,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
    }
    name = (pod.get("metadata") or {}).get("name") if isinstance(pod, dict) else None
    if name:
        req["name"] = name
    return {"apiVersion": api_version, "kind": "AdmissionReview", "request": req}


def review_for(case: PodCase, uid: str | None = None, pod: dict | None = None) -> dict:
    return make_review(pod if pod is not None else case.pod, namespace=case.namespace,
                       uid=uid or stable_uid(case.case_id), username=case.username, groups=case.groups)


# --------------------------------------------------------------------------------------------
# Running the binary
# --------------------------------------------------------------------------------------------


@dataclass
class Result:
    args: list[str]
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def out(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    @property
    def err(self) -> str:
        return self.stderr.decode("utf-8", "replace")

    def describe(self) -> str:
        return (f"$ {' '.join(self.args)}\nexit {self.returncode}\n--- stdout ({len(self.stdout)} bytes)\n"
                f"{self.out[:3000]}\n--- stderr ({len(self.stderr)} bytes)\n{self.err[:3000]}")

    def json(self) -> Any:
        return json.loads(self.stdout)


def clean_env(extra: dict[str, str] | None = None, home: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not _SCRUB.match(k)}
    if home is not None:
        env["HOME"] = str(home)
    if extra:
        env.update(extra)
    return env


def run_podinject(args: Iterable[str] = (), stdin: bytes | str | None = b"", *, env: dict[str, str] | None = None,
                  timeout: float = TIMEOUT, cwd: Path | None = None) -> Result:
    if isinstance(stdin, str):
        stdin = stdin.encode()
    argv = [str(BIN), *args]
    try:
        proc = subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout,
                              env=env if env is not None else clean_env(), cwd=cwd or REPO)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"podinject hung (> {timeout}s): {' '.join(argv)}") from e
    return Result(argv, proc.returncode, proc.stdout, proc.stderr)


def review_bytes(review: Any) -> bytes:
    return json.dumps(review, separators=(",", ":"), ensure_ascii=False).encode()


def admit(review: Any, config: Path = EVERY_KIND, *, env: dict[str, str] | None = None,
          extra_args: Iterable[str] = ()) -> Result:
    body = review if isinstance(review, (bytes, str)) else review_bytes(review)
    return run_podinject(["--config", str(config), *extra_args], body, env=env)


# --------------------------------------------------------------------------------------------
# Checking answers
# --------------------------------------------------------------------------------------------


def response_of(answer: dict) -> dict:
    assert isinstance(answer, dict), answer
    resp = answer.get("response")
    assert isinstance(resp, dict), f"answer has no response object: {answer}"
    return resp


def check_echo(answer: dict, review: dict) -> None:
    """SPEC §6: the response always echoes request.uid, apiVersion and kind."""
    assert answer.get("apiVersion") == review.get("apiVersion", answer.get("apiVersion")), answer.get("apiVersion")
    assert answer.get("kind") == "AdmissionReview", answer.get("kind")
    resp = response_of(answer)
    assert resp.get("uid") == review["request"]["uid"], (resp.get("uid"), review["request"]["uid"])
    assert isinstance(resp.get("allowed"), bool), resp


def patch_of(answer: dict) -> list | None:
    """The decoded JSON Patch of an answer, or None when it carries none."""
    resp = response_of(answer)
    if resp.get("patch") in (None, ""):
        assert resp.get("patchType") in (None, "JSONPatch"), resp
        return None
    assert resp.get("patchType") == "JSONPatch", resp.get("patchType")
    raw = base64.b64decode(resp["patch"], validate=True)
    ops = json.loads(raw)
    assert isinstance(ops, list), ops
    for op in ops:
        assert op.get("op") in ("add", "remove", "replace", "move", "copy", "test"), op
        assert isinstance(op.get("path"), str) and (op["path"] == "" or op["path"].startswith("/")), op
    return ops


def apply_patch(obj: Any, ops: list | None) -> Any:
    import jsonpatch

    if not ops:
        return copy.deepcopy(obj)
    return jsonpatch.JsonPatch(ops).apply(copy.deepcopy(obj), in_place=False)


def annotations_of(pod: dict) -> dict:
    meta = pod.get("metadata") or {}
    ann = meta.get("annotations")
    return ann if isinstance(ann, dict) else {}


def status_annotation(pod: dict, key: str = "podinject.dev/status") -> dict:
    raw = annotations_of(pod).get(key)
    assert isinstance(raw, str), f"status annotation {key!r} missing or not a string: {raw!r}"
    status = json.loads(raw)
    assert isinstance(status, dict), status
    assert isinstance(status.get("applied", []), list), status
    assert all(isinstance(r, str) for r in status.get("applied", [])), status
    failed = status.get("failed", [])
    assert isinstance(failed, list), status
    for f in failed:
        assert isinstance(f, dict) and isinstance(f.get("rule"), str) and isinstance(f.get("reason"), str), status
    return status


def stderr_json_lines(result: Result) -> list[dict]:
    lines = [ln for ln in result.err.splitlines() if ln.strip()]
    out = []
    for ln in lines:
        try:
            out.append(json.loads(ln))
        except json.JSONDecodeError:
            raise AssertionError(f"stderr line is not JSON: {ln!r}\n{result.describe()}")
    return out


# --------------------------------------------------------------------------------------------
# kubernetes-validate, strict, Kubernetes 1.37 — every error, not just the first
# --------------------------------------------------------------------------------------------

_validator = None


def _pod_validator():
    global _validator
    if _validator is None:
        import jsonschema
        from kubernetes_validate import utils
        from referencing import Registry, Resource

        schema_dir = "kubernetes-json-schema/v1.37.0-local-strict"
        schema = utils.schema_contents(f"{schema_dir}/pod-v1.json", "1.37.0")
        defs = utils.schema_contents(f"{schema_dir}/_definitions.json", "1.37.0")
        registry = Resource.from_contents(schema) @ Registry()
        registry = Resource.from_contents(defs) @ registry
        _validator = jsonschema.validators.Draft202012Validator(schema, registry=registry)
    return _validator


def _element_key(container: Any, idx: Any) -> str:
    if isinstance(idx, int) and isinstance(container, list) and idx < len(container):
        item = container[idx]
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            return f"[name={item['name']}]"
        return f"[#{idx}]"
    return str(idx)


def pod_validation_errors(pod: dict) -> set[tuple[str, str]]:
    """Strict Kubernetes 1.37 schema errors of a Pod, as (path, validator) pairs.

    Paths name list items by their `name` where they have one, so an init container inserted in
    front does not make the errors of the pod's own init containers look new. The document is
    validated against the core/v1 Pod schema whatever apiVersion/kind it claims.
    """
    doc = copy.deepcopy(pod)
    errors = set()
    for err in _pod_validator().iter_errors(doc):
        node: Any = doc
        parts = []
        for p in err.absolute_path:
            parts.append(_element_key(node, p))
            try:
                node = node[p]
            except (KeyError, IndexError, TypeError):
                node = None
        errors.add(("/".join(parts), err.validator))
    return errors


def explain_errors(pod: dict, keys: set[tuple[str, str]]) -> list[str]:
    msgs = []
    for err in _pod_validator().iter_errors(copy.deepcopy(pod)):
        msgs.append(f"{'/'.join(str(p) for p in err.absolute_path)}: {err.validator}: {err.message[:200]}")
    return msgs


# --------------------------------------------------------------------------------------------
# What a config injects, to compare the untouched rest of the pod
# --------------------------------------------------------------------------------------------


@dataclass
class Injected:
    env: set = field(default_factory=set)
    env_from: list = field(default_factory=list)
    mount_names: set = field(default_factory=set)
    mount_paths: set = field(default_factory=set)
    containers: set = field(default_factory=set)
    volumes: set = field(default_factory=set)
    labels: set = field(default_factory=set)
    annotations: set = field(default_factory=set)
    pull_secrets: set = field(default_factory=set)
    toleration_keys: set = field(default_factory=set)
    node_selector: set = field(default_factory=set)


def injected_by(config: dict) -> Injected:
    inj = Injected()
    inj.annotations.add(config.get("statusAnnotation", "podinject.dev/status"))
    for rule in config.get("rules") or []:
        inj.env |= {e["name"] for e in rule.get("env") or []}
        inj.env_from += list(rule.get("envFrom") or [])
        inj.mount_names |= {m["name"] for m in rule.get("volumeMounts") or []}
        inj.mount_paths |= {m["mountPath"] for m in rule.get("volumeMounts") or []}
        inj.containers |= {c["name"] for c in (rule.get("initContainers") or []) + (rule.get("sidecars") or [])}
        inj.volumes |= {v["name"] for v in rule.get("volumes") or []}
        inj.labels |= set((rule.get("labels") or {}).keys())
        inj.annotations |= set((rule.get("annotations") or {}).keys())
        inj.pull_secrets |= {s["name"] for s in rule.get("imagePullSecrets") or []}
        inj.toleration_keys |= {t.get("key") for t in rule.get("tolerations") or []}
        inj.node_selector |= set((rule.get("nodeSelector") or {}).keys())
    return inj


def _restore_absent(parent: dict, key: str, original_parent: dict | None) -> None:
    """An emptied list/map goes back to what the original had there: nothing, or null."""
    if original_parent is None or key not in original_parent:
        del parent[key]
    elif original_parent[key] is None:
        parent[key] = None


def _strip_list(parent: dict, key: str, keep, original_parent: dict | None) -> None:
    if not isinstance(parent, dict) or not isinstance(parent.get(key), list):
        return
    parent[key] = [x for x in parent[key] if keep(x)]
    if not parent[key]:
        _restore_absent(parent, key, original_parent)


def _strip_map(parent: dict, key: str, drop: set, original_parent: dict | None) -> None:
    if not isinstance(parent, dict) or not isinstance(parent.get(key), dict):
        return
    parent[key] = {k: v for k, v in parent[key].items() if k not in drop}
    if not parent[key]:
        _restore_absent(parent, key, original_parent)


def strip_injected(pod: dict, inj: Injected, original: dict | None = None) -> dict:
    """The pod without anything the config could have injected.

    Containers created or emptied only by injection are dropped when `original` lacked them.
    """
    pod = copy.deepcopy(pod)
    orig_meta = (original or {}).get("metadata") if original is not None else None
    orig_spec = (original or {}).get("spec") if original is not None else None
    meta = pod.get("metadata")
    if isinstance(meta, dict):
        _strip_map(meta, "labels", inj.labels, orig_meta if isinstance(orig_meta, dict) else None)
        _strip_map(meta, "annotations", inj.annotations, orig_meta if isinstance(orig_meta, dict) else None)
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return pod
    ospec = orig_spec if isinstance(orig_spec, dict) else None
    for ckey in ("initContainers", "containers"):
        _strip_list(spec, ckey, lambda c: not (isinstance(c, dict) and c.get("name") in inj.containers), ospec)
        ocontainers = {}
        if ospec and isinstance(ospec.get(ckey), list):
            ocontainers = {c.get("name"): c for c in ospec[ckey] if isinstance(c, dict)}
        for c in spec.get(ckey) or []:
            if not isinstance(c, dict):
                continue
            oc = ocontainers.get(c.get("name")) if original is not None else None
            _strip_list(c, "env", lambda e: not (isinstance(e, dict) and e.get("name") in inj.env), oc)
            _strip_list(c, "envFrom", lambda e: e not in inj.env_from, oc)
            _strip_list(c, "volumeMounts", lambda m: not (isinstance(m, dict) and (
                m.get("name") in inj.mount_names or m.get("mountPath") in inj.mount_paths)), oc)
    _strip_list(spec, "volumes", lambda v: not (isinstance(v, dict) and v.get("name") in inj.volumes), ospec)
    _strip_list(spec, "imagePullSecrets",
                lambda s: not (isinstance(s, dict) and s.get("name") in inj.pull_secrets), ospec)
    _strip_list(spec, "tolerations",
                lambda t: not (isinstance(t, dict) and t.get("key") in inj.toleration_keys), ospec)
    _strip_map(spec, "nodeSelector", inj.node_selector, ospec)
    return pod


# --------------------------------------------------------------------------------------------
# Rules: which of a config's rules match a pod (only what the e2e configs use)
# --------------------------------------------------------------------------------------------


def rule_matches_namespace(rule: dict, namespace: str) -> bool:
    match = rule.get("match") or {}
    include = match.get("namespaces") or ["*"]
    exclude = match.get("excludeNamespaces") or []
    return any(fnmatch.fnmatchcase(namespace, g) for g in include) and \
        not any(fnmatch.fnmatchcase(namespace, g) for g in exclude)


# --------------------------------------------------------------------------------------------
# CGI
# --------------------------------------------------------------------------------------------


@dataclass
class CGIResponse:
    status: int
    reason: str
    headers: dict[str, str]
    header_block: bytes
    body: bytes


def parse_cgi(stdout: bytes) -> CGIResponse:
    sep = stdout.find(b"\r\n\r\n")
    assert sep >= 0, f"no CRLF CRLF ending a CGI header block in {stdout[:300]!r}"
    block = stdout[:sep + 2]
    body = stdout[sep + 4:]
    lines = block.split(b"\r\n")[:-1]
    assert all(b"\n" not in ln and b"\r" not in ln for ln in lines), f"bare LF/CR in header block {block!r}"
    headers: dict[str, str] = {}
    for ln in lines:
        name, colon, value = ln.decode("latin-1").partition(":")
        assert colon and name and name == name.strip(), f"malformed CGI header line {ln!r}"
        headers[name.lower()] = value.strip()
    assert "status" in headers, f"no Status header in {block!r}"
    m = re.fullmatch(r"(\d{3})(?: (.*))?", headers["status"])
    assert m, f"bad Status header {headers['status']!r}"
    return CGIResponse(int(m.group(1)), m.group(2) or "", headers, block, body)


def cgi_env(method: str = "POST", content_type: str | None = "application/json",
            content_length: int | None = None, extra: dict[str, str] | None = None,
            home: Path | None = None) -> dict[str, str]:
    env = {
        "GATEWAY_INTERFACE": "CGI/1.1",
        "REQUEST_METHOD": method,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SCRIPT_NAME": "/mutate",
        "REQUEST_URI": "/mutate?timeout=10s",
        "QUERY_STRING": "timeout=10s",
        "SERVER_NAME": "podinject.podinject.svc",
        "SERVER_PORT": "8443",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTPS": "on",
    }
    if content_type is not None:
        env["CONTENT_TYPE"] = content_type
    if content_length is not None:
        env["CONTENT_LENGTH"] = str(content_length)
    if extra:
        env.update(extra)
    return clean_env(env, home=home)


def config_copy(src: Path, dest_dir: Path, name: str = "config.yaml", **events: Any) -> Path:
    """A copy of a config with its outbox (and any other `events` keys given) under dest_dir."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    cfg = load_yaml(src)
    ev = dict(cfg.get("events") or {})
    ev["outbox"] = str(dest_dir / "outbox")
    ev.update(events)
    cfg["events"] = ev
    path = dest_dir / name
    path.write_text(json.dumps(cfg, indent=1))  # JSON is YAML; PyYAML would leave y/n unquoted (booleans)
    return path


def write_kubeconfig(path: Path, port: int, *, token: str = "e2e-token-not-secret",
                     namespace: str | None = None) -> Path:
    """A kubeconfig for an API server at https://127.0.0.1:`port` (TLS unverified), with `token` and,
    when given, a context namespace; with the `closed_port` fixture, Events wait in the outbox."""
    context: dict[str, str] = {"cluster": "c", "user": "u"}
    if namespace is not None:
        context["namespace"] = namespace
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{port}",
                                               "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": "c", "context": context}],
    }))
    return path


def stop_process(proc: subprocess.Popen) -> None:
    """Stops `proc`, and its whole process group when it leads one (fcgiwrap's prefork children
    outlive a signal to their parent alone)."""
    leads_group = os.getpgid(proc.pid) == proc.pid if proc.poll() is None else False
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if leads_group:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
