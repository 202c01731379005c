"""The log line (SPEC §7): exactly one JSON object on stderr per stdin-mode invocation, with its fields."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

import harness as h

FIELDS = {"time", "level", "uid", "namespace", "pod", "operation", "dryRun", "allowed", "applied", "skipped",
          "failed", "events", "durationMs"}
EVENT_COUNTERS = {"sent", "aggregated", "spooled", "dropped"}


def _log(r: h.Result) -> dict:
    assert r.returncode == 0, r.describe()
    lines = [ln for ln in r.err.split("\n") if ln != ""]
    assert len(lines) == 1, f"expected exactly one line on stderr\n{r.describe()}"
    assert r.err.endswith("\n"), "the log line ends with a newline"
    log = json.loads(lines[0])
    assert isinstance(log, dict), log
    return log


@pytest.mark.parametrize("sample", sorted(p.name for p in h.SAMPLES.glob("review-*.json")))
def test_log_line_fields(sample, tmp_path, podinject_bin):
    review = json.loads((h.SAMPLES / sample).read_text())
    cfg = h.config_copy(h.SAMPLES / "config.yaml", tmp_path, api="none")
    r = h.admit(review, config=cfg)
    log = _log(r)
    missing = FIELDS - set(log)
    assert not missing, f"log line lacks {sorted(missing)}: {log}"
    req = review["request"]
    resp = r.json()["response"]
    assert isinstance(log["time"], str) and log["time"][:4].isdigit() and "T" in log["time"], log["time"]
    assert isinstance(log["level"], str) and log["level"]
    assert log["uid"] == req["uid"]
    assert log["namespace"] == req["namespace"]
    meta = req["object"]["metadata"]
    if req["kind"]["kind"] == "Pod":
        assert log["pod"] == (meta.get("name") or meta.get("generateName")), log["pod"]
    assert log["operation"] == req["operation"]
    assert log["dryRun"] is bool(req.get("dryRun"))
    assert log["allowed"] is resp["allowed"]
    assert isinstance(log["applied"], list) and all(isinstance(x, str) for x in log["applied"])
    assert isinstance(log["skipped"], list)
    assert isinstance(log["failed"], list)
    for f in log["failed"]:
        assert isinstance(f, dict) and isinstance(f.get("rule"), str) and isinstance(f.get("reason"), str), f
    assert isinstance(log["events"], dict) and EVENT_COUNTERS <= set(log["events"]), log["events"]
    assert all(isinstance(log["events"][k], int) and log["events"][k] >= 0 for k in EVENT_COUNTERS)
    assert isinstance(log["durationMs"], (int, float)) and log["durationMs"] >= 0
    # the log line agrees with the status annotation
    ops = h.patch_of(r.json())
    if ops and resp["allowed"]:
        status = h.status_annotation(h.apply_patch(req["object"], ops))
        assert sorted(log["applied"]) == sorted(status.get("applied", []))
        assert {(f["rule"], f["reason"]) for f in log["failed"]} == \
            {(f["rule"], f["reason"]) for f in status.get("failed", [])}
    if req["kind"]["kind"] != "Pod":
        assert log["applied"] == [] and log["failed"] == []


def test_an_answer_nobody_reads_is_said_in_the_log_line(tmp_path, podinject_bin):
    """Stdout is a pipe whose reader is gone: the answer cannot be written (EPIPE; SIGPIPE is ignored),
    and the log line says so instead of reading like any other admission."""
    review = json.loads((h.SAMPLES / "review-plain-pod.json").read_text())
    cfg = h.config_copy(h.SAMPLES / "config.yaml", tmp_path, api="none")
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([str(podinject_bin), "--config", str(cfg)], input=h.review_bytes(review),
                              stdout=write_end, stderr=subprocess.PIPE, env=h.clean_env({}), timeout=30)
    finally:
        os.close(write_end)
    lines = [ln for ln in proc.stderr.decode().split("\n") if ln]
    assert len(lines) == 1, proc.stderr
    log = json.loads(lines[0])
    assert any(note.startswith("the answer could not be written: ") for note in log.get("notes", [])), log
    assert "Broken pipe" in " ".join(log["notes"]), log["notes"]


def test_an_answer_that_is_read_has_no_such_note(tmp_path, podinject_bin):
    review = json.loads((h.SAMPLES / "review-plain-pod.json").read_text())
    cfg = h.config_copy(h.SAMPLES / "config.yaml", tmp_path, api="none")
    log = _log(h.admit(review, config=cfg))
    assert not any("answer" in note for note in log.get("notes", [])), log
