"""Self-tests of the fake API server (kubeapi.py): it must be as strict as kube-apiserver, or the
Event-delivery tests prove nothing. Uses only python's ssl/http.client, never podinject."""

from __future__ import annotations

import base64
import concurrent.futures as cf
import http.client
import json
import socket
import ssl
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

import kubeapi as k
from kubeapi import CORE, EVENTS, call, events_path
from kubeapi_fixtures import *  # noqa: F401,F403

NS = "shop"
MICRO = "2026-11-29T05:19:29.123456Z"
TIME = "2026-11-29T05:19:29Z"


def core_event(name: str = "web-5d8f7c9b6.0123456789abcdef", ns: str = NS, **overrides) -> dict:
    ev = {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": name, "namespace": ns},
        "involvedObject": {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d8f7c9b6", "namespace": ns,
                           "uid": "2f9c1e7a-4b3d-4a6e-9c8f-0d1e2a3b4c5d"},
        "reason": "InjectionFailed", "message": 'rule "tracing" not applied: TemplateValueMissing',
        "type": "Warning", "source": {"component": "podinject.dev/webhook"},
        "reportingComponent": "podinject.dev/webhook", "reportingInstance": "podinject-0",
        "firstTimestamp": TIME, "lastTimestamp": TIME, "count": 1,
    }
    ev.update(overrides)
    return ev


def v1_event(name: str = "web-5d8f7c9b6.fedcba9876543210", ns: str = NS, **overrides) -> dict:
    ev = {
        "apiVersion": EVENTS, "kind": "Event",
        "metadata": {"name": name, "namespace": ns},
        "regarding": {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d8f7c9b6", "namespace": ns,
                      "uid": "2f9c1e7a-4b3d-4a6e-9c8f-0d1e2a3b4c5d"},
        "reason": "InjectionFailed", "note": 'rule "tracing" not applied: TemplateValueMissing',
        "type": "Warning", "eventTime": MICRO, "action": "Inject",
        "reportingController": "podinject.dev/webhook", "reportingInstance": "podinject-0",
    }
    ev.update(overrides)
    return ev


def admin(api: k.KubeAPI) -> str:
    return api.token(k.ADMIN_USER)


def post(api, apiv, doc, ns=NS, **kw):
    kw.setdefault("token", admin(api))
    return call(api, "POST", events_path(apiv, ns), doc, **kw)


def assert_status(reply: k.Reply, code: int, reason: str) -> dict:
    assert reply.status == code, (reply.status, reply.body[:500])
    assert reply.headers.get("content-type") == "application/json", reply.headers
    s = reply.json()
    assert s["kind"] == "Status" and s["apiVersion"] == "v1" and s["status"] == "Failure", s
    assert s["code"] == code and s["reason"] == reason and s["message"], s
    return s


def invalid_fields(reply: k.Reply) -> set[str]:
    s = assert_status(reply, 422, "Invalid")
    assert s["details"]["kind"] == "Event", s
    causes = s["details"]["causes"]
    assert causes and all({"reason", "message", "field"} <= set(c) for c in causes), causes
    return {c["field"] for c in causes}


# =============================================================================================
# Authentication and authorization
# =============================================================================================


def test_no_credentials_is_401_status(kubeapi):
    r = call(kubeapi, "POST", events_path(CORE, NS), core_event())
    assert_status(r, 401, "Unauthorized")
    assert kubeapi.requests[-1].identity is None and kubeapi.requests[-1].status == 401
    assert kubeapi.events() == []


def test_wrong_token_is_401_and_wrong_token_on_unknown_path_too(kubeapi):
    assert_status(call(kubeapi, "POST", events_path(CORE, NS), core_event(), token="nope"), 401, "Unauthorized")
    # authentication comes before routing, as in kube-apiserver
    assert_status(call(kubeapi, "GET", "/api/v1/namespaces/x/pods", token="nope"), 401, "Unauthorized")


def test_service_account_token_may_create_get_patch_only(kubeapi):
    tok = kubeapi.token()
    assert call(kubeapi, "POST", events_path(CORE, NS), core_event(), token=tok).status == 201
    assert kubeapi.requests[-1].identity == k.SA_USER and kubeapi.requests[-1].credential == f"token:{k.SA_USER}"
    name = core_event()["metadata"]["name"]
    assert call(kubeapi, "GET", events_path(CORE, NS, name), token=tok).status == 200
    assert call(kubeapi, "PATCH", events_path(CORE, NS, name), {"count": 2}, token=tok).status == 200
    s = assert_status(call(kubeapi, "PUT", events_path(CORE, NS, name), core_event(), token=tok), 403, "Forbidden")
    assert s["message"] == (f'events "{name}" is forbidden: User "{k.SA_USER}" cannot update resource "events" in '
                            f'API group "" in the namespace "{NS}"'), s
    assert s["details"] == {"name": name, "kind": "events"}
    s = assert_status(call(kubeapi, "GET", events_path(EVENTS, NS), token=tok), 403, "Forbidden")
    assert 'cannot list resource "events" in API group "events.k8s.io"' in s["message"], s


def test_forbidden_identity_is_403_with_status(kubeapi):
    kubeapi.forbid(k.SA_USER)
    s = assert_status(call(kubeapi, "POST", events_path(EVENTS, NS), v1_event(), token=kubeapi.token()), 403,
                      "Forbidden")
    assert s["message"].startswith("events.events.k8s.io is forbidden: User "), s
    assert s["details"] == {"group": "events.k8s.io", "kind": "events"}, s
    assert kubeapi.events() == []


