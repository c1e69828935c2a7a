"""Fixtures for the Dagster tests: a kevin runtime on the `db_url` backend(s) in a temp dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from defs_helpers import Kevin, make_kevin


@pytest.fixture
def kevin(db_url: str, tmp_path: Path) -> Iterator[Kevin]:
    k = make_kevin(db_url, tmp_path)
    yield k
    k.kevin_runtime.close()


@pytest.fixture
def trading_kevin(db_url: str, tmp_path: Path) -> Iterator[Kevin]:
    """Kill switch ON: KEVIN_ENABLE_TRADING=true in these settings and the runtime switch on."""
    k = make_kevin(db_url, tmp_path, enable_trading=True)
    k.trading(True)
    yield k
    k.kevin_runtime.close()


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst
