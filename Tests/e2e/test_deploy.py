"""What an operator applies (issue 4, SPEC §8): the kustomization in deploy/kubernetes, its two TLS variants
(deploy/tls/make-certs.sh's overlay and deploy/kubernetes/cert-manager), the Dockerfile and the OpenFaaS
stack file.

Every rendered object passes kubernetes-validate's strict Kubernetes 1.37 schema (all errors listed), and
the settings that matter are checked one by one: the webhook's exactly as SPEC §8 says, RBAC exactly
create/get/patch on events, a Deployment that survives a node drain and runs non-root on a read-only
root file system, and a config that podinject accepts. The Dockerfile's build stage is checked against
the README's documented build (the swift builder image cannot be pulled on the test machines); its
runtime stage is built and run for real by test_image.py.
"""

from __future__ import annotations

import base64
import copy
import json
import posixpath
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

import harness as h
from hosts_fixtures import *  # noqa: F401,F403
from hosts_fixtures import DEPLOY, SERVICE_SANS, make_certs

K8S_VERSION = "1.37.0"
NAMESPACE = "podinject"
EVENT_VERBS = {"create", "get", "patch"}
EVENT_GROUPS = {"", "events.k8s.io"}
CORE_KINDS = {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment",
              "PodDisruptionBudget", "HorizontalPodAutoscaler", "Service", "MutatingWebhookConfiguration"}
DEFAULT_CONFIG_PATH = "/etc/podinject/config.yaml"


# --------------------------------------------------------------------------------------------
# Rendering and validating
# --------------------------------------------------------------------------------------------


_validators: dict[tuple[str, str], object] = {}


def strict_errors(obj: dict) -> list[str]:
    """Every error of the strict 1.37 schema for the object's apiVersion and kind (not just the first)."""
    import jsonschema
    from kubernetes_validate import utils
    from referencing import Registry, Resource

    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", obj["apiVersion"])
    key = (api, obj["kind"])
    if key not in _validators:
        schema_dir = f"kubernetes-json-schema/v{K8S_VERSION}-local-strict"
        schema = utils.schema_contents(f"{schema_dir}/{obj['kind'].lower()}-{api}.json", K8S_VERSION)
        defs = utils.schema_contents(f"{schema_dir}/_definitions.json", K8S_VERSION)
        registry = Resource.from_contents(defs) @ (Resource.from_contents(schema) @ Registry())
        _validators[key] = jsonschema.validators.Draft202012Validator(schema, registry=registry)
    return [f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message[:300]}"
            for e in _validators[key].iter_errors(copy.deepcopy(obj))]


def assert_strictly_valid(obj: dict) -> None:
    # The library's own entry point first (it picks the schema the same way), then every error.
    from kubernetes_validate import utils

    errors = strict_errors(obj)
    assert not errors, f"{obj['kind']}/{obj['metadata'].get('name')}:\n" + "\n".join(errors)
    utils.validate(obj, K8S_VERSION, strict=True)


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d.get("kind") == kind]


