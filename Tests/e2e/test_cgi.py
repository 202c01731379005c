"""CGI mode (RFC 3875; SPEC §1, §6): header block with CRLF, statuses, draining the body like fcgiwrap needs."""

from __future__ import annotations

import json
import re
import subprocess
import threading
from dataclasses import dataclass

import pytest

import harness as h

SAMPLE = h.SAMPLES / "review-plain-pod.json"
GOOD = h.review_bytes(json.loads(SAMPLE.read_bytes()))
CONFIG = h.SAMPLES / "config.yaml"  # copied per test, see the home fixture


@dataclass
class CGIRun:
    result: h.Result
    written: int
    write_error: str | None

    @property
    def response(self) -> h.CGIResponse:
        return h.parse_cgi(self.result.stdout)


def run_cgi(body: bytes, env: dict[str, str], args: list[str] | None = None, chunk: int = 65536) -> CGIRun:
    """Run podinject as a CGI program; a writer thread feeds the body the way fcgiwrap does (all of it,
    before reading anything) and records how much the program accepted."""
    argv = [str(h.BIN), *(args or [])]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd=h.REPO)
    state = {"written": 0, "error": None}

    def writer():
        try:
            for i in range(0, len(body), chunk):
                proc.stdin.write(body[i:i + chunk])
                proc.stdin.flush()
                state["written"] += len(body[i:i + chunk])
            proc.stdin.close()
        except (BrokenPipeError, OSError) as e:
            state["error"] = f"{type(e).__name__}: {e}"

    out, err = [], []
    threads = [threading.Thread(target=writer),
               threading.Thread(target=lambda: out.append(proc.stdout.read())),
               threading.Thread(target=lambda: err.append(proc.stderr.read()))]
    for t in threads:
        t.daemon = True
        t.start()
    try:
        rc = proc.wait(timeout=h.TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"podinject (CGI) hung; {state['written']} of {len(body)} body bytes written")
    for t in threads:
        t.join(timeout=h.TIMEOUT)
    result = h.Result(argv, rc, b"".join(out), b"".join(err))
    return CGIRun(result, state["written"], state["error"])


@pytest.fixture
def home(tmp_path):
    """HOME for the run, and a copy of the sample config whose outbox and log file live under tmp_path."""
    d = tmp_path / "home"
    d.mkdir()
    h.config_copy(CONFIG, tmp_path, logFile=str(tmp_path / "events.log"))
    return d


def env_for(home, method="POST", content_type="application/json", length: int | None = -1, body=GOOD, **extra):
    if length == -1:
        length = len(body)
    config = home.parent / "config.yaml"
    return h.cgi_env(method, content_type, length, extra={"PODINJECT_CONFIG": str(config), **extra}, home=home)


def _ok_review(run: CGIRun, review: dict) -> dict:
    assert run.result.returncode == 0, run.result.describe()
    resp = run.response
    assert resp.status == 200, run.result.describe()
    assert resp.headers.get("content-type", "").split(";")[0].strip() == "application/json", resp.headers
    if "content-length" in resp.headers:
        assert int(resp.headers["content-length"]) == len(resp.body)
    answer = json.loads(resp.body)
    h.check_echo(answer, review)
    return answer


def _refusal(run: CGIRun, status: int, body: bytes | None = None) -> h.CGIResponse:
    assert run.result.returncode == 0, f"an HTTP response was written: exit 0\n{run.result.describe()}"
    resp = run.response
    assert resp.status == status, run.result.describe()
    if body:
        assert run.write_error is None and run.written == len(body), (
            f"podinject did not read the whole body before answering {status} "
            f"({run.written} of {len(body)} bytes, {run.write_error}); fcgiwrap would answer 502")
    return resp


def _status_body(resp: h.CGIResponse, code: int) -> dict:
    assert resp.headers.get("content-type", "").split(";")[0].strip() == "application/json", resp.headers
    status = json.loads(resp.body)
    assert status.get("kind") == "Status" and status.get("apiVersion") == "v1", status
    assert status.get("status") == "Failure" and status.get("code") == code, status
    assert isinstance(status.get("message"), str) and status["message"], status
    return status


def test_good_review(podinject_bin, home):
    run = run_cgi(GOOD, env_for(home))
    answer = _ok_review(run, json.loads(GOOD))
    assert answer["response"]["allowed"] is True and h.patch_of(answer)
    # the header block is CRLF only; the body follows the empty line
    assert run.result.stdout.startswith(run.response.header_block + b"\r\n")


