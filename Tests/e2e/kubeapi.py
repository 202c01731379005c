"""A strict fake Kubernetes API server for Events: the only test double of the project.

It serves HTTPS on 127.0.0.1 with certificates made at test time by openssl, authenticates a bearer
token or a client certificate, authorizes per user and verb (RBAC-like), and keeps core/v1 and
events.k8s.io/v1 Events in ONE store, converting between the two the way kube-apiserver does
(pkg/apis/events/v1/conversion.go). It validates exactly as pkg/apis/core/validation/events.go
(ValidateEventCreate, ValidateEventUpdate, legacyValidateEvent, validateV1EventSeries) plus the generic
ObjectMeta checks of the registry (rest.BeforeCreate / BeforeUpdate), and answers errors with `Status`
bodies shaped like k8s.io/apimachinery/pkg/api/errors.

Faults are injected from tests: stall(), fail_next(), reset_next(), forbid(); every request is logged
(method, path, content type, identity, body, time received, status answered).

Nothing here depends on podinject.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import http.server
import json
import os
import random
import re
import secrets
import socket
import socketserver
import ssl
import struct
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

CORE = "v1"
EVENTS = "events.k8s.io/v1"
APIS = (CORE, EVENTS)

# Users (identities). The default webhook identity gets exactly the RBAC of SPEC §8 / deploy: create, get and
# patch on events in "" and events.k8s.io. The admin may do anything.
SA_USER = "system:serviceaccount:podinject:podinject"
CERT_USER = "podinject-client"
ADMIN_USER = "kubernetes-admin"
WEBHOOK_VERBS = frozenset({"create", "get", "patch"})
ALL_VERBS = frozenset({"create", "get", "list", "patch", "update", "delete", "watch"})

_STATUS_REASONS = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
    406: "NotAcceptable", 409: "Conflict", 410: "Expired", 413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType", 422: "Invalid", 429: "TooManyRequests", 500: "InternalError",
    503: "ServiceUnavailable", 504: "Timeout",
}
_FAULT_MESSAGES = {
    429: "Too many requests, please try again later.",
    500: "Internal error occurred: injected by the test double",
    502: "Bad Gateway",
    503: "The server is currently unable to handle the request",
    504: "The server was unable to return a response in the time allotted, but may still be processing the request",
}


# ================================================================================================
# PKI: made at test time with openssl
# ================================================================================================


def _openssl(*args: str, cwd: Path) -> None:
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {r.stderr}")


class PKI:
    """A server CA (signs the API server's certificate) and a separate client CA (signs client certs).

    A third, untrusted CA makes client certificates the server must refuse.
    """

    def __init__(self, directory: Path):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ca_key, self.ca_crt = self._ca("server-ca", "fake-kube-apiserver-ca")
        self.client_ca_key, self.client_ca_crt = self._ca("client-ca", "fake-kube-client-ca")
        self.rogue_ca_key, self.rogue_ca_crt = self._ca("rogue-ca", "untrusted-ca")
        self._server: dict[tuple[str, ...], tuple[Path, Path]] = {}
        self._clients: dict[tuple[str, str, str], tuple[Path, Path]] = {}
        self._lock = threading.Lock()

    def _key(self, path: Path) -> None:
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", str(path),
                 cwd=self.dir)

    def _ca(self, stem: str, cn: str) -> tuple[Path, Path]:
        key, crt = self.dir / f"{stem}.key", self.dir / f"{stem}.crt"
        self._key(key)
        _openssl("req", "-x509", "-new", "-key", str(key), "-out", str(crt), "-days", "3", "-subj", f"/CN={cn}",
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                 cwd=self.dir)
        return key, crt

    def _sign(self, stem: str, subject: str, ext: str, ca_key: Path, ca_crt: Path) -> tuple[Path, Path]:
        key, csr, crt = self.dir / f"{stem}.key", self.dir / f"{stem}.csr", self.dir / f"{stem}.crt"
        extfile = self.dir / f"{stem}.ext"
        extfile.write_text(ext)
        self._key(key)
        _openssl("req", "-new", "-key", str(key), "-out", str(csr), "-subj", subject, cwd=self.dir)
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key), "-set_serial",
                 str(random.getrandbits(63)), "-out", str(crt), "-days", "2", "-extfile", str(extfile), cwd=self.dir)
        os.chmod(key, 0o600)
        return key, crt

    def server_cert(self, sans: Iterable[str] = ("IP:127.0.0.1", "DNS:localhost")) -> tuple[Path, Path]:
        """(key, cert) for the API server, signed by the server CA, valid for `sans` only."""
        sans = tuple(sans)
        with self._lock:
            if sans not in self._server:
                stem = "server-" + str(len(self._server))
                ext = ("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                       f"extendedKeyUsage=serverAuth\nsubjectAltName={','.join(sans)}\n")
                self._server[sans] = self._sign(stem, "/CN=kube-apiserver", ext, self.ca_key, self.ca_crt)
            return self._server[sans]

    def client_cert(self, cn: str = CERT_USER, org: str = "podinject", *, rogue: bool = False) -> tuple[Path, Path]:
        """(key, cert) of a client certificate (CN = user name, O = group), signed by the client CA."""
        key_id = (cn, org, "rogue" if rogue else "client")
        with self._lock:
            if key_id not in self._clients:
                stem = "client-" + str(len(self._clients))
                ext = ("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                       "extendedKeyUsage=clientAuth\n")
                ca_key, ca_crt = (self.rogue_ca_key, self.rogue_ca_crt) if rogue else (self.client_ca_key, self.client_ca_crt)
                self._clients[key_id] = self._sign(stem, f"/CN={cn}/O={org}", ext, ca_key, ca_crt)
            return self._clients[key_id]


# ================================================================================================
# API machinery: Status bodies, field errors, names, times
# ================================================================================================


class APIError(Exception):
    def __init__(self, code: int, message: str, reason: str | None = None, details: dict | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason if reason is not None else _STATUS_REASONS.get(code, "")
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict:
        s: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                             "message": self.message}
        if self.reason:
            s["reason"] = self.reason
        if self.details is not None:
            s["details"] = self.details
        s["code"] = self.code
        return s


def _qualified_resource(api: str) -> tuple[str, str]:
    """(group, "events" or "events.events.k8s.io") as apimachinery prints a GroupResource."""
    group = "" if api == CORE else "events.k8s.io"
    return group, "events" if not group else f"events.{group}"


def _details(api: str, name: str | None, kind: str = "events", **extra: Any) -> dict:
    group, _ = _qualified_resource(api)
    d: dict[str, Any] = {}
    if name:
        d["name"] = name
    if group:
        d["group"] = group
    d["kind"] = kind
    d.update(extra)
    return d


def err_not_found(api: str, name: str) -> APIError:
    return APIError(404, f'{_qualified_resource(api)[1]} "{name}" not found', "NotFound", _details(api, name))


def err_already_exists(api: str, name: str) -> APIError:
    return APIError(409, f'{_qualified_resource(api)[1]} "{name}" already exists', "AlreadyExists",
                    _details(api, name))


def err_conflict(api: str, name: str) -> APIError:
    return APIError(409, f'Operation cannot be fulfilled on {_qualified_resource(api)[1]} "{name}": the object has '
                         "been modified; please apply your changes to the latest version and try again",
                    "Conflict", _details(api, name))


def err_bad_request(message: str) -> APIError:
    return APIError(400, message, "BadRequest")


@dataclass
class FieldError:
    """k8s.io/apimachinery/pkg/util/validation/field.Error (Required, Invalid)."""

    type: str  # "Required" | "Invalid"
    field: str
    value: Any = None
    detail: str = ""

    def body(self) -> str:
        if self.type == "Required":
            return "Required value" + (f": {self.detail}" if self.detail else "")
        return f"Invalid value: {json.dumps(self.value)}" + (f": {self.detail}" if self.detail else "")

    def cause(self) -> dict:
        reason = {"Required": "FieldValueRequired", "Invalid": "FieldValueInvalid"}[self.type]
        return {"reason": reason, "message": self.body(), "field": self.field}


def err_invalid(api: str, name: str, errors: list[FieldError]) -> APIError:
    """apierrors.NewInvalid(GroupKind{group, "Event"}, name, errs) → 422 with details.causes."""
    group, _ = _qualified_resource(api)
    qualified_kind = "Event" if not group else f"Event.{group}"
    parts = [f"{e.field}: {e.body()}" for e in errors]
    agg = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    return APIError(422, f'{qualified_kind} "{name}" is invalid: {agg}', "Invalid",
                    _details(api, name, kind="Event", causes=[e.cause() for e in errors]))


# k8s.io/apimachinery/pkg/util/validation
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                  "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                  "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
              "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
              "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
_QNAME_MSG = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
              "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
              "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")


def is_dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if len(value) > 253:
        errs.append("must be no more than 253 characters")
    if not _DNS1123_SUBDOMAIN.match(value):
        errs.append(_SUBDOMAIN_MSG)
    return errs


def is_dns1123_label(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _DNS1123_LABEL.match(value):
        errs.append(_LABEL_MSG)
    return errs


def is_qualified_name(value: str) -> list[str]:
    """validation.IsQualifiedName: an optional DNS-subdomain prefix and '/', then a name of ≤ 63 characters."""
    errs = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs += ["prefix part " + m for m in is_dns1123_subdomain(prefix)]
    else:
        return ["a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                "with an alphanumeric character with an optional DNS subdomain prefix and '/' (e.g. "
                "'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    if not _QUALIFIED_NAME.match(name):
        errs.append(_QNAME_MSG)
    return errs


def validate_path_segment_name(name: str) -> list[str]:
    """k8s.io/apimachinery/pkg/api/validation/path.IsValidPathSegmentName."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


# Times on the wire. metav1.Time parses time.RFC3339 (Go accepts an optional fraction when parsing) and prints
# whole seconds; metav1.MicroTime parses RFC3339Micro "2006-01-02T15:04:05.000000Z07:00", which in Go's
# time.Parse means exactly six fractional digits, and prints six.
_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|[+-]\d{2}:\d{2})$")
_RFC3339_MICRO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})[.,](\d{6})(Z|[+-]\d{2}:\d{2})$")


