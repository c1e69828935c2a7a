"""/paper-account's read-only queries (`kevin_dash.data.paper_account`), on crafted rows with numbers
worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from dash_builders import (
    add_bars,
    add_decision,
    add_mention,
    add_position,
    add_snapshot,
    set_risk_day,
    set_trading_state,
    utc,
)
from sqlalchemy.orm import Session

from kevin_dash.data import paper_account as data
from kevin_pipeline.settings import Settings
from kevin_pipeline.trading import controls

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
    assert data.account_summary(session, Settings()) is None
    assert data.account_curve(session).empty
    assert data.open_positions(session).empty and data.closed_positions(session).empty
    assert data.foreign_positions(session).empty
    assert data.decision_feed(session).empty
    risk = data.risk_view(session, Settings(), datetime(2024, 1, 3, tzinfo=UTC))
    assert risk.trades_today == 0 and not risk.switches.halted


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