def test_request_method_alone_means_cgi(podinject_bin, home):
    """SPEC §1: CGI mode when REQUEST_METHOD is set, even without GATEWAY_INTERFACE (some hosts omit it)."""
    env = env_for(home)
    del env["GATEWAY_INTERFACE"]
    run = run_cgi(GOOD, env)
    _ok_review(run, json.loads(GOOD))
    # ... and its refusals are HTTP answers too
    run = run_cgi(b"", {k: v for k, v in env_for(home, method="GET", length=None).items()
                        if k != "GATEWAY_INTERFACE"})
    assert _refusal(run, 405).headers.get("allow") == "POST"


def test_review_without_api_version_is_answered_as_v1(podinject_bin, home):
    """SPEC §6: a review without apiVersion is read as admission.k8s.io/v1 and answered in v1."""
    review = json.loads(GOOD)
    del review["apiVersion"]
    body = h.review_bytes(review)
    run = run_cgi(body, env_for(home, body=body))
    answer = _ok_review(run, review)
    assert answer["apiVersion"] == h.ADMISSION_V1, answer
    assert answer["response"]["allowed"] is True and h.patch_of(answer)


def test_cgi_flag_without_gateway_interface(podinject_bin, home):
    env = env_for(home)
    del env["GATEWAY_INTERFACE"]
    run = run_cgi(GOOD, env, args=["--cgi"])
    _ok_review(run, json.loads(GOOD))


def test_charset_parameter_is_accepted(podinject_bin, home):
    run = run_cgi(GOOD, env_for(home, content_type="application/json; charset=utf-8"))
    _ok_review(run, json.loads(GOOD))


def test_chunked_body_read_to_eof(podinject_bin, home):
    run = run_cgi(GOOD, env_for(home, length=None, HTTP_TRANSFER_ENCODING="chunked"))
    _ok_review(run, json.loads(GOOD))
    assert run.write_error is None and run.written == len(GOOD)


def test_body_read_per_content_length(podinject_bin, home):
    body = GOOD + b"\n{trailing garbage beyond CONTENT_LENGTH"
    run = run_cgi(body, env_for(home, length=len(GOOD)))
    _ok_review(run, json.loads(GOOD))