class DecodeError(Exception):
    pass


def _parse_time(text: Any, micro: bool, where: str) -> dt.datetime | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise DecodeError(f"{where}: json: cannot unmarshal {_json_kind(text)} into Go value of type string")
    m = (_RFC3339_MICRO if micro else _RFC3339).match(text)
    layout = "2006-01-02T15:04:05.000000Z07:00" if micro else "2006-01-02T15:04:05Z07:00"
    if not m:
        raise DecodeError(f'{where}: parsing time "{text}" as "{layout}": cannot parse')
    y, mo, d, hh, mm, ss, frac, tz = m.groups()
    micros = int((frac or "0")[:6].ljust(6, "0"))
    try:
        if tz == "Z":
            tzinfo = dt.timezone.utc
        else:
            sign = 1 if tz[0] == "+" else -1
            oh, om = int(tz[1:3]), int(tz[4:6])
            if oh > 23 or om > 59:
                raise ValueError("time zone offset out of range")
            tzinfo = dt.timezone(sign * dt.timedelta(hours=oh, minutes=om))
        value = dt.datetime(int(y), int(mo), int(d), int(hh), int(mm), int(ss), micros, tzinfo)
    except ValueError as e:
        raise DecodeError(f'{where}: parsing time "{text}": {e}') from None
    value = value.astimezone(dt.timezone.utc)
    return value if micro else value.replace(microsecond=0)


