"""The container image (issue "5 of 5"), built and run for real, as the Deployment runs it.

scripts/image builds the runtime stage of deploy/docker/Dockerfile with podman, on a bookworm base made
locally (no registry can be reached), with the binary scripts/build made in place of the `binary` stage.
The container then runs with flags derived from deploy/kubernetes/base/deployment.yaml, never written
by hand: its user and groups, a read-only root, no capabilities, no-new-privileges and the default
seccomp profile, tmpfs where the pod has emptyDirs, the TLS Secret and the ConfigMap mounted as the
kubelet mounts them (its `..data` layout, the volume's defaultMode, files of group fsGroup), the
service-account directory and KUBERNETES_SERVICE_HOST/PORT pointing at the fake API server, the env,
the memory and CPU limits. Host networking on loopback: the container listens on the Deployment's
port. A failure to build or to run the image fails these tests; nothing here is ever skipped.

The only additions to what the Deployment sets are two timings (PODINJECT_TLS_RELOAD_SECONDS and
PODINJECT_FLUSH_SECONDS, which the Deployment leaves at their defaults of 60 s and 10 s), so that
certificate reload and the entrypoint's periodic flush are seen in seconds.
"""

from __future__ import annotations

import datetime as dt
import http.client
import io
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

import harness as h
from hosts_fixtures import *  # noqa: F401,F403
from hosts_fixtures import DEPLOY, SERVICE_NAME, Host, TLSFiles, call, call_reading_early, make_certs
from kubeapi import CORE, SA_USER, KubeAPI
from kubeapi_fixtures import *  # noqa: F401,F403
from test_events_delivery import NS, REGARDING, config_doc, deny_review, failing_review, passing_review

PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs"]
# These machines lack CAP_SYS_RESOURCE: podman's default rlimits cannot be applied.
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]
DEPLOYMENT = DEPLOY / "kubernetes" / "base" / "deployment.yaml"
SHIPPED_CONFIG = DEPLOY / "kubernetes" / "base" / "config.yaml"
SA_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
POD_NAME = "podinject-7c9d8f6b5-x2k4q"
TIMINGS = {"PODINJECT_TLS_RELOAD_SECONDS": "1", "PODINJECT_FLUSH_SECONDS": "2"}
BUILD_TIMEOUT = 900  # a cold machine makes the base (about 20 s) and installs the runtime packages