def test_answers_without_waiting_for_eof(podinject_bin, home):
    """Per CONTENT_LENGTH: the host may keep the pipe open after the body; podinject must not wait for EOF."""
    proc = subprocess.Popen([str(h.BIN)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=env_for(home), cwd=h.REPO)
    out: list[bytes] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)
    reader.start()
    try:
        proc.stdin.write(GOOD)
        proc.stdin.flush()
        try:
            proc.wait(timeout=h.TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError("podinject waited for EOF after CONTENT_LENGTH bytes (hang)") from None
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdin.close()
        proc.wait()
    reader.join(timeout=h.TIMEOUT)
    assert proc.returncode == 0
    resp = h.parse_cgi(b"".join(out))
    assert resp.status == 200
    h.check_echo(json.loads(resp.body), json.loads(GOOD))


def test_get_is_405_with_allow_post(podinject_bin, home):
    run = run_cgi(b"", env_for(home, method="GET", content_type=None, length=None))
    resp = _refusal(run, 405)
    assert resp.headers.get("allow", "").replace(" ", "").upper() == "POST", resp.headers


def test_text_plain_is_415(podinject_bin, home):
    _refusal(run_cgi(GOOD, env_for(home, content_type="text/plain")), 415, GOOD)


def test_missing_content_type_is_415(podinject_bin, home):
    _refusal(run_cgi(GOOD, env_for(home, content_type=None)), 415, GOOD)


def test_missing_content_length_is_411(podinject_bin, home):
    _refusal(run_cgi(b"", env_for(home, length=None)), 411)


@pytest.mark.parametrize("length", ["-5", "-1", "-9223372036854775808", "abc", " 12", "1e3",
                                    "99999999999999999999999"])
def test_invalid_content_length_is_answered(length, podinject_bin, home):
    """Never a crash: a CONTENT_LENGTH that is no non-negative integer gets an HTTP error answer."""
    env = env_for(home)
    env["CONTENT_LENGTH"] = length
    run = run_cgi(b"", env)
    assert run.result.returncode == 0, f"no HTTP response (crash?)\n{run.result.describe()}"
    assert run.response.status in (400, 411, 413), run.result.describe()


def test_over_3_MiB_is_413_after_draining(podinject_bin, home):
    body = GOOD + b" " * (h.MAX_BODY + 1 - len(GOOD))
    assert len(body) == h.MAX_BODY + 1
    _refusal(run_cgi(body, env_for(home, body=body)), 413, body)


def test_over_3_MiB_chunked_is_413_after_draining(podinject_bin, home):
    body = GOOD + b" " * (h.MAX_BODY + 4096 - len(GOOD))
    _refusal(run_cgi(body, env_for(home, length=None, body=body, HTTP_TRANSFER_ENCODING="chunked")), 413, body)


def test_truncated_json_is_400_with_status(podinject_bin, home):
    body = GOOD[: len(GOOD) // 2]
    resp = _refusal(run_cgi(body, env_for(home, body=body)), 400, body)
    _status_body(resp, 400)


def test_body_shorter_than_content_length_is_400(podinject_bin, home):
    resp = _refusal(run_cgi(GOOD, env_for(home, length=len(GOOD) + 100)), 400)
    _status_body(resp, 400)


@pytest.mark.parametrize("body", [b'{"kind":"Pod"}', b"not json at all",
                                  b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}'],
                         ids=["wrong-document", "not-json", "no-uid"])
def test_bad_documents_are_400(body, podinject_bin, home):
    resp = _refusal(run_cgi(body, env_for(home, body=body)), 400, body)
    _status_body(resp, 400)


def test_nesting_300_is_400(podinject_bin, home):
    review = json.loads(GOOD)
    review["request"]["object"]["x-deep"] = "@@"
    body = h.review_bytes(review).replace(b'"@@"', b"[" * 297 + b"]" * 297)
    resp = _refusal(run_cgi(body, env_for(home, body=body)), 400, body)
    _status_body(resp, 400)


def test_denial_is_http_200(podinject_bin, home):
    body = (h.SAMPLES / "review-deny.json").read_bytes()
    run = run_cgi(body, env_for(home, body=body))
    answer = _ok_review(run, json.loads(body))
    assert answer["response"]["allowed"] is False
    assert answer["response"]["status"]["code"] == 403


def test_v1beta1_is_answered_in_v1beta1(podinject_bin, home):
    body = (h.SAMPLES / "review-v1beta1.json").read_bytes()
    answer = _ok_review(run_cgi(body, env_for(home, body=body)), json.loads(body))
    assert answer["apiVersion"] == h.ADMISSION_V1BETA1


# --------------------------------------------------------------------------------------------
# SPEC §6 exactly: every refusal is a JSON Status; the nesting limit; the body limit and drain cap
# --------------------------------------------------------------------------------------------

DRAIN_CAP = 64 * 1024 * 1024  # HTTPFront.drainCapBytes; the README: "its 64 MiB drain cap"
K8S_REASONS = {400: "BadRequest", 405: "MethodNotAllowed", 413: "RequestEntityTooLarge", 415: "UnsupportedMediaType"}
REASON_PHRASES = {400: "Bad Request", 405: "Method Not Allowed", 411: "Length Required", 413: "Payload Too Large",
                  415: "Unsupported Media Type"}


def _nested_body(depth: int) -> bytes:
    """The sample review with an unknown field nested so that the document is `depth` levels deep
    (review 1, request 2, object 3, then arrays)."""
    review = json.loads(GOOD)
    review["request"]["object"]["x-deep"] = "@@"
    n = depth - 3
    return h.review_bytes(review).replace(b'"@@"', b"[" * n + b"]" * n)


REFUSALS = {
    # name: (status, body, env overrides)
    "400-truncated": (400, GOOD[: len(GOOD) // 2], {}),
    "400-empty-body": (400, b"", {"length": 0}),
    "405-get": (405, b"", {"method": "GET", "content_type": None, "length": None}),
    "405-put-with-body": (405, GOOD, {"method": "PUT"}),
    "411-no-length": (411, b"", {"length": None}),
    "413-over-limit": (413, GOOD + b" " * (h.MAX_BODY + 1 - len(GOOD)), {}),
    "415-text-plain": (415, GOOD, {"content_type": "text/plain"}),
}


@pytest.mark.parametrize("name", list(REFUSALS))
def test_every_refusal_is_a_json_status(name, podinject_bin, home):
    status, body, overrides = REFUSALS[name]
    kwargs = {"body": body, **overrides}
    run = run_cgi(body, env_for(home, **kwargs))
    resp = _refusal(run, status, body or None)
    assert resp.reason == REASON_PHRASES[status], resp.header_block
    st = _status_body(resp, status)
    if status in K8S_REASONS:
        assert st.get("reason") == K8S_REASONS[status], st
    assert ("allow" in resp.headers) == (status == 405), resp.headers
    if status == 405:
        assert resp.headers["allow"].replace(" ", "").upper() == "POST", resp.headers
    # The CGI header block is Status, Content-Type (and Allow for 405): nothing else leaks in
    assert set(resp.headers) <= {"status", "content-type", "allow", "content-length"}, resp.headers
    assert run.result.stdout.startswith(resp.header_block + b"\r\n")


def test_empty_body_is_400_naming_the_offset(podinject_bin, home):
    run = run_cgi(b"", env_for(home, body=b"", length=0))
    st = _status_body(_refusal(run, 400), 400)
    assert re.search(r"\bbyte 0\b", st["message"]) and "empty" in st["message"], st


def test_nesting_exactly_256_is_answered(podinject_bin, home):
    body = _nested_body(256)
    review = json.loads(body)
    answer = _ok_review(run_cgi(body, env_for(home, body=body)), review)
    patched = h.apply_patch(review["request"]["object"], h.patch_of(answer))
    assert patched["x-deep"] == review["request"]["object"]["x-deep"]


def test_nesting_257_is_400_with_status(podinject_bin, home):
    body = _nested_body(257)
    st = _status_body(_refusal(run_cgi(body, env_for(home, body=body)), 400, body), 400)
    offset = body.index(b"[" * 254) + 253  # the `[` opening level 257
    assert re.search(rf"\bbyte {offset}\b", st["message"]) and "256" in st["message"], st


def test_over_limit_under_drain_cap_is_drained_completely(podinject_bin, home):
    """16 MiB (over the 3 MiB limit, under the drain cap): every byte is read before the 413, so a
    writer that sends the whole body first (fcgiwrap) is never blocked or cut off."""
    body = b" " * (16 * 1024 * 1024)
    run = run_cgi(body, env_for(home, body=body), chunk=1024 * 1024)
    _status_body(_refusal(run, 413, body), 413)


def test_body_of_exactly_the_drain_cap_is_drained_completely(podinject_bin, home):
    body = b" " * DRAIN_CAP
    run = run_cgi(body, env_for(home, body=body), chunk=1024 * 1024)
    _status_body(_refusal(run, 413, body), 413)


def test_smaller_max_body_bytes_drains_too(podinject_bin, home):
    body = GOOD
    run = run_cgi(body, env_for(home, body=body), args=["--max-body-bytes", str(len(GOOD) - 1)])
    st = _status_body(_refusal(run, 413, body), 413)
    assert str(len(GOOD) - 1) in st["message"], st


def _run_cgi_endless(env: dict[str, str], deadline: float) -> tuple[CGIRun, float]:
    """A host that never stops sending: podinject must stop reading at the drain cap and answer."""
    import time

    proc = subprocess.Popen([str(h.BIN)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd=h.REPO)
    state = {"written": 0, "error": None}
    block = b" " * (1024 * 1024)

    def writer():
        try:
            while True:
                proc.stdin.write(block)
                state["written"] += len(block)
        except (BrokenPipeError, OSError, ValueError) as e:
            state["error"] = f"{type(e).__name__}: {e}"

    out, err = [], []
    threads = [threading.Thread(target=writer, daemon=True),
               threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True),
               threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    try:
        rc = proc.wait(timeout=deadline)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"podinject kept reading an endless body ({state['written']} bytes written)") from None
    elapsed = time.monotonic() - t0
    threads[1].join(timeout=5)
    threads[2].join(timeout=5)
    threads[0].join(timeout=5)
    return CGIRun(h.Result([str(h.BIN)], rc, b"".join(out), b"".join(err)), state["written"], state["error"]), elapsed


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_body_far_over_the_drain_cap_does_not_hang(framing, podinject_bin, home):
    if framing == "chunked":
        env = env_for(home, length=None, HTTP_TRANSFER_ENCODING="chunked")
    else:
        env = env_for(home, length=1 << 40)  # 1 TiB announced, and sent for as long as it is read
    run, elapsed = _run_cgi_endless(env, deadline=h.TIMEOUT)
    _status_body(_refusal(run, 413), 413)
    assert run.write_error, "the writer should have been cut off once podinject stopped reading"
    # Read: the drain cap (plus, when chunked, the limit's worth read before the overflow showed);
    # written: that, give or take the writer's 1 MiB block in flight.
    most = DRAIN_CAP + (h.MAX_BODY if framing == "chunked" else 0)
    assert most - 2 * 1024 * 1024 <= run.written <= most + 1024 * 1024, \
        f"podinject read about {run.written} bytes; expected about {most} (drain cap {DRAIN_CAP})"
    assert elapsed < 5, f"{elapsed:.1f}s to refuse an endless body"
