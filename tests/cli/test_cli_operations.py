"""Operating commands as a user runs them: kill switch, decide/exit-scan with an injected clock,
close, replay and sweep."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from kevin_pipeline.cli import main
from kevin_pipeline.db.models import BacktestRun, DecisionRecord, SimOrder, TradingState
from tests.cli.conftest import BARS, CALLS, cache_bars, scalar


@pytest.fixture
def env(kevin_env, tmp_path):
    path = tmp_path / "calls.csv"
    path.write_text(CALLS)
    assert main(["import-mentions", str(path)]) == 0
    from kevin_pipeline.research.backtest import bars_from_file

    cache_bars(bars_from_file(BARS))  # a year of real 2019 bars in the cache: the simulated venue's data
    return kevin_env


def test_trading_switch_round_trip(env, capsys):
    assert main(["trading", "status"]) == 0
    assert "trading OFF" in capsys.readouterr().out
    assert main(["trading", "on"]) == 0
    assert "KEVIN_ENABLE_TRADING is false" in capsys.readouterr().out
    assert scalar(env, select(TradingState.trading_enabled)) is True
    assert main(["trading", "off"]) == 0
    assert scalar(env, select(TradingState.trading_enabled)) is False


def test_trading_three_states_and_the_master_switch(env, monkeypatch, capsys):
    assert main(["trading", "exits-only"]) == 0
    out = capsys.readouterr().out
    assert "trading OFF" in out and "runtime switch exits-only" in out and "KEVIN_ENABLE_TRADING is false" in out
    assert scalar(env, select(TradingState.trading_mode)) == "exits-only"
    monkeypatch.setenv("KEVIN_ENABLE_TRADING", "true")
    assert main(["trading", "status"]) == 0
    assert "trading EXITS-ONLY (exits only: no new buys" in capsys.readouterr().out
    assert main(["decide", "--now", "2019-03-06T17:00:01+00:00"]) == 0
    out = capsys.readouterr().out
    assert "dry_run" in out and "orders sent 0 (of which recovered 0)" in out
    assert main(["account", "--now", "2019-03-06T17:01:00+00:00"]) == 0
    assert "trading EXITS-ONLY" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["trading", "sideways"])


def test_decide_with_the_kill_switch_off_is_a_dry_run_and_orders_nothing(env, capsys):
    assert main(["decide", "--now", "2019-03-06T17:00:01+00:00"]) == 0
    out = capsys.readouterr().out
    assert "dry_run" in out and "orders sent 0" in out
    assert scalar(env, select(func.count()).select_from(SimOrder)) == 0


def test_decide_exit_scan_and_close_with_trading_on(env, monkeypatch, capsys):
    monkeypatch.setenv("KEVIN_ENABLE_TRADING", "true")
    assert main(["trading", "on"]) == 0
    capsys.readouterr()
    assert main(["decide", "--now", "2019-03-05T23:00:05+00:00"]) == 0
    assert "orders sent 1" in capsys.readouterr().out
    assert main(["exit-scan", "--now", "2019-03-06T14:35:00+00:00"]) == 0
    assert main(["account", "--now", "2019-03-06T15:00:00+00:00"]) == 0
    out = capsys.readouterr().out
    assert "AAPL" in out and "1/5 new trades" not in out  # counters are per New York day
    assert main(["close", "AAPL", "--now", "2019-03-06T15:05:00+00:00"]) == 0
    assert main(["account", "--now", "2019-03-08T15:00:00+00:00"]) == 0
    assert "no open positions" in capsys.readouterr().out
    assert scalar(env, select(func.count()).select_from(DecisionRecord)) == 1


def test_replay_json_reports_no_differences(env, capsys):
    capsys.readouterr()
    assert main(["replay", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["differences"] == [] and doc["backtest_trades"] == doc["live_trades"] == 2


def test_sweep_ranks_and_stores_every_combination(env, capsys):
    capsys.readouterr()
    assert main(["sweep", "--grid", "min_conviction=0.6,0.85", "--grid", "hold_sessions_weeks=5,10", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "stored as sweep" in out
    assert scalar(env, select(func.count()).select_from(BacktestRun).where(BacktestRun.sweep_id.is_not(None))) == 4
    assert main(["sweep", "--grid", "min_convicton=0.6"]) == 2


def test_account_lists_foreign_positions_apart_and_close_refuses_them(env, capsys):
    """Shares the user bought in the paper account are not kevin's: listed under their own
    heading, logged by reconciliation, and `kevin close` refuses to touch them."""
    from datetime import datetime, timezone
    from decimal import Decimal

    from kevin_pipeline.runtime import open_runtime
    from kevin_pipeline.brokers.simulated import SimulatedBroker
    from kevin_pipeline.trading.context import CachedPriceBook

    with open_runtime() as runtime:
        SimulatedBroker(runtime.sessions, CachedPriceBook(runtime), runtime.settings.strategy_params()).add_foreign_holding(
            "AAPL", 10, Decimal("43"), datetime(2019, 3, 5, 17, tzinfo=timezone.utc))
    capsys.readouterr()
    assert main(["account", "--now", "2019-03-06T15:00:00+00:00"]) == 0
    captured = capsys.readouterr()
    assert "reconciled: AAPL: 10 shares in the broker account are not kevin's" in captured.err
    out = captured.out
    assert "kevin's positions: no open positions" in out
    foreign = out[out.index("not kevin's (foreign positions"):]
    assert "AAPL" in foreign and "10" in foreign
    assert main(["close", "AAPL", "--now", "2019-03-06T15:05:00+00:00"]) == 1
    assert "kevin holds no open lot in AAPL" in capsys.readouterr().err
    assert scalar(env, select(func.count()).select_from(SimOrder).where(SimOrder.side == "sell")) == 0
