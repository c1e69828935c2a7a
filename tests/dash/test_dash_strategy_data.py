"""/strategy's read-only queries (`kevin_dash.data.strategy`): backtest runs, run history, sweeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from dash_builders import add_decision, add_mention, add_run, utc
from sqlalchemy.orm import Session

from kevin_dash.data import strategy as data
from kevin_dash.data.overview import overview
from kevin_dash.data.paper_account import decision_feed

# --- runs and sweeps -------------------------------------------------------------------------


def test_latest_run_and_history_read_curves_params_and_metrics(session: Session) -> None:
    t0 = datetime(2024, 2, 1, 12, tzinfo=UTC)
    add_run(session, [("2024-01-02", 100.0)], [("2024-01-02", 100.0)], metrics={"total_return_pct": 1.0}, created_at=t0)
    failed = add_run(session, [], [], status="failed", created_at=t0 + timedelta(hours=1))
    failed.error = "no mentions to backtest"
    latest = add_run(
        session, [("2024-01-02", 100000.0), ("2024-01-03", 101500.0)], [("2024-01-02", 100000.0), ("2024-01-03", 100500.0)],
        metrics={"total_return_pct": 1.5, "benchmark_total_return_pct": 0.5, "alpha_vs_benchmark_pct": 1.0, "sharpe": 1.23,
                 "trade_count": 4, "start_date": "2024-01-02", "end_date": "2024-01-03"},
        trigger="dash", created_at=t0 + timedelta(hours=2),
    )
    session.flush()

    run = data.latest_run(session)  # the failed run is newer than run 1 but not "latest"
    assert run is not None and run.id == latest.id and run.trigger == "dash"
    assert list(run.equity.values) == [100000.0, 101500.0]
    assert run.equity.index[1] == pd.Timestamp("2024-01-03")
    assert run.duration_seconds == pytest.approx(2.0)

    hist = data.run_history(session)
    assert list(hist["id"]) == [latest.id, failed.id, latest.id - 2]
    top = hist.iloc[0]
    assert top.alpha_pct == pytest.approx(1.0) and top.sharpe == pytest.approx(1.23) and top.trades == 4
    assert top.period == "2024-01-02 → 2024-01-03"
    assert top.params == "conv ≥ 0.60 · weeks 10 sess · stop 8% · TP 20% · 5 bps"
    assert hist.iloc[1].status == "failed" and hist.iloc[1].error == "no mentions to backtest"


def test_sweep_points_read_grid_params_and_sharpe(session: Session) -> None:
    base = {"stop_loss_pct": "0.08", "take_profit_pct": "0.20", "slippage_bps": "5", "benchmark_symbol": "SPY"}
    for conv, weeks, sharpe in (("0.60", 5, 0.4), ("0.70", 5, 0.9), ("0.60", 10, -0.1)):
        add_run(session, [], [], params={**base, "min_conviction": conv, "hold_sessions_weeks": weeks},
                metrics={"sharpe": sharpe, "total_return_pct": 1.0}, trigger="sweep", sweep_id="sw-1")
    assert data.latest_run(session).sweep_id == "sw-1"  # type: ignore[union-attr]  # nothing else ran
    cli = add_run(session, [], [], metrics={"sharpe": 5.0}, trigger="cli")
    add_run(session, [], [], params={**base, "min_conviction": "0.80", "hold_sessions_weeks": 5},
            metrics={"sharpe": 0.1}, trigger="sweep", sweep_id="sw-1")
    assert data.latest_run(session).id == cli.id  # type: ignore[union-attr]  # not the sweep's last combination
    assert list(data.sweeps(session)["sweep_id"]) == ["sw-1"]
    pts = data.sweep_points(session, "sw-1").sort_values(["min_conviction", "hold_sessions_weeks"])
    assert pts[["min_conviction", "hold_sessions_weeks", "sharpe"]].values.tolist() == [
        [0.6, 5, 0.4], [0.6, 10, -0.1], [0.7, 5, 0.9], [0.8, 5, 0.1],
    ]


def test_every_query_copes_with_an_empty_database(session: Session) -> None:
    assert overview(session).empty
    assert data.latest_run(session) is None
    assert data.run_history(session).empty and list(data.run_history(session).columns) == data.RUN_HISTORY_COLUMNS
    assert data.sweeps(session).empty and data.sweep_points(session, "x").empty
    assert data.bar_date_range(session) == (None, None)


# --- the channel filter ----------------------------------------------------------------------


def test_channel_options_and_the_decision_feed_of_one_channel(session: Session) -> None:
    kevin = add_mention(session, "AAA", "buy", utc(2024, 1, 3, 15), channel="Meet Kevin")
    add_mention(session, "BBB", "sell", utc(2024, 1, 4, 15), channel="Meet Kevin")
    other = add_mention(session, "CCC", "buy", utc(2024, 1, 5, 15), channel="Other Guy")
    add_decision(session, kevin, "dry_run", "buy 2000.00 (dry run)", size="2000")
    add_decision(session, other, "emitted", "buy 3000.00", size="3000")

    options = data.channel_options(session)
    assert [o["label"] for o in options] == ["Meet Kevin (2 calls)", "Other Guy (1 call)"]
    assert [o["value"] for o in options] == [kevin.channel_id, other.channel_id]
    feed = decision_feed(session, channel_id=kevin.channel_id)
    assert list(feed["symbol"]) == ["BBB", "AAA"] and list(feed["status"]) == ["not decided yet", "dry_run"]
    assert feed.iloc[1].size_usd == pytest.approx(2000.0)
    assert list(decision_feed(session, channel_id=other.channel_id)["size_usd"]) == [pytest.approx(3000.0)]
    assert list(decision_feed(session)["symbol"]) == ["CCC", "BBB", "AAA"]