def test_client_certificate_authenticates_by_cn(kubeapi, kube_pki):
    r = call(kubeapi, "POST", events_path(CORE, NS), core_event(), cert=kube_pki.client_cert())
    assert r.status == 201, r.body
    assert kubeapi.requests[-1].identity == k.CERT_USER and kubeapi.requests[-1].credential == f"cert:{k.CERT_USER}"
    # a cert for a user without any RBAC is authenticated, then forbidden
    r = call(kubeapi, "GET", events_path(CORE, NS, "x"), cert=kube_pki.client_cert("stranger", "nobody"))
    s = assert_status(r, 403, "Forbidden")
    assert 'User "stranger" cannot get resource "events"' in s["message"]
    assert kubeapi.requests[-1].identity == "stranger"


def test_client_certificate_from_untrusted_ca_fails_the_handshake(kubeapi, kube_pki):
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        call(kubeapi, "GET", events_path(CORE, NS, "x"), cert=kube_pki.client_cert("mallory", rogue=True))
    assert kubeapi.wait_for(lambda a: a.tls_failures, 2), "the refused handshake is recorded"
    assert not [r for r in kubeapi.requests if r.identity == "mallory"]


def test_server_certificate_names_and_ca(kubeapi, kubeapi_factory, kube_pki, tmp_path):
    # valid for IP:127.0.0.1 and DNS:localhost, signed by the server CA only
    assert call(kubeapi, "GET", "/api/v1/namespaces/x/events/y", host="localhost").status == 401
    other = ssl.create_default_context(cafile=str(kube_pki.client_ca_crt))
    with pytest.raises(ssl.SSLCertVerificationError):
        with socket.create_connection(("127.0.0.1", kubeapi.port), 5) as s:
            other.wrap_socket(s, server_hostname="127.0.0.1")
    # a server whose certificate names only kubernetes.default.svc: verifiable only with that server name
    named = kubeapi_factory(sans=("DNS:kubernetes.default.svc",))
    ctx = ssl.create_default_context(cafile=str(named.ca_crt))
    with pytest.raises(ssl.SSLCertVerificationError):
        with socket.create_connection(("127.0.0.1", named.port), 5) as s:
            ctx.wrap_socket(s, server_hostname="127.0.0.1")
    with socket.create_connection(("127.0.0.1", named.port), 5) as s:
        with ctx.wrap_socket(s, server_hostname="kubernetes.default.svc") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_token_rotation_invalidates_the_old_token_and_rewrites_files(kubeapi, tmp_path):
    env = kubeapi.write_serviceaccount_dir(tmp_path / "sa")
    kc = kubeapi.write_kubeconfig(tmp_path / "kc.yaml", "tokenFile")
    old = (tmp_path / "sa" / "token").read_text()
    assert old == kubeapi.token() and Path(env["PODINJECT_SERVICEACCOUNT_DIR"]) == tmp_path / "sa"
    new = kubeapi.rotate_token()
    assert new != old
    assert (tmp_path / "sa" / "token").read_text() == new
    token_file = yaml.safe_load(kc.read_text())["users"][-1]["user"]["tokenFile"]
    assert Path(token_file).read_text() == new
    assert_status(call(kubeapi, "POST", events_path(CORE, NS), core_event(), token=old), 401, "Unauthorized")
    assert call(kubeapi, "POST", events_path(CORE, NS), core_event(), token=new).status == 201


# =============================================================================================
# Routing, decoding, media types
# =============================================================================================


def test_unknown_paths_are_404_status(kubeapi):
    for path in ("/api/v1/namespaces/shop/pods", "/apis/events.k8s.io/v1beta1/namespaces/shop/events",
                 "/healthz", "/api/v1/namespaces/shop/events/a/b"):
        assert_status(call(kubeapi, "GET", path, token=admin(kubeapi)), 404, "NotFound")


def test_get_missing_event_is_404_notfound_with_details(kubeapi):
    s = assert_status(call(kubeapi, "GET", events_path(EVENTS, NS, "nope"), token=admin(kubeapi)), 404, "NotFound")
    assert s["message"] == 'events.events.k8s.io "nope" not found'
    assert s["details"] == {"name": "nope", "group": "events.k8s.io", "kind": "events"}
    s = assert_status(call(kubeapi, "PATCH", events_path(CORE, NS, "nope"), {"count": 2}, token=admin(kubeapi)),
                      404, "NotFound")
    assert s["message"] == 'events "nope" not found'


def test_wrong_method_is_405(kubeapi):
    assert_status(call(kubeapi, "POST", events_path(CORE, NS, "x"), core_event(), token=admin(kubeapi)), 405,
                  "MethodNotAllowed")
    assert_status(call(kubeapi, "PATCH", events_path(CORE, NS), {}, token=admin(kubeapi)), 405, "MethodNotAllowed")


def test_create_needs_application_json(kubeapi):
    # libcurl's default for a POST body is application/x-www-form-urlencoded: the real server says 415
    for ctype in ("application/x-www-form-urlencoded", "text/plain", "application/merge-patch+json"):
        r = post(kubeapi, CORE, core_event(), content_type=ctype)
        assert_status(r, 415, "UnsupportedMediaType")
    assert post(kubeapi, CORE, core_event(), content_type="application/json; charset=utf-8").status == 201


