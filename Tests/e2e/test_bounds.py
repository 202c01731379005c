"""Bounds on one admission (issue 12, finding 1): whatever the review (up to the 3 MiB body limit) and
however it is shaped, podinject stays within 64 MiB, answers with a small answer, never builds a patch
that makes the pod unstorable, and limits its own CPU time, wall time and address space, answering
visibly when one of them stops it. Times are not asserted here (a slow machine
must not fail a test): `scripts/bench-bounds` prints them."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

import adversarial as adv
import harness as h

RSS_BUDGET_MIB = 64


def _config(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _env(tmp_path: Path) -> dict[str, str]:
    # No config cache: every run parses its config, as the first admission after a change does.
    return h.clean_env({"PODINJECT_CACHE_DIR": ""}, home=tmp_path)


@pytest.mark.parametrize("name,make,config", adv.shapes(), ids=[s[0] for s in adv.shapes()])
def test_adversarial_shape_stays_within_64_mib(name, make, config, tmp_path, podinject_bin):
    data = make()
    assert len(data) <= adv.MAX_BODY
    run = adv.run_measured([str(h.BIN), "--config", str(_config(tmp_path, config))], data, _env(tmp_path))
    where = f"{name}: exit {run.returncode}, {run.max_rss_mib:.1f} MiB, {run.cpu:.2f} s, {len(run.stdout)} bytes\n" \
            f"{run.stderr[:600]!r}"
    assert run.returncode in (0, 2), where
    assert run.max_rss_mib <= RSS_BUDGET_MIB, where
    if run.returncode == 2:
        # Refused as input (too deep, too many values): one line, nothing on stdout.
        assert run.stdout == b"" and len(run.stderr.splitlines()) == 1, where
        return
    answer = json.loads(run.stdout)
    patch = base64.b64decode(answer["response"].get("patch", ""))
    assert len(run.stdout) <= 2 * adv.STORABLE, where
    assert len(patch) <= adv.STORABLE, where


def _status(answer: dict, review: bytes) -> dict:
    ops = json.loads(base64.b64decode(answer["response"].get("patch", "")) or b"[]")
    pod = h.apply_patch(json.loads(review)["request"]["object"], ops)
    return h.status_annotation(pod)


def test_a_rule_that_would_make_the_pod_unstorable_fails_as_unpatchable(tmp_path, podinject_bin):
    """1.4 MB of tiny containers and a 4 KB env value for each: the patch would be 180 MB."""
    data = adv.largest(adv.tiny_containers, adv.STORABLE - 170_000)
    run = adv.run_measured([str(h.BIN), "--config", str(_config(tmp_path, adv.BIG_ENV))], data, _env(tmp_path))
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    resp = answer["response"]
    assert resp["allowed"] is True
    assert any('rule "big-env" not applied: UnpatchablePod' in w for w in resp["warnings"]), resp
    assert resp["auditAnnotations"]["failed-rules"] == "big-env"
    assert {"rule": "big-env", "reason": "UnpatchablePod"} in _status(answer, data)["failed"]
    assert len(run.stdout) < 64 * 1024
    assert run.max_rss_mib <= RSS_BUDGET_MIB


def test_a_rule_that_fits_is_applied_next_to_one_that_does_not(tmp_path, podinject_bin):
    data = adv.largest(adv.tiny_containers, adv.STORABLE - 170_000)
    rules = adv.BIG_ENV.split("rules:\n")[1] + "- name: small\n  labels:\n    example.com/small: 'yes'\n"
    cfg = _config(tmp_path, adv.config(rules))
    run = adv.run_measured([str(h.BIN), "--config", str(cfg)], data, _env(tmp_path))
    answer = json.loads(run.stdout)
    status = _status(answer, data)
    assert status["applied"] == ["small"] and status["failed"] == [{"rule": "big-env", "reason": "UnpatchablePod"}]


def test_rules_apply_in_order_until_the_pod_is_full(tmp_path, podinject_bin):
    data = adv.tiny_containers(1000)
    run = adv.run_measured([str(h.BIN), "--config", str(_config(tmp_path, adv.MANY_RULES))], data,
                           _env(tmp_path), timeout=60)
    assert run.returncode == 0, run.stderr
    status = _status(json.loads(run.stdout), data)
    # Each rule alone would fit (about 90 KB each): they apply in order until the pod is full; the
    # rest fail visibly.
    assert status["applied"] == [f"r{i}" for i in range(len(status["applied"]))]
    assert 10 <= len(status["applied"]) < 200
    assert all(f["reason"] == "UnpatchablePod" for f in status["failed"])
    assert len(status["applied"]) + len(status["failed"]) == 200
    assert run.max_rss_mib <= RSS_BUDGET_MIB


# --- the process's own limits --------------------------------------------------------------------


def _limits(pid: int) -> dict[str, str]:
    rows = {}
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines()[1:]:
        name, soft = line[:26].strip(), line[26:].split()[0]
        rows[name] = soft
    return rows


class Blocked:
    """podinject in review mode, stopped where it waits: on its stdin (before the review is read), or on
    its config (a FIFO nobody writes, after the review is read)."""

    def __init__(self, tmp_path: Path, env: dict[str, str], *, before_review: bool, config: Path | None = None):
        self.fifo = tmp_path / ("stdin.fifo" if before_review else "config.fifo")
        os.mkfifo(self.fifo)
        self.review = (h.SAMPLES / "review-plain-pod.json").read_bytes()
        args = [str(h.BIN), "--config", str(config if before_review else self.fifo)]
        self.out = open(tmp_path / "out", "w+b")
        self.err = open(tmp_path / "err", "w+b")
        if before_review:
            self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=self.out, stderr=self.err, env=env)
            self.proc.stdin.write(self.review[:100])  # part of it: the rest never comes
            self.proc.stdin.flush()
        else:
            self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=self.out, stderr=self.err, env=env)
            self.proc.stdin.write(self.review)
            self.proc.stdin.close()
        time.sleep(0.5)  # until it waits

    def stop(self, sig: int, timeout: float = 5) -> tuple[int, bytes, bytes]:
        if sig:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self.out.seek(0)
        self.err.seek(0)
        return code, self.out.read(), self.err.read()


def test_review_mode_limits_its_cpu_time_and_address_space(tmp_path, podinject_bin):
    blocked = Blocked(tmp_path, _env(tmp_path), before_review=False)
    try:
        limits = _limits(blocked.proc.pid)
        assert limits["Max cpu time"] == "4", limits
        assert limits["Max address space"] == str(128 * 1024 * 1024), limits
    finally:
        blocked.stop(signal.SIGKILL)


@pytest.mark.parametrize("sig,reason", [(signal.SIGXCPU, "stopped over its CPU time limit (4 s)"),
                                        (signal.SIGALRM, "stopped over its time limit (8 s)"),
                                        (signal.SIGSEGV, "stopped by a crash (or over its memory limit, 128 MiB)")],
                         ids=["cpu", "wall", "crash"])
def test_a_stopped_admission_still_answers_and_says_why(sig, reason, tmp_path, podinject_bin):
    blocked = Blocked(tmp_path, _env(tmp_path), before_review=False)
    code, out, err = blocked.stop(sig)
    assert code == 0, (code, out, err)
    answer = json.loads(out)
    h.check_echo(answer, json.loads(blocked.review))
    resp = answer["response"]
    assert resp["allowed"] is True and "patch" not in resp
    assert resp["warnings"] == [f"podinject: no rule applied: {reason}"]
    assert resp["auditAnnotations"] == {"failed-rules": "*", "error": reason}
    line = json.loads(err)
    assert line["level"] == "error" and line["uid"] == resp["uid"] and reason in line["error"]


def test_a_stopped_admission_before_its_review_is_read(tmp_path, podinject_bin):
    cfg = h.config_copy(h.SAMPLES / "config.yaml", tmp_path, api="none")
    blocked = Blocked(tmp_path, _env(tmp_path), before_review=True, config=cfg)
    code, out, err = blocked.stop(signal.SIGXCPU)
    assert (code, out) == (2, b""), (code, out, err)
    assert err == b"podinject: stopped over its CPU time limit (4 s)\n"


def test_a_stopped_cgi_admission_is_a_500_before_the_review_and_an_answer_after(tmp_path, podinject_bin):
    cfg = h.config_copy(h.SAMPLES / "config.yaml", tmp_path / "cfg", api="none")
    env = h.cgi_env(content_length=100_000, extra={"PODINJECT_CONFIG": str(cfg), "PODINJECT_CACHE_DIR": ""},
                    home=tmp_path)
    blocked = Blocked(tmp_path, env, before_review=True, config=cfg)
    code, out, err = blocked.stop(signal.SIGALRM)
    assert code == 0, (code, out, err)
    resp = h.parse_cgi(out)
    assert resp.status == 500 and resp.headers["content-type"] == "application/json"
    body = json.loads(resp.body)
    assert body["kind"] == "Status" and body["code"] == 500 and body["reason"] == "InternalError"
    assert body["message"] == "podinject: stopped over its time limit (8 s)"
    assert json.loads(err)["level"] == "error"


def test_the_wall_clock_limit_fires_by_itself(tmp_path, podinject_bin):
    """Nothing ever writes the config FIFO: after 8 s the process answers on its own."""
    blocked = Blocked(tmp_path, _env(tmp_path), before_review=False)
    started = time.monotonic()
    code, out, _ = blocked.stop(0, timeout=15)
    assert 7 <= time.monotonic() - started + 0.5 <= 12
    assert code == 0
    assert json.loads(out)["response"]["warnings"] == ["podinject: no rule applied: stopped over its time limit (8 s)"]
