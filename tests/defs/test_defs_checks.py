"""Each asset check passes on good data (see test_defs_assets) and FAILS on a crafted bad input."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import dagster as dg
import pandas as pd
import pytest
from defs_helpers import SMALL_CSV
from sqlalchemy import text

from kevin_pipeline.db.models import BacktestRun, BacktestTrade
from kevin_pipeline.defs.assets import ALL_ASSETS
from kevin_pipeline.defs.checks import (
    backtest_equity_curve_has_no_gaps,
    backtest_trades_reconcile_with_cash,
    mentions_known_actions,
    mentions_symbols_have_bars,
    price_bars_have_every_session,
    price_bars_valid_prices,
)
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.market_data.bundled import load_bundled_bars
from kevin_pipeline.market_data.cache import store_bars
from tests.helpers.market import CAL


def run_check(kevin, check) -> dg.AssetCheckEvaluation:
    """Execute one check alone, as the UI's "Execute" button does (no asset is materialized)."""
    result = dg.materialize([*ALL_ASSETS, check], resources=kevin.resources, selection=dg.AssetSelection.checks(check))
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


def store(kevin, frame: pd.DataFrame) -> None:
    with kevin.runtime.transaction() as s:
        store_bars(s, frame, source="test")


def march_bars() -> pd.DataFrame:
    return load_bundled_bars(["NVDA"], date(2022, 3, 1), date(2022, 3, 31))


def test_bars_with_a_missing_session_fail(kevin):
    bars = march_bars()
    store(kevin, bars[bars["date"] != pd.Timestamp("2022-03-15")])
    evaluation = run_check(kevin, price_bars_have_every_session)
    assert not evaluation.passed
    assert "2022-03-15" in evaluation.metadata["problems"].value


def test_bars_on_every_session_pass(kevin):
    store(kevin, march_bars())
    assert run_check(kevin, price_bars_have_every_session).passed


def test_a_zero_price_fails(kevin):
    bars = march_bars()
    bars.loc[3, "close"] = 0.0
    store(kevin, bars)
    evaluation = run_check(kevin, price_bars_valid_prices)
    assert not evaluation.passed and "close <= 0" in evaluation.description


def test_high_below_low_fails(kevin):
    bars = march_bars()
    bars.loc[5, ["high", "low"]] = [bars.loc[5, "low"] - 1, bars.loc[5, "high"] + 1]
    store(kevin, bars)
    evaluation = run_check(kevin, price_bars_valid_prices)
    assert not evaluation.passed and "high < low" in evaluation.metadata["problems"].value


def test_a_mentioned_symbol_without_bars_warns(kevin):
    kevin.seed_mentions(SMALL_CSV + "v7,2022-03-08T15:00:00Z,ZZZZ,buy,0.80,weeks,unknown ticker\n")
    kevin.seed_bars()
    evaluation = run_check(kevin, mentions_symbols_have_bars)
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert "ZZZZ" in evaluation.description


def test_an_unknown_action_fails(kevin):
    kevin.seed_mentions()
    with kevin.runtime.engine.begin() as conn:  # get past the schema's own CHECK, as a bad manual edit would
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA ignore_check_constraints = ON")
        else:
            [name] = conn.execute(text(
                "SELECT conname FROM pg_constraint WHERE conrelid = 'mentions'::regclass AND contype = 'c' "
                "AND pg_get_constraintdef(oid) LIKE :pattern"
            ), {"pattern": "%action%"}).scalars()
            conn.exec_driver_sql(f'ALTER TABLE mentions DROP CONSTRAINT "{name}"')
        conn.execute(text("UPDATE mentions SET action = 'short' WHERE video_id = 'v2'"))
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA ignore_check_constraints = OFF")
    evaluation = run_check(kevin, mentions_known_actions)
    assert not evaluation.passed and "'short'" in evaluation.metadata["unknown"].value


def add_run(kevin, curve: list[tuple[date, float]], pnls: list[str]) -> int:
    params = StrategyParams()
    at = datetime(2022, 3, 1, 14, 30, tzinfo=UTC)
    run = BacktestRun(
        trigger="dagster", status="succeeded", params=params.model_dump(mode="json"),
        equity_curve=[[d.isoformat(), v] for d, v in curve],
    )
    run.trades = [
        BacktestTrade(symbol="NVDA", entry_at=at, entry_price=Decimal(100), exit_at=at, exit_price=Decimal(101),
                      qty=Decimal(1), pnl_usd=Decimal(p), pnl_pct=Decimal("0.01"), sessions_held=1, exit_reason="time")
        for p in pnls
    ]
    with kevin.runtime.transaction() as s:
        s.add(run)
        s.flush()
        return run.id


SESSIONS = CAL.sessions_between(date(2022, 3, 1), date(2022, 3, 10))


def test_an_equity_curve_with_a_missing_session_fails(kevin):
    curve = [(d, 100_000.0) for d in SESSIONS if d != date(2022, 3, 4)]
    add_run(kevin, curve, [])
    evaluation = run_check(kevin, backtest_equity_curve_has_no_gaps)
    assert not evaluation.passed and "2022-03-04" in evaluation.metadata["missing_sessions"].value


def test_an_equity_curve_with_every_session_passes(kevin):
    add_run(kevin, [(d, 100_000.0) for d in SESSIONS], [])
    assert run_check(kevin, backtest_equity_curve_has_no_gaps).passed


@pytest.mark.parametrize(("final", "passes"), [(100_150.00, True), (100_150.02, False), (100_250.00, False)])
def test_trades_must_reconcile_with_cash_to_the_cent(kevin, final, passes):
    add_run(kevin, [(SESSIONS[0], 100_000.0), (SESSIONS[1], final)], ["100.00", "50.00"])
    assert run_check(kevin, backtest_trades_reconcile_with_cash).passed is passes