def test_patch_media_types(kubeapi):
    post(kubeapi, CORE, core_event())
    name = core_event()["metadata"]["name"]
    for ctype in ("application/json", "text/plain", "application/apply-patch+yaml"):
        r = call(kubeapi, "PATCH", events_path(CORE, NS, name), {"count": 5}, token=admin(kubeapi),
                 content_type=ctype)
        assert_status(r, 415, "UnsupportedMediaType")
    for i, ctype in enumerate(("application/merge-patch+json", "application/strategic-merge-patch+json")):
        r = call(kubeapi, "PATCH", events_path(CORE, NS, name), {"count": 2 + i}, token=admin(kubeapi),
                 content_type=ctype)
        assert r.status == 200 and r.json()["count"] == 2 + i, r.body
    r = call(kubeapi, "PATCH", events_path(CORE, NS, name), [{"op": "replace", "path": "/count", "value": 9}],
             token=admin(kubeapi), content_type="application/json-patch+json")
    assert r.status == 200 and r.json()["count"] == 9, r.body


def test_url_namespace_must_match_object_namespace(kubeapi):
    s = assert_status(post(kubeapi, CORE, core_event(ns="other"), ns=NS), 400, "BadRequest")
    assert "does not match the namespace sent on the request" in s["message"]
    ev = core_event()
    del ev["metadata"]["namespace"]  # filled from the URL
    r = post(kubeapi, CORE, ev)
    assert r.status == 201 and r.json()["metadata"]["namespace"] == NS, r.body


def test_api_version_and_kind_must_fit_the_endpoint(kubeapi):
    assert_status(post(kubeapi, EVENTS, core_event()), 400, "BadRequest")  # v1 body to events.k8s.io
    assert_status(post(kubeapi, CORE, v1_event()), 400, "BadRequest")
    assert_status(post(kubeapi, CORE, core_event(kind="Pod")), 400, "BadRequest")
    ev = core_event()
    del ev["apiVersion"], ev["kind"]  # absent: defaulted from the endpoint
    assert post(kubeapi, CORE, ev).status == 201


@pytest.mark.parametrize("bad", [{"count": "2"}, {"count": 2.5}, {"count": True}, {"reason": 7},
                                 {"involvedObject": "rs"}, {"firstTimestamp": "yesterday"},
                                 {"lastTimestamp": ""}, {"metadata": []}])
def test_wrong_types_are_400(kubeapi, bad):
    s = assert_status(post(kubeapi, CORE, core_event(**bad)), 400, "BadRequest")
    assert "cannot be handled as a Event" in s["message"] or "cannot unmarshal" in s["message"], s


def test_body_that_is_not_json_is_400(kubeapi):
    assert_status(post(kubeapi, CORE, b"{not json"), 400, "BadRequest")
    assert_status(post(kubeapi, CORE, b"[1,2]"), 400, "BadRequest")


def test_unknown_fields_warn_like_the_real_server_or_fail_when_strict(kubeapi):
    r = post(kubeapi, CORE, core_event(regarding={"kind": "ReplicaSet"}, note="x"))
    assert r.status == 201
    assert r.headers.get("warning") == '299 - "unknown field \\"regarding\\"", 299 - "unknown field \\"note\\""', \
        r.headers
    assert set(kubeapi.requests[-1].warnings) == {'unknown field "regarding"', 'unknown field "note"'}
    assert "regarding" not in kubeapi.events()[0]  # dropped, as the typed decoder does
    r = call(kubeapi, "POST", events_path(CORE, NS) + "?fieldValidation=Strict", core_event(name="b.1", bogus=1),
             token=admin(kubeapi))
    s = assert_status(r, 400, "BadRequest")
    assert 'unknown field "bogus"' in s["message"]


def test_dry_run_validates_but_stores_nothing(kubeapi):
    r = call(kubeapi, "POST", events_path(CORE, NS) + "?dryRun=All", core_event(), token=admin(kubeapi))
    assert r.status == 201 and kubeapi.events() == []
    r = call(kubeapi, "POST", events_path(EVENTS, NS) + "?dryRun=All", v1_event(type="Bogus"), token=admin(kubeapi))
    assert invalid_fields(r) == {"type"}


# =============================================================================================
# Create, AlreadyExists, resourceVersion, uid
# =============================================================================================


def test_create_sets_uid_resource_version_and_creation_timestamp(kubeapi):
    a = post(kubeapi, CORE, core_event(name="a.1")).json()
    b = post(kubeapi, EVENTS, v1_event(name="b.1")).json()
    for obj in (a, b):
        m = obj["metadata"]
        assert len(m["uid"]) == 36 and m["creationTimestamp"].endswith("Z")
    assert int(b["metadata"]["resourceVersion"]) > int(a["metadata"]["resourceVersion"]) > 0
    assert a["metadata"]["uid"] != b["metadata"]["uid"]


def test_create_existing_name_is_409_already_exists(kubeapi):
    assert post(kubeapi, CORE, core_event()).status == 201
    s = assert_status(post(kubeapi, CORE, core_event()), 409, "AlreadyExists")
    name = core_event()["metadata"]["name"]
    assert s["message"] == f'events "{name}" already exists'
    assert s["details"] == {"name": name, "kind": "events"}
    # the same name through the other API: one store
    s = assert_status(post(kubeapi, EVENTS, v1_event(name=name)), 409, "AlreadyExists")
    assert s["details"] == {"name": name, "group": "events.k8s.io", "kind": "events"}


def test_validation_comes_before_already_exists(kubeapi):
    post(kubeapi, EVENTS, v1_event())
    assert invalid_fields(post(kubeapi, EVENTS, v1_event(type="Info"))) == {"type"}


