"""Mutated reviews (seeded, deterministic): whatever the bytes, podinject answers (exit 0, one JSON document)
or refuses (exit 2, one line on stderr, nothing on stdout) — never a crash, never a hang."""

from __future__ import annotations

import json
import random

import pytest

import harness as h

SEEDS = [p.read_bytes() for p in sorted(h.SAMPLES.glob("review-*.json"))]
TOKENS = [b"{", b"[", b"}", b"]", b'"', b"\\", b"null", b"-0", b"1e999", b'"\\ud800"', b"\x00", b"{}", b"[]",
          b"true", b'"\\u0000"', b"999999999999999999999", b"\xff", b"\xc3", b": ", b"- ", b"&a", b"*a", b"\n  "]


def _mutate(rng: random.Random) -> bytes:
    data = bytearray(rng.choice(SEEDS))
    for _ in range(rng.randint(1, 8)):
        pos = rng.randrange(len(data))
        op = rng.random()
        if op < 0.3:
            data[pos] = rng.randrange(256)
        elif op < 0.5:
            del data[pos:pos + rng.randint(1, 50)]
        elif op < 0.75:
            data[pos:pos] = rng.choice(TOKENS)
        else:
            j = rng.randrange(len(data))
            data[pos:pos] = data[j:j + rng.randint(1, 200)]
    return bytes(data)


@pytest.mark.parametrize("seed", range(8))
def test_mutated_reviews_stdin(seed, tmp_path, podinject_bin):
    rng = random.Random(seed)
    cfg = h.config_copy(h.SAMPLES / "config.yaml", tmp_path, api="none")
    for i in range(25):
        data = _mutate(rng)
        r = h.admit(data, config=cfg)
        where = f"seed {seed} case {i}: {data[:200]!r}..."
        assert r.returncode in (0, 2), f"{where}\n{r.describe()}"
        if r.returncode == 0:
            answer = r.json()
            assert isinstance(answer.get("response", {}).get("allowed"), bool), where
        else:
            assert r.stdout == b"" and len(r.err.splitlines()) == 1, f"{where}\n{r.describe()}"


@pytest.mark.parametrize("seed", range(2))
def test_mutated_reviews_function_runtime(seed, tmp_path, podinject_bin):
    rng = random.Random(1000 + seed)
    cfg = h.config_copy(h.SAMPLES / "config.yaml", tmp_path, api="none")
    env = h.clean_env({"Http_Method": "POST", "Http_Content_Type": "application/json", "PODINJECT_CONFIG": str(cfg)})
    for i in range(25):
        data = _mutate(rng)
        r = h.run_podinject([], data, env=env)
        where = f"seed {seed} case {i}: {data[:200]!r}..."
        assert r.returncode in (0, 2) and r.stderr == b"", f"{where}\n{r.describe()}"
        doc = r.json()
        assert doc.get("kind") == ("AdmissionReview" if r.returncode == 0 else "Status"), where
