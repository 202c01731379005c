"""Adversarial admission inputs (issue 12): reviews of up to the 3 MiB body limit shaped to cost as much
time or memory as their size allows, and the configs that make a pod's size matter. Shared by
`test_bounds.py` and `scripts/bench-bounds`, which prints the figures."""

from __future__ import annotations

import itertools
import json
from typing import Any, Callable

MAX_BODY = 3 * 1024 * 1024
# etcd's default request limit: a pod larger than this cannot be stored.
STORABLE = 1_572_864

# Nine combining marks of nine different combining classes: every ordering is canonically equivalent
# (one Swift String), and byte-different (nine Kubernetes keys).
MARKS = ["\u0334", "\u093c", "\u05b0", "\u05b1", "\u05b2", "\u0327", "\u031b", "\u0316", "\u0301"]


def review(pod: Any, uid: str = "bounds-1") -> dict:
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": uid, "kind": {"group": "", "version": "v1", "kind": "Pod"},
                        "resource": {"group": "", "version": "v1", "resource": "pods"},
                        "namespace": "default", "operation": "CREATE",
                        "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
                        "object": pod, "dryRun": False}}


def pod(containers: list, labels: dict | None = None, annotations: dict | None = None, **spec: Any) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"generateName": "web-", "namespace": "default",
                         "labels": labels if labels is not None else {"app": "web"},
                         "annotations": annotations or {}},
            "spec": {"containers": containers, **spec}}