def test_resource_version_on_create_is_refused(kubeapi):
    ev = core_event()
    ev["metadata"]["resourceVersion"] = "7"
    assert_status(post(kubeapi, CORE, ev), 400, "BadRequest")


def test_generate_name(kubeapi):
    ev = core_event()
    ev["metadata"] = {"generateName": "web-", "namespace": NS}
    r = post(kubeapi, CORE, ev)
    assert r.status == 201 and r.json()["metadata"]["name"].startswith("web-") and \
        len(r.json()["metadata"]["name"]) == 9


def test_patch_with_stale_resource_version_is_409_conflict(kubeapi):
    created = post(kubeapi, CORE, core_event()).json()
    name, rv = created["metadata"]["name"], created["metadata"]["resourceVersion"]
    path = events_path(CORE, NS, name)
    ok = call(kubeapi, "PATCH", path, {"count": 2, "metadata": {"resourceVersion": rv}}, token=admin(kubeapi),
              content_type="application/strategic-merge-patch+json")
    assert ok.status == 200, ok.body
    rv2 = ok.json()["metadata"]["resourceVersion"]
    assert int(rv2) > int(rv) and ok.json()["metadata"]["uid"] == created["metadata"]["uid"]
    assert ok.json()["metadata"]["creationTimestamp"] == created["metadata"]["creationTimestamp"]
    stale = call(kubeapi, "PATCH", path, {"count": 3, "metadata": {"resourceVersion": rv}}, token=admin(kubeapi),
                 content_type="application/strategic-merge-patch+json")
    s = assert_status(stale, 409, "Conflict")
    assert s["message"] == (f'Operation cannot be fulfilled on events "{name}": the object has been modified; '
                            "please apply your changes to the latest version and try again")
    assert s["details"] == {"name": name, "kind": "events"}
    assert kubeapi.get_event(NS, name)["count"] == 2
    # no resourceVersion in the patch: unconditional
    r = call(kubeapi, "PATCH", path, {"count": 4}, token=admin(kubeapi))
    assert r.status == 200 and r.json()["count"] == 4
    # through events.k8s.io, same precondition, same store
    s = assert_status(call(kubeapi, "PATCH", events_path(EVENTS, NS, name),
                           {"metadata": {"resourceVersion": rv}}, token=admin(kubeapi)), 409, "Conflict")
    assert s["details"]["group"] == "events.k8s.io"


def test_json_patch_test_op_guards_too(kubeapi):
    created = post(kubeapi, CORE, core_event()).json()
    name = created["metadata"]["name"]
    bad = [{"op": "test", "path": "/metadata/resourceVersion", "value": "999"},
           {"op": "replace", "path": "/count", "value": 7}]
    r = call(kubeapi, "PATCH", events_path(CORE, NS, name), bad, token=admin(kubeapi),
             content_type="application/json-patch+json")
    assert r.status == 422 and r.json()["kind"] == "Status"
    assert kubeapi.get_event(NS, name)["count"] == 1


def test_put_honours_resource_version(kubeapi):
    created = post(kubeapi, CORE, core_event()).json()
    name = created["metadata"]["name"]
    doc = dict(created, count=5)
    r = call(kubeapi, "PUT", events_path(CORE, NS, name), doc, token=admin(kubeapi))
    assert r.status == 200 and r.json()["count"] == 5
    assert_status(call(kubeapi, "PUT", events_path(CORE, NS, name), doc, token=admin(kubeapi)), 409, "Conflict")


# =============================================================================================
# Validation: pkg/apis/core/validation/events.go
# =============================================================================================


def test_legacy_involved_object_namespace_must_match(kubeapi):
    ev = core_event()
    ev["involvedObject"]["namespace"] = "elsewhere"
    assert invalid_fields(post(kubeapi, CORE, ev)) == {"involvedObject.namespace"}
    assert post(kubeapi, CORE, core_event()).status == 201


def test_legacy_empty_involved_object_namespace_only_in_default(kubeapi):
    ev = core_event(name="a.1")
    del ev["involvedObject"]["namespace"]
    assert invalid_fields(post(kubeapi, CORE, ev)) == {"involvedObject.namespace"}
    ev = core_event(name="a.1", ns="default")
    del ev["involvedObject"]["namespace"]
    assert post(kubeapi, CORE, ev, ns="default").status == 201
    ev = core_event(name="a.2", ns="kube-system")  # kube-system is allowed only for events with eventTime
    del ev["involvedObject"]["namespace"]
    assert invalid_fields(post(kubeapi, CORE, ev, ns="kube-system")) == {"involvedObject.namespace"}


def test_legacy_event_without_event_time_has_no_other_limits(kubeapi):
    ev = core_event(message="x" * 5000, reportingComponent="", reportingInstance="", type="Bogus")
    del ev["reason"]
    r = post(kubeapi, CORE, ev)
    assert r.status == 201, r.body
    assert len(kubeapi.events()[0]["message"]) == 5000


def test_event_namespace_must_be_a_dns_subdomain(kubeapi):
    ev = core_event(ns="Shop")
    assert "namespace" in invalid_fields(post(kubeapi, CORE, ev, ns="Shop"))


def test_core_name_is_a_path_segment_not_a_subdomain(kubeapi):
    assert post(kubeapi, CORE, core_event(name="Web.ABC")).status == 201  # fine for core/v1
    assert invalid_fields(post(kubeapi, CORE, core_event(name="a%b"))) == {"metadata.name"}
    ev = core_event()
    ev["metadata"] = {"namespace": NS}
    assert invalid_fields(post(kubeapi, CORE, ev)) == {"metadata.name"}


