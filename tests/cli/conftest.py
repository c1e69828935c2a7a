"""What the CLI tests share: a `kevin` environment on the `db_url` backend, the 2019 fixture bars and
calls, and one way to read a number back from the database the command wrote to."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from kevin_pipeline.db.engine import make_engine

FIXTURES = Path(__file__).parent.parent / "fixtures"
BARS = FIXTURES / "bars_2019.csv"
CALLS = ("video_id,published_at,symbol,action,conviction,time_horizon\n"
         "v1,2019-03-05T18:00:00-05:00,AAPL,buy,0.9,weeks\n"
         "v2,2019-03-06T12:00:00-05:00,NVDA,buy,0.8,days\n"
         "v3,2019-03-07T12:00:00-05:00,AAPL,hold,0.8,days\n")


@pytest.fixture
def kevin_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """`kevin` pointed at the test database, with its state dir under tmp_path; the database URL."""
    monkeypatch.setenv("KEVIN_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("KEVIN_DATABASE_URL", db_url)
    return db_url


def scalar(url: str, stmt) -> object:  # type: ignore[no-untyped-def]
    """The one value `stmt` selects, read through a fresh engine (as another process would see it)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(stmt).scalar_one()
    finally:
        engine.dispose()


def count(url: str, model) -> int:  # type: ignore[no-untyped-def]
    return int(scalar(url, select(func.count()).select_from(model)))  # type: ignore[arg-type]


def cache_bars(bars: pd.DataFrame) -> None:
    """Store `bars` in the price_bars cache of the database `kevin` is pointed at."""
    from kevin_pipeline.market_data.cache import store_bars
    from kevin_pipeline.runtime import open_runtime

    with open_runtime() as runtime, runtime.transaction() as session:
        store_bars(session, bars, source="test")