def podman(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([*PODMAN, *args], capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, f"podman {' '.join(args)}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


# --------------------------------------------------------------------------------------------
# The image: scripts/image build, once per session
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def image(podinject_bin: Path) -> str:
    """The runtime stage of the Dockerfile with this run's binary; its image id. Never skipped.
    PODINJECT_TEST_IMAGE names an image to check instead (one built for a registry, say)."""
    assert shutil.which("podman"), "podman is not installed (scripts/setup installs it)"
    if os.environ.get("PODINJECT_TEST_IMAGE"):
        yield podman("image", "inspect", "--format", "{{.Id}}", os.environ["PODINJECT_TEST_IMAGE"]).stdout.strip()
        return
    tag = "localhost/podinject:e2e"  # rebuilt with each binary; scripts/image removes the image it replaces
    env = {**os.environ, "PODINJECT_BIN": str(podinject_bin)}
    started = time.monotonic()
    proc = subprocess.run([str(h.REPO / "scripts" / "image"), "build", tag], capture_output=True, text=True,
                          timeout=BUILD_TIMEOUT, env=env, cwd=h.REPO)
    assert proc.returncode == 0, f"scripts/image build failed ({proc.returncode}):\n{proc.stderr[-6000:]}"
    image_id = proc.stdout.strip().splitlines()[-1]
    print(f"\nimage {tag} ({image_id[:19]}) built in {time.monotonic() - started:.1f} s")
    yield image_id


# --------------------------------------------------------------------------------------------
# What the Deployment says, read from deployment.yaml
# --------------------------------------------------------------------------------------------


def deployment() -> dict:
    return yaml.safe_load(DEPLOYMENT.read_text())


def pod_spec() -> dict:
    return deployment()["spec"]["template"]["spec"]


def container_named(name: str | None = None, *, init: bool = False) -> dict:
    spec = pod_spec()
    containers = spec.get("initContainers" if init else "containers") or []
    assert containers, f"the Deployment has no {'init ' if init else ''}containers"
    return containers[0] if name is None else next(c for c in containers if c["name"] == name)


_QUANTITY = {"Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "k": 1000, "M": 1000 ** 2, "G": 1000 ** 3, "": 1}


def quantity_bytes(q: str | int) -> int:
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi|k|M|G|)", str(q))
    assert m, f"unsupported quantity {q!r}"
    return int(m.group(1)) * _QUANTITY[m.group(2)]


def cpu_cores(q: str | int) -> str:
    text = str(q)
    return str(int(text[:-1]) / 1000) if text.endswith("m") else text


def security_flags(spec: dict, container: dict) -> list[str]:
    """podman flags for the pod's and the container's securityContext (the container's wins)."""
    pod_sc = spec.get("securityContext") or {}
    sc = {**pod_sc, **(container.get("securityContext") or {})}
    flags: list[str] = []
    known = {"runAsUser", "runAsGroup", "runAsNonRoot", "fsGroup", "seccompProfile", "allowPrivilegeEscalation",
             "readOnlyRootFilesystem", "capabilities"}
    assert set(sc) <= known, f"securityContext settings this test cannot reproduce: {set(sc) - known}"
    user = sc.get("runAsUser")
    assert user is not None, "the Deployment sets no runAsUser"
    if sc.get("runAsNonRoot"):
        assert int(user) != 0, "runAsNonRoot with runAsUser 0"
    flags += ["--user", f"{user}:{sc.get('runAsGroup', user)}"]
    if "fsGroup" in pod_sc:
        flags += ["--group-add", str(pod_sc["fsGroup"])]
    if sc.get("readOnlyRootFilesystem"):
        flags += ["--read-only", "--read-only-tmpfs=false"]  # podman would add tmpfs on /tmp, /run: k8s does not
    if sc.get("allowPrivilegeEscalation") is False:
        flags += ["--security-opt", "no-new-privileges"]
    caps = sc.get("capabilities") or {}
    for cap in caps.get("drop", []):
        flags += ["--cap-drop", cap]
    for cap in caps.get("add", []):
        flags += ["--cap-add", cap]
    seccomp = (sc.get("seccompProfile") or {}).get("type", "RuntimeDefault")
    assert seccomp in ("RuntimeDefault", "Unconfined"), seccomp
    if seccomp == "Unconfined":
        flags += ["--security-opt", "seccomp=unconfined"]  # RuntimeDefault: podman's default profile
    return flags


def resource_flags(container: dict) -> list[str]:
    limits = (container.get("resources") or {}).get("limits") or {}
    flags = []
    if "memory" in limits:
        flags += ["--memory", str(quantity_bytes(limits["memory"]))]
    if "cpu" in limits:
        flags += ["--cpus", cpu_cores(limits["cpu"])]
    return flags


def env_flags(container: dict, pod_name: str, namespace: str) -> list[str]:
    flags = []
    for var in container.get("env") or []:
        if "value" in var:
            value = str(var["value"])
        else:
            path = var["valueFrom"]["fieldRef"]["fieldPath"]
            value = {"metadata.name": pod_name, "metadata.namespace": namespace}[path]
        flags += ["--env", f"{var['name']}={value}"]
    return flags


def write_kubelet_volume(directory: Path, files: dict[str, bytes], mode: int, gid: int | None) -> None:
    """Files as the kubelet's atomic writer puts them in a Secret or ConfigMap volume: a timestamped
    directory, `..data` pointing at it, and each name a link through `..data`; the files of group fsGroup
    with the volume's defaultMode. Writing again swaps `..data` in one rename, as a Secret update does."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o755)
    stamp = directory / f"..{dt.datetime.now(dt.timezone.utc):%Y_%m_%d_%H_%M_%S.%f}"
    stamp.mkdir(mode=0o755)
    for name, data in files.items():
        (stamp / name).write_bytes(data)
        os.chown(stamp / name, 0, gid if gid is not None else 0)
        os.chmod(stamp / name, mode)
    old = os.readlink(directory / "..data") if (directory / "..data").is_symlink() else None
    tmp = directory / "..data_tmp"
    os.symlink(stamp.name, tmp)
    os.replace(tmp, directory / "..data")
    for name in files:
        if not (directory / name).is_symlink():
            os.symlink(f"..data/{name}", directory / name)
    if old:
        shutil.rmtree(directory / old)


@dataclass
class PodFiles:
    """The host side of the pod's volumes."""

    base: Path
    volumes: dict[str, Path]  # volume name → host directory (Secret and ConfigMap volumes)
    serviceaccount: Path
    stdin_config: Path  # the same rules for stdin mode on the host, with an outbox of its own
    tls: TLSFiles
    ca: Path  # the CA the served certificate chains to (changes when the Secret does)


def volume_flags(spec: dict, container: dict, files: PodFiles) -> list[str]:
    """Mounts for the container's volumeMounts: Secret and ConfigMap volumes from files.volumes, emptyDirs
    as tmpfs of the emptyDir's sizeLimit, world-writable as the kubelet makes an emptyDir."""
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    flags = []
    for mount in container.get("volumeMounts") or []:
        vol = volumes[mount["name"]]
        if "emptyDir" in vol:
            opts = ["type=tmpfs", f"destination={mount['mountPath']}", "tmpfs-mode=0777"]
            limit = (vol["emptyDir"] or {}).get("sizeLimit")
            if limit:
                opts.append(f"tmpfs-size={quantity_bytes(limit)}")
            flags += ["--mount", ",".join(opts)]
        elif "secret" in vol or "configMap" in vol:
            ro = ":ro" if mount.get("readOnly") else ""
            flags += ["--volume", f"{files.volumes[mount['name']]}:{mount['mountPath']}{ro}"]
        else:
            raise AssertionError(f"volume {mount['name']}: a kind this test cannot mount: {sorted(vol)}")
    if spec.get("automountServiceAccountToken", True):
        flags += ["--volume", f"{files.serviceaccount}:{SA_MOUNT}:ro"]
    return flags


def run_flags(container: dict, files: PodFiles, kube: KubeAPI, extra_env: dict[str, str]) -> list[str]:
    spec = pod_spec()
    flags = [*ULIMITS, "--network", "host", "--pull", "never"]
    flags += security_flags(spec, container)
    flags += resource_flags(container)
    flags += volume_flags(spec, container, files)
    flags += env_flags(container, POD_NAME, "podinject")
    # What the kubelet gives every container: the API server's Service address.
    flags += ["--env", "KUBERNETES_SERVICE_HOST=127.0.0.1", "--env", f"KUBERNETES_SERVICE_PORT={kube.port}"]
    for k, v in extra_env.items():
        flags += ["--env", f"{k}={v}"]
    if container.get("command"):
        flags += ["--entrypoint", json.dumps(container["command"])]
    return flags


def port_of(container: dict, port: int | str) -> int:
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in container.get("ports") or [] if p.get("name") == port)


def served_port(container: dict) -> int:
    """The port the readiness probe and the Service reach: the container port named https."""
    return port_of(container, "https")


# --------------------------------------------------------------------------------------------
# The running pod
# --------------------------------------------------------------------------------------------


@dataclass
class Pod:
    name: str
    files: PodFiles
    kube: KubeAPI
    port: int

    def host(self) -> Host:
        return Host(f"container {self.name}", self.port, self.files.ca, _NoProcess(), [])

    def logs(self) -> str:
        p = podman("logs", self.name, check=False)
        return (p.stdout + p.stderr)[-30000:]

    def exec(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        return podman("exec", self.name, *argv, check=check)

    def init_pid(self) -> int:
        return int(podman("inspect", "--format", "{{.State.Pid}}", self.name).stdout.strip())

    def running(self) -> bool:
        p = podman("inspect", "--format", "{{.State.Running}}", self.name, check=False)
        return p.returncode == 0 and p.stdout.strip() == "true"


class _Received:
    """Bytes read off a socket, for http.client.HTTPResponse to parse."""

    def __init__(self, data: bytes):
        self.data = data

    def makefile(self, *args, **kwargs):
        return io.BytesIO(self.data)


class _NoProcess:
    """Stands in for Host.proc: the container is watched through podman."""

    returncode = None

    def poll(self):
        return None


def processes_in_namespace(ns_link: str) -> list[dict]:
    """Host processes in the pid namespace `ns_link` (readlink of /proc/PID/ns/pid): pid, ppid, state, comm."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/ns/pid") != ns_link:
                continue
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out.append({"pid": int(entry), "ppid": int(fields[1]), "state": fields[0], "comm": comm})
    return out


def wait_ready(pod: Pod, path: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        assert pod.running(), f"the container stopped at start\n{pod.logs()}"
        try:
            got = call(pod.host(), None, method="GET", path=path, content_type=None)
            if got.status == 200:
                return
            last = got.describe()
        except (OSError, ssl.SSLError) as e:
            last = repr(e)
        time.sleep(0.1)
    raise AssertionError(f"not ready on {path}: {last}\n{pod.logs()}")


def probe_paths(container: dict) -> list[tuple[str, str, int]]:
    """(probe, path, port) of every httpGet probe of the container; HTTPS is what the test client speaks."""
    out = []
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = (container.get(probe) or {}).get("httpGet")
        if get:
            assert get.get("scheme", "HTTP") == "HTTPS", (probe, get)
            out.append((probe, get["path"], port_of(container, get["port"])))
    return out


def make_pod_files(base: Path, kube: KubeAPI, tls: TLSFiles, tmp: Path) -> PodFiles:
    spec = pod_spec()
    fs_group = (spec.get("securityContext") or {}).get("fsGroup")
    shipped_events = h.load_yaml(SHIPPED_CONFIG)["events"]
    # The rules of the Event tests, with the shipped config's Event settings (outbox in the emptyDir,
    # the deliverer's log on the container's stdout, budget) and reportingInstance from POD_NAME.
    doc = config_doc(CORE, base, **{k: shipped_events[k] for k in ("outbox", "logFile", "timeoutMilliseconds")
                                   if k in shipped_events})
    doc["events"]["reportingInstance"] = ""
    container_config = json.dumps(doc, indent=1).encode()
    stdin_dir = tmp / "stdin"
    stdin_dir.mkdir()
    stdin_doc = json.loads(container_config)
    stdin_doc["events"].update({"api": "none", "outbox": str(stdin_dir / "outbox"), "logFile": ""})
    stdin_config = stdin_dir / "config.yaml"
    stdin_config.write_text(json.dumps(stdin_doc, indent=1))
    volumes: dict[str, Path] = {}
    for vol in spec.get("volumes") or []:
        if "secret" in vol:
            d = base / "volumes" / vol["name"]
            write_kubelet_volume(d, {"tls.crt": tls.tls_crt.read_bytes(), "tls.key": tls.tls_key.read_bytes()},
                                 vol["secret"].get("defaultMode", 0o644), fs_group)
            volumes[vol["name"]] = d
        elif "configMap" in vol:
            d = base / "volumes" / vol["name"]
            write_kubelet_volume(d, {"config.yaml": container_config}, vol["configMap"].get("defaultMode", 0o644),
                                 fs_group)
            volumes[vol["name"]] = d
    sa = base / "serviceaccount"
    kube.write_serviceaccount_dir(sa)
    os.chmod(sa, 0o755)
    for f in sa.iterdir():
        os.chmod(f, 0o644)
    return PodFiles(base, volumes, sa, stdin_config, tls, tls.ca_crt)


def tls_volume(files: PodFiles) -> Path:
    name = next(v["name"] for v in pod_spec()["volumes"] if "secret" in v)
    return files.volumes[name]


def run_init_container(image: str, files: PodFiles, kube: KubeAPI) -> subprocess.CompletedProcess:
    init = container_named(init=True)
    return podman("run", "--rm", *run_flags(init, files, kube, {}), image, timeout=120, check=False)


def start_pod(image: str, files: PodFiles, kube: KubeAPI, name: str, extra_env: dict[str, str]) -> Pod:
    main = container_named("podinject")
    port = served_port(main)
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as nginx: connections in TIME_WAIT are no obstacle
        try:
            s.bind(("0.0.0.0", port))
        except OSError as e:
            raise AssertionError(f"port {port} (the Deployment's) is taken on this machine: {e}") from e
    podman("rm", "--force", "--ignore", name, check=False)
    podman("run", "--detach", "--name", name, *run_flags(main, files, kube, extra_env), image, timeout=120)
    pod = Pod(name, files, kube, port)
    for _, path, probe_port in probe_paths(main):
        assert probe_port == port
        wait_ready(pod, path)
    return pod


@pytest.fixture(scope="module")
def kube(kube_pki, tmp_path_factory) -> KubeAPI:
    api = KubeAPI(kube_pki, tmp_path_factory.mktemp("image-kubeapi")).start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def pod_files(kube, tmp_path_factory) -> PodFiles:
    base = Path(tempfile.mkdtemp(prefix="podinject-image-", dir="/tmp"))
    os.chmod(base, 0o755)
    tls = make_certs(tmp_path_factory.mktemp("image-tls") / "generated")
    try:
        yield make_pod_files(base, kube, tls, tmp_path_factory.mktemp("image-stdin"))
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def init_result(image, pod_files, kube) -> subprocess.CompletedProcess:
    return run_init_container(image, pod_files, kube)


@pytest.fixture(scope="module")
def pod(image, pod_files, kube, init_result) -> Pod:
    """The webhook container, started as the kubelet starts it: after its init container succeeded."""
    assert init_result.returncode == 0, f"init container failed:\n{init_result.stdout}\n{init_result.stderr}"
    name = f"podinject-e2e-{os.getpid()}"
    pod = start_pod(image, pod_files, kube, name, TIMINGS)
    yield pod
    podman("rm", "--force", "--time", "5", name, check=False)


# --------------------------------------------------------------------------------------------
# The image and its container, as the Deployment declares them
# --------------------------------------------------------------------------------------------


def test_init_container_checks_the_config(init_result, image, pod_files, kube, tmp_path):
    """The init container's own command (check-config on the ConfigMap) passes on a valid config, and
    fails, naming the file and line, on a broken one: the pod then never starts."""
    assert init_result.returncode == 0, init_result.stderr
    broken = PodFiles(**{**pod_files.__dict__, "volumes": dict(pod_files.volumes)})
    config_volume = next(m["name"] for m in container_named(init=True)["volumeMounts"])
    d = Path(tempfile.mkdtemp(prefix="podinject-image-broken-", dir="/tmp"))
    try:
        write_kubelet_volume(d, {"config.yaml": b"apiVersion: podinject.dev/v1alpha1\nkind: InjectionConfig\n"
                                                b"rules:\n- name: x\n  bogus: 1\n"}, 0o644, None)
        broken.volumes[config_volume] = d
        bad = run_init_container(image, broken, kube)
        assert bad.returncode == 1, f"{bad.returncode}\n{bad.stdout}\n{bad.stderr}"
        assert re.search(r"config\.yaml:5:", bad.stderr + bad.stdout), bad.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_container_runs_as_the_deployment_says(pod):
    """uid/gid and fsGroup, no capabilities, no-new-privileges, seccomp filter, read-only root: read from
    the container's own processes."""
    spec, main = pod_spec(), container_named("podinject")
    sc = {**(spec.get("securityContext") or {}), **(main.get("securityContext") or {})}
    ns = os.readlink(f"/proc/{pod.init_pid()}/ns/pid")
    procs = processes_in_namespace(ns)
    comms = {p["comm"] for p in procs}
    assert {"tini", "nginx", "fcgiwrap"} <= comms, comms
    for p in procs:
        status = Path(f"/proc/{p['pid']}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        assert fields["Uid"].split()[:2] == [str(sc["runAsUser"])] * 2, (p, fields["Uid"])
        assert fields["Gid"].split()[0] == str(sc["runAsGroup"]), (p, fields["Gid"])
        assert str(spec["securityContext"]["fsGroup"]) in fields["Groups"].split(), (p, fields["Groups"])
        assert int(fields["CapEff"], 16) == 0 and int(fields["CapPrm"], 16) == 0, (p, fields["CapEff"])
        assert fields["NoNewPrivs"].strip() == "1", p
        assert fields["Seccomp"].strip() == "2", p  # a filter: the runtime's default profile
    wrote = pod.exec("sh", "-c", "touch /usr/local/bin/x 2>&1; touch /etc/podinject/x 2>&1; echo done", check=False)
    assert wrote.stdout.count("Read-only file system") == 2, wrote.stdout
    # The TLS key: readable by the non-root user through fsGroup only, as the Secret's defaultMode says.
    mode = next(v["secret"].get("defaultMode", 0o644) for v in spec["volumes"] if "secret" in v)
    tls_mount = next(m["mountPath"] for m in main["volumeMounts"]
                     if "secret" in next(v for v in spec["volumes"] if v["name"] == m["name"]))
    stat = pod.exec("stat", "-L", "-c", "%a %u %g", f"{tls_mount}/tls.key").stdout.split()
    assert stat == [f"{mode:o}", "0", str(spec["securityContext"]["fsGroup"])], stat


def test_image_user_is_non_root_and_the_deployments(image):
    user = podman("image", "inspect", "--format", "{{.Config.User}}", image).stdout.strip()
    assert user.split(":")[0] == str(pod_spec()["securityContext"]["runAsUser"]), user


def test_probes_answer(pod):
    for probe, path, _ in probe_paths(container_named("podinject")):
        got = call(pod.host(), None, method="GET", path=path, content_type=None)
        assert got.status == 200, (probe, got.describe())


def _same_as_stdin(pod: Pod, body: bytes) -> None:
    expected = h.admit(body, pod.files.stdin_config)
    got = call(pod.host(), body)
    if expected.returncode == 0:
        assert got.status == 200, f"{got.describe()}\nstdin mode:\n{expected.describe()}\n{pod.logs()}"
        assert got.json() == expected.json(), f"the container's answer differs from stdin mode\n{got.describe()}"
    else:
        assert expected.returncode == 2, expected.describe()
        assert got.status == 400, got.describe()
        assert got.json().get("kind") == "Status", got.describe()


ADMISSIONS = {
    "fails-a-rule": lambda: failing_review(1, dry_run=True),
    "passes": lambda: passing_review(2),
    "denied": lambda: dict(deny_review(3), request={**deny_review(3)["request"], "dryRun": True}),
}


@pytest.mark.parametrize("name", list(ADMISSIONS))
def test_admission_same_as_stdin(pod, name):
    _same_as_stdin(pod, h.review_bytes(ADMISSIONS[name]()))


def test_corpus_reviews_same_as_stdin(pod):
    files = h.corpus_files("admissionreview")
    assert files, "no AdmissionReview in the corpus"
    for path in files:
        body = path.read_bytes() if path.suffix == ".json" else h.review_bytes(h.load_yaml(path))
        _same_as_stdin(pod, body)


def test_counters_live_in_the_pods_memory(pod):
    """The image keeps the metrics file on the pod's tmpfs (/dev/shm), where an admission's writes to it
    stay off the disk-backed emptyDir's journal, and it is counted there."""
    _same_as_stdin(pod, h.review_bytes(passing_review(4)))
    where = pod.exec("sh", "-c", "stat -c '%u %s' /dev/shm/podinject/metrics; stat -f -c %T /dev/shm").stdout.split()
    assert where == ["65532", "12288", "tmpfs"], where
    assert "metrics" not in pod.exec("ls", "/tmp/podinject-host").stdout.split()


def test_bad_input_answers(pod):
    host = pod.host()
    got = call(host, None, method="GET")
    assert got.status == 405 and got.headers.get("allow") == "POST", got.describe()
    got = call(host, h.review_bytes(passing_review(4)), content_type="text/plain")
    assert got.status == 415, got.describe()
    truncated = h.review_bytes(passing_review(5))[:-7]
    assert h.admit(truncated, pod.files.stdin_config).returncode == 2
    got = call(host, truncated)
    assert got.status == 400 and got.json().get("code") == 400, got.describe()
    got = call_reading_early(host, b"{" + b" " * (4 * 1024 * 1024) + b"}")
    assert got.status == 413, got.describe()
    got = call(host, b"{}", path="/elsewhere")
    assert got.status == 404, got.describe()


def _events_of(kube: KubeAPI) -> list[dict]:
    return [e for e in kube.events(CORE, NS) if e.get("reason") == "InjectionFailed"]


def _count(kube: KubeAPI) -> int:
    return sum(e.get("count", 0) for e in _events_of(kube))


def test_events_reach_the_api_server_in_cluster(pod):
    """A failing admission's Event, through the mounted service account and KUBERNETES_SERVICE_HOST/PORT,
    regarding the ReplicaSet, reported by this replica (POD_NAME from the downward API)."""
    before = _count(pod.kube)
    got = call(pod.host(), h.review_bytes(failing_review(10)))
    assert got.status == 200 and got.json()["response"]["allowed"] is True, got.describe()
    assert pod.kube.wait_for(lambda k: _count(k) > before, timeout=15), f"no Event\n{pod.logs()}"
    ev = _events_of(pod.kube)[0]
    assert ev["involvedObject"] == REGARDING, ev["involvedObject"]
    assert ev.get("reportingInstance") == POD_NAME, ev
    posts = [r for r in pod.kube.requests if r.method == "POST" and r.path.endswith("/events")]
    assert posts and all(r.credential == f"token:{SA_USER}" for r in posts), [r.credential for r in posts]
    # The detached deliverer's own log line reaches the container log (events.logFile, /proc/1/fd/1).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [json.loads(ln) for ln in pod.logs().splitlines() if ln.startswith("{") and '"events flush"' in ln]
        if any(ln["events"]["sent"] >= 1 for ln in lines):
            break
        time.sleep(0.2)
    assert any(ln["events"]["sent"] >= 1 for ln in lines), f"no deliverer log line\n{pod.logs()}"


def test_no_zombies_under_load_and_deliverers_are_reaped(pod):
    """Many admissions, each handing its Event to a detached deliverer: every one is answered, every
    occurrence is counted, and afterwards no deliverer and no zombie is left: tini reaps them."""
    before = _count(pod.kube)
    n = 60
    body = h.review_bytes(failing_review(11))
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: call(pod.host(), body), range(n)))
    assert all(a.status == 200 for a in answers), [a.status for a in answers]
    assert pod.kube.wait_for(lambda k: _count(k) >= before + n, timeout=60), \
        f"{_count(pod.kube) - before} of {n} occurrences\n{pod.logs()}"
    ns = os.readlink(f"/proc/{pod.init_pid()}/ns/pid")
    deadline = time.monotonic() + 15
    while True:
        procs = processes_in_namespace(ns)
        zombies = [p for p in procs if p["state"] == "Z"]
        deliverers = [p for p in procs if p["comm"] == "podinject"]
        if not zombies and not deliverers or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert not zombies, zombies
    assert not deliverers, deliverers
    assert _count(pod.kube) == before + n


def test_periodic_flush_delivers_without_an_admission(pod):
    """An Event that could not be delivered (API server down) does not wait for the next admission: the
    entrypoint's periodic `events flush` sends it once the API server is back."""
    pod.kube.stop()
    try:
        before = _count(pod.kube)
        got = call(pod.host(), h.review_bytes(failing_review(12)))
        assert got.status == 200, got.describe()
        time.sleep(1.5)  # the admission's own deliverer tries, and leaves it in the outbox
        assert pod.exec("sh", "-c", "ls /var/run/podinject/outbox | grep -c json", check=False).stdout.strip() != "0"
    finally:
        pod.kube.start()
    assert pod.kube.wait_for(lambda k: _count(k) > before, timeout=30), f"Event stranded\n{pod.logs()}"


def test_tls_reload_when_the_secret_changes(pod, tmp_path_factory):
    """The Secret is updated in place (cert-manager renewal; the kubelet swaps `..data`): nginx serves the
    new certificate without a restart."""
    new = make_certs(tmp_path_factory.mktemp("image-tls-new") / "generated")
    spec = pod_spec()
    mode = next(v["secret"].get("defaultMode", 0o644) for v in spec["volumes"] if "secret" in v)
    write_kubelet_volume(tls_volume(pod.files), {"tls.crt": new.tls_crt.read_bytes(),
                                                 "tls.key": new.tls_key.read_bytes()},
                         mode, spec["securityContext"].get("fsGroup"))
    want = ssl.PEM_cert_to_DER_cert(new.tls_crt.read_text().split("-----END CERTIFICATE-----")[0]
                                    + "-----END CERTIFICATE-----\n")
    deadline = time.monotonic() + 20
    served = None
    while time.monotonic() < deadline:
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", pod.port), 5) as raw, \
                ctx.wrap_socket(raw, server_hostname=SERVICE_NAME) as s:
            served = s.getpeercert(binary_form=True)
        if served == want:
            break
        time.sleep(0.2)
    assert served == want, f"the old certificate is still served\n{pod.logs()}"
    pod.files.ca = new.ca_crt
    got = call(pod.host(), h.review_bytes(passing_review(13)))  # verified against the new CA
    assert got.status == 200, got.describe()
    assert pod.running()


def test_sigterm_answers_in_flight_flushes_and_exits_0(pod):
    """Pod deletion: the preStop hook, then SIGTERM. An admission in flight is answered, the Events still
    waiting are delivered before the container ends, it exits 0 within terminationGracePeriodSeconds, and
    no process of it is left."""
    spec, main = pod_spec(), container_named("podinject")
    grace = spec.get("terminationGracePeriodSeconds", 30)
    stop_started = time.monotonic()
    pre_stop = ((main.get("lifecycle") or {}).get("preStop") or {}).get("exec", {}).get("command")
    if pre_stop:
        pod.exec(*pre_stop)
    # An Event waiting in the outbox (the API server refuses for now) ...
    pod.kube.fail_next(1000, status=503)
    before = _count(pod.kube)
    got = call(pod.host(), h.review_bytes(failing_review(14)))
    assert got.status == 200, got.describe()
    # ... and an admission in flight: its headers and half its body sent when SIGTERM comes.
    body = h.review_bytes(failing_review(15))
    expected = h.admit(body, pod.files.stdin_config).json()
    raw = socket.create_connection(("127.0.0.1", pod.port), 10)
    s = pod.host().context().wrap_socket(raw, server_hostname=SERVICE_NAME)
    s.sendall((f"POST /?timeout=10s HTTP/1.1\r\nHost: {SERVICE_NAME}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body[:len(body) // 2])
    time.sleep(0.3)
    ns = os.readlink(f"/proc/{pod.init_pid()}/ns/pid")
    podman("kill", "--signal", "TERM", pod.name)
    time.sleep(0.5)
    pod.kube.clear_faults()
    s.sendall(body[len(body) // 2:])
    answer = b""
    while chunk := s.recv(65536):
        answer += chunk
    s.close()
    resp = http.client.HTTPResponse(_Received(answer))
    resp.begin()
    assert resp.status == 200, answer[:300]
    assert json.loads(resp.read()) == expected
    left = max(1.0, grace - (time.monotonic() - stop_started))
    waited = podman("wait", pod.name, timeout=left + 5)
    elapsed = time.monotonic() - stop_started
    assert waited.stdout.strip() == "0", f"exit status {waited.stdout.strip()}\n{pod.logs()}"
    assert elapsed < grace, f"stopped after {elapsed:.1f} s, grace period {grace} s"
    assert _count(pod.kube) >= before + 2, f"Events lost at shutdown\n{pod.logs()}"
    assert processes_in_namespace(ns) == []


def test_sigterm_flush_alone_sends_the_stranded_event(image, kube, pod_files, pod):
    """No admission and no periodic flush (period one hour): the Event left in the outbox while the API
    server was down goes out with the entrypoint's last flush at SIGTERM, and only then."""
    name = f"podinject-e2e-flush-{os.getpid()}"
    podman("rm", "--force", "--ignore", pod.name, check=False)  # the previous test stopped it
    lone = start_pod(image, pod_files, kube, name, {**TIMINGS, "PODINJECT_FLUSH_SECONDS": "3600"})
    try:
        kube.stop()
        before = _count(kube)
        got = call(lone.host(), h.review_bytes(failing_review(16)))
        assert got.status == 200, got.describe()
        time.sleep(1.5)
        kube.start()
        time.sleep(2)
        assert _count(kube) == before, "delivered before SIGTERM: this test proves nothing"
        podman("kill", "--signal", "TERM", name)
        assert podman("wait", name, timeout=40).stdout.strip() == "0", lone.logs()
        assert _count(kube) == before + 1, f"the stranded Event was lost\n{lone.logs()}"
    finally:
        podman("rm", "--force", name, check=False)


def test_image_size_and_packages_are_reported(image):
    """The closing note's figures: the image's size and its Debian packages (printed with -s)."""
    size = int(podman("image", "inspect", "--format", "{{.Size}}", image).stdout.strip())
    pkgs = podman("run", "--rm", *ULIMITS, "--network", "none", "--entrypoint", "dpkg-query", image,
                  "-W", "-f", "${Installed-Size}\t${Package}\n").stdout.split("\n")
    pkgs = sorted((ln.split("\t") for ln in pkgs if ln.strip()), key=lambda x: -int(x[0] or 0))
    print(f"\nimage size {size / 1e6:.1f} MB, {len(pkgs)} packages; largest: "
          + ", ".join(f"{p} {int(k) // 1024} MiB" for k, p in pkgs[:8]))
    names = {p for _, p in pkgs}
    assert {"nginx", "fcgiwrap", "libcurl4", "tini"} <= names, names
    assert not {"perl", "systemd", "usrmerge"} & names, names & {"perl", "systemd", "usrmerge"}
    assert size < 200e6, size