def _with_time(**kw) -> dict:
    return core_event(**{"eventTime": MICRO, "action": "Inject", **kw})


def test_event_time_events_need_reporting_controller(kubeapi):
    assert invalid_fields(post(kubeapi, CORE, _with_time(reportingComponent=""))) == {"reportingController"}
    assert invalid_fields(post(kubeapi, CORE, _with_time(reportingComponent="podinject webhook"))) == \
        {"reportingController"}
    assert invalid_fields(post(kubeapi, CORE, _with_time(reportingComponent="Bad_Prefix/webhook"))) == \
        {"reportingController"}
    assert invalid_fields(post(kubeapi, EVENTS, v1_event(reportingController="a/b/c"))) == {"reportingController"}
    assert invalid_fields(post(kubeapi, EVENTS, v1_event(reportingController="x" * 64))) == {"reportingController"}
    assert post(kubeapi, CORE, _with_time(reportingComponent="podinject")).status == 201
    assert post(kubeapi, EVENTS, v1_event(reportingController="podinject.dev/webhook")).status == 201


@pytest.mark.parametrize("field,wire_core,wire_v1", [
    ("reportingInstance", "reportingInstance", "reportingInstance"),
    ("action", "action", "action"),
    ("reason", "reason", "reason"),
])
def test_event_time_events_need_short_instance_action_reason(kubeapi, field, wire_core, wire_v1):
    assert invalid_fields(post(kubeapi, CORE, _with_time(**{wire_core: ""}))) == {field}
    assert invalid_fields(post(kubeapi, EVENTS, v1_event(**{wire_v1: ""}))) == {field}
    assert invalid_fields(post(kubeapi, EVENTS, v1_event(**{wire_v1: "x" * 129}))) == {field}
    assert invalid_fields(post(kubeapi, EVENTS, v1_event(**{wire_v1: "é" * 65}))) == {field}  # 130 bytes
    assert post(kubeapi, EVENTS, v1_event(**{wire_v1: "x" * 128})).status == 201


def test_note_at_most_1024_bytes(kubeapi):
    assert invalid_fields(post(kubeapi, EVENTS, v1_event(note="x" * 1025))) == {"message"}
    assert invalid_fields(post(kubeapi, EVENTS, v1_event(note="é" * 513))) == {"message"}  # 1026 bytes
    assert invalid_fields(post(kubeapi, CORE, _with_time(message="x" * 1025))) == {"message"}
    assert post(kubeapi, EVENTS, v1_event(note="x" * 1024)).status == 201


def test_event_time_events_may_leave_involved_object_namespace_empty_in_kube_system(kubeapi):
    ev = v1_event(ns="kube-system")
    del ev["regarding"]["namespace"]
    assert post(kubeapi, EVENTS, ev, ns="kube-system").status == 201
    ev = v1_event()
    del ev["regarding"]["namespace"]
    assert invalid_fields(post(kubeapi, EVENTS, ev)) == {"involvedObject.namespace"}


@pytest.mark.parametrize("stamp", ["2026-11-29T05:19:29Z", "2026-11-29T05:19:29.123Z",
                                   "2026-11-29T05:19:29.123456789Z", "2026-11-29 05:19:29.123456Z",
                                   "2026-11-29T05:19:29.123456", "1764393569"])
def test_event_time_is_a_micro_time_with_six_digits(kubeapi, stamp):
    s = assert_status(post(kubeapi, EVENTS, v1_event(eventTime=stamp)), 400, "BadRequest")
    assert "parsing time" in s["message"] or "cannot unmarshal" in s["message"]
    assert_status(post(kubeapi, EVENTS, v1_event(series={"count": 2, "lastObservedTime": stamp})), 400, "BadRequest")


def test_event_time_with_offset_is_normalized(kubeapi):
    r = post(kubeapi, EVENTS, v1_event(eventTime="2026-11-29T07:19:29.000001+02:00"))
    assert r.status == 201 and r.json()["eventTime"] == "2026-11-29T05:19:29.000001Z"


def test_events_v1_type_is_normal_or_warning(kubeapi):
    for t in ("", "Error", "warning"):
        assert invalid_fields(post(kubeapi, EVENTS, v1_event(type=t))) == {"type"}
    assert post(kubeapi, EVENTS, v1_event(name="n.1", type="Normal")).status == 201
    assert post(kubeapi, CORE, _with_time(type="Error")).status == 201  # core/v1: legacy checks only


def test_events_v1_name_is_a_dns_subdomain(kubeapi):
    assert invalid_fields(post(kubeapi, EVENTS, v1_event(name="Web.ABC"))) == {"metadata.name"}
    assert invalid_fields(post(kubeapi, EVENTS, v1_event(name="web-.abc"))) == {"metadata.name"}
    assert invalid_fields(post(kubeapi, EVENTS, v1_event(name="a" * 254))) == {"metadata.name"}
    ev = v1_event()
    ev["metadata"] = {"namespace": NS}
    assert invalid_fields(post(kubeapi, EVENTS, ev)) == {"metadata.name"}


def test_events_v1_needs_event_time(kubeapi):
    ev = v1_event()
    del ev["eventTime"]
    assert "eventTime" in invalid_fields(post(kubeapi, EVENTS, ev))


def test_events_v1_series(kubeapi):
    assert invalid_fields(post(kubeapi, EVENTS, v1_event(series={"count": 1, "lastObservedTime": MICRO}))) == \
        {"series.count"}
    assert invalid_fields(post(kubeapi, EVENTS, v1_event(series={"count": 2}))) == {"series.lastObservedTime"}
    assert post(kubeapi, EVENTS, v1_event(series={"count": 2, "lastObservedTime": MICRO})).status == 201