def fmt_time(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt_micro(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


# ================================================================================================
# The one Event store: internal (core) representation, converted per API version
# ================================================================================================

_REF_FIELDS = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
_META_STRING = ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion")
_META_OTHER = ("generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
               "annotations", "ownerReferences", "finalizers", "managedFields")

# wire field → internal field, per version
_CORE_FIELDS = {
    "involvedObject": "involvedObject", "reason": "reason", "message": "message", "source": "source",
    "firstTimestamp": "firstTimestamp", "lastTimestamp": "lastTimestamp", "count": "count", "type": "type",
    "eventTime": "eventTime", "series": "series", "action": "action", "related": "related",
    "reportingComponent": "reportingController", "reportingInstance": "reportingInstance",
}
_EVENTS_FIELDS = {
    "eventTime": "eventTime", "series": "series", "reportingController": "reportingController",
    "reportingInstance": "reportingInstance", "action": "action", "reason": "reason", "regarding": "involvedObject",
    "related": "related", "note": "message", "type": "type", "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp", "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}
_WIRE = {CORE: _CORE_FIELDS, EVENTS: _EVENTS_FIELDS}


def _empty_internal() -> dict:
    return {"metadata": {}, "involvedObject": {}, "reason": "", "message": "", "source": {"component": "", "host": ""},
            "firstTimestamp": None, "lastTimestamp": None, "count": 0, "type": "", "eventTime": None, "series": None,
            "action": "", "related": None, "reportingController": "", "reportingInstance": ""}


def _want_str(v: Any, where: str) -> str:
    if v is None:
        return ""
    if not isinstance(v, str):
        raise DecodeError(f"json: cannot unmarshal {_json_kind(v)} into Go struct field {where} of type string")
    return v


def _want_int(v: Any, where: str, bits: int = 32) -> int:
    if v is None:
        return 0
    if isinstance(v, bool) or not isinstance(v, int):
        raise DecodeError(f"json: cannot unmarshal {_json_kind(v)} into Go struct field {where} of type int{bits}")
    if not -(2 ** (bits - 1)) <= v < 2 ** (bits - 1):
        raise DecodeError(f"json: cannot unmarshal number {v} into Go struct field {where} of type int{bits}")
    return v


def _want_obj(v: Any, where: str) -> dict:
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise DecodeError(f"json: cannot unmarshal {_json_kind(v)} into Go struct field {where} of type object")
    return v


def _decode_ref(v: Any, where: str, unknown: list[str]) -> dict:
    ref = {}
    for k, x in _want_obj(v, where).items():
        if k in _REF_FIELDS:
            s = _want_str(x, f"{where}.{k}")
            if s:
                ref[k] = s
        else:
            unknown.append(f"{where}.{k}")
    return ref


def _decode_meta(v: Any, unknown: list[str]) -> dict:
    meta: dict[str, Any] = {}
    for k, x in _want_obj(v, "metadata").items():
        if k in _META_STRING:
            s = _want_str(x, f"ObjectMeta.{k}")
            if s:
                meta[k] = s
        elif k in ("creationTimestamp", "deletionTimestamp"):
            t = _parse_time(x, False, f"metadata.{k}")
            if t is not None:
                meta[k] = t
        elif k in ("generation", "deletionGracePeriodSeconds"):
            if x is not None:
                meta[k] = _want_int(x, f"ObjectMeta.{k}", 64)
        elif k in ("labels", "annotations"):
            m = _want_obj(x, f"ObjectMeta.{k}")
            for mk, mv in m.items():
                _want_str(mv, f"ObjectMeta.{k}[{mk}]")
            if m:
                meta[k] = dict(m)
        elif k in ("ownerReferences", "finalizers", "managedFields"):
            if x is not None:
                if not isinstance(x, list):
                    raise DecodeError(f"json: cannot unmarshal {_json_kind(x)} into Go struct field ObjectMeta.{k}")
                if x:
                    meta[k] = copy.deepcopy(x)
        else:
            unknown.append(f"metadata.{k}")
    return meta


def decode_event(doc: Any, api: str) -> tuple[dict, list[str]]:
    """Wire object (of `api`) → internal Event and the unknown fields, like the typed decoder.

    Raises DecodeError (→ 400) on wrong JSON types or times the Go types cannot parse.
    """
    if not isinstance(doc, dict):
        raise DecodeError(f"json: cannot unmarshal {_json_kind(doc)} into Go value of type {api} Event")
    ev = _empty_internal()
    unknown: list[str] = []
    wire = _WIRE[api]
    for k, v in doc.items():
        if k in ("apiVersion", "kind"):
            _want_str(v, k)
            continue
        if k == "metadata":
            ev["metadata"] = _decode_meta(v, unknown)
            continue
        internal = wire.get(k)
        if internal is None:
            unknown.append(k)
            continue
        if internal in ("reason", "message", "type", "action", "reportingController", "reportingInstance"):
            ev[internal] = _want_str(v, f"Event.{k}")
        elif internal == "count":
            ev["count"] = _want_int(v, f"Event.{k}")
        elif internal in ("firstTimestamp", "lastTimestamp"):
            ev[internal] = _parse_time(v, False, k)
        elif internal == "eventTime":
            ev["eventTime"] = _parse_time(v, True, k)
        elif internal == "involvedObject":
            ev["involvedObject"] = _decode_ref(v, k, unknown)
        elif internal == "related":
            ev["related"] = None if v is None else _decode_ref(v, k, unknown)
        elif internal == "source":
            src = {"component": "", "host": ""}
            for sk, sv in _want_obj(v, k).items():
                if sk in src:
                    src[sk] = _want_str(sv, f"{k}.{sk}")
                else:
                    unknown.append(f"{k}.{sk}")
            ev["source"] = src
        elif internal == "series":
            if v is None:
                ev["series"] = None
            else:
                series = {"count": 0, "lastObservedTime": None}
                for sk, sv in _want_obj(v, k).items():
                    if sk == "count":
                        series["count"] = _want_int(sv, "EventSeries.count")
                    elif sk == "lastObservedTime":
                        series["lastObservedTime"] = _parse_time(sv, True, "series.lastObservedTime")
                    else:
                        unknown.append(f"series.{sk}")
                ev["series"] = series
    return ev, unknown


def _encode_meta(meta: dict) -> dict:
    out: dict[str, Any] = {}
    for k in ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
              "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
              "ownerReferences", "finalizers", "managedFields"):
        if k in meta:
            v = meta[k]
            out[k] = fmt_time(v) if isinstance(v, dt.datetime) else copy.deepcopy(v)
    return out


def _encode_series(series: dict | None) -> dict | None:
    if series is None:
        return None
    return {"count": series["count"], "lastObservedTime": fmt_micro(series["lastObservedTime"])}


def encode_event(ev: dict, api: str) -> dict:
    """Internal Event → wire object of `api`, with the JSON omitempty rules of the Go types."""
    src = {k: v for k, v in ev["source"].items() if v}
    if api == CORE:
        out: dict[str, Any] = {"kind": "Event", "apiVersion": "v1", "metadata": _encode_meta(ev["metadata"]),
                               "involvedObject": dict(ev["involvedObject"])}
        if ev["reason"]:
            out["reason"] = ev["reason"]
        if ev["message"]:
            out["message"] = ev["message"]
        out["source"] = src
        out["firstTimestamp"] = fmt_time(ev["firstTimestamp"])
        out["lastTimestamp"] = fmt_time(ev["lastTimestamp"])
        if ev["count"]:
            out["count"] = ev["count"]
        if ev["type"]:
            out["type"] = ev["type"]
        out["eventTime"] = fmt_micro(ev["eventTime"])
        if ev["series"] is not None:
            out["series"] = _encode_series(ev["series"])
        if ev["action"]:
            out["action"] = ev["action"]
        if ev["related"] is not None:
            out["related"] = dict(ev["related"])
        out["reportingComponent"] = ev["reportingController"]
        out["reportingInstance"] = ev["reportingInstance"]
        return out
    out = {"kind": "Event", "apiVersion": EVENTS, "metadata": _encode_meta(ev["metadata"]),
           "eventTime": fmt_micro(ev["eventTime"])}
    if ev["series"] is not None:
        out["series"] = _encode_series(ev["series"])
    for k in ("reportingController", "reportingInstance", "action", "reason"):
        if ev[k]:
            out[k] = ev[k]
    out["regarding"] = dict(ev["involvedObject"])
    if ev["related"] is not None:
        out["related"] = dict(ev["related"])
    if ev["message"]:
        out["note"] = ev["message"]
    if ev["type"]:
        out["type"] = ev["type"]
    out["deprecatedSource"] = src
    out["deprecatedFirstTimestamp"] = fmt_time(ev["firstTimestamp"])
    out["deprecatedLastTimestamp"] = fmt_time(ev["lastTimestamp"])
    if ev["count"]:
        out["deprecatedCount"] = ev["count"]
    return out


# ------------------------------------------------------------------------------------------------
# Validation: pkg/apis/core/validation/events.go, line by line
# ------------------------------------------------------------------------------------------------

REPORTING_INSTANCE_LIMIT = 128
ACTION_LIMIT = 128
REASON_LIMIT = 128
NOTE_LIMIT = 1024


def _blen(s: str) -> int:
    return len(s.encode("utf-8"))  # Go's len() of a string counts bytes


def legacy_validate_event(ev: dict) -> list[FieldError]:
    """legacyValidateEvent: every Event, whatever the API version."""
    errs: list[FieldError] = []
    ns = ev["metadata"].get("namespace", "")
    io_ns = ev["involvedObject"].get("namespace", "")
    if ev["eventTime"] is None:
        # "Old" events: event.Namespace and involvedObject.namespace agree.
        if not io_ns:
            if ns not in ("", "default"):
                errs.append(FieldError("Invalid", "involvedObject.namespace", io_ns, "does not match event.namespace"))
        elif ns != io_ns:
            errs.append(FieldError("Invalid", "involvedObject.namespace", io_ns, "does not match event.namespace"))
    else:
        if not io_ns and ns not in ("default", "kube-system"):
            errs.append(FieldError("Invalid", "involvedObject.namespace", io_ns, "does not match event.namespace"))
        rc = ev["reportingController"]
        if not rc:
            errs.append(FieldError("Required", "reportingController"))
        for msg in is_qualified_name(rc):
            errs.append(FieldError("Invalid", "reportingController", rc, msg))
        ri = ev["reportingInstance"]
        if not ri:
            errs.append(FieldError("Required", "reportingInstance"))
        if _blen(ri) > REPORTING_INSTANCE_LIMIT:
            errs.append(FieldError("Invalid", "reportingInstance", "",
                                   f"can have at most {REPORTING_INSTANCE_LIMIT} characters"))
        if not ev["action"]:
            errs.append(FieldError("Required", "action"))
        if _blen(ev["action"]) > ACTION_LIMIT:
            errs.append(FieldError("Invalid", "action", "", f"can have at most {ACTION_LIMIT} characters"))
        if not ev["reason"]:
            errs.append(FieldError("Required", "reason"))
        if _blen(ev["reason"]) > REASON_LIMIT:
            errs.append(FieldError("Invalid", "reason", "", f"can have at most {REASON_LIMIT} characters"))
        if _blen(ev["message"]) > NOTE_LIMIT:
            errs.append(FieldError("Invalid", "message", "", f"can have at most {NOTE_LIMIT} characters"))
    for msg in is_dns1123_subdomain(ns):
        errs.append(FieldError("Invalid", "namespace", ns, msg))
    return errs


def validate_v1_event_series(ev: dict) -> list[FieldError]:
    errs = []
    s = ev["series"]
    if s is not None:
        if s["count"] < 2:
            errs.append(FieldError("Invalid", "series.count", "", "should be at least 2"))
        if s["lastObservedTime"] is None:
            errs.append(FieldError("Required", "series.lastObservedTime"))
    return errs


def _validate_object_meta(meta: dict, name_fn: Callable[[str], list[str]]) -> list[FieldError]:
    """ValidateObjectMeta(meta, requiresNamespace=true, nameFn): name or generateName, namespace label."""
    errs = []
    name, gen = meta.get("name", ""), meta.get("generateName", "")
    if gen:
        for msg in name_fn(gen.rstrip("-") or gen):  # prefix=true: the name function tolerates a trailing '-'
            errs.append(FieldError("Invalid", "metadata.generateName", gen, msg))
    if not name:
        errs.append(FieldError("Required", "metadata.name", detail="name or generateName is required"))
    else:
        for msg in name_fn(name):
            errs.append(FieldError("Invalid", "metadata.name", name, msg))
    ns = meta.get("namespace", "")
    if not ns:
        errs.append(FieldError("Required", "metadata.namespace"))
    else:
        for msg in is_dns1123_label(ns):
            errs.append(FieldError("Invalid", "metadata.namespace", ns, msg))
    return errs


def validate_event_create(ev: dict, api: str) -> list[FieldError]:
    """ValidateEventCreate(event, requestVersion)."""
    errs = legacy_validate_event(ev)
    if api == CORE:
        return errs  # "No further validation for backwards compatibility."
    errs += _validate_object_meta(ev["metadata"], is_dns1123_subdomain)
    errs += validate_v1_event_series(ev)
    if ev["eventTime"] is None:
        errs.append(FieldError("Required", "eventTime"))
    if ev["type"] not in ("Normal", "Warning"):
        errs.append(FieldError("Invalid", "type", "", f"has invalid value: {ev['type']}"))
    if ev["firstTimestamp"] is not None:
        errs.append(FieldError("Invalid", "firstTimestamp", "", "needs to be unset"))
    if ev["lastTimestamp"] is not None:
        errs.append(FieldError("Invalid", "lastTimestamp", "", "needs to be unset"))
    if ev["count"] != 0:
        errs.append(FieldError("Invalid", "count", "", "needs to be unset"))
    if ev["source"]["component"] or ev["source"]["host"]:
        errs.append(FieldError("Invalid", "source", "", "needs to be unset"))
    return errs


def _jsonable(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return fmt_micro(v)
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    return v


def _validate_meta_update(new: dict, old: dict) -> list[FieldError]:
    errs = []
    for k in ("name", "namespace", "uid", "creationTimestamp"):
        if new.get(k) != old.get(k):
            errs.append(FieldError("Invalid", f"metadata.{k}", _jsonable(new.get(k)), "field is immutable"))
    return errs


def validate_event_update(new: dict, old: dict, api: str) -> list[FieldError]:
    """ValidateEventUpdate(newEvent, oldEvent, requestVersion)."""
    errs = legacy_validate_event(new)
    if api == CORE:
        return errs
    errs += _validate_meta_update(new["metadata"], old["metadata"])
    if new["series"] != old["series"]:
        errs += validate_v1_event_series(new)
    for internal, path in (("involvedObject", "involvedObject"), ("reason", "reason"), ("message", "message"),
                           ("source", "source"), ("firstTimestamp", "firstTimestamp"),
                           ("lastTimestamp", "lastTimestamp"), ("count", "count"), ("type", "type"),
                           ("eventTime", "eventTime"), ("action", "action"), ("related", "related"),
                           ("reportingController", "reportingController"),
                           ("reportingInstance", "reportingInstance")):
        if new[internal] != old[internal]:
            errs.append(FieldError("Invalid", path, _jsonable(new[internal]), "field is immutable"))
    return errs


def _generic_meta_create(meta: dict) -> list[FieldError]:
    """rest.BeforeCreate's ValidateObjectMetaAccessor(meta, namespaced, path.ValidatePathSegmentName)."""
    return _validate_object_meta(meta, validate_path_segment_name)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386. For the Event type, strategic merge patch behaves the same (no merge-keyed lists)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


# ================================================================================================
# Request log and faults
# ================================================================================================


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str | None
    identity: str | None  # user name (token's user, or client-cert CN); None when unauthenticated
    credential: str | None  # "token:<label>" | "cert:<CN>" | None
    headers: dict[str, str]
    raw: bytes
    body: Any
    received: float  # time.monotonic() when the request (headers and body) was read
    wall: float  # time.time() at the same moment
    api: str | None = None
    status: int | None = None  # status answered; None for a reset or a stop
    response: Any = None
    fault: str | None = None
    warnings: list[str] = field(default_factory=list)
    answered: float | None = None

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8", "replace")


@dataclass
class _Fault:
    kind: str  # "stall" | "fail" | "reset"
    remaining: int | None  # None = every request until cleared
    seconds: float = 0.0
    status: int = 500
    retry_after: int | None = None
    method: str | None = None


# ================================================================================================
# HTTP server
# ================================================================================================


class _TLSServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, handler, api: "KubeAPI"):
        self.api = api
        super().__init__(addr, handler)

    def finish_request(self, request, client_address):
        api = self.api
        request.settimeout(30)
        try:
            conn = api._ssl_ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            with api._lock:
                api.tls_failures.append(f"{client_address}: {e}")
            return
        api._track(conn, True)
        try:
            self.RequestHandlerClass(conn, client_address, self)
        except Exception:  # noqa: BLE001 - a reset or a stop mid-request
            pass
        finally:
            api._track(conn, False)
            try:
                conn.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        pass


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-kube-apiserver/1.37"
    timeout = 60

    def log_message(self, *args):
        pass

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _serve(self):
        api: KubeAPI = self.server.api
        raw = self._read_body()
        req = api._record(self, raw)
        outcome = api._apply_faults(req)
        if outcome == "reset" or api._stopping.is_set():
            self._reset()
            req.fault = req.fault or "stopped"
            return
        if isinstance(outcome, APIError):
            return self._send_error(req, outcome)
        try:
            code, doc = api._dispatch(self, req)
        except APIError as e:
            return self._send_error(req, e)
        except Exception as e:  # noqa: BLE001 - a bug in the double must show, not hang the client
            return self._send_error(req, APIError(500, f"Internal error occurred: test double: {e!r}"))
        self._send(req, code, doc)

    def _reset(self):
        # Abortive close: SO_LINGER {on, 0} makes close() send a TCP RST, and no TLS close_notify goes first.
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True

    def _send_error(self, req: Request, e: APIError):
        self._send(req, e.code, e.status(), e.headers)

    def _send(self, req: Request, code: int, doc: Any, headers: dict[str, str] | None = None):
        body = json.dumps(doc, separators=(",", ":")).encode()
        api: KubeAPI = self.server.api
        with api._lock:
            req.status, req.response, req.answered = code, doc, time.monotonic()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Cache-Control", "no-cache, private")
        for w in req.warnings:
            self.send_header("Warning", '299 - "' + w.replace("\\", "\\\\").replace('"', '\\"') + '"')
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = _serve


_PATH = re.compile(r"^/(?:(api/v1)|(apis/events\.k8s\.io/v1))(?:/namespaces/([^/]+))?/events(?:/([^/]+))?/?$")
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # names.SimpleNameGenerator alphabet


class KubeAPI:
    """The fake API server. Start with start(); stop() takes it down (connections refused) and start()
    brings it back on the same port with the same store."""

    def __init__(self, pki: PKI, workdir: Path, *, sans: Iterable[str] = ("IP:127.0.0.1", "DNS:localhost"),
                 field_validation: str = "Warn"):
        self.pki = pki
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.server_key, self.server_crt = pki.server_cert(sans)
        self.ca_crt = pki.ca_crt
        self.field_validation = field_validation
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(str(self.server_crt), str(self.server_key))
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.load_verify_locations(str(pki.client_ca_crt))
        self._ssl_ctx = ctx

        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: _TLSServer | None = None
        self._thread: threading.Thread | None = None
        self._conns: set = set()
        self.port: int | None = None

        # identities
        self._tokens: dict[str, tuple[str, str]] = {}  # token value → (user, label)
        self._token_of: dict[str, str] = {}  # label → current value
        self._token_files: dict[str, list[Path]] = {}  # label → files holding it
        self.verbs: dict[str, frozenset[str]] = {SA_USER: WEBHOOK_VERBS, CERT_USER: WEBHOOK_VERBS,
                                                 ADMIN_USER: ALL_VERBS}
        self.add_token(SA_USER, label=SA_USER)
        self.add_token(ADMIN_USER, label=ADMIN_USER)

        # store and log
        self._events: dict[tuple[str, str], dict] = {}
        self._rv = 0
        self.requests: list[Request] = []
        self.tls_failures: list[str] = []
        self._faults: list[_Fault] = []

    # ---------------------------------------------------------------- lifecycle
    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> "KubeAPI":
        assert self._server is None, "already running"
        self._stopping.clear()
        self._server = _TLSServer(("127.0.0.1", self.port or 0), _Handler, self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"kubeapi-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut every open connection: clients then get 'connection refused'."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread:
            self._thread.join(5)
        self._server = None
        self._thread = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def _track(self, conn, add: bool) -> None:
        with self._lock:
            (self._conns.add if add else self._conns.discard)(conn)

    # ---------------------------------------------------------------- identities
    def add_token(self, user: str, value: str | None = None, *, label: str | None = None) -> str:
        """Make a bearer token valid for `user`; returns its value. `label` names it (default: the user)."""
        label = label or user
        value = value or base64.urlsafe_b64encode(secrets.token_bytes(24)).decode().rstrip("=")
        with self._lock:
            old = self._token_of.get(label)
            if old:
                self._tokens.pop(old, None)
            self._tokens[value] = (user, label)
            self._token_of[label] = value
            self.verbs.setdefault(user, WEBHOOK_VERBS)
        return value

    def token(self, label: str = SA_USER) -> str:
        return self._token_of[label]

    def rotate_token(self, label: str = SA_USER) -> str:
        """A new value for the token `label`; the old one stops working at once. Files written by
        write_kubeconfig(tokenFile) and write_serviceaccount_dir are rewritten (atomically)."""
        with self._lock:
            user = self._tokens[self._token_of[label]][0]
        value = self.add_token(user, label=label)
        for path in self._token_files.get(label, []):
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(value)
            os.replace(tmp, path)
        return value

    def revoke_token(self, label: str = SA_USER) -> None:
        with self._lock:
            value = self._token_of.pop(label, None)
            if value:
                self._tokens.pop(value, None)

    def forbid(self, user: str, verbs: Iterable[str] | None = None) -> None:
        """Take verbs (default: all) away from `user`: its requests get 403 Forbidden."""
        with self._lock:
            self.verbs[user] = frozenset() if verbs is None else self.verbs.get(user, frozenset()) - set(verbs)

    def authorize(self, user: str, verbs: Iterable[str] = WEBHOOK_VERBS) -> None:
        with self._lock:
            self.verbs[user] = frozenset(verbs)

    # ---------------------------------------------------------------- faults
    def stall(self, seconds: float, n: int | None = None, method: str | None = None) -> None:
        """Sleep `seconds` before answering each of the next `n` requests (None: all, until clear_faults)."""
        with self._lock:
            self._faults.append(_Fault("stall", n, seconds=seconds, method=method))

    def fail_next(self, n: int = 1, status: int = 500, *, retry_after: int | None = None,
                  method: str | None = None) -> None:
        """Answer the next `n` requests with `status` and a Status body (429 carries Retry-After)."""
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._lock:
            self._faults.append(_Fault("fail", n, status=status, retry_after=retry_after, method=method))

    def reset_next(self, n: int = 1, method: str | None = None) -> None:
        """Read the next `n` requests, then close their TCP connections abruptly without an answer."""
        with self._lock:
            self._faults.append(_Fault("reset", n, method=method))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, kind: str, method: str) -> _Fault | None:
        for f in self._faults:
            if f.kind == kind and (f.method is None or f.method == method) and (f.remaining is None or f.remaining > 0):
                if f.remaining is not None:
                    f.remaining -= 1
                return f
        return None

    def _apply_faults(self, req: Request) -> str | APIError | None:
        with self._lock:
            stall = self._take_fault("stall", req.method)
            reset = self._take_fault("reset", req.method)
            fail = None if reset else self._take_fault("fail", req.method)
        if stall:
            req.fault = f"stall {stall.seconds}s"
            self._stopping.wait(stall.seconds)
        if reset:
            req.fault = "reset"
            return "reset"
        if fail:
            req.fault = f"fail {fail.status}"
            headers = {"Retry-After": str(fail.retry_after)} if fail.retry_after is not None else {}
            details = {"retryAfterSeconds": fail.retry_after} if fail.retry_after is not None else None
            return APIError(fail.status, _FAULT_MESSAGES.get(fail.status, "injected failure"),
                            _STATUS_REASONS.get(fail.status, ""), details, headers)
        return None

    # ---------------------------------------------------------------- log
    def _record(self, handler: _Handler, raw: bytes) -> Request:
        split = urlsplit(handler.path)
        ctype = handler.headers.get("Content-Type")
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        identity, credential = self._authenticate(handler)
        req = Request(handler.command, split.path, parse_qs(split.query), ctype, identity, credential,
                      {k: v for k, v in handler.headers.items()}, raw, body, time.monotonic(), time.time())
        with self._lock:
            self.requests.append(req)
        return req

    def _authenticate(self, handler: _Handler) -> tuple[str | None, str | None]:
        # x509 first, then bearer tokens: the order of kube-apiserver's union authenticator.
        try:
            cert = handler.connection.getpeercert()
        except (ValueError, OSError):
            cert = None
        if cert:
            for rdn in cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        return v, f"cert:{v}"
        auth = handler.headers.get("Authorization") or ""
        if auth.startswith("Bearer "):
            with self._lock:
                hit = self._tokens.get(auth[len("Bearer "):].strip())
            if hit:
                return hit[0], f"token:{hit[1]}"
        return None, None

    def event_requests(self) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if "/events" in r.path]

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()

    # ---------------------------------------------------------------- routing
    def _dispatch(self, handler: _Handler, req: Request) -> tuple[int, Any]:
        if req.identity is None:
            raise APIError(401, "Unauthorized", "Unauthorized")
        m = _PATH.match(req.path)
        if not m:
            raise APIError(404, "the server could not find the requested resource", "NotFound", {})
        api = CORE if m.group(1) else EVENTS
        req.api = api
        ns = unquote(m.group(3)) if m.group(3) else None
        name = unquote(m.group(4)) if m.group(4) else None
        verb = {"POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete",
                "GET": "get" if name else "list"}.get(req.method)
        if verb is None or (req.method == "POST" and name) or (req.method in ("PATCH", "PUT", "DELETE") and not name):
            raise APIError(405, f"the server does not allow this method on the requested resource", "MethodNotAllowed",
                           {})
        if (ns is None) and verb != "list":
            raise APIError(404, "the server could not find the requested resource", "NotFound", {})
        self._authorize(req.identity, verb, api, ns, name)
        dry_run = "All" in req.query.get("dryRun", [])
        fv = (req.query.get("fieldValidation") or [self.field_validation])[0]
        if verb == "create":
            return self._create(req, api, ns, dry_run, fv)
        if verb == "get":
            with self._lock:
                ev = self._events.get((ns, name))
                if ev is None:
                    raise err_not_found(api, name)
                return 200, encode_event(ev, api)
        if verb == "list":
            with self._lock:
                items = [encode_event(e, api) for (ens, _), e in sorted(self._events.items())
                         if ns is None or ens == ns]
                return 200, {"kind": "EventList", "apiVersion": api, "metadata": {"resourceVersion": str(self._rv)},
                             "items": items}
        if verb == "patch":
            return self._patch(req, api, ns, name, dry_run, fv)
        if verb == "update":
            return self._put(req, api, ns, name, dry_run, fv)
        if verb == "delete":
            with self._lock:
                ev = self._events.get((ns, name))
                if ev is None:
                    raise err_not_found(api, name)
                if not dry_run:
                    del self._events[(ns, name)]
                return 200, encode_event(ev, api)
        raise AssertionError(verb)

    def _authorize(self, user: str, verb: str, api: str, ns: str | None, name: str | None) -> None:
        with self._lock:
            allowed = verb in self.verbs.get(user, frozenset())
        if allowed:
            return
        group, qualified = _qualified_resource(api)
        where = f'in the namespace "{ns}"' if ns else "at the cluster scope"
        why = f'User "{user}" cannot {verb} resource "events" in API group "{group}" {where}'
        subject = f'{qualified} "{name}"' if name else qualified
        raise APIError(403, f"{subject} is forbidden: {why}", "Forbidden", _details(api, name))

    # ---------------------------------------------------------------- decoding a request body
    def _decode_body(self, req: Request, api: str, fv: str, doc: Any = None) -> dict:
        if doc is None:
            try:
                doc = json.loads(req.raw)
            except ValueError as e:
                raise err_bad_request(f"error decoding request body: {e}") from None
        if not isinstance(doc, dict):
            raise err_bad_request(f'Event in version "{api.split("/")[-1]}" cannot be handled as a Event: '
                                  "json: cannot unmarshal into Go value of type struct")
        av, kind = doc.get("apiVersion"), doc.get("kind")
        if av not in (None, "") and av != api:
            raise err_bad_request(f"the API version in the data ({av}) does not match the expected API version "
                                  f"({api})")
        if kind not in (None, "") and kind != "Event":
            raise err_bad_request(f'the kind in the data ({kind}) does not match the expected kind (Event)')
        try:
            ev, unknown = decode_event(doc, api)
        except DecodeError as e:
            raise err_bad_request(f'Event in version "{api.split("/")[-1]}" cannot be handled as a Event: {e}') \
                from None
        if unknown:
            if fv == "Strict":
                raise err_bad_request("strict decoding error: " + ", ".join(f'unknown field "{u}"' for u in unknown))
            if fv != "Ignore":
                req.warnings += [f'unknown field "{u}"' for u in unknown]
        return ev

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    # ---------------------------------------------------------------- create
    def _create(self, req: Request, api: str, ns: str, dry_run: bool, fv: str) -> tuple[int, Any]:
        media = (req.content_type or "").split(";")[0].strip().lower()
        if media != "application/json":
            raise APIError(415, "the body of the request was in an unknown format - accepted media types include: "
                                "application/json, application/yaml, application/vnd.kubernetes.protobuf",
                           "UnsupportedMediaType")
        ev = self._decode_body(req, api, fv)
        return self._store_new(ev, api, ns, dry_run)

    def _store_new(self, ev: dict, api: str, ns: str, dry_run: bool, *, code: int = 201) -> tuple[int, Any]:
        meta = ev["metadata"]
        if meta.get("namespace") and meta["namespace"] != ns:
            raise err_bad_request("the namespace of the provided object does not match the namespace sent on the "
                                  "request")
        meta["namespace"] = ns
        if meta.get("resourceVersion"):
            raise err_bad_request("resourceVersion can not be set for Create requests")
        if meta.get("generateName") and not meta.get("name"):
            meta["name"] = meta["generateName"] + "".join(random.choice(_NAME_CHARS) for _ in range(5))
        name = meta.get("name", "")
        errs = validate_event_create(ev, api)
        if errs:
            raise err_invalid(api, name, errs)
        errs = _generic_meta_create(meta)
        if errs:
            raise err_invalid(api, name, errs)
        with self._lock:
            if (ns, name) in self._events:
                raise err_already_exists(api, name)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
            meta.pop("deletionTimestamp", None)
            if dry_run:
                meta["resourceVersion"] = ""
                return code, encode_event(ev, api)
            meta["resourceVersion"] = self._next_rv()
            self._events[(ns, name)] = ev
            return code, encode_event(ev, api)

    # ---------------------------------------------------------------- update (PATCH, PUT)
    def _update(self, new: dict, old: dict, api: str, ns: str, name: str, dry_run: bool) -> tuple[int, Any]:
        meta = new["metadata"]
        if meta.get("name", "") != name:
            raise err_bad_request(f"the name of the object ({meta.get('name', '')}) does not match the name on the "
                                  f"URL ({name})")
        if meta.get("namespace") and meta["namespace"] != ns:
            raise err_bad_request("the namespace of the provided object does not match the namespace sent on the "
                                  "request")
        meta["namespace"] = ns
        rv = meta.get("resourceVersion", "")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise err_conflict(api, name)
        # system fields a client cannot change (rest.BeforeUpdate / FillObjectMetaSystemFields)
        meta.setdefault("uid", old["metadata"]["uid"])
        meta["creationTimestamp"] = old["metadata"]["creationTimestamp"]
        meta["resourceVersion"] = old["metadata"]["resourceVersion"]
        errs = validate_event_update(new, old, api)
        errs += [e for e in _validate_meta_update(meta, old["metadata"]) if api == CORE]
        if errs:
            raise err_invalid(api, name, errs)
        if not dry_run:
            meta["resourceVersion"] = self._next_rv()
            self._events[(ns, name)] = new
        return 200, encode_event(new, api)

    def _patch(self, req: Request, api: str, ns: str, name: str, dry_run: bool, fv: str) -> tuple[int, Any]:
        media = (req.content_type or "").split(";")[0].strip().lower()
        if media not in ("application/merge-patch+json", "application/strategic-merge-patch+json",
                         "application/json-patch+json"):
            raise APIError(415, f"the body of the request was in an unknown format - accepted media types include: "
                                "application/json-patch+json, application/merge-patch+json, "
                                "application/strategic-merge-patch+json", "UnsupportedMediaType")
        try:
            patch = json.loads(req.raw)
        except ValueError as e:
            raise err_bad_request(f"error decoding patch: {e}") from None
        with self._lock:
            old = self._events.get((ns, name))
            if old is None:
                raise err_not_found(api, name)
            current = encode_event(old, api)
            if media == "application/json-patch+json":
                import jsonpatch

                if not isinstance(patch, list):
                    raise err_bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
                try:
                    patched = jsonpatch.JsonPatch(patch).apply(current)
                except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as e:
                    if isinstance(e, jsonpatch.JsonPatchTestFailed):
                        raise APIError(422, f"the server rejected our request due to an error in our request: {e}",
                                       "Invalid", _details(api, name, kind="Event")) from None
                    raise APIError(500, f"Internal error occurred: {e}", "InternalError") from None
            else:
                if not isinstance(patch, dict):
                    raise err_bad_request("json: cannot unmarshal into Go value of type map[string]interface {}")
                patched = merge_patch(current, patch)
            new = self._decode_body(req, api, fv, doc=patched)
            return self._update(new, old, api, ns, name, dry_run)

    def _put(self, req: Request, api: str, ns: str, name: str, dry_run: bool, fv: str) -> tuple[int, Any]:
        media = (req.content_type or "").split(";")[0].strip().lower()
        if media != "application/json":
            raise APIError(415, "the body of the request was in an unknown format - accepted media types include: "
                                "application/json, application/yaml, application/vnd.kubernetes.protobuf",
                           "UnsupportedMediaType")
        new = self._decode_body(req, api, fv)
        with self._lock:
            old = self._events.get((ns, name))
            if old is None:  # the event strategy allows create on update
                if new["metadata"].get("name", "") != name:
                    raise err_bad_request(f"the name of the object ({new['metadata'].get('name', '')}) does not "
                                          f"match the name on the URL ({name})")
                return self._store_new(new, api, ns, dry_run)
            return self._update(new, old, api, ns, name, dry_run)

    # ---------------------------------------------------------------- store access for tests
    def get_event(self, namespace: str, name: str, api: str = CORE) -> dict | None:
        with self._lock:
            ev = self._events.get((namespace, name))
            return None if ev is None else encode_event(ev, api)

    def events(self, api: str = CORE, namespace: str | None = None) -> list[dict]:
        """Every stored Event, rendered as `api` would serve it."""
        with self._lock:
            return [encode_event(e, api) for (ns, _), e in sorted(self._events.items())
                    if namespace is None or ns == namespace]

    def seed(self, doc: dict, api: str = CORE) -> dict:
        """Create an Event directly (no auth, no faults), through the same decoding and validation."""
        ns = (doc.get("metadata") or {}).get("namespace") or "default"
        fake = Request("POST", "", {}, "application/json", ADMIN_USER, None, {}, json.dumps(doc).encode(), doc,
                       time.monotonic(), time.time())
        ev = self._decode_body(fake, api, "Strict")
        return self._store_new(ev, api, ns, False)[1]

    def wait_for(self, predicate: Callable[["KubeAPI"], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
        """Poll until predicate(self) is truthy; returns its value, or the last (falsy) one after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate(self)
            if value or time.monotonic() >= deadline:
                return value
            time.sleep(interval)

    # ---------------------------------------------------------------- credentials for clients
    def _register_token_file(self, label: str, path: Path) -> None:
        self._token_files.setdefault(label, [])
        if path not in self._token_files[label]:
            self._token_files[label].append(path)

    def write_kubeconfig(self, path: Path, mode: str = "token", *, ca: str = "data", user: str | None = None,
                         server: str | None = None, tls_server_name: str | None = None, relative: bool = False,
                         decoy: bool = True, fmt: str = "yaml", client_cert: tuple[Path, Path] | None = None) -> Path:
        """A kubeconfig whose current context reaches this server.

        mode: token | tokenFile | cert-data | cert-files | exec | auth-provider | none
        ca:   data (certificate-authority-data) | file (certificate-authority) | insecure
              (insecure-skip-tls-verify) | none (no CA: the server cannot be verified)
        decoy: also write another cluster/user/context, listed first, which is NOT current.
        relative: file references are written relative to the kubeconfig's directory (kubectl resolves them so).
        """
        path = Path(path)
        d = path.parent
        d.mkdir(parents=True, exist_ok=True)
        stem = path.stem

        def ref(p: Path) -> str:
            return os.path.relpath(p, d) if relative else str(p)

        cluster: dict[str, Any] = {"server": server or self.url}
        if ca == "data":
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_crt.read_bytes()).decode()
        elif ca == "file":
            ca_copy = d / f"{stem}-ca.crt"
            ca_copy.write_bytes(self.ca_crt.read_bytes())
            cluster["certificate-authority"] = ref(ca_copy)
        elif ca == "insecure":
            cluster["insecure-skip-tls-verify"] = True
        elif ca != "none":
            raise ValueError(ca)
        if tls_server_name:
            cluster["tls-server-name"] = tls_server_name

        u: dict[str, Any] = {}
        if mode in ("token", "tokenFile"):
            label = user or SA_USER
            if label not in self._token_of:
                self.add_token(label, label=label)
            if mode == "token":
                u["token"] = self.token(label)
            else:
                tf = d / f"{stem}-token"
                tf.write_text(self.token(label))
                self._register_token_file(label, tf)
                u["tokenFile"] = ref(tf)
        elif mode in ("cert-data", "cert-files"):
            key, crt = client_cert or self.pki.client_cert(user or CERT_USER)
            if mode == "cert-data":
                u["client-certificate-data"] = base64.b64encode(crt.read_bytes()).decode()
                u["client-key-data"] = base64.b64encode(key.read_bytes()).decode()
            else:
                kc, kk = d / f"{stem}-client.crt", d / f"{stem}-client.key"
                kc.write_bytes(crt.read_bytes())
                kk.write_bytes(key.read_bytes())
                os.chmod(kk, 0o600)
                u["client-certificate"] = ref(kc)
                u["client-key"] = ref(kk)
        elif mode == "exec":
            u["exec"] = {"apiVersion": "client.authentication.k8s.io/v1", "command": "/bin/false",
                         "args": ["get-token"], "interactiveMode": "Never"}
        elif mode == "auth-provider":
            u["auth-provider"] = {"name": "oidc", "config": {"client-id": "podinject", "idp-issuer-url":
                                                             "https://issuer.invalid", "id-token": "not-a-token"}}
        elif mode != "none":
            raise ValueError(mode)

        clusters = [{"name": "fake", "cluster": cluster}]
        users = [{"name": "fake-user", "user": u}]
        contexts = [{"name": "fake-ctx", "context": {"cluster": "fake", "user": "fake-user", "namespace": "default"}}]
        if decoy:
            clusters.insert(0, {"name": "decoy", "cluster": {"server": "https://127.0.0.1:9",
                                                             "insecure-skip-tls-verify": True}})
            users.insert(0, {"name": "decoy-user", "user": {"token": "decoy-token-not-valid"}})
            contexts.insert(0, {"name": "decoy-ctx", "context": {"cluster": "decoy", "user": "decoy-user"}})
        doc = {"apiVersion": "v1", "kind": "Config", "preferences": {}, "clusters": clusters, "users": users,
               "contexts": contexts, "current-context": "fake-ctx"}
        path.write_text(yaml.safe_dump(doc, sort_keys=False) if fmt == "yaml" else json.dumps(doc, indent=2))
        return path

    def write_serviceaccount_dir(self, directory: Path, *, user: str = SA_USER, namespace: str = "podinject") \
            -> dict[str, str]:
        """token, ca.crt and namespace as the kubelet projects them; returns the in-cluster environment
        (KUBERNETES_SERVICE_HOST/PORT and PODINJECT_SERVICEACCOUNT_DIR) to add to a client's env."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if user not in self._token_of:
            self.add_token(user, label=user)
        (directory / "token").write_text(self.token(user))
        self._register_token_file(user, directory / "token")
        (directory / "ca.crt").write_bytes(self.ca_crt.read_bytes())
        (directory / "namespace").write_text(namespace)
        return {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(self.port),
                "KUBERNETES_SERVICE_PORT_HTTPS": str(self.port), "PODINJECT_SERVICEACCOUNT_DIR": str(directory)}


# ================================================================================================
# A small HTTPS client for the self-tests and for tests that talk to the double directly
# ================================================================================================


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def client_context(api: KubeAPI, cert: tuple[Path, Path] | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(api.ca_crt))
    if cert:
        key, crt = cert
        ctx.load_cert_chain(str(crt), str(key))
    return ctx


def call(api: KubeAPI, method: str, path: str, body: Any = None, *, token: str | None = None,
         cert: tuple[Path, Path] | None = None, content_type: str | None = None, host: str = "127.0.0.1",
         timeout: float = 10, headers: dict[str, str] | None = None) -> Reply:
    import http.client

    conn = http.client.HTTPSConnection(host, api.port, context=client_context(api, cert), timeout=timeout)
    hdrs = dict(headers or {})
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs["Content-Type"] = content_type or ("application/merge-patch+json" if method == "PATCH"
                                                else "application/json")
    elif content_type:
        hdrs["Content-Type"] = content_type
    try:
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        merged: dict[str, str] = {}
        for name, value in resp.getheaders():
            merged[name.lower()] = merged[name.lower()] + ", " + value if name.lower() in merged else value
        return Reply(resp.status, merged, resp.read())
    finally:
        conn.close()


def events_path(api: str, namespace: str, name: str | None = None) -> str:
    base = "/api/v1" if api == CORE else "/apis/events.k8s.io/v1"
    return f"{base}/namespaces/{namespace}/events" + (f"/{name}" if name else "")
