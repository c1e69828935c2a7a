"""The dashboard's read-only queries, on crafted rows with numbers worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from dash_builders import (
    add_bars,
    add_decision,
    add_mention,
    add_position,
    add_run,
    add_snapshot,
    set_risk_day,
    set_trading_state,
    utc,
)
from sqlalchemy.orm import Session

from kevin_dash import data
from kevin_pipeline.db.models import BacktestTrade
from kevin_pipeline.domain.calendar import nyse_calendar
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.settings import Settings
from kevin_pipeline.trading import controls

PARAMS = StrategyParams()  # weeks = 10 sessions, days = 3, months = 45
JAN = nyse_calendar().sessions_between(date(2024, 1, 2), date(2024, 1, 31))


def opens(symbol: str, base: float, overrides: dict[date, float] | None = None) -> pd.DataFrame:
    overrides = overrides or {}
    return pd.DataFrame({"symbol": symbol, "date": JAN, "open": [overrides.get(d, base) for d in JAN]})


def calls(*rows: tuple[str, str, str, datetime]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["symbol", "action", "time_horizon", "published_at"])


# --- hit rate at horizon -------------------------------------------------------------------


def test_hit_rate_compares_open_to_open_returns_with_the_benchmark_over_the_hold() -> None:
    # Weeks call at 10:00 ET Tue 2 Jan: enters at the open of Wed 3 Jan; 10 sessions later
    # (MLK day 15 Jan is closed) is Thu 18 Jan. XYZ +10 % vs SPY +5 %: a hit.
    # Days call at 08:00 ET Mon 8 Jan: enters that day's open; 3 sessions later is Thu 11 Jan.
    # XYZ -1 % vs SPY 0 %: a miss.
    assert nyse_calendar().sessions_later(date(2024, 1, 3), 10) == date(2024, 1, 18)
    bars = pd.concat(
        [
            opens("XYZ", 100.0, {date(2024, 1, 18): 110.0, date(2024, 1, 11): 99.0}),
            opens("SPY", 400.0, {date(2024, 1, 18): 420.0}),
        ]
    )
    frame = data.hit_rates(
        calls(
            ("XYZ", "buy", "weeks", utc(2024, 1, 2, 15)),
            ("XYZ", "buy", "days", utc(2024, 1, 8, 13)),
            ("XYZ", "buy", "months", utc(2024, 1, 8, 15)),  # ends in March: still running
            ("XYZ", "buy", "intraday", utc(2024, 1, 8, 15)),  # never trades: not scored
            ("XYZ", "sell", "weeks", utc(2024, 1, 9, 15)),  # not a buy call
            ("NOB", "buy", "weeks", utc(2024, 1, 2, 15)),  # no bars at all
        ),
        bars,
        PARAMS,
    ).set_index("symbol")
    xyz = frame.loc["XYZ"]
    assert (xyz.buy_calls, xyz.evaluated, xyz.hits, xyz.pending, xyz.no_bars) == (4, 2, 1, 1, 0)
    assert xyz.hit_rate_pct == pytest.approx(50.0)
    nob = frame.loc["NOB"]
    assert (nob.buy_calls, nob.evaluated, nob.no_bars) == (1, 0, 1)
    assert pd.isna(nob.hit_rate_pct)


def test_hit_rate_a_tie_with_the_benchmark_is_not_a_hit() -> None:
    bars = pd.concat([opens("XYZ", 100.0, {date(2024, 1, 18): 105.0}), opens("SPY", 400.0, {date(2024, 1, 18): 420.0})])
    frame = data.hit_rates(calls(("XYZ", "buy", "weeks", utc(2024, 1, 2, 15))), bars, PARAMS)
    assert frame.loc[0, "evaluated"] == 1 and frame.loc[0, "hits"] == 0 and frame.loc[0, "hit_rate_pct"] == 0.0


def test_hit_rate_a_missing_exit_bar_takes_the_symbols_next_bar() -> None:
    xyz = opens("XYZ", 100.0, {date(2024, 1, 19): 90.0})
    xyz = xyz[xyz["date"] != date(2024, 1, 18)]  # no bar on the exit session: the 19th's open counts
    bars = pd.concat([xyz, opens("SPY", 400.0)])
    frame = data.hit_rates(calls(("XYZ", "buy", "weeks", utc(2024, 1, 2, 15))), bars, PARAMS)
    assert frame.loc[0, "evaluated"] == 1 and frame.loc[0, "hits"] == 0  # -10 % vs 0 %


def test_hit_rate_uses_the_params_hold_for_the_horizon() -> None:
    bars = pd.concat([opens("XYZ", 100.0, {date(2024, 1, 8): 120.0}), opens("SPY", 400.0)])
    short = PARAMS.model_copy(update={"hold_sessions_weeks": 3})  # 3 Jan + 3 sessions = 8 Jan
    frame = data.hit_rates(calls(("XYZ", "buy", "weeks", utc(2024, 1, 2, 15))), bars, short)
    assert frame.loc[0, "hits"] == 1
    assert data.hit_rates(calls(("XYZ", "buy", "weeks", utc(2024, 1, 2, 15))), bars, PARAMS).loc[0, "hits"] == 0


# --- ticker scorecard ----------------------------------------------------------------------


def _bars_in_db(s: Session) -> None:
    add_bars(s, "XYZ", [(d, 110.0 if d == date(2024, 1, 18) else 100.0, 101.0) for d in JAN])
    add_bars(s, "SPY", [(d, 420.0 if d == date(2024, 1, 18) else 400.0, 401.0) for d in JAN])
    for sym in ("OPN", "DRY", "SKP"):
        add_bars(s, sym, [(d, 50.0, 51.0 if d != JAN[-1] else 55.0) for d in JAN])


def test_ticker_scorecard_counts_calls_and_joins_backtest_pnl_and_live_badges(session: Session) -> None:
    _bars_in_db(session)
    add_mention(session, "XYZ", "buy", utc(2024, 1, 2, 15), conviction="0.70")
    add_mention(session, "XYZ", "watch", utc(2024, 1, 9, 15), conviction="0.55", horizon="unspecified")
    opn = add_mention(session, "OPN", "buy", utc(2024, 1, 3, 15))
    dry = add_mention(session, "DRY", "buy", utc(2024, 1, 4, 15))
    skp = add_mention(session, "SKP", "buy", utc(2024, 1, 5, 15), conviction="0.30")
    add_decision(session, opn, "emitted", "buy 3000.00", size="3000")
    add_decision(session, dry, "dry_run", "buy 2000.00 (kill switch off)", size="2000")
    add_decision(session, skp, "skipped_filter", "conviction 0.3000 below the floor 0.60")
    add_position(session, "OPN", 10, "50.00", utc(2024, 1, 4, 14, 30), mention=opn)
    run = add_run(session, [("2024-01-02", 100000.0)], [("2024-01-02", 100000.0)])
    for pnl in ("120.50", "-20.25"):
        session.add(BacktestTrade(run_id=run.id, symbol="XYZ", entry_at=utc(2024, 1, 3, 14, 30), entry_price=100, qty=10,
                                  pnl_usd=pnl, pnl_pct="0.01", exit_reason="time"))
    session.flush()

    card = data.ticker_scorecard(session, run.id, PARAMS).set_index("symbol")
    assert list(card.index) == ["DRY", "OPN", "SKP", "XYZ"]
    xyz = card.loc["XYZ"]
    assert xyz.mentions == 2 and xyz.last_action == "watch" and xyz.last_conviction == pytest.approx(0.55)
    assert xyz.last_date == "2024-01-09"
    assert (xyz.buy_calls, xyz.evaluated, xyz.hits) == (1, 1, 1) and xyz.hit_rate_pct == pytest.approx(100.0)
    assert xyz.bt_trades == 2 and xyz.bt_pnl_usd == pytest.approx(100.25)
    assert xyz.live_status == ""
    assert card.loc["OPN", "live_status"] == "OPEN"
    assert card.loc["DRY", "live_status"] == "WOULD-TRADE"
    assert card.loc["SKP", "live_status"] == "SKIPPED"
    assert "below the floor" in card.loc["SKP", "live_reason"]
    assert card.loc["OPN", "bt_pnl_usd"] == 0.0


def test_live_status_traded_after_a_closed_position_and_broker_rejection_is_skipped(session: Session) -> None:
    m = add_mention(session, "AAA", "buy", utc(2024, 1, 3, 15))
    add_decision(session, m, "emitted", "buy 1000.00")
    add_position(session, "AAA", 5, "10.00", utc(2024, 1, 4, 14, 30), exit_price="11.00", exit_at=utc(2024, 1, 10, 14, 30), exit_reason="time")
    b = add_mention(session, "BBB", "buy", utc(2024, 1, 3, 15))
    add_decision(session, b, "broker_rejected", "insufficient buying power")
    live = data.live_statuses(session)
    assert live["AAA"].status == "TRADED"
    assert live["BBB"].status == "SKIPPED" and live["BBB"].reason.startswith("broker rejected: insufficient buying power")


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


# --- paper account -----------------------------------------------------------------------------


def test_open_positions_mark_at_the_latest_close_with_pnl_quote_and_close_state(session: Session) -> None:
    add_bars(session, "AAPL", [(date(2024, 1, 2), 100.0, 100.0), (date(2024, 1, 3), 100.0, 110.0)])
    m = add_mention(session, "AAPL", "buy", utc(2024, 1, 2, 15), conviction="0.85", quote="AAPL is a gift here")
    lot = add_position(session, "AAPL", 10, "100.00", utc(2024, 1, 3, 14, 30), mention=m, planned_exit=date(2024, 1, 18))
    add_position(session, "ZZZ", 3, "20.00", utc(2024, 1, 3, 14, 30))  # no bars: no mark

    frame = data.open_positions(session).set_index("symbol")
    aapl = frame.loc["AAPL"]
    assert aapl.mark == 110.0 and aapl.mark_date == "2024-01-03"
    assert aapl.pnl_usd == pytest.approx(100.0) and aapl.pnl_pct == pytest.approx(10.0)
    assert aapl.stop == pytest.approx(92.0) and aapl.take_profit == pytest.approx(120.0)
    assert aapl.planned_exit == "2024-01-18" and aapl.quote == "AAPL is a gift here"
    assert aapl.mention.startswith("buy AAPL @ 0.85 (weeks)")
    assert not aapl.close_requested
    assert pd.isna(frame.loc["ZZZ", "mark"]) and pd.isna(frame.loc["ZZZ", "pnl_usd"])

    controls.request_close(session, "AAPL", position_id=lot.id, requested_by="test")
    assert bool(data.open_positions(session).set_index("symbol").loc["AAPL", "close_requested"]) is True


def test_closed_positions_newest_first_with_exit_reasons(session: Session) -> None:
    add_position(session, "AAA", 10, "10.00", utc(2024, 1, 2, 14, 30), exit_price="12.00", exit_at=utc(2024, 1, 5, 14, 30), exit_reason="take_profit")
    add_position(session, "BBB", 4, "50.00", utc(2024, 1, 3, 14, 30), exit_price="46.00", exit_at=utc(2024, 1, 9, 14, 30), exit_reason="stop")
    add_position(session, "CCC", 1, "5.00", utc(2024, 1, 3, 14, 30))  # still open
    frame = data.closed_positions(session)
    assert list(frame["symbol"]) == ["BBB", "AAA"]
    assert frame.iloc[0].pnl_usd == pytest.approx(-16.0) and frame.iloc[0].pnl_pct == pytest.approx(-8.0)
    assert list(frame["exit_reason"]) == ["stop", "take_profit"]


def test_account_summary_reads_the_latest_snapshot_and_the_benchmark_over_the_period(session: Session) -> None:
    add_bars(session, "SPY", [(date(2024, 1, 2), 470.0, 470.0), (date(2024, 1, 3), 470.0, 465.0), (date(2024, 1, 4), 465.0, 479.1)])
    add_snapshot(session, utc(2024, 1, 2, 21, 5), "100000", "100000")
    add_snapshot(session, utc(2024, 1, 3, 21, 5), "100500", "90000")
    add_snapshot(session, utc(2024, 1, 4, 21, 5), "101200", "90000")  # no day_pnl stored: 101200 - 100500
    settings = Settings(starting_equity_usd=100000)
    s = data.account_summary(session, settings)
    assert s is not None
    assert (s.equity, s.cash, s.positions_value) == (101200.0, 90000.0, 11200.0)
    assert s.day_pnl == pytest.approx(700.0)
    assert s.total_pnl == pytest.approx(1200.0) and s.total_pnl_pct == pytest.approx(1.2)
    assert s.benchmark_return_pct == pytest.approx((479.1 / 470.0 - 1) * 100)


def test_account_summary_prefers_the_stored_day_pnl_and_says_when_benchmark_bars_are_missing(session: Session) -> None:
    add_snapshot(session, utc(2024, 1, 2, 21, 5), "100000", "100000")
    add_snapshot(session, utc(2024, 1, 3, 21, 5), "99000", "99000", day_pnl="-1000")
    s = data.account_summary(session, Settings(starting_equity_usd=100000))
    assert s is not None and s.day_pnl == pytest.approx(-1000.0) and s.total_pnl_pct == pytest.approx(-1.0)
    assert s.benchmark_return_pct is None and "no SPY bars" in s.benchmark_note


def test_risk_view_reads_switches_halt_and_todays_counters(session: Session) -> None:
    now = datetime(2024, 1, 3, 18, tzinfo=UTC)
    set_trading_state(session, trading_enabled=True, halted=True, halt_reason="equity below 80%", paused_until=now + timedelta(hours=3),
                      pause_reason="daily loss 3.1%")
    set_risk_day(session, now, 3, "9000")
    risk = data.risk_view(session, Settings(enable_trading=False), now)
    sw = risk.switches  # the order path's own reading (trading.controls), not a copy
    assert sw == controls.switches(session, False)
    assert sw.runtime_enabled and not sw.env_enabled and not sw.trading_allowed and sw.mode == "off"
    assert sw.halted and sw.halt_reason == "equity below 80%" and sw.paused(now) and sw.can_resume
    assert (risk.trades_today, risk.trade_cap, risk.alloc_today, risk.alloc_cap) == (3, 5, 9000.0, 15000.0)
    assert risk.today == date(2024, 1, 3)


def test_decision_feed_shows_undecided_mentions_too(session: Session) -> None:
    a = add_mention(session, "AAA", "buy", utc(2024, 1, 3, 15))
    add_mention(session, "BBB", "sell", utc(2024, 1, 4, 15))
    add_decision(session, a, "dry_run", "buy 2000.00 (dry run)", size="2000")
    feed = data.decision_feed(session)
    assert list(feed["symbol"]) == ["BBB", "AAA"]
    assert feed.iloc[0].status == "not decided yet"
    assert feed.iloc[1].status == "dry_run" and feed.iloc[1].size_usd == pytest.approx(2000.0)


def test_every_query_copes_with_an_empty_database(session: Session) -> None:
    assert data.overview(session).empty
    assert data.latest_run(session) is None
    assert data.run_history(session).empty and list(data.run_history(session).columns) == data.RUN_HISTORY_COLUMNS
    assert data.ticker_scorecard(session, None, PARAMS).empty
    assert data.sweeps(session).empty and data.sweep_points(session, "x").empty
    assert data.account_summary(session, Settings()) is None
    assert data.account_curve(session).empty
    assert data.open_positions(session).empty and data.closed_positions(session).empty
    assert data.decision_feed(session).empty
    risk = data.risk_view(session, Settings(), datetime(2024, 1, 3, tzinfo=UTC))
    assert risk.trades_today == 0 and not risk.switches.halted
    assert data.bar_date_range(session) == (None, None)


def test_foreign_positions_come_from_the_latest_snapshot_apart_from_kevins_lots(session: Session) -> None:
    add_position(session, "AAPL", 5, "100", utc(2024, 3, 6, 14, 30))
    old = add_snapshot(session, utc(2024, 3, 5, 21, 5), "100000", "99000")
    old.positions = [{"symbol": "MSFT", "qty": 3, "current_price": "400", "kevin_qty": "0", "foreign_qty": "3"}]
    snap = add_snapshot(session, utc(2024, 3, 6, 21, 5), "99000", "98500")
    snap.positions = [
        {"symbol": "AAPL", "qty": 15, "current_price": "110", "kevin_qty": "5", "foreign_qty": "10"},
        {"symbol": "NVDA", "qty": 2, "current_price": "900", "kevin_qty": "2", "foreign_qty": "0"},
        {"symbol": "SPY", "qty": 1, "current_price": "500"},  # a snapshot from before foreign positions were told apart
    ]
    session.flush()
    foreign = data.foreign_positions(session)
    assert foreign[["symbol", "qty", "broker_qty", "kevin_qty", "price", "value"]].to_dict("records") == [
        {"symbol": "AAPL", "qty": 10.0, "broker_qty": 15.0, "kevin_qty": 5.0, "price": 110.0, "value": 1100.0}]
    assert list(data.open_positions(session)["symbol"]) == ["AAPL"]


def test_lots_no_kevin_order_opened_are_not_shown_as_kevins(session: Session) -> None:
    from decimal import Decimal

    from kevin_pipeline.db.models import Position

    session.add(Position(symbol="AMD", qty=Decimal(10), entry_at=utc(2024, 3, 5, 15), entry_price=Decimal("100"),
                         cost_basis=Decimal("1000"), status="open"))  # written by an older reconciliation
    session.flush()
    assert data.open_positions(session).empty