@pytest.mark.parametrize("extra,field", [
    ({"deprecatedCount": 1}, "count"),
    ({"deprecatedFirstTimestamp": TIME}, "firstTimestamp"),
    ({"deprecatedLastTimestamp": TIME}, "lastTimestamp"),
    ({"deprecatedSource": {"component": "podinject"}}, "source"),
    ({"deprecatedSource": {"host": "node-1"}}, "source"),
])
def test_events_v1_deprecated_fields_must_be_unset(kubeapi, extra, field):
    assert invalid_fields(post(kubeapi, EVENTS, v1_event(**extra))) == {field}


def test_events_v1_update_everything_but_series_is_immutable(kubeapi):
    created = post(kubeapi, EVENTS, v1_event()).json()
    name = created["metadata"]["name"]
    path = events_path(EVENTS, NS, name)
    for change, fld in (({"note": "other"}, "message"), ({"reason": "Other"}, "reason"),
                        ({"reportingInstance": "other"}, "reportingInstance"), ({"type": "Normal"}, "type"),
                        ({"eventTime": "2026-11-29T05:19:30.000000Z"}, "eventTime"), ({"action": "Other"}, "action"),
                        ({"reportingController": "other.dev/x"}, "reportingController"),
                        ({"regarding": {"name": "other"}}, "involvedObject"), ({"deprecatedCount": 3}, "count"),
                        ({"related": {"kind": "Pod", "name": "p"}}, "related")):
        r = call(kubeapi, "PATCH", path, change, token=admin(kubeapi))
        assert fld in invalid_fields(r), (change, r.body)
    r = call(kubeapi, "PATCH", path, {"series": {"count": 1, "lastObservedTime": MICRO}}, token=admin(kubeapi))
    assert invalid_fields(r) == {"series.count"}
    r = call(kubeapi, "PATCH", path, {"series": {"count": 2, "lastObservedTime": "2026-11-29T05:20:00.000000Z"}},
             token=admin(kubeapi), content_type="application/strategic-merge-patch+json")
    assert r.status == 200, r.body
    assert r.json()["series"] == {"count": 2, "lastObservedTime": "2026-11-29T05:20:00.000000Z"}
    assert r.json()["note"] == created["note"]


def test_core_v1_update_is_not_immutable(kubeapi):
    """Through core/v1 only the legacy checks run on update (backwards compatibility)."""
    post(kubeapi, EVENTS, v1_event())
    name = v1_event()["metadata"]["name"]
    r = call(kubeapi, "PATCH", events_path(CORE, NS, name), {"message": "changed"}, token=admin(kubeapi))
    assert r.status == 200 and kubeapi.get_event(NS, name, EVENTS)["note"] == "changed"
    # ... but the legacy checks do run on the patched object
    r = call(kubeapi, "PATCH", events_path(CORE, NS, name), {"action": ""}, token=admin(kubeapi))
    assert invalid_fields(r) == {"action"}


def test_invalid_status_message_lists_every_cause(kubeapi):
    s = assert_status(post(kubeapi, EVENTS, v1_event(type="x", action="", deprecatedCount=2)), 422, "Invalid")
    name = v1_event()["metadata"]["name"]
    assert s["message"].startswith(f'Event.events.k8s.io "{name}" is invalid: [')
    assert {c["field"] for c in s["details"]["causes"]} == {"type", "action", "count"}
    assert s["details"]["name"] == name and s["details"]["group"] == "events.k8s.io"


# =============================================================================================
# One store, two APIs
# =============================================================================================


