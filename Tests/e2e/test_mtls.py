"""Who may call: the optional mutual-TLS mode of the shipped nginx (issue "2 of 5", README "Who may call").

The entrypoint runs with PODINJECT_CLIENT_CA (and PODINJECT_CLIENT_NAME): only a caller presenting a
certificate that CA signed, with that common name, reaches podinject. The API server presents one when
its AdmissionConfiguration points the webhook at a kubeConfigFile (deploy/kubernetes/mtls/apiserver/).
The kubelet's probes carry no certificate and still get /healthz.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
import yaml

import harness as h
from hosts_fixtures import *  # noqa: F401,F403
from hosts_fixtures import DEPLOY, SERVICE_NAME, Host, HostFiles, own_by_host_user, start_entrypoint, stop_process_tree

CLIENT_NAME = "kube-apiserver-podinject"


def openssl(*args: str) -> None:
    r = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def make_ca(d: Path, name: str) -> tuple[Path, Path]:
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / f"{name}.key"),
            "-out", str(d / f"{name}.crt"), "-subj", f"/CN={name}", "-days", "2")
    return d / f"{name}.crt", d / f"{name}.key"


def make_client(d: Path, ca: tuple[Path, Path], cn: str) -> tuple[Path, Path]:
    d = d / f"{ca[0].stem}-{cn}"
    d.mkdir()
    key, csr, crt = d / f"{cn}.key", d / f"{cn}.csr", d / f"{cn}.crt"
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", f"/O=test/CN={cn}")
    ext = d / f"{cn}.ext"
    ext.write_text("extendedKeyUsage = clientAuth\n")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial",
            "-out", str(crt), "-days", "2", "-extfile", str(ext))
    return crt, key


@pytest.fixture(scope="module")
def certs(host_files: HostFiles):
    d = host_files.directory / f"mtls-{os.getpid()}-{time.monotonic_ns()}"
    d.mkdir()
    ca = make_ca(d, "client-ca")
    other = make_ca(d, "other-ca")
    out = {
        "ca": ca[0],
        "apiserver": make_client(d, ca, CLIENT_NAME),
        "wrong-name": make_client(d, ca, "someone-else"),
        "other-ca": make_client(d, other, CLIENT_NAME),
    }
    own_by_host_user(d)
    yield out
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def mtls_host(host_files: HostFiles, certs):
    run_dir = host_files.directory / f"nginx-mtls-{os.getpid()}-{time.monotonic_ns()}" / "run"
    host = start_entrypoint(host_files, run_dir, PODINJECT_CLIENT_CA=str(certs["ca"]),
                            PODINJECT_CLIENT_NAME=CLIENT_NAME)
    yield host
    stop_process_tree(host.proc, marker=str(run_dir))


def request(host: Host, client: tuple[Path, Path] | None, body: bytes | None, *, method: str = "POST",
            path: str = "/?timeout=10s"):
    ctx = host.context()
    if client:
        ctx.load_cert_chain(str(client[0]), str(client[1]))
    conn = http.client.HTTPSConnection(SERVICE_NAME, host.port, context=ctx, timeout=h.TIMEOUT)
    sock = socket.create_connection(("127.0.0.1", host.port), h.TIMEOUT)
    conn.sock = ctx.wrap_socket(sock, server_hostname=SERVICE_NAME)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type"), resp.read()
    finally:
        conn.close()


def review_body() -> bytes:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
           "spec": {"containers": [{"name": "app", "image": "nginx"}]}}
    return h.review_bytes(h.make_review(pod, namespace="default", uid="3c0a1e2f-0000-4000-8000-00000000c0de"))


def test_the_api_servers_certificate_is_answered(mtls_host, certs):
    status, _, body = request(mtls_host, certs["apiserver"], review_body())
    assert status == 200, (body, mtls_host.log_text())
    answer = json.loads(body)
    assert answer["response"]["uid"] == "3c0a1e2f-0000-4000-8000-00000000c0de"


@pytest.mark.parametrize("who", [None, "wrong-name"])
def test_a_caller_without_the_right_certificate_gets_403_and_starts_nothing(mtls_host, certs, who):
    before = mtls_host.log_text().count('"uid":"3c0a1e2f-0000-4000-8000-00000000c0de"')
    status, content_type, body = request(mtls_host, certs[who] if who else None, review_body())
    assert status == 403, body
    assert content_type == "application/json"
    s = json.loads(body)
    assert s["kind"] == "Status" and s["code"] == 403 and s["reason"] == "Forbidden"
    # podinject never ran: no log line for this uid.
    time.sleep(0.2)
    assert mtls_host.log_text().count('"uid":"3c0a1e2f-0000-4000-8000-00000000c0de"') == before


def test_a_certificate_from_another_ca_is_refused(mtls_host, certs):
    try:
        status, _, body = request(mtls_host, certs["other-ca"], review_body())
    except (ssl.SSLError, ConnectionError):
        return  # refused in the handshake
    assert status in (400, 403), body


def test_probes_need_no_client_certificate(mtls_host):
    status, _, body = request(mtls_host, None, None, method="GET", path="/healthz")
    assert (status, body) == (200, b"ok\n")


def test_without_the_setting_no_certificate_is_asked(nginx_host):
    status, _, body = request(nginx_host, None, review_body())
    assert status == 200, body


def test_render_refuses_a_name_without_a_ca(tmp_path):
    env = h.clean_env({"PODINJECT_CLIENT_NAME": CLIENT_NAME})
    r = subprocess.run([str(DEPLOY / "hosts" / "render.sh"), "nginx"], capture_output=True, text=True, env=env)
    assert r.returncode != 0 and "PODINJECT_CLIENT_NAME needs PODINJECT_CLIENT_CA" in r.stderr


# ---------------------------------------------------------------------------------------------
# The shipped kustomize components: mutual TLS, and pods that opt in by label (objectSelector)
# ---------------------------------------------------------------------------------------------


def test_mtls_component_sets_the_entrypoints_variables_and_mounts_the_ca(tmp_path):
    docs = h.kustomize(DEPLOY / "kubernetes" / "examples" / "mtls")
    (dep,) = [d for d in docs if d["kind"] == "Deployment"]
    spec = dep["spec"]["template"]["spec"]
    (main,) = [c for c in spec["containers"] if c["name"] == "podinject"]
    env = {e["name"]: e.get("value") for e in main.get("env") or []}
    ca_path = env["PODINJECT_CLIENT_CA"]
    assert env["PODINJECT_CLIENT_NAME"]
    mount = next(m for m in main["volumeMounts"] if ca_path.startswith(m["mountPath"].rstrip("/") + "/"))
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    assert "configMap" in volume or "secret" in volume
    for d in docs:
        assert not h.pod_validation_errors(d) if d["kind"] == "Pod" else True
    # The API server's side: an AdmissionConfiguration whose kubeconfig names the webhook's service.
    apiserver = DEPLOY / "kubernetes" / "examples" / "mtls" / "apiserver"
    admission = yaml.safe_load((apiserver / "admission-configuration.yaml").read_text())
    assert admission["kind"] == "AdmissionConfiguration"
    plugin = next(p for p in admission["plugins"] if p["name"] == "MutatingAdmissionWebhook")
    kubeconfig_path = plugin["configuration"]["kubeConfigFile"]
    kubeconfig = yaml.safe_load((apiserver / "webhook-kubeconfig.yaml").read_text())
    assert Path(kubeconfig_path).name == "webhook-kubeconfig.yaml"
    users = {u["name"]: u["user"] for u in kubeconfig["users"]}
    assert "podinject.podinject.svc" in users or "podinject.podinject.svc:443" in users
    assert all("client-certificate" in u and "client-key" in u for u in users.values())


def test_opt_in_component_sends_only_labelled_pods(tmp_path):
    docs = h.kustomize(DEPLOY / "kubernetes" / "examples" / "opt-in-pods")
    (mwc,) = [d for d in docs if d["kind"] == "MutatingWebhookConfiguration"]
    selector = mwc["webhooks"][0]["objectSelector"]
    assert selector == {"matchLabels": {"podinject.dev/inject": "true"}}, selector
    # The namespace exclusion stays.
    assert mwc["webhooks"][0]["namespaceSelector"]["matchExpressions"][0]["values"] == ["podinject"]
