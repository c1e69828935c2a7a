"""The ticker scorecard (hit rate at horizon, live status, backtest P&L) that /strategy shows and
the Dagster `ticker_scorecard` asset stores, on crafted rows with numbers worked out by hand."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest
from sqlalchemy.orm import Session

from kevin_pipeline.db.models import BacktestTrade
from kevin_pipeline.domain.calendar import nyse_calendar
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.research import scorecard
from tests.dash.dash_builders import add_bars, add_decision, add_mention, add_position, add_run, utc

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
    frame = scorecard.hit_rates(
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
    frame = scorecard.hit_rates(calls(("XYZ", "buy", "weeks", utc(2024, 1, 2, 15))), bars, PARAMS)
    assert frame.loc[0, "evaluated"] == 1 and frame.loc[0, "hits"] == 0 and frame.loc[0, "hit_rate_pct"] == 0.0


def test_hit_rate_a_missing_exit_bar_takes_the_symbols_next_bar() -> None:
    xyz = opens("XYZ", 100.0, {date(2024, 1, 19): 90.0})
    xyz = xyz[xyz["date"] != date(2024, 1, 18)]  # no bar on the exit session: the 19th's open counts
    bars = pd.concat([xyz, opens("SPY", 400.0)])
    frame = scorecard.hit_rates(calls(("XYZ", "buy", "weeks", utc(2024, 1, 2, 15))), bars, PARAMS)
    assert frame.loc[0, "evaluated"] == 1 and frame.loc[0, "hits"] == 0  # -10 % vs 0 %


def test_hit_rate_uses_the_params_hold_for_the_horizon() -> None:
    bars = pd.concat([opens("XYZ", 100.0, {date(2024, 1, 8): 120.0}), opens("SPY", 400.0)])
    short = PARAMS.model_copy(update={"hold_sessions_weeks": 3})  # 3 Jan + 3 sessions = 8 Jan
    frame = scorecard.hit_rates(calls(("XYZ", "buy", "weeks", utc(2024, 1, 2, 15))), bars, short)
    assert frame.loc[0, "hits"] == 1
    assert scorecard.hit_rates(calls(("XYZ", "buy", "weeks", utc(2024, 1, 2, 15))), bars, PARAMS).loc[0, "hits"] == 0


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

    card = scorecard.ticker_scorecard(session, run.id, PARAMS).set_index("symbol")
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
    live = scorecard.live_statuses(session)
    assert live["AAA"].status == "TRADED"
    assert live["BBB"].status == "SKIPPED" and live["BBB"].reason.startswith("broker rejected: insufficient buying power")


def test_an_empty_database_scores_nothing(session: Session) -> None:
    assert scorecard.ticker_scorecard(session, None, PARAMS).empty
    assert scorecard.live_statuses(session) == {}


def test_ticker_scorecard_of_one_channel_counts_only_its_calls_and_their_trades(session: Session) -> None:
    _bars_in_db(session)
    mine = add_mention(session, "XYZ", "buy", utc(2024, 1, 2, 15), channel="Meet Kevin")
    add_mention(session, "XYZ", "sell", utc(2024, 1, 9, 15), channel="Other")
    theirs = add_mention(session, "OPN", "buy", utc(2024, 1, 3, 15), channel="Other")
    run = add_run(session, [("2024-01-02", 100000.0)], [("2024-01-02", 100000.0)])
    for mention, pnl in ((mine, "120.50"), (theirs, "-20.25")):
        session.add(BacktestTrade(run_id=run.id, symbol=mention.symbol, mention_id=mention.id, pnl_usd=pnl,
                                  entry_at=utc(2024, 1, 3, 14, 30), entry_price=100, qty=10, pnl_pct="0.01",
                                  exit_reason="time"))
    session.flush()

    card = scorecard.ticker_scorecard(session, run.id, PARAMS, channel_id=mine.channel_id).set_index("symbol")
    assert list(card.index) == ["XYZ"]
    assert card.loc["XYZ", "mentions"] == 1 and card.loc["XYZ", "last_action"] == "buy"
    assert (card.loc["XYZ", "buy_calls"], card.loc["XYZ", "hits"]) == (1, 1)
    assert card.loc["XYZ", "bt_trades"] == 1 and card.loc["XYZ", "bt_pnl_usd"] == pytest.approx(120.50)
    everyone = scorecard.ticker_scorecard(session, run.id, PARAMS).set_index("symbol")
    assert list(everyone.index) == ["OPN", "XYZ"] and everyone.loc["XYZ", "mentions"] == 2


def test_the_last_call_of_a_symbol_on_one_publish_time_is_the_later_stored_one(session: Session) -> None:
    _bars_in_db(session)
    when = utc(2024, 1, 9, 15)
    add_mention(session, "XYZ", "buy", utc(2024, 1, 2, 15), conviction="0.70")
    add_mention(session, "XYZ", "watch", when, conviction="0.55", video_id="same-video", horizon="unspecified")
    add_mention(session, "XYZ", "sell", when, conviction="0.65", video_id="same-video")
    card = scorecard.ticker_scorecard(session, None, PARAMS).set_index("symbol")
    assert card.loc["XYZ", "mentions"] == 3 and card.loc["XYZ", "last_action"] == "sell"
    assert card.loc["XYZ", "last_conviction"] == pytest.approx(0.65) and card.loc["XYZ", "last_date"] == "2024-01-09"


def test_a_scorecard_from_kept_hit_rates_and_trades_equals_the_one_computed_afresh(session: Session) -> None:
    _bars_in_db(session)
    add_mention(session, "XYZ", "buy", utc(2024, 1, 2, 15), conviction="0.70")
    add_mention(session, "ABC", "buy", utc(2024, 1, 3, 15))
    run = add_run(session, [("2024-01-02", 100000.0)], [("2024-01-02", 100000.0)])
    session.add(BacktestTrade(run_id=run.id, symbol="XYZ", entry_at=utc(2024, 1, 3, 14, 30), entry_price=100, qty=10,
                              pnl_usd="42.10", pnl_pct="0.01", exit_reason="time"))
    session.flush()
    fresh = scorecard.ticker_scorecard(session, run.id, PARAMS)
    kept = scorecard.ticker_scorecard(session, run.id, PARAMS, hits=scorecard.call_hit_rates(session, PARAMS),
                                      trades=scorecard.run_trades(session, run.id))
    pd.testing.assert_frame_equal(fresh, kept)
    assert fresh.set_index("symbol").loc["XYZ", "bt_pnl_usd"] == pytest.approx(42.10)
    assert scorecard.hit_key(PARAMS) == scorecard.hit_key(PARAMS.model_copy(update={"stop_loss_pct": PARAMS.stop_loss_pct / 2}))
    assert scorecard.hit_key(PARAMS) != scorecard.hit_key(PARAMS.model_copy(update={"hold_sessions_weeks": 99}))