def test_core_event_seen_through_events_v1(kubeapi):
    created = post(kubeapi, CORE, core_event()).json()
    name = created["metadata"]["name"]
    got = call(kubeapi, "GET", events_path(EVENTS, NS, name), token=admin(kubeapi)).json()
    assert got["apiVersion"] == EVENTS and got["metadata"]["uid"] == created["metadata"]["uid"]
    assert got["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert got["regarding"] == core_event()["involvedObject"]
    assert got["note"] == core_event()["message"]
    assert got["reportingController"] == "podinject.dev/webhook" and got["reportingInstance"] == "podinject-0"
    assert got["deprecatedCount"] == 1 and got["deprecatedFirstTimestamp"] == TIME
    assert got["deprecatedLastTimestamp"] == TIME
    assert got["deprecatedSource"] == {"component": "podinject.dev/webhook"}
    assert got["eventTime"] is None and "series" not in got
    assert not {"involvedObject", "message", "count", "source", "reportingComponent"} & set(got)


def test_events_v1_event_seen_through_core(kubeapi):
    post(kubeapi, EVENTS, v1_event(series={"count": 3, "lastObservedTime": MICRO}))
    got = call(kubeapi, "GET", events_path(CORE, NS, v1_event()["metadata"]["name"]), token=admin(kubeapi)).json()
    assert got["involvedObject"] == v1_event()["regarding"] and got["message"] == v1_event()["note"]
    assert got["reportingComponent"] == "podinject.dev/webhook" and got["eventTime"] == MICRO
    assert got["series"] == {"count": 3, "lastObservedTime": MICRO}
    assert got["firstTimestamp"] is None and got["lastTimestamp"] is None and "count" not in got
    assert got["source"] == {}


def test_count_and_series_are_separate_fields_across_apis(kubeapi):
    """core/v1 count ↔ events.k8s.io/v1 deprecatedCount; series ↔ series (conversion.go)."""
    post(kubeapi, CORE, core_event())
    name = core_event()["metadata"]["name"]
    r = call(kubeapi, "PATCH", events_path(CORE, NS, name), {"count": 4, "lastTimestamp": "2026-11-29T06:00:00Z"},
             token=admin(kubeapi), content_type="application/strategic-merge-patch+json")
    assert r.status == 200
    v1 = kubeapi.get_event(NS, name, EVENTS)
    assert v1["deprecatedCount"] == 4 and v1["deprecatedLastTimestamp"] == "2026-11-29T06:00:00Z"
    r = call(kubeapi, "PATCH", events_path(EVENTS, NS, name),
             {"series": {"count": 2, "lastObservedTime": "2026-11-29T06:00:01.000000Z"}}, token=admin(kubeapi))
    assert r.status == 200, r.body
    core = kubeapi.get_event(NS, name, CORE)
    assert core["count"] == 4 and core["series"]["count"] == 2


def test_list_returns_both_apis_items(kubeapi):
    post(kubeapi, CORE, core_event(name="a.1"))
    post(kubeapi, EVENTS, v1_event(name="b.1"))
    lst = call(kubeapi, "GET", events_path(EVENTS, NS), token=admin(kubeapi)).json()
    assert lst["kind"] == "EventList" and [i["metadata"]["name"] for i in lst["items"]] == ["a.1", "b.1"]
    assert all("regarding" in i for i in lst["items"])


# =============================================================================================
# Faults, log, lifecycle, concurrency
# =============================================================================================


def test_request_log_records_everything(kubeapi):
    t0 = time.monotonic()
    post(kubeapi, CORE, core_event(), token=kubeapi.token())
    (r,) = kubeapi.requests
    assert (r.method, r.path, r.content_type, r.identity, r.status) == \
        ("POST", events_path(CORE, NS), "application/json", k.SA_USER, 201)
    assert r.body == core_event() and json.loads(r.raw) == core_event() and r.api == CORE
    assert t0 <= r.received <= time.monotonic() and abs(r.wall - time.time()) < 5
    assert r.answered >= r.received


def test_stall_delays_the_next_n(kubeapi):
    kubeapi.stall(0.8, n=1)
    t = time.monotonic()
    assert post(kubeapi, CORE, core_event(name="a.1")).status == 201
    assert time.monotonic() - t >= 0.8
    t = time.monotonic()
    assert post(kubeapi, CORE, core_event(name="a.2")).status == 201
    assert time.monotonic() - t < 0.5
    assert kubeapi.requests[0].fault == "stall 0.8s" and kubeapi.requests[1].fault is None


def test_stall_is_cut_short_by_stop(kubeapi):
    kubeapi.stall(30)
    t = time.monotonic()
    th = threading.Timer(0.3, kubeapi.stop)
    th.start()
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        post(kubeapi, CORE, core_event(), timeout=10)
    assert time.monotonic() - t < 5
    th.join()


def test_fail_next_answers_status_then_recovers(kubeapi):
    kubeapi.fail_next(2, 503)
    for _ in range(2):
        assert_status(post(kubeapi, CORE, core_event()), 503, "ServiceUnavailable")
    assert kubeapi.events() == []
    assert post(kubeapi, CORE, core_event()).status == 201
    kubeapi.fail_next(1, 429)
    r = post(kubeapi, CORE, core_event(name="a.2"))
    s = assert_status(r, 429, "TooManyRequests")
    assert r.headers.get("retry-after") == "1" and s["details"] == {"retryAfterSeconds": 1}
    kubeapi.fail_next(1, 500, method="PATCH")
    assert post(kubeapi, CORE, core_event(name="a.3")).status == 201  # not a PATCH: untouched
    assert_status(call(kubeapi, "PATCH", events_path(CORE, NS, "a.3"), {"count": 2}, token=admin(kubeapi)), 500,
                  "InternalError")


def test_reset_next_closes_without_answer(kubeapi):
    kubeapi.reset_next(1)
    with pytest.raises((ConnectionError, http.client.HTTPException, ssl.SSLError)):
        post(kubeapi, CORE, core_event())
    assert kubeapi.requests[0].fault == "reset" and kubeapi.requests[0].status is None
    assert kubeapi.events() == []
    assert post(kubeapi, CORE, core_event()).status == 201


def test_stop_refuses_connections_and_start_keeps_port_and_store(kubeapi):
    post(kubeapi, CORE, core_event())
    port = kubeapi.port
    kubeapi.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), 2).close()
    kubeapi.start()
    assert kubeapi.port == port and len(kubeapi.events()) == 1
    assert post(kubeapi, CORE, core_event(name="a.2")).status == 201


def test_concurrent_guarded_patches_lose_no_increment(kubeapi):
    """16 clients increment one Event with GET + guarded PATCH, retrying on 409: no increment is lost."""
    post(kubeapi, CORE, core_event())
    name = core_event()["metadata"]["name"]
    kubeapi.stall(0.05, n=20)

    def bump(_):
        conflicts = 0
        while True:
            cur = call(kubeapi, "GET", events_path(CORE, NS, name), token=kubeapi.token()).json()
            r = call(kubeapi, "PATCH", events_path(CORE, NS, name),
                     {"count": cur["count"] + 1, "metadata": {"resourceVersion": cur["metadata"]["resourceVersion"]}},
                     token=kubeapi.token(), content_type="application/strategic-merge-patch+json")
            if r.status == 200:
                return conflicts
            assert r.status == 409 and r.json()["reason"] == "Conflict", r.body
            conflicts += 1

    t = time.monotonic()
    with cf.ThreadPoolExecutor(16) as pool:
        conflicts = sum(pool.map(bump, range(16)))
    assert time.monotonic() - t < 30
    assert kubeapi.get_event(NS, name)["count"] == 17
    assert conflicts > 0, "concurrent guarded patches must have collided at least once"