def dump(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def largest(make: Callable[[int], bytes], limit: int = MAX_BODY - 4096) -> bytes:
    """make(n) for the largest n whose bytes fit `limit`."""
    low, high = 1, 1
    while len(make(high)) <= limit:
        low, high = high, high * 2
    while low < high - 1:
        mid = (low + high) // 2
        if len(make(mid)) <= limit:
            low = mid
        else:
            high = mid
    return make(low)


def tiny_containers(n: int) -> bytes:
    return dump(review(pod([{"name": f"c{i}", "image": "i"} for i in range(n)])))


def many_labels(n: int) -> bytes:
    return dump(review(pod([{"name": "app", "image": "i"}], labels={f"k{i}": "v" for i in range(n)})))


def equivalent_keys(n: int) -> bytes:
    keys = {"a" + "".join(p): "v" for p in itertools.islice(itertools.permutations(MARKS), n)}
    return dump(review(pod([{"name": "app", "image": "i"}], labels=keys)))


def yaml_labels(n: int) -> bytes:
    head = dump(review(pod([{"name": "app", "image": "i"}], labels={})))
    doc = json.loads(head)
    lines = ["apiVersion: admission.k8s.io/v1", "kind: AdmissionReview", "request:",
             f"  uid: {doc['request']['uid']}", "  kind: {group: '', version: v1, kind: Pod}",
             "  namespace: default", "  operation: CREATE", "  object:", "    apiVersion: v1", "    kind: Pod",
             "    metadata:", "      generateName: web-", "      labels:"]
    lines += [f"        k{i}: v" for i in range(n)]
    lines += ["    spec:", "      containers:", "      - {name: app, image: i}"]
    return ("\n".join(lines) + "\n").encode()


def volumes_and_mounts(n: int) -> bytes:
    volumes = [{"name": f"v{i}", "emptyDir": {}} for i in range(n)]
    mounts = [{"name": f"v{i}", "mountPath": f"/m/{i}"} for i in range(n)]
    return dump(review(pod([{"name": "app", "image": "i", "volumeMounts": mounts}], volumes=volumes)))


def deep_nesting(limit: int = MAX_BODY - 4096) -> bytes:
    """As many 250-deep nested arrays (under the 256 limit) as fit, in a field podinject does not know."""
    head = dump(review(pod([{"name": "app", "image": "i"}], extra="@")))
    nest = b"[" * 250 + b"1" + b"]" * 250
    count = (limit - len(head)) // (len(nest) + 1)
    return head.replace(b'"@"', b"[" + b",".join([nest] * count) + b"]")


def repeated(unit: bytes, limit: int = MAX_BODY - 4096) -> bytes:
    """A flat array of `unit` as long as fits: [1,1,...], [[1],[1],...], [{"a":1},...]."""
    head = dump(review(pod([{"name": "app", "image": "i"}], extra="@")))
    count = (limit - len(head)) // (len(unit) + 1)
    return head.replace(b'"@"', b"[" + b",".join([unit] * count) + b"]")


def long_annotation(containers: int, total: int = STORABLE - 100_000) -> bytes:
    """A pod just under the storable size: one long annotation and `containers` tiny containers."""
    base = len(dump(review(pod([{"name": f"c{i}", "image": "i"} for i in range(containers)],
                               annotations={"big": ""}))))
    return dump(review(pod([{"name": f"c{i}", "image": "i"} for i in range(containers)],
                           annotations={"big": "x" * (total - base)})))


def config(rules: str) -> str:
    return ("apiVersion: podinject.dev/v1alpha1\nkind: InjectionConfig\nevents:\n  api: none\n"
            "rules:\n" + rules)


TYPICAL_RULES = config("""\
- name: app-identity
  env:
  - name: APP_NAMESPACE
    value: "{{ .metadata.namespace }}"
  - name: APP_NAME
    value: '{{ index .metadata.labels "app" | default "unknown" }}'
  labels:
    example.com/cluster: prod
- name: log-shipper
  volumeMounts:
  - name: app-logs
    mountPath: /var/log/app
  volumes:
  - name: app-logs
    emptyDir: {}
  sidecars:
  - name: fluent-bit
    image: cr.fluentbit.io/fluent/fluent-bit:3.2.4
""")
BIG_ENV = config(f"""\
- name: big-env
  env:
  - name: BIG
    value: "{'x' * 4096}"
""")
MANY_RULES = config("".join(f"- name: r{i}\n  env:\n  - name: E{i}\n    value: v\n" for i in range(200)))
COPY_ANNOTATION = config("""\
- name: copy-big
  env:
  - name: BIG
    value: '{{ index .metadata.annotations "big" }}'
""")
MOUNT = config("""\
- name: mount
  volumeMounts:
  - name: extra
    mountPath: /extra
  volumes:
  - name: extra
    emptyDir: {}
""")


def shapes() -> list[tuple[str, Callable[[], bytes], str]]:
    """(name, input, config) of every adversarial shape, each up to the 3 MiB body limit."""
    near_storable = STORABLE - 170_000
    return [
        ("100k tiny containers", lambda: largest(tiny_containers), TYPICAL_RULES),
        ("100k tiny containers, 4 KB env into each", lambda: largest(tiny_containers), BIG_ENV),
        ("45k tiny containers (1.4 MB), 4 KB env into each", lambda: largest(tiny_containers, near_storable),
         BIG_ENV),
        ("45k tiny containers (1.4 MB), 200 rules", lambda: largest(tiny_containers, near_storable), MANY_RULES),
        ("1.3 MB annotation copied into 100 containers", lambda: long_annotation(100), COPY_ANNOTATION),
        ("3 MB annotation", lambda: long_annotation(1, MAX_BODY - 8192), TYPICAL_RULES),
        ("deep nesting (250 levels, 3 MB)", deep_nesting, TYPICAL_RULES),
        ("170k labels", lambda: largest(many_labels), TYPICAL_RULES),
        ("130k Unicode-equivalent labels", lambda: largest(equivalent_keys), TYPICAL_RULES),
        ("170k labels as YAML (stdin)", lambda: largest(yaml_labels), TYPICAL_RULES),
        ("40k volumes and mounts", lambda: largest(volumes_and_mounts, near_storable), MOUNT),
        ("[1,1,...] (1.5M numbers)", lambda: repeated(b"1"), TYPICAL_RULES),
        ("[[1],[1],...]", lambda: repeated(b"[1]"), TYPICAL_RULES),
        ('[{"a":1},...]', lambda: repeated(b'{"a":1}'), TYPICAL_RULES),
        ('["",...]', lambda: repeated(b'""'), TYPICAL_RULES),
    ]


class Measured:
    """One run of the binary: its exit status, output, CPU seconds (user + system) and peak RSS."""

    def __init__(self, returncode: int, stdout: bytes, stderr: bytes, cpu: float, max_rss_kib: int):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.cpu = cpu
        self.max_rss_kib = max_rss_kib

    @property
    def max_rss_mib(self) -> float:
        return self.max_rss_kib / 1024


def run_measured(argv: list[str], data: bytes, env: dict[str, str], timeout: float = 120) -> Measured:
    """Runs argv with `data` on stdin (from a file, so nothing blocks) and returns what it used, as the
    kernel counted it. Through GNU time, for the peak RSS: a process forked from this (large) Python
    process would count Python's memory as its own peak, even after exec. The CPU time is wait4's for
    GNU time, which includes the process it waited for, to the microsecond (GNU time prints hundredths)."""
    import os
    import subprocess
    import tempfile
    import threading

    with tempfile.TemporaryFile() as stdin, tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile() as report:
        stdin.write(data)
        stdin.seek(0)
        proc = subprocess.Popen(["/usr/bin/time", "-f", "%M %x", "-o", report.name, *argv], stdin=stdin,
                                stdout=out, stderr=err, env=env)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, _, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = -9
        rss, code = open(report.name).read().split("\n")[-2].split()
        out.seek(0)
        err.seek(0)
        return Measured(int(code), out.read(), err.read(), usage.ru_utime + usage.ru_stime, int(rss))
