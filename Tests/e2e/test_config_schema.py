"""What check-config accepts can never make the API server refuse a pod (issue "1 of 5").

- The generated schema table (Sources/PodInject/Configuration/CoreV1Schema+Generated.swift) is what
  scripts/core_v1_schema.py makes from the Kubernetes 1.37 schema that kubernetes-validate ships.
- Every field of that table, given a wrongly typed (or, for integers, out-of-range) value, is refused
  by check-config with a `file:line:column` diagnostic at that field's key.
- The cases the issue reported are refused, each at its key.
- Generated configurations: every one check-config accepts, applied to every corpus pod, gives pods
  that pass the strict Kubernetes 1.37 schema (no error the pod did not already have).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import harness as h

SCRIPT = h.REPO / "scripts" / "core_v1_schema.py"
_spec = importlib.util.spec_from_file_location("core_v1_schema", SCRIPT)
schema = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(schema)
TABLE = schema.load()

DIAGNOSTIC = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<column>\d+): (?P<message>.+)$", re.M)


def check_config(path: Path) -> tuple[int, list[dict]]:
    r = h.run_podinject(["check-config", "--config", str(path)])
    found = [m.groupdict() for m in DIAGNOSTIC.finditer(r.stderr.decode())]
    return r.returncode, found


def write_config(tmp_path: Path, rules: list[dict], name: str = "config.yaml") -> Path:
    path = tmp_path / name
    doc = {"apiVersion": "podinject.dev/v1alpha1", "kind": "InjectionConfig", "rules": rules}
    path.write_text(yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=1000))
    return path


def key_at(text: str, line: int, column: int) -> str:
    """The mapping key (or list item) that starts at a 1-based line and column of `text`."""
    rest = text.splitlines()[line - 1][column - 1:]
    return re.match(r"-?\s*([^:\s]*)", rest).group(1)


# ---------------------------------------------------------------------------------------------
# The table and the schema
# ---------------------------------------------------------------------------------------------


def test_generated_table_matches_the_schema():
    r = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_table_covers_what_a_rule_injects():
    for root in schema.ROOTS:
        assert root in TABLE, root
    assert len(TABLE) >= 80, len(TABLE)
    assert sum(len(fields) for _, fields in TABLE.values()) >= 350


# ---------------------------------------------------------------------------------------------
# Every field, wrongly typed
# ---------------------------------------------------------------------------------------------

# A minimal valid object of each root type, and where each root is injected in a rule.
ROOT_PLACES = {
    "Container": ("sidecars", {"name": "c", "image": "busybox:1.36"}),
    "Volume": ("volumes", {"name": "v", "emptyDir": {}}),
    "Toleration": ("tolerations", {"operator": "Exists"}),
    "EnvVar": ("env", {"name": "E"}),
    "EnvFromSource": ("envFrom", {"configMapRef": {"name": "cm"}}),
    "VolumeMount": ("volumeMounts", {"name": "v", "mountPath": "/v"}),
    "LocalObjectReference": ("imagePullSecrets", {"name": "s"}),
}

REQUIRED_SAMPLE = {"string": "x", "boolean": True, "int32": 1, "int64": 1, "number": 1, "quantity": "1",
                   "intOrString": 1, "time": "2026-01-01T00:00:00Z", "anyObject": {}}


def minimal(type_name: str, depth: int = 0) -> dict:
    required, fields = TABLE[type_name]
    obj = {}
    for f in fields:
        if f.name in required:
            obj[f.name] = sample(f, depth + 1)
    return obj


def sample(f, depth: int):
    one = minimal(f.value[1], depth) if isinstance(f.value, tuple) else REQUIRED_SAMPLE[f.value]
    return {"list": [one], "map": {"k": one}}.get(f.layout, one)


def paths_to_types() -> dict[str, list[tuple[str, str]]]:
    """For every type, the shortest chain of (type, field) from a root that reaches it."""
    best: dict[str, list[tuple[str, str]]] = {root: [] for root in ROOT_PLACES}
    queue = list(ROOT_PLACES)
    while queue:
        t = queue.pop(0)
        for f in TABLE[t][1]:
            if isinstance(f.value, tuple) and f.value[1] not in best:
                best[f.value[1]] = best[t] + [(t, f.name)]
                queue.append(f.value[1])
    return best


def wrong_values(f) -> list:
    if f.layout == "list":
        return ["not-a-list"]
    if f.layout == "map":
        return [["not", "a", "map"]]
    kind = f.value if not isinstance(f.value, tuple) else "object"
    return {
        "string": [12345],
        "time": [12345],
        "boolean": ["true"],
        "int32": ["8686", 2147483648],
        "int64": ["8686", 1.5],
        "number": ["many"],
        "quantity": ["ten", [1]],
        "intOrString": [True, 2147483648],
        "anyObject": ["x"],
        "object": ["x"],
    }[kind]


def field_cases():
    """(case id, rule) pairs: one wrong value in one field of one type, everything else minimal."""
    chains = paths_to_types()
    cases = []
    for type_name, (_, fields) in TABLE.items():
        chain = chains[type_name]
        for f in fields:
            for n, bad in enumerate(wrong_values(f)):
                root = chain[0][0] if chain else type_name
                list_key, base = ROOT_PLACES[root]
                top = copy.deepcopy(base)
                node = top
                for parent, member in chain:
                    spec = next(x for x in TABLE[parent][1] if x.name == member)
                    child = minimal(spec.value[1])
                    node[member] = [child] if spec.layout == "list" else ({"k": child} if spec.layout == "map" else child)
                    node = child
                node[f.name] = bad
                cases.append((f"{type_name}.{f.name}#{n}", f.name, {list_key: [top]}))
    return cases


FIELD_CASES = field_cases()


def test_every_field_of_the_table_refuses_a_wrong_value(tmp_path, podinject_bin):
    # At least one wrong value for every field of every type.
    assert len({c[0].split('#')[0] for c in FIELD_CASES}) == sum(len(f) for _, f in TABLE.values())
    rules = [dict(name=f"f{i}", **body) for i, (_, _, body) in enumerate(FIELD_CASES)]
    path = write_config(tmp_path, rules)
    text = path.read_text()
    rc, diagnostics = check_config(path)
    assert rc == 1
    # Each rule starts at its `- name: fN` line; a case's diagnostics lie within its rule.
    starts = [i + 1 for i, line in enumerate(text.splitlines()) if re.match(r"^- name: f\d+$", line)]
    assert len(starts) == len(FIELD_CASES)
    by_rule: dict[int, list[dict]] = {}
    for d in diagnostics:
        rule = max(i for i, s in enumerate(starts) if s <= int(d["line"]))
        by_rule.setdefault(rule, []).append(d)
    missed = []
    for i, (case, field, _) in enumerate(FIELD_CASES):
        keys = [key_at(text, int(d["line"]), int(d["column"])) for d in by_rule.get(i, [])]
        if field not in keys:
            missed.append(f"{case}: {by_rule.get(i)}")
    assert not missed, f"{len(missed)} of {len(FIELD_CASES)} not refused at their key:\n" + "\n".join(missed[:40])


# ---------------------------------------------------------------------------------------------
# The reported cases, each at its key
# ---------------------------------------------------------------------------------------------

SIDE = {"name": "shipper", "image": "fluent/fluent-bit:3.0"}
REPORTED = [
    ("readOnly a string", {"sidecars": [dict(SIDE, volumeMounts=[{"name": "v", "mountPath": "/v", "readOnly": "true"}])],
                           "volumes": [{"name": "v", "emptyDir": {}}]}, "readOnly"),
    ("args a map", {"sidecars": [dict(SIDE, args={"a": "b"})]}, "args"),
    ("containerPort a string", {"sidecars": [dict(SIDE, ports=[{"containerPort": "8686"}])]}, "containerPort"),
    ("emptyDir yes", {"volumes": [{"name": "v", "emptyDir": True}]}, "emptyDir"),
    ("cpu ten", {"sidecars": [dict(SIDE, resources={"limits": {"cpu": "ten"}})]}, "cpu"),
    ("operator Equals", {"tolerations": [{"key": "k", "operator": "Equals"}]}, "operator"),
    ("two volume sources", {"volumes": [{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}]}, "hostPath"),
    ("value and valueFrom", {"env": [{"name": "A", "value": "x", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]},
     "valueFrom"),
    ("two volumes named varlog", {"volumes": [{"name": "varlog", "emptyDir": {}}, {"name": "varlog", "emptyDir": {}}]}, "name"),
    ("port out of range", {"sidecars": [dict(SIDE, ports=[{"containerPort": 70000}])]}, "containerPort"),
    ("two env vars of one name", {"env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]}, "name"),
    ("two mounts on one path", {"volumeMounts": [{"name": "a", "mountPath": "/m"}, {"name": "b", "mountPath": "/m"}]},
     "mountPath"),
    ("init container and sidecar of one name", {"initContainers": [dict(SIDE)], "sidecars": [dict(SIDE)]}, "name"),
    ("two ports of one name", {"sidecars": [dict(SIDE, ports=[{"containerPort": 1, "name": "p"},
                                                              {"containerPort": 2, "name": "p"}])]}, "name"),
    ("env names repeated in a sidecar", {"sidecars": [dict(SIDE, env=[{"name": "A"}, {"name": "A"}])]}, "name"),
    ("restartPolicy on a sidecar", {"sidecars": [dict(SIDE, restartPolicy="Always")]}, "restartPolicy"),
    ("init restartPolicy Never", {"initContainers": [dict(SIDE, restartPolicy="Never")]}, "restartPolicy"),
    ("probe on a plain init container", {"initContainers": [dict(SIDE, readinessProbe={"tcpSocket": {"port": 80}})]},
     "readinessProbe"),
    ("probe with two handlers", {"sidecars": [dict(SIDE, livenessProbe={"tcpSocket": {"port": 80}, "exec": {"command": ["x"]}})]},
     "exec"),
    ("memory request over limit", {"sidecars": [dict(SIDE, resources={"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}})]},
     "memory"),
    ("unknown resource name", {"sidecars": [dict(SIDE, resources={"limits": {"gpu": "1"}})]}, "gpu"),
    ("valueFrom with two sources", {"env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"},
                                                                      "secretKeyRef": {"name": "s", "key": "k"}}}]},
     "secretKeyRef"),
    ("envFrom with no source", {"envFrom": [{"prefix": "P_"}]}, "prefix"),  # the item itself, where it starts
    ("tolerationSeconds without NoExecute", {"tolerations": [{"key": "k", "operator": "Exists", "tolerationSeconds": 5}]},
     "tolerationSeconds"),
    ("Exists with a value", {"tolerations": [{"key": "k", "operator": "Exists", "value": "v"}]}, "value"),
    ("subPath escaping", {"volumeMounts": [{"name": "v", "mountPath": "/m", "subPath": "../etc"}]}, "subPath"),
    ("file mode too wide", {"volumes": [{"name": "v", "configMap": {"name": "cm", "defaultMode": 4096}}]}, "defaultMode"),
    ("downward API field unknown", {"env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "spec.bogus"}}}]},
     "fieldPath"),
    ("image with a space", {"sidecars": [dict(SIDE, image=" busybox")]}, "image"),
    ("imagePullPolicy Sometimes", {"sidecars": [dict(SIDE, imagePullPolicy="Sometimes")]}, "imagePullPolicy"),
    ("port name too long", {"sidecars": [dict(SIDE, ports=[{"containerPort": 1, "name": "a-very-long-port-name"}])]},
     "name"),
    ("1.0 as an integer", {"sidecars": [dict(SIDE, ports=[{"containerPort": 1.0}])]}, "containerPort"),
    ("seccomp Localhost without a profile", {"sidecars": [dict(SIDE, securityContext={"seccompProfile": {"type": "Localhost"}})]},
     "seccompProfile"),
]


@pytest.mark.parametrize("case", REPORTED, ids=[c[0] for c in REPORTED])
def test_reported_cases_are_refused_at_their_key(case, tmp_path, podinject_bin):
    _, body, key = case
    path = write_config(tmp_path, [dict(name="bad", **body), {"name": "fine", "labels": {"a": "b"}}])
    text = path.read_text()
    rc, diagnostics = check_config(path)
    assert rc == 1, diagnostics
    assert diagnostics, "no file:line:column diagnostic"
    assert all(d["file"] == str(path) for d in diagnostics)
    keys = [key_at(text, int(d["line"]), int(d["column"])) for d in diagnostics]
    assert key in keys, (diagnostics, keys)
    assert "file:0" not in json.dumps(diagnostics)


def test_check_config_names_a_directory_and_never_prints_line_zero(tmp_path, podinject_bin):
    r = h.run_podinject(["check-config", "--config", str(tmp_path)])
    assert r.returncode == 1
    err = r.stderr.decode()
    assert err.strip() == f"{tmp_path}: cannot read: is a directory, not a file", err
    r = h.run_podinject(["check-config", "--config", str(tmp_path / "absent.yaml")])
    assert r.returncode == 1 and ":0:" not in r.stderr.decode() and "absent.yaml: cannot read" in r.stderr.decode()


# ---------------------------------------------------------------------------------------------
# At admission: an invalid rule fails alone, with ConfigInvalid and its own policy
# ---------------------------------------------------------------------------------------------


def test_an_invalid_rule_fails_alone_with_its_own_policy(tmp_path, podinject_bin):
    path = write_config(tmp_path, [
        {"name": "broken", "onError": "Allow", "sidecars": [dict(SIDE, ports=[{"containerPort": "8686"}])]},
        {"name": "labels", "labels": {"team": "a"}},
    ])
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
           "spec": {"containers": [{"name": "app", "image": "nginx"}]}}
    review = h.make_review(pod, namespace="default", uid="0b4f5d5e-0000-4000-8000-000000000001")
    r = h.admit(review, config=path)
    assert r.returncode == 0, r.describe()
    resp = r.json()["response"]
    assert resp["allowed"] is True
    patched = h.apply_patch(pod, h.patch_of(r.json()))
    assert patched["metadata"]["labels"] == {"team": "a"}
    assert [c["name"] for c in patched["spec"]["containers"]] == ["app"]
    status = h.status_annotation(patched)
    assert status == {"applied": ["labels"], "failed": [{"rule": "broken", "reason": "ConfigInvalid"}]}
    assert any('rule "broken" not applied: ConfigInvalid' in w for w in resp["warnings"])
    assert resp["auditAnnotations"]["failed-rules"] == "broken"
    log = h.stderr_json_lines(r)[-1]
    assert log["failed"] == [{"rule": "broken", "reason": "ConfigInvalid"}]

    deny = write_config(tmp_path, [
        {"name": "broken", "onError": "Deny", "volumes": [{"name": "v", "emptyDir": True}]},
        {"name": "labels", "labels": {"team": "a"}},
    ], "deny.yaml")
    r = h.admit(review, config=deny)
    resp = r.json()["response"]
    assert resp["allowed"] is False and resp["status"]["code"] == 403
    assert "broken" in resp["status"]["message"] and "ConfigInvalid" in resp["status"]["message"]


# ---------------------------------------------------------------------------------------------
# Generated configurations against every corpus pod
# ---------------------------------------------------------------------------------------------

CORPUS_CASES, _ = h.corpus_pod_cases()

GENERATED = 520
SEED = 20261205


class Gen:
    """Random rules built from the schema table: valid values by field kind, known enums, and now and
    then a deliberate mistake (a wrong type, an out-of-range number, a semantic slip)."""

    ENUMS = {
        ("Container", "imagePullPolicy"): ["Always", "IfNotPresent", "Never"],
        ("Container", "terminationMessagePolicy"): ["File", "FallbackToLogsOnError"],
        ("ContainerPort", "protocol"): ["TCP", "UDP", "SCTP"],
        ("VolumeMount", "mountPropagation"): ["None", "HostToContainer"],
        ("Toleration", "effect"): ["NoSchedule", "PreferNoSchedule", "NoExecute"],
        ("SecurityContext", "procMount"): ["Default"],
    }
    SAFE_SCALARS = {
        ("Container", "stdin"), ("Container", "tty"), ("Container", "stdinOnce"), ("Container", "workingDir"),
        ("Container", "terminationMessagePath"), ("Container", "imagePullPolicy"),
        ("Container", "terminationMessagePolicy"), ("Container", "command"), ("Container", "args"),
        ("VolumeMount", "readOnly"), ("VolumeMount", "mountPropagation"), ("VolumeMount", "subPath"),
        ("ContainerPort", "protocol"), ("ContainerPort", "hostPort"),
        ("SecurityContext", "privileged"), ("SecurityContext", "readOnlyRootFilesystem"),
        ("SecurityContext", "runAsNonRoot"), ("SecurityContext", "runAsUser"), ("SecurityContext", "runAsGroup"),
        ("SecurityContext", "procMount"),
    }

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.n = 0

    def name(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}-{self.n}"

    def scalar(self, type_name: str, f):
        enum = self.ENUMS.get((type_name, f.name))
        if enum:
            return self.rng.choice(enum)
        kind = f.value
        if kind == "boolean":
            return self.rng.choice([True, False])
        if kind in ("int32", "int64"):
            return self.rng.randint(1, 60)
        if f.name == "subPath":
            return self.rng.choice(["a", "a/b", ""])
        if f.name in ("workingDir", "terminationMessagePath"):
            return "/" + self.name("dir")
        return self.name("s")

    def extras(self, type_name: str, obj: dict):
        for f in TABLE[type_name][1]:
            if (type_name, f.name) in self.SAFE_SCALARS and self.rng.random() < 0.3:
                value = self.scalar(type_name, f)
                obj[f.name] = [value, self.name("arg")] if f.layout == "list" else value

    def container(self, volumes: list[str]) -> dict:
        c = {"name": self.name("c"), "image": self.rng.choice(["busybox:1.36", "ghcr.io/x/y@sha256:" + "a" * 64])}
        self.extras("Container", c)
        if self.rng.random() < 0.5:
            ports, names = [], set()
            for p in range(self.rng.randint(1, 2)):
                port = {"containerPort": 8000 + p}
                self.extras("ContainerPort", port)
                if self.rng.random() < 0.5:
                    port["name"] = f"p{p}-{self.n}"[:15]
                ports.append(port)
            c["ports"] = ports
        if self.rng.random() < 0.4:
            c["resources"] = {"limits": {"cpu": self.rng.choice(["100m", "1", 2, "0.5"]),
                                         "memory": self.rng.choice(["64Mi", "1G", "128974848"])}}
            if self.rng.random() < 0.5:
                c["resources"]["requests"] = {"cpu": "50m"}
        if self.rng.random() < 0.3:
            sc = {}
            self.extras("SecurityContext", sc)
            sc["allowPrivilegeEscalation"] = not sc.get("privileged", False) or True
            c["securityContext"] = sc
        if self.rng.random() < 0.3:
            c["env"] = [self.env() for _ in range(self.rng.randint(1, 3))]
        if volumes and self.rng.random() < 0.6:
            c["volumeMounts"] = [self.mount(self.rng.choice(volumes))]
        if self.rng.random() < 0.3:
            c["readinessProbe"] = self.rng.choice([{"tcpSocket": {"port": 8000}}, {"httpGet": {"path": "/", "port": "http"}},
                                                   {"exec": {"command": ["true"]}}, {"grpc": {"port": 9000}}])
        return c

    def env(self) -> dict:
        name = self.name("E").replace("-", "_")
        return self.rng.choice([
            {"name": name, "value": self.rng.choice(["v", "", "{{ .metadata.name | default \"x\" }}"])},
            {"name": name, "valueFrom": {"fieldRef": {"fieldPath": self.rng.choice(
                ["metadata.name", "metadata.namespace", "status.podIP", "metadata.labels['app']"])}}},
            {"name": name, "valueFrom": {"secretKeyRef": {"name": "sec", "key": "token", "optional": True}}},
            {"name": name, "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
        ])

    def mount(self, volume: str) -> dict:
        m = {"name": volume, "mountPath": "/" + self.name("mnt")}
        self.extras("VolumeMount", m)
        return m

    def volume(self) -> dict:
        name = self.name("vol")
        source = self.rng.choice([
            {"emptyDir": {}}, {"emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
            {"configMap": {"name": "cm", "defaultMode": 420, "items": [{"key": "k", "path": "p"}]}},
            {"secret": {"secretName": "sec", "optional": True}},
            {"hostPath": {"path": "/var/log", "type": "Directory"}},
            {"projected": {"sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}},
                                       {"downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}}]}},
            {"persistentVolumeClaim": {"claimName": "data", "readOnly": True}},
            {"csi": {"driver": "secrets-store.csi.k8s.io", "readOnly": True, "volumeAttributes": {"a": "b"}}},
        ])
        return dict(name=name, **source)

    def rule(self, index: int) -> dict:
        rule: dict = {"name": f"rule-{index}"}
        kinds = self.rng.sample(["env", "envFrom", "mounts", "sidecars", "init", "volumes", "labels", "annotations",
                                 "pullSecrets", "tolerations", "nodeSelector"], self.rng.randint(1, 4))
        volumes = [self.volume() for _ in range(self.rng.randint(1, 2))] if {"mounts", "sidecars", "init", "volumes"} & set(kinds) else []
        names = [v["name"] for v in volumes]
        if volumes:
            rule["volumes"] = volumes
        if "env" in kinds:
            rule["env"] = [self.env() for _ in range(self.rng.randint(1, 3))]
        if "envFrom" in kinds:
            rule["envFrom"] = [self.rng.choice([{"configMapRef": {"name": "cm"}}, {"secretRef": {"name": "s", "optional": True},
                                                                                  "prefix": "S_"}])]
        if "mounts" in kinds:
            rule["volumeMounts"] = [self.mount(n) for n in names]
        if "sidecars" in kinds:
            rule["sidecars"] = [self.container(names) for _ in range(self.rng.randint(1, 2))]
        if "init" in kinds:
            init = self.container(names)
            init.pop("readinessProbe", None)
            if self.rng.random() < 0.3:
                init["restartPolicy"] = "Always"
            rule["initContainers"] = [init]
            rule["initContainerPosition"] = self.rng.choice(["First", "Last"])
        if "labels" in kinds:
            rule["labels"] = {"example.com/team": self.rng.choice(["a", "{{ .metadata.namespace }}"])}
        if "annotations" in kinds:
            rule["annotations"] = {"example.com/note": "anything at all, even spaces"}
        if "pullSecrets" in kinds:
            rule["imagePullSecrets"] = [{"name": "regcred"}]
        if "tolerations" in kinds:
            rule["tolerations"] = [self.rng.choice([{"key": "dedicated", "operator": "Equal", "value": "x", "effect": "NoSchedule"},
                                                    {"operator": "Exists"},
                                                    {"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}])]
        if "nodeSelector" in kinds:
            rule["nodeSelector"] = {"kubernetes.io/os": "linux"}
        return rule

    def mistake(self, rules: list[dict]):
        """One deliberate slip somewhere in the rules: a field case from the table or a reported case."""
        if self.rng.random() < 0.5:
            _, _, body = self.rng.choice(FIELD_CASES)
        else:
            _, body, _ = self.rng.choice(REPORTED)
        target = self.rng.choice(rules)
        for key, value in copy.deepcopy(body).items():
            target[key] = (target.get(key) or []) + value if isinstance(value, list) else value


def generated_configs() -> list[tuple[str, list[dict], bool]]:
    rng = random.Random(SEED)
    out = []
    for i in range(GENERATED):
        g = Gen(rng)
        rules = [g.rule(r) for r in range(rng.randint(1, 3))]
        slipped = rng.random() < 0.35
        if slipped:
            g.mistake(rules)
        out.append((f"config-{i}", rules, slipped))
    return out


def corpus_manifest(tmp_path: Path) -> tuple[Path, list[dict]]:
    pods = [copy.deepcopy(c.pod) for c in CORPUS_CASES]
    for pod, case in zip(pods, CORPUS_CASES):
        pod.setdefault("metadata", {})["namespace"] = case.namespace
    path = tmp_path / "corpus-pods.yaml"
    path.write_text(yaml.safe_dump_all(pods, sort_keys=False))
    return path, pods


def test_every_accepted_generated_config_keeps_every_corpus_pod_valid(tmp_path, podinject_bin):
    manifest, pods = corpus_manifest(tmp_path)
    assert pods, "no pods to apply the generated configurations to"
    before = [h.pod_validation_errors(p) for p in pods]
    accepted = refused = slipped_refused = 0
    failures = []
    for case_id, rules, slipped in generated_configs():
        path = write_config(tmp_path, rules, f"{case_id}.yaml")
        rc, diagnostics = check_config(path)
        if rc != 0:
            assert rc == 1 and diagnostics, (case_id, rc)
            refused += 1
            slipped_refused += slipped
            continue
        accepted += 1
        r = h.run_podinject(["apply", "-f", str(manifest), "--config", str(path), "-o", "yaml"])
        assert r.returncode == 0, (case_id, r.describe())
        out = [d for d in yaml.load_all(r.stdout, Loader=yaml.CSafeLoader) if d is not None]
        assert len(out) == len(pods), (case_id, len(out), len(pods))
        for pod, old, new in zip(pods, before, out):
            added = h.pod_validation_errors(new) - old
            if added:
                failures.append(f"{case_id} on {pod['metadata'].get('name')}: {sorted(added)[:3]}\n{yaml.safe_dump(rules)}")
    assert not failures, f"{len(failures)} invalid pods:\n" + "\n".join(failures[:5])
    assert accepted + refused == GENERATED >= 500
    # Both sides are exercised: most slips are caught, most clean configurations pass.
    assert accepted >= 250 and refused >= 100 and slipped_refused >= 100, (accepted, refused, slipped_refused)


@pytest.mark.parametrize("command", ["apply", "explain"])
def test_offline_commands_point_at_an_invalid_rule_as_check_config_does(command, tmp_path, podinject_bin):
    path = write_config(tmp_path, [
        {"name": "broken", "sidecars": [dict(SIDE, ports=[{"containerPort": "8686"}])]},
        {"name": "labels", "labels": {"team": "a"}},
    ])
    pod = tmp_path / "pod.yaml"
    pod.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                   "spec": {"containers": [{"name": "app", "image": "nginx"}]}}))
    _, expected = check_config(path)
    r = h.run_podinject([command, "-f", str(pod), "--config", str(path)])
    assert r.returncode == 0, r.describe()
    found = [m.groupdict() for m in DIAGNOSTIC.finditer(r.stderr.decode().replace("podinject: warning: ", ""))]
    assert [(d["line"], d["column"]) for d in found] == [(d["line"], d["column"]) for d in expected], r.describe()
    out = r.stdout.decode()
    assert "ConfigInvalid" in out and ("team: a" in out or "labels" in out), out
