"""Fixtures for the podinject end-to-end tests (see harness.py for the helpers)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness as h  # noqa: E402


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