def one(docs: list[dict], kind: str) -> dict:
    found = by_kind(docs, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def obj_id(obj: dict) -> str:
    return f"{obj['kind']}/{obj['metadata'].get('name')}"


RENDERED = None


def rendered_base() -> list[dict]:
    global RENDERED
    if RENDERED is None:
        RENDERED = h.kustomize(DEPLOY / "kubernetes")
    return copy.deepcopy(RENDERED)


@pytest.fixture(scope="module")
def base() -> list[dict]:
    return rendered_base()


@pytest.fixture(scope="module")
def deployment(base) -> dict:
    return one(base, "Deployment")


@pytest.fixture(scope="module")
def pod_spec(deployment) -> dict:
    return deployment["spec"]["template"]["spec"]


@pytest.fixture(scope="module")
def main_container(pod_spec) -> dict:
    containers = pod_spec["containers"]
    assert len(containers) == 1, [c["name"] for c in containers]
    return containers[0]


def container_env(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env") or []}


@pytest.fixture(scope="module")
def deployed_config_text(base, main_container) -> str:
    """config.yaml as the Deployment's container sees it (the ConfigMap mounted where PODINJECT_CONFIG points)."""
    path = container_env(main_container).get("PODINJECT_CONFIG", {}).get("value", DEFAULT_CONFIG_PATH)
    mount = mount_for(main_container, path)
    assert mount, f"nothing mounted at {path}"
    volume = volume_named(base, mount["name"])
    assert "configMap" in volume, volume
    cm_name = volume["configMap"]["name"]
    cms = [c for c in by_kind(base, "ConfigMap") if c["metadata"]["name"] == cm_name]
    assert cms, f"the Deployment mounts ConfigMap {cm_name}, which is not rendered"
    key = posixpath.relpath(path, mount["mountPath"]) if "subPath" not in mount else mount["subPath"]
    assert key in cms[0]["data"], (key, list(cms[0]["data"]))
    return cms[0]["data"][key]


@pytest.fixture(scope="module")
def deployed_config(deployed_config_text) -> dict:
    return h.load_yaml_docs(deployed_config_text)[0]


def mount_for(container: dict, path: str) -> dict | None:
    """The volume mount that holds `path` (the deepest one)."""
    best = None
    for m in container.get("volumeMounts") or []:
        mp = m["mountPath"].rstrip("/")
        if path == mp or path.startswith(mp + "/"):
            if best is None or len(mp) > len(best["mountPath"].rstrip("/")):
                best = m
    return best


def volume_named(docs_or_spec, name: str) -> dict:
    spec = docs_or_spec if isinstance(docs_or_spec, dict) else one(docs_or_spec, "Deployment")["spec"]["template"]["spec"]
    vols = [v for v in spec.get("volumes") or [] if v["name"] == name]
    assert len(vols) == 1, f"volume {name}: {vols}"
    return vols[0]


# --------------------------------------------------------------------------------------------
# The base kustomization
# --------------------------------------------------------------------------------------------


def test_kustomization_renders_the_expected_objects(base):
    kinds = sorted(d["kind"] for d in base)
    assert set(kinds) == CORE_KINDS, kinds
    assert kinds.count("Deployment") == 1 and kinds.count("MutatingWebhookConfiguration") == 1, kinds
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding", "MutatingWebhookConfiguration"}
    for d in base:
        if d["kind"] in cluster_scoped:
            assert "namespace" not in d["metadata"], obj_id(d)
        else:
            assert d["metadata"].get("namespace") == NAMESPACE, obj_id(d)
    assert one(base, "Namespace")["metadata"]["name"] == NAMESPACE


@pytest.mark.parametrize("index", range(len(rendered_base())), ids=[obj_id(d) for d in rendered_base()])
def test_every_object_passes_strict_schema(index, base):
    assert_strictly_valid(base[index])


def test_webhook_configuration_is_exactly_spec_8(base):
    mwc = one(base, "MutatingWebhookConfiguration")
    assert mwc["apiVersion"] == "admissionregistration.k8s.io/v1"
    hooks = mwc["webhooks"]
    assert len(hooks) == 1, hooks
    hook = hooks[0]
    # The API server's own validation: a fully qualified name of at least three segments.
    assert len(hook["name"].split(".")) >= 3, hook["name"]
    assert hook["admissionReviewVersions"] == ["v1", "v1beta1"]
    assert hook["sideEffects"] == "NoneOnDryRun"
    assert hook["failurePolicy"] == "Ignore"
    assert isinstance(hook["timeoutSeconds"], int) and 1 <= hook["timeoutSeconds"] <= 10, hook["timeoutSeconds"]
    assert hook["reinvocationPolicy"] == "IfNeeded"
    assert hook["rules"] == [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                              "resources": ["pods"], "scope": "Namespaced"}], hook["rules"]
    assert hook.get("matchPolicy", "Equivalent") == "Equivalent"
    assert "objectSelector" not in hook or hook["objectSelector"] == {}, hook.get("objectSelector")
    # Its own namespace is excluded, by the label the API server sets on every namespace.
    selector = hook["namespaceSelector"]
    assert selector.get("matchLabels") in (None, {}), selector
    assert selector["matchExpressions"] == [{"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                                             "values": [NAMESPACE]}], selector
    # It calls the Service, at "/", on a port that reaches the container's HTTPS port.
    service_ref = hook["clientConfig"]["service"]
    assert "url" not in hook["clientConfig"]
    service = one(base, "Service")
    assert (service_ref["name"], service_ref["namespace"]) == (service["metadata"]["name"], service["metadata"]["namespace"])
    assert service_ref.get("path") == "/"
    port = service_ref.get("port", 443)
    assert port == 443 and port in [p["port"] for p in service["spec"]["ports"]], service["spec"]["ports"]
    # No caBundle in the base: make-certs.sh's overlay or cert-manager fills it.
    assert "caBundle" not in hook["clientConfig"]


def test_service_reaches_the_https_container_port(base, main_container, deployment):
    service = one(base, "Service")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"] and all(labels.get(k) == v for k, v in service["spec"]["selector"].items())
    (port,) = [p for p in service["spec"]["ports"] if p["port"] == 443]
    target = port["targetPort"]
    container_ports = {p.get("name"): p["containerPort"] for p in main_container["ports"]}
    number = container_ports.get(target) if isinstance(target, str) else target
    assert number in container_ports.values(), (target, container_ports)
    env_port = container_env(main_container).get("PODINJECT_PORT", {}).get("value", "8443")
    assert int(env_port) == number, "nginx listens on PODINJECT_PORT; the Service targets another port"


def test_rbac_is_exactly_create_get_patch_on_events(base, pod_spec):
    assert not by_kind(base, "Role") and not by_kind(base, "RoleBinding")
    (role,) = by_kind(base, "ClusterRole")
    granted = set()
    for rule in role["rules"]:
        assert set(rule) <= {"apiGroups", "resources", "verbs"}, rule  # no resourceNames, nonResourceURLs
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    granted.add((group, resource, verb))
    assert granted == {(g, "events", v) for g in EVENT_GROUPS for v in EVENT_VERBS}, sorted(granted)
    assert "aggregationRule" not in role
    (binding,) = by_kind(base, "ClusterRoleBinding")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": role["metadata"]["name"]}
    sa = one(base, "ServiceAccount")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                                    "namespace": sa["metadata"]["namespace"]}]
    assert pod_spec["serviceAccountName"] == sa["metadata"]["name"]
    assert pod_spec.get("automountServiceAccountToken", sa.get("automountServiceAccountToken", True)) is True


def test_deployment_survives_a_node_drain(base, deployment, pod_spec):
    assert deployment["spec"]["replicas"] >= 2
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    anti = pod_spec["affinity"]["podAntiAffinity"]
    terms = [t["podAffinityTerm"] for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution", [])]
    terms += anti.get("requiredDuringSchedulingIgnoredDuringExecution", [])
    assert any(t["topologyKey"] == "kubernetes.io/hostname"
               and all(labels.get(k) == v for k, v in t["labelSelector"]["matchLabels"].items()) for t in terms), anti
    rolling = deployment["spec"]["strategy"]["rollingUpdate"]
    assert rolling["maxUnavailable"] in (0, "0%"), rolling
    pdb = one(base, "PodDisruptionBudget")
    assert pdb["apiVersion"] == "policy/v1" and pdb["spec"]["minAvailable"] == 1
    assert all(labels.get(k) == v for k, v in pdb["spec"]["selector"]["matchLabels"].items())
    hpa = one(base, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": deployment["metadata"]["name"]}
    assert hpa["spec"]["minReplicas"] >= 2 and hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu", metric


def test_deployment_runs_non_root_read_only_least_privilege(pod_spec):
    pod_sc = pod_spec.get("securityContext") or {}
    assert pod_sc.get("runAsNonRoot") is True
    assert pod_sc.get("runAsUser", 65532) != 0
    for c in pod_spec["containers"] + pod_spec.get("initContainers", []):
        sc = c.get("securityContext") or {}
        assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, c["name"]
        assert sc.get("readOnlyRootFilesystem") is True, c["name"]
        assert sc.get("allowPrivilegeEscalation") is False, c["name"]
        assert sc.get("privileged", False) is False, c["name"]
        assert sc.get("capabilities", {}).get("drop") == ["ALL"] and not sc["capabilities"].get("add"), c["name"]
        seccomp = sc.get("seccompProfile") or pod_sc.get("seccompProfile")
        assert seccomp == {"type": "RuntimeDefault"}, c["name"]
        res = c.get("resources") or {}
        for kind in ("requests", "limits"):
            assert res.get(kind, {}).get("memory") and (kind == "limits" or res[kind].get("cpu")), (c["name"], res)
    assert not pod_spec.get("hostNetwork") and not pod_spec.get("hostPID") and not pod_spec.get("hostIPC")


def test_deployment_probes_hit_the_hosts_static_health_path(main_container):
    https_ports = {p.get("name"): p["containerPort"] for p in main_container["ports"]}
    nginx_conf = (DEPLOY / "hosts" / "nginx.conf").read_text()
    for probe in ("readinessProbe", "livenessProbe"):
        get = main_container[probe]["httpGet"]
        assert get["scheme"] == "HTTPS", probe
        assert get["port"] in https_ports or get["port"] in https_ports.values(), (probe, get)
        # nginx answers it itself: no process is started per probe.
        assert re.search(r"location = " + re.escape(get["path"]) + r" \{\s*[^}]*return 200", nginx_conf), get["path"]


def test_deployment_writable_paths_are_emptydirs(base, pod_spec, main_container, deployed_config):
    """Read-only root: the outbox of the config, and the host's run dir, are on emptyDirs."""
    events = deployed_config["events"]
    outbox = events["outbox"]
    mount = mount_for(main_container, outbox)
    assert mount is not None, f"events.outbox {outbox} is on the read-only root file system"
    assert "emptyDir" in volume_named(pod_spec, mount["name"]), mount
    assert not mount.get("readOnly"), mount
    run_dir = container_env(main_container).get("PODINJECT_RUN_DIR", {}).get("value", "/tmp/podinject-host")
    mount = mount_for(main_container, run_dir)
    assert mount is not None and "emptyDir" in volume_named(pod_spec, mount["name"]), run_dir


def test_deployment_event_settings(main_container, deployed_config):
    env = container_env(main_container)
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"  # events.reportingInstance
    events = deployed_config["events"]
    assert events["logFile"] == "/proc/1/fd/1", events  # the container's log stream (see config.yaml)
    assert events.get("api", "v1") in ("v1", "events.k8s.io/v1")
    assert not events.get("reportingInstance"), "reportingInstance must stay empty so each replica names itself"


def test_deployment_mounts_the_tls_secret_where_nginx_reads_it(pod_spec, main_container):
    env = container_env(main_container)
    for var, default in (("PODINJECT_TLS_CERT", "/etc/podinject-tls/tls.crt"),
                         ("PODINJECT_TLS_KEY", "/etc/podinject-tls/tls.key")):
        path = env.get(var, {}).get("value", default)
        mount = mount_for(main_container, path)
        assert mount is not None, path
        volume = volume_named(pod_spec, mount["name"])
        assert volume["secret"]["secretName"] == "podinject-tls", volume
        assert posixpath.basename(path) in ("tls.crt", "tls.key")


def test_deployment_env_is_what_the_entrypoint_reads(main_container):
    """Every PODINJECT_* variable the Deployment sets is one the entrypoint, render.sh or podinject reads."""
    known = set()
    for f in (DEPLOY / "docker" / "entrypoint.sh", DEPLOY / "hosts" / "render.sh"):
        known |= set(re.findall(r"PODINJECT_[A-Z_]+", f.read_text()))
    known |= {"PODINJECT_CONFIG", "PODINJECT_SERVICEACCOUNT_DIR"}  # podinject's own (README)
    for name in container_env(main_container):
        if name.startswith("PODINJECT_"):
            assert name in known, name


def test_init_container_checks_the_config(pod_spec, main_container):
    (init,) = pod_spec["initContainers"]
    assert init["image"] == main_container["image"]
    argv = (init.get("command") or []) + (init.get("args") or [])
    assert argv[:2] == ["podinject", "check-config"], argv
    config = argv[argv.index("--config") + 1] if "--config" in argv else DEFAULT_CONFIG_PATH
    assert mount_for(init, config) == mount_for(main_container, config)


def test_image_is_set_by_the_kustomization(pod_spec):
    for c in pod_spec["containers"] + pod_spec["initContainers"]:
        assert "/" in c["image"] and ":" in c["image"].rsplit("/", 1)[1], c["image"]


def test_deployed_config_passes_check_config(deployed_config_text, tmp_path, podinject_bin):
    path = tmp_path / "config.yaml"
    path.write_text(deployed_config_text)
    r = h.run_podinject(["check-config", "--config", str(path)])
    assert r.returncode == 0, r.describe()
    assert (DEPLOY / "kubernetes" / "base" / "config.yaml").read_text() == deployed_config_text


def _deployed_config_file(text: str, tmp_path: Path) -> Path:
    d = tmp_path / "deployed"
    d.mkdir()
    doc = h.load_yaml_docs(text)[0]
    doc["events"]["outbox"] = str(d / "outbox")
    doc["events"]["logFile"] = str(d / "events.log")
    path = d / "config.yaml"
    path.write_text(json.dumps(doc))
    return path


def test_deployed_config_is_opt_in(deployed_config_text, tmp_path, podinject_bin):
    """Installing podinject changes no existing workload: no corpus pod is patched by the shipped config."""
    config = _deployed_config_file(deployed_config_text, tmp_path)
    cases, _ = h.corpus_pod_cases()
    assert cases
    for case in cases:
        r = h.admit(h.review_for(case), config)
        assert r.returncode == 0, r.describe()
        answer = r.json()
        assert answer["response"]["allowed"] is True
        assert h.patch_of(answer) is None, f"{case.case_id} was patched by the shipped config"


def test_readme_verification_pod(deployed_config_text, tmp_path, podinject_bin):
    """The README's "Verify with a pod": the opted-in demo pod gets its env; without `app` it is still
    admitted, with a warning and the failure in its status annotation."""
    config = _deployed_config_file(deployed_config_text, tmp_path)
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "demo", "namespace": "podinject-demo",
                        "labels": {"app": "demo", "example.com/inject": "standard"}},
           "spec": {"containers": [{"name": "demo", "image": "registry.k8s.io/pause:3.10"}]}}
    r = h.admit(h.make_review(pod, namespace="podinject-demo", uid=h.stable_uid("readme-demo")), config)
    assert r.returncode == 0, r.describe()
    patched = h.apply_patch(pod, h.patch_of(r.json()))
    env = {e["name"]: e.get("value") for e in patched["spec"]["containers"][0]["env"]}
    assert env["APP_NAME"] == "demo" and env["OTEL_SERVICE_NAME"] == "demo", env
    assert h.status_annotation(patched) == {"applied": ["app-identity", "tracing"], "failed": []}

    del pod["metadata"]["labels"]["app"]
    r = h.admit(h.make_review(pod, namespace="podinject-demo", uid=h.stable_uid("readme-broken")), config)
    answer = r.json()
    assert answer["response"]["allowed"] is True and answer["response"].get("warnings"), answer
    status = h.status_annotation(h.apply_patch(pod, h.patch_of(answer)))
    assert status["failed"] == [{"rule": "app-identity", "reason": "TemplateValueMissing"}], status
    readme = (h.REPO / "README.md").read_text()
    assert "example.com/inject=standard" in readme and "app=demo" in readme


# --------------------------------------------------------------------------------------------
# TLS: deploy/tls/make-certs.sh's overlay
# --------------------------------------------------------------------------------------------


def _openssl(*args: str) -> str:
    proc = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, f"openssl {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def test_make_certs_overlay_renders_and_validates(deploy_tls):
    docs = h.kustomize(deploy_tls.directory)
    assert {d["kind"] for d in docs} == CORE_KINDS | {"Secret"}
    for d in docs:
        assert_strictly_valid(d)
    (secret,) = by_kind(docs, "Secret")
    assert secret["type"] == "kubernetes.io/tls" and secret["metadata"]["namespace"] == NAMESPACE
    assert base64.b64decode(secret["data"]["tls.crt"]) == deploy_tls.tls_crt.read_bytes()
    assert base64.b64decode(secret["data"]["tls.key"]) == deploy_tls.tls_key.read_bytes()
    # The Deployment mounts that Secret (kustomize follows the generated name).
    spec = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert volume_named(spec, "tls")["secret"]["secretName"] == secret["metadata"]["name"]
    # The webhook trusts the CA that signed the serving certificate, and only through caBundle.
    hook = one(docs, "MutatingWebhookConfiguration")["webhooks"][0]
    assert base64.b64decode(hook["clientConfig"]["caBundle"]) == deploy_tls.ca_crt.read_bytes()
    # Everything else is the base, unchanged.
    rest = [d for d in docs if d["kind"] not in ("Secret", "Deployment", "MutatingWebhookConfiguration")]
    assert sorted(map(json.dumps, rest)) == sorted(json.dumps(d) for d in rendered_base()
                                                  if d["kind"] not in ("Deployment", "MutatingWebhookConfiguration"))


def test_make_certs_serving_certificate(deploy_tls):
    _openssl("verify", "-CAfile", str(deploy_tls.ca_crt), "-purpose", "sslserver", str(deploy_tls.tls_crt))
    text = _openssl("x509", "-in", str(deploy_tls.tls_crt), "-noout", "-ext", "subjectAltName")
    sans = sorted(re.findall(r"DNS:([^,\s]+)", text))
    assert sans == sorted(SERVICE_SANS), sans
    subject = _openssl("x509", "-in", str(deploy_tls.tls_crt), "-noout", "-subject")
    assert "podinject.podinject.svc" in subject
    ca = _openssl("x509", "-in", str(deploy_tls.ca_crt), "-noout", "-ext", "basicConstraints")
    assert "CA:TRUE" in ca
    # The key matches the certificate.
    assert _openssl("pkey", "-in", str(deploy_tls.tls_key), "-pubout") == \
        _openssl("x509", "-in", str(deploy_tls.tls_crt), "-noout", "-pubkey")
    assert deploy_tls.ca_key.stat().st_mode & 0o077 == 0 and deploy_tls.tls_key.stat().st_mode & 0o077 == 0


def test_make_certs_rerun_renews_the_certificate_and_keeps_the_ca(tmp_path):
    first = make_certs(tmp_path / "out")
    ca, cert = first.ca_crt.read_bytes(), first.tls_crt.read_bytes()
    second = make_certs(tmp_path / "out")
    assert second.ca_crt.read_bytes() == ca, "the caBundle must not change when the serving certificate is renewed"
    assert second.tls_crt.read_bytes() != cert
    _openssl("verify", "-CAfile", str(second.ca_crt), str(second.tls_crt))


def test_generated_tls_directory_is_git_ignored():
    proc = subprocess.run(["git", "check-ignore", "-q", "deploy/tls/generated/ca.key"], cwd=h.REPO)
    assert proc.returncode == 0, "deploy/tls/generated (private keys) must be git-ignored"


# --------------------------------------------------------------------------------------------
# TLS: the cert-manager overlay
# --------------------------------------------------------------------------------------------


CERT_MANAGER_KINDS = {"Issuer", "Certificate"}


def _check_issuer(issuer: dict) -> str:
    """Structural check of a cert-manager.io/v1 Issuer; returns its type."""
    assert issuer["apiVersion"] == "cert-manager.io/v1"
    assert set(issuer) == {"apiVersion", "kind", "metadata", "spec"}, set(issuer)
    assert issuer["metadata"].get("namespace") == NAMESPACE
    types = set(issuer["spec"]) & {"selfSigned", "ca", "acme", "vault", "venafi"}
    assert len(types) == 1 and set(issuer["spec"]) == types, issuer["spec"]
    (kind,) = types
    if kind == "ca":
        assert isinstance(issuer["spec"]["ca"].get("secretName"), str) and set(issuer["spec"]["ca"]) <= {
            "secretName", "crlDistributionPoints", "ocspServers", "issuingCertificateURLs"}
    if kind == "selfSigned":
        assert issuer["spec"]["selfSigned"] in ({}, None) or set(issuer["spec"]["selfSigned"]) <= {"crlDistributionPoints"}
    return kind


CERTIFICATE_SPEC_FIELDS = {"secretName", "commonName", "dnsNames", "ipAddresses", "uris", "emailAddresses",
                           "duration", "renewBefore", "usages", "privateKey", "issuerRef", "isCA", "subject",
                           "secretTemplate", "revisionHistoryLimit", "keystores", "literalSubject",
                           "additionalOutputFormats", "nameConstraints", "otherNames", "encodeUsagesInRequest",
                           "renewBeforePercentage", "signatureAlgorithm"}


def _check_certificate(cert: dict, issuers: dict[str, str]) -> None:
    assert cert["apiVersion"] == "cert-manager.io/v1"
    assert set(cert) == {"apiVersion", "kind", "metadata", "spec"}, set(cert)
    assert cert["metadata"].get("namespace") == NAMESPACE
    spec = cert["spec"]
    assert set(spec) <= CERTIFICATE_SPEC_FIELDS, set(spec) - CERTIFICATE_SPEC_FIELDS
    assert isinstance(spec["secretName"], str) and spec["secretName"]
    ref = spec["issuerRef"]
    assert ref.get("kind", "Issuer") == "Issuer" and ref.get("group", "cert-manager.io") == "cert-manager.io", ref
    assert ref["name"] in issuers, f"issuerRef {ref['name']} is not one of the rendered Issuers {sorted(issuers)}"
    for key in ("duration", "renewBefore"):
        if key in spec:
            assert re.fullmatch(r"(\d+h)?(\d+m)?(\d+s)?", spec[key]) and spec[key], spec[key]
    if "privateKey" in spec:
        assert set(spec["privateKey"]) <= {"algorithm", "size", "encoding", "rotationPolicy"}
        assert spec["privateKey"].get("algorithm", "RSA") in ("RSA", "ECDSA", "Ed25519")
    for usage in spec.get("usages", []):
        assert usage in ("server auth", "client auth", "digital signature", "key encipherment", "cert sign",
                         "crl sign"), usage


def test_cert_manager_overlay(base):
    docs = h.kustomize(DEPLOY / "kubernetes" / "cert-manager")
    core = [d for d in docs if d["kind"] not in CERT_MANAGER_KINDS]
    assert {d["kind"] for d in core} == CORE_KINDS
    for d in core:
        assert_strictly_valid(d)  # cert-manager's CRDs are not in the 1.37 schema: checked by shape below
    issuers = {i["metadata"]["name"]: _check_issuer(i) for i in by_kind(docs, "Issuer")}
    certs = {c["metadata"]["name"]: c for c in by_kind(docs, "Certificate")}
    for c in certs.values():
        _check_certificate(c, issuers)
    # A CA chain: self-signed Issuer -> CA Certificate -> CA Issuer -> serving Certificate.
    ca_issuers = [i for i in by_kind(docs, "Issuer") if "ca" in i["spec"]]
    assert len(ca_issuers) == 1 and "selfSigned" in issuers.values(), issuers
    (ca_cert,) = [c for c in certs.values() if c["spec"].get("isCA")]
    assert ca_cert["spec"]["secretName"] == ca_issuers[0]["spec"]["ca"]["secretName"]
    assert issuers[ca_cert["spec"]["issuerRef"]["name"]] == "selfSigned"
    # The webhook's CA is injected from the serving Certificate, which covers the service names and
    # lands in the Secret the Deployment mounts.
    mwc = one(docs, "MutatingWebhookConfiguration")
    ref = mwc["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
    assert ref == "podinject/podinject", ref
    namespace, name = ref.split("/")
    serving = certs[name]
    assert serving["metadata"]["namespace"] == namespace
    assert not serving["spec"].get("isCA")
    assert serving["spec"]["issuerRef"]["name"] == ca_issuers[0]["metadata"]["name"]
    assert sorted(serving["spec"]["dnsNames"]) == sorted(SERVICE_SANS)
    spec = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert volume_named(spec, "tls")["secret"]["secretName"] == serving["spec"]["secretName"]
    assert "caBundle" not in mwc["webhooks"][0]["clientConfig"]
    # Otherwise the base, unchanged.
    strip = copy.deepcopy(mwc)
    del strip["metadata"]["annotations"]
    assert sorted(map(json.dumps, [strip if d is mwc else d for d in core])) == sorted(map(json.dumps, base))


# --------------------------------------------------------------------------------------------
# The Dockerfile and the README's build
# --------------------------------------------------------------------------------------------


def dockerfile_stages(path: Path) -> list[dict]:
    """Instructions per stage: [{"from": ..., "name": ..., "instructions": [(KEYWORD, args)]}]."""
    lines, buf = [], ""
    for raw in path.read_text().splitlines():
        if not buf and (raw.lstrip().startswith("#") or not raw.strip()):
            continue
        if buf and raw.lstrip().startswith("#"):
            continue  # a comment inside a continued instruction
        if raw.rstrip().endswith("\\"):
            buf += raw.rstrip()[:-1] + " "
            continue
        lines.append(buf + raw)
        buf = ""
    stages: list[dict] = []
    for line in lines:
        keyword, _, args = line.strip().partition(" ")
        keyword = keyword.upper()
        args = " ".join(args.split())
        if keyword == "FROM":
            m = re.fullmatch(r"(?:--platform=\S+ )?(\S+)(?: AS (\S+))?", args, re.IGNORECASE)
            assert m, line
            stages.append({"from": m.group(1), "name": m.group(2), "instructions": []})
        elif keyword == "ARG" and not stages:
            continue
        else:
            assert stages, f"instruction before FROM: {line}"
            stages[-1]["instructions"].append((keyword, args))
    return stages


def run_commands(stage: dict) -> list[str]:
    """The shell commands of a stage's RUN instructions, split at && and ;."""
    out = []
    for keyword, args in stage["instructions"]:
        if keyword == "RUN":
            out += [" ".join(c.split()) for c in re.split(r"&&|;", args) if c.strip()]
    return out


def readme_build_commands(readme: str | None = None) -> list[str]:
    readme = (h.REPO / "README.md").read_text() if readme is None else readme
    m = re.search(r"^### Building the image\n(.*?)(?=^#{1,3} )", readme, re.S | re.M)
    assert m, "README.md has no '### Building the image' section"
    blocks = re.findall(r"```sh\n(.*?)```", m.group(1), re.S)
    assert len(blocks) >= 2, "the section shows the docker build, then the build commands"
    commands = [" ".join(ln.split()) for ln in blocks[1].splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    assert commands, blocks[1]
    return commands


# Build-stage variables that cannot change what is built.
BUILD_NEUTRAL_VARIABLES = {"DEBIAN_FRONTEND"}
# Build-stage commands that are not build steps: package index upkeep, plumbing, and running the binary
# just built (a smoke check).
BUILD_HOUSEKEEPING = [r"apt-get update(?: -\S+)*", r"apt-get clean", r"rm -rf /var/lib/apt/lists/\*", r"mkdir .+",
                      r"cp .+", r"\.build/release/podinject(?: .*)?"]
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.S)


def _split_assignments(command: str) -> tuple[dict[str, str], str]:
    """`A=1 B=2 cmd args` -> ({A: 1, B: 2}, "cmd args")."""
    words = shlex.split(command)
    env = {}
    while words and _ASSIGNMENT.fullmatch(words[0]):
        name, value = _ASSIGNMENT.fullmatch(words.pop(0)).groups()
        env[name] = value
    return env, " ".join(words)


def _variables_of(keyword: str, args: str) -> dict[str, str]:
    """The variables an ENV or ARG instruction sets; an ARG without a default is whatever --build-arg says."""
    words = shlex.split(args)
    if keyword == "ENV" and words and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}  # legacy `ENV NAME value`
    out = {}
    for word in words:
        m = _ASSIGNMENT.fullmatch(word)
        if m:
            out[m.group(1)] = m.group(2)
        else:
            assert keyword == "ARG", f"cannot parse {keyword} {args}"
            out[word] = f"<--build-arg {word}>"
    return out


def _build_step(command: str, env: dict[str, str]) -> tuple[str, tuple] | None:
    prefix, rest = _split_assignments(command)
    if any(re.fullmatch(p, rest) for p in BUILD_HOUSEKEEPING):
        return None
    effective = {k: v for k, v in {**env, **prefix}.items() if k not in BUILD_NEUTRAL_VARIABLES}
    return rest, tuple(sorted(effective.items()))


def dockerfile_build_steps(stage: dict) -> list[tuple[str, tuple]]:
    """(command, the variables it runs with) for every build step of a Dockerfile stage."""
    env: dict[str, str] = {}
    steps = []
    for keyword, args in stage["instructions"]:
        if keyword in ("ENV", "ARG"):
            env.update(_variables_of(keyword, args))
        elif keyword == "SHELL":
            raise AssertionError(f"the build stage changes its shell: SHELL {args}")
        elif keyword == "RUN":
            assert not args.startswith("["), f"exec-form RUN is not compared with the README: RUN {args}"
            for c in run_commands({"instructions": [(keyword, args)]}):
                step = _build_step(c, env)
                if step:
                    steps.append(step)
    return steps


def readme_build_steps(commands: list[str]) -> list[tuple[str, tuple]]:
    env: dict[str, str] = {}
    steps = []
    for c in commands:
        if c.startswith("export "):
            env.update(_variables_of("ENV", c[len("export "):]))
            continue
        step = _build_step(c, env)
        if step:
            steps.append(step)
    return steps


def check_build_stage(dockerfile: Path, readme: str | None = None) -> None:
    """The Dockerfile's build stage is the README's build: the same commands, in the same order, with the
    same build-changing variables (ENV, ARG or VAR=value prefixes), and nothing else."""
    stages = dockerfile_stages(dockerfile)
    build = stages[0]
    assert re.fullmatch(r"swift:6\.3[\w.-]*-bookworm", build["from"]), build["from"]
    documented = readme_build_commands(readme)
    assert "scripts/build" in [_split_assignments(c)[1] for c in documented]
    assert any("libyaml-dev" in c for c in documented)
    docker, readme_steps = dockerfile_build_steps(build), readme_build_steps(documented)
    for step in docker:
        assert step in readme_steps, f"the Dockerfile's build step {step} is not the README's build {readme_steps}"
    for step in readme_steps:
        assert step in docker, f"README's build step {step} is not run by the Dockerfile's build stage {docker}"
    assert docker == readme_steps, f"order differs: Dockerfile {docker}, README {readme_steps}"
    # Nothing else builds the binary (no other swift build line).
    assert not [c for c in run_commands(build) if re.search(r"\bswift build\b", c)]


def test_dockerfile_build_stage_runs_the_readme_build():
    check_build_stage(DEPLOY / "docker" / "Dockerfile")


_BUILD_ANCHOR = "RUN scripts/build\n"


def _mutated(tmp_path: Path, edit) -> Path:
    text = (DEPLOY / "docker" / "Dockerfile").read_text()
    assert _BUILD_ANCHOR in text
    path = tmp_path / "Dockerfile"
    path.write_text(edit(text))
    return path


def _before_build(line: str):
    return lambda text: text.replace(_BUILD_ANCHOR, line + "\n" + _BUILD_ANCHOR, 1)


BUILD_STAGE_MUTATIONS = {
    "env-link-dynamic": (_before_build("ENV PODINJECT_LINK=dynamic"), False),
    "env-legacy-form": (_before_build("ENV PODINJECT_LINK dynamic"), False),
    "arg-with-default": (_before_build("ARG PODINJECT_LINK=dynamic"), False),
    "arg-without-default": (_before_build("ARG PODINJECT_LINK"), False),
    "env-path": (_before_build("ENV PATH=/opt/other-swift/usr/bin:$PATH"), False),
    "prefix-on-build": (lambda t: t.replace(_BUILD_ANCHOR, "RUN PODINJECT_LINK=dynamic scripts/build\n", 1), False),
    "extra-swift-build": (_before_build("RUN swift build -c release"), False),
    "build-missing": (lambda t: t.replace(_BUILD_ANCHOR, "", 1), False),
    "package-dropped": (lambda t: t.replace("libstdc++-12-dev gcc", "libstdc++-12-dev", 1), False),
    "extra-package-step": (_before_build("RUN apt-get install -y curl"), False),
    "steps-reordered": (lambda t: t.replace(_BUILD_ANCHOR, "", 1).replace(
        "RUN apt-get update", "RUN scripts/build\nRUN apt-get update", 1), False),
    # housekeeping and neutral settings are not build steps
    "neutral-frontend": (_before_build("ENV DEBIAN_FRONTEND=noninteractive"), True),
    "housekeeping": (_before_build("RUN mkdir -p /out && cp README.md /out/ && apt-get clean"), True),
}


@pytest.mark.parametrize("name", list(BUILD_STAGE_MUTATIONS))
def test_build_stage_check_catches_drift(name, tmp_path):
    """The check above fails on a Dockerfile that builds differently from the README, and only then."""
    edit, accepted = BUILD_STAGE_MUTATIONS[name]
    path = _mutated(tmp_path, edit)
    if accepted:
        check_build_stage(path)
    else:
        with pytest.raises(AssertionError):
            check_build_stage(path)


def test_build_stage_variables_are_allowed_when_the_readme_documents_them(tmp_path):
    readme = (h.REPO / "README.md").read_text()
    assert "\nscripts/build\n" in readme
    documented = readme.replace("\nscripts/build\n", "\nPODINJECT_LINK=dynamic scripts/build\n", 1)
    path = _mutated(tmp_path, _before_build("ENV PODINJECT_LINK=dynamic"))
    check_build_stage(path, documented)
    with pytest.raises(AssertionError):  # ... and the README's variant alone is not the Dockerfile's build
        check_build_stage(DEPLOY / "docker" / "Dockerfile", documented)


def test_dockerfile_runtime_stage_is_slim_non_root_with_libcurl():
    stages = dockerfile_stages(DEPLOY / "docker" / "Dockerfile")
    runtime = stages[-1]
    assert runtime["from"] == "debian:bookworm-slim"
    installs = [c for c in run_commands(runtime) if c.startswith("apt-get install")]
    packages = {w for c in installs for w in shlex.split(c)[2:] if not w.startswith("-")}
    assert {"nginx", "fcgiwrap", "libcurl4", "ca-certificates"} <= packages, packages
    users = [args for kw, args in runtime["instructions"] if kw == "USER"]
    assert users, "the runtime stage has no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), users[-1]
    assert user == "65532", "the Deployment's runAsUser is 65532"
    copies = [_copy_words(args) for kw, args in runtime["instructions"] if kw == "COPY"]
    # The binary comes from the `binary` stage, which holds only the build stage's executable: so the
    # tests, which put scripts/build's binary in its place (--build-context binary=DIR), build this very
    # runtime stage.
    by_name = {st["name"]: st for st in stages if st["name"]}
    binary = [c for c in copies if c[0].get("from") and c[2] == "/usr/local/bin/podinject"]
    assert len(binary) == 1, copies
    binary_stage = by_name[binary[0][0]["from"]]
    assert binary_stage["from"] == "scratch", binary_stage
    assert [kw for kw, _ in binary_stage["instructions"]] == ["COPY"], binary_stage
    flags, src, dest = _copy_words(binary_stage["instructions"][0][1])
    assert flags.get("from") == stages[0]["name"] and src == ["/src/.build/release/podinject"], binary_stage
    assert binary[0][1] == [dest], (binary, dest)
    assert binary[0][0].get("chmod") == "0755", binary
    # What it copies from the repository exists, and the entrypoint finds the host templates.
    for flags, src, dest in copies:
        if flags.get("from"):
            continue
        for path in src:
            assert (h.REPO / path).exists(), path
    entry = [args for kw, args in runtime["instructions"] if kw == "ENTRYPOINT"]
    assert entry, "no ENTRYPOINT"
    argv = json.loads(entry[-1])
    script = argv[-1]
    assert any(dest == script for _, _, dest in copies), (script, copies)
    hosts_dest = [dest for _, src, dest in copies if src == ["deploy/hosts/"]]
    assert hosts_dest and posixpath.normpath(posixpath.join(posixpath.dirname(script), "..", "hosts")) == \
        posixpath.normpath(hosts_dest[0]), (script, hosts_dest)
    exposed = [args for kw, args in runtime["instructions"] if kw == "EXPOSE"]
    assert exposed == ["8443"], exposed


def _copy_words(args: str) -> tuple[dict[str, str], list[str], str]:
    """COPY's flags (--from=, --chmod=), sources and destination."""
    words = args.split()
    flags = dict(w[2:].split("=", 1) for w in words if w.startswith("--"))
    rest = [w for w in words if not w.startswith("--")]
    return flags, rest[:-1], rest[-1]


def test_readme_shows_the_image_build_the_tests_run():
    """README's "Building the image" shows the podman build scripts/image runs, and scripts/image runs it:
    the runtime stage of the Dockerfile, with the `binary` stage given as a build context."""
    readme = (h.REPO / "README.md").read_text()
    m = re.search(r"^### Building the image\n(.*?)(?=^#{1,3} )", readme, re.S | re.M)
    assert m
    section = m.group(1)
    assert "scripts/image build" in section and "test_image.py" in section
    script = (h.REPO / "scripts" / "image").read_text()
    for needle in ("--build-context binary=", "--file deploy/docker/Dockerfile",
                   "--ignorefile deploy/docker/Dockerfile.dockerignore"):
        assert needle in script, needle
        assert needle.split("=")[0].split()[0] in section, needle
    stages = dockerfile_stages(DEPLOY / "docker" / "Dockerfile")
    assert "binary" in [st["name"] for st in stages]


# --------------------------------------------------------------------------------------------
# OpenFaaS
# --------------------------------------------------------------------------------------------


def test_openfaas_stack_file():
    stack = yaml.safe_load((DEPLOY / "openfaas" / "podinject.yml").read_text())
    fn = stack["functions"]["podinject"]
    assert fn["fprocess"] == "podinject"
    env = fn["environment"]
    assert env["content_type"] == "application/json"
    assert str(env["combine_output"]).lower() == "false"
    config = env["PODINJECT_CONFIG"]
    assert config.startswith("/var/openfaas/secrets/") and posixpath.basename(config) in fn["secrets"]
    for key in ("read_timeout", "write_timeout", "exec_timeout"):
        assert re.fullmatch(r"\d+s", env[key]) and int(env[key][:-1]) <= 10, (key, env[key])
    stages = dockerfile_stages(DEPLOY / "openfaas" / "Dockerfile")
    final = stages[-1]
    envs = " ".join(args for kw, args in final["instructions"] if kw == "ENV")
    assert "fprocess=podinject" in envs
    assert [args for kw, args in final["instructions"] if kw == "CMD"] == ['["fwatchdog"]']
    assert [args for kw, args in final["instructions"] if kw == "USER"][-1].split(":")[0] not in ("root", "0")
