"""Fixtures for the podinject end-to-end tests (see harness.py for the helpers)."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness as h  # noqa: E402


EMPTY_PARAMETER_SET = "got empty parameter set"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A test that cannot run is a failure, never a quiet skip: a parameterised test whose table came out
    empty (pytest would skip it, "got empty parameter set") tests nothing; and in CI (CI is set) every
    other skip fails too, with the reason the test gave."""
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if EMPTY_PARAMETER_SET in reason:
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid}: its parameter table is empty, so it would test nothing ({reason})"
    elif os.environ.get("CI"):
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid} cannot run here, which fails CI: {reason}"


@pytest.fixture(scope="session")
def podinject_bin() -> Path:
    """The built binary; a missing one fails every test that needs it (it does not skip them)."""
    assert h.BIN.is_file() and os.access(h.BIN, os.X_OK), (
        f"podinject binary not found at {h.BIN}: run `swift build -c release --static-swift-stdlib` "
        "or set PODINJECT_BIN")
    return h.BIN


@pytest.fixture(scope="session")
def every_kind() -> dict:
    return h.load_yaml(h.EVERY_KIND)


@pytest.fixture(scope="session")
def sample_config() -> dict:
    return h.load_yaml(h.SAMPLES / "config.yaml")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    d = tmp_path / "home"
    d.mkdir()
    return d


@pytest.fixture
def closed_port():
    """A loopback port that refuses connections for the whole test (bound, never listening: nothing
    else can take it meanwhile)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    try:
        yield s.getsockname()[1]
    finally:
        s.close()
