"""Fixtures for the dashboard tests (the helpers live in dash_harness.py / dash_builders.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dash_harness import DashHarness, make_kevin_runtime

from kevin_dash.app import create_app


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[DashHarness]:
    """The dashboard on an empty database with KEVIN_DASH_TOKEN set (dash_harness.TOKEN)."""
    kapp = make_kevin_runtime(tmp_path)
    h = DashHarness(kapp, create_app(kapp))
    yield h
    h.close()


@pytest.fixture
def readonly_harness(tmp_path: Path) -> Iterator[DashHarness]:
    """The dashboard with no token configured: read-only."""
    kapp = make_kevin_runtime(tmp_path, token=None)
    h = DashHarness(kapp, create_app(kapp))
    yield h
    h.close()