# =============================================================================================
# Credential writers: a tiny independent kubeconfig client proves each file reaches the server
# =============================================================================================


def _kubeconfig_call(path: Path, method: str, url_path: str, body: Any = None) -> k.Reply:
    cfg = yaml.safe_load(path.read_text())
    ctx_name = cfg["current-context"]
    context = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name)
    cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == context["cluster"])
    user = next(u["user"] for u in cfg["users"] if u["name"] == context["user"])
    base = path.parent

    def resolve(p: str) -> str:
        return str(p if Path(p).is_absolute() else base / p)

    tmp = Path(tempfile.mkdtemp())
    if cluster.get("insecure-skip-tls-verify"):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif "certificate-authority-data" in cluster:
        ctx = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    else:
        ctx = ssl.create_default_context(cafile=resolve(cluster["certificate-authority"]))
    if "client-certificate-data" in user:
        (tmp / "c.crt").write_bytes(base64.b64decode(user["client-certificate-data"]))
        (tmp / "c.key").write_bytes(base64.b64decode(user["client-key-data"]))
        ctx.load_cert_chain(str(tmp / "c.crt"), str(tmp / "c.key"))
    elif "client-certificate" in user:
        ctx.load_cert_chain(resolve(user["client-certificate"]), resolve(user["client-key"]))
    headers = {}
    if "token" in user:
        headers["Authorization"] = "Bearer " + user["token"]
    elif "tokenFile" in user:
        headers["Authorization"] = "Bearer " + Path(resolve(user["tokenFile"])).read_text().strip()
    hostport = cluster["server"].removeprefix("https://")
    host, port = hostport.rsplit(":", 1)
    sni = cluster.get("tls-server-name", host)

    class Conn(http.client.HTTPSConnection):
        def connect(self):
            sock = socket.create_connection((host, int(port)), 10)
            self.sock = ctx.wrap_socket(sock, server_hostname=sni)

    conn = Conn(host, int(port), context=ctx, timeout=10)
    data = json.dumps(body).encode() if body is not None else None
    if data:
        headers["Content-Type"] = "application/json"
    conn.request(method, url_path, body=data, headers=headers)
    resp = conn.getresponse()
    return k.Reply(resp.status, dict(resp.getheaders()), resp.read())


@pytest.mark.parametrize("mode", ["token", "tokenFile", "cert-data", "cert-files"])
@pytest.mark.parametrize("ca", ["data", "file", "insecure"])
def test_write_kubeconfig_modes_reach_the_server(kubeapi, tmp_path, mode, ca):
    kc = kubeapi.write_kubeconfig(tmp_path / "kubeconfig", mode, ca=ca)
    cfg = yaml.safe_load(kc.read_text())
    assert cfg["current-context"] == "fake-ctx" and cfg["contexts"][0]["name"] == "decoy-ctx"
    r = _kubeconfig_call(kc, "POST", events_path(CORE, NS), core_event())
    assert r.status == 201, r.body
    want = k.SA_USER if mode.startswith("token") else k.CERT_USER
    assert kubeapi.requests[-1].identity == want


def test_write_kubeconfig_relative_paths_and_tls_server_name(kubeapi_factory, tmp_path):
    named = kubeapi_factory(sans=("DNS:kubernetes.default.svc",))
    kc = named.write_kubeconfig(tmp_path / "cfg" / "kubeconfig", "cert-files", ca="file", relative=True,
                                tls_server_name="kubernetes.default.svc")
    user = yaml.safe_load(kc.read_text())["users"][-1]["user"]
    assert not Path(user["client-certificate"]).is_absolute()
    r = _kubeconfig_call(kc, "POST", events_path(CORE, NS), core_event())
    assert r.status == 201, r.body


def test_write_kubeconfig_unsupported_plugins(kubeapi, tmp_path):
    for mode in ("exec", "auth-provider"):
        u = yaml.safe_load(kubeapi.write_kubeconfig(tmp_path / f"{mode}.yaml", mode).read_text())["users"][-1]["user"]
        assert mode in u and "token" not in u


def test_write_serviceaccount_dir(kubeapi, tmp_path):
    env = kubeapi.write_serviceaccount_dir(tmp_path / "sa")
    d = Path(env["PODINJECT_SERVICEACCOUNT_DIR"])
    assert env["KUBERNETES_SERVICE_HOST"] == "127.0.0.1" and env["KUBERNETES_SERVICE_PORT"] == str(kubeapi.port)
    assert (d / "namespace").read_text() == "podinject"
    ctx = ssl.create_default_context(cafile=str(d / "ca.crt"))
    conn = http.client.HTTPSConnection(env["KUBERNETES_SERVICE_HOST"], int(env["KUBERNETES_SERVICE_PORT"]),
                                       context=ctx, timeout=10)
    conn.request("POST", events_path(CORE, NS), body=json.dumps(core_event()),
                 headers={"Authorization": "Bearer " + (d / "token").read_text(),
                          "Content-Type": "application/json"})
    assert conn.getresponse().status == 201
    assert kubeapi.requests[-1].identity == k.SA_USER
