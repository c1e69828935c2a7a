"""The ticker scorecard: per symbol, how the channel's calls did and what kevin did with them.

Shared by the Dagster `ticker_scorecard` asset and the dashboard's /strategy grid.

* Hit rate at horizon (ticker scorecard). For each BUY call of a symbol whose horizon trades
  (intraday never does), the call "enters" at the open of the first NYSE session that opens after
  the video's publish time — where the backtest and the live path would fill — and "ends" at the
  open of the session `hold_sessions(horizon)` sessions later, the planned time exit. A call is a
  hit when the symbol's open-to-open return over that span is strictly greater than the
  benchmark's (SPY) over the same two sessions. A missing bar on either session takes the next bar
  of that symbol (as the backtest does on a missing exit bar). Calls whose end session is after the
  last bar of the symbol or of the benchmark are still running: counted as `pending`, left out of
  the rate; calls on a symbol with no bars at all are counted as `no_bars`, also left out.
  hit rate = hits / evaluated, None when nothing is evaluated. This scores the CALL, not
  the strategy: stops, take-profits, the conviction floor and the caps are ignored (the backtest
  P&L column shows what the strategy made of the calls).
* Live status (ticker scorecard). OPEN when an open position in the symbol exists. Otherwise the
  status of the symbol's most recent live decision: emitted -> TRADED, dry_run -> WOULD-TRADE
  (the kill switch was off), skipped_* / broker_rejected -> SKIPPED with the decision's reason.
  A symbol with no live decision but a closed position is TRADED; with neither, blank.
* Backtest P&L (ticker scorecard): the sum of `pnl_usd` of the shown run's trades in the symbol,
  open-at-the-end trades included at their mark.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kevin_pipeline.db.models import BacktestTrade, DecisionRecord, MentionRecord, Position, PriceBar
from kevin_pipeline.domain.calendar import NyseCalendar, ny_date, nyse_calendar
from kevin_pipeline.domain.models import Horizon
from kevin_pipeline.domain.params import StrategyParams


def as_float(value: Any) -> float | None:
    """Decimal/str/number -> float, None stays None (and NaN becomes None)."""
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


TRADE_COLUMNS = [
    "symbol", "mention_id", "entry_date", "entry_price", "exit_date", "exit_price",
    "qty", "pnl_usd", "pnl_pct", "sessions_held", "exit_reason",
]


def run_trades(session: Session, run_id: int) -> pd.DataFrame:
    """The run's trades; dates are New York session dates; pnl_pct in percent units."""
    rows = []
    for t in session.scalars(select(BacktestTrade).where(BacktestTrade.run_id == run_id).order_by(BacktestTrade.id)):
        rows.append(
            {
                "symbol": t.symbol,
                "mention_id": t.mention_id,
                "entry_date": pd.Timestamp(ny_date(t.entry_at)),
                "entry_price": as_float(t.entry_price),
                "exit_date": pd.Timestamp(ny_date(t.exit_at)) if t.exit_at else pd.NaT,
                "exit_price": as_float(t.exit_price),
                "qty": as_float(t.qty),
                "pnl_usd": as_float(t.pnl_usd),
                "pnl_pct": (as_float(t.pnl_pct) or 0.0) * 100,
                "sessions_held": t.sessions_held,
                "exit_reason": t.exit_reason,
            }
        )
    return pd.DataFrame(rows, columns=TRADE_COLUMNS)


HIT_COLUMNS = ["symbol", "buy_calls", "evaluated", "hits", "pending", "no_bars", "hit_rate_pct"]


def _first_on_or_after(dates: np.ndarray, target: np.datetime64) -> int:
    return int(np.searchsorted(dates, target, side="left"))


def hit_rates(
    calls: pd.DataFrame,
    bars: pd.DataFrame,
    params: StrategyParams,
    calendar: NyseCalendar | None = None,
) -> pd.DataFrame:
    """Hit rate at horizon per symbol (see the module docstring).

    `calls`: columns symbol, action, time_horizon, published_at (aware datetimes).
    `bars`: columns symbol, date, open (the benchmark's bars included).
    """
    cal = calendar or nyse_calendar()
    bench = params.benchmark_symbol
    opens: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if not bars.empty:
        frame = bars.sort_values(["symbol", "date"])
        for sym, g in frame.groupby("symbol", sort=False):
            opens[str(sym)] = (pd.to_datetime(g["date"]).to_numpy(dtype="datetime64[ns]"), g["open"].to_numpy(dtype=float))

    def open_on_or_after(sym: str, d: date) -> float | None:
        series = opens.get(sym)
        if series is None:
            return None
        dates, values = series
        i = _first_on_or_after(dates, np.datetime64(d, "ns"))
        return float(values[i]) if i < len(dates) else None

    stats: dict[str, dict[str, int]] = {}
    buys = calls[calls["action"] == "buy"] if not calls.empty else calls
    for row in buys.itertuples(index=False):
        sym = str(row.symbol)
        s = stats.setdefault(sym, {"buy_calls": 0, "evaluated": 0, "hits": 0, "pending": 0, "no_bars": 0})
        s["buy_calls"] += 1
        hold = params.hold_sessions(Horizon(row.time_horizon))
        if hold is None:  # intraday: never traded, no horizon to score
            continue
        if sym not in opens:  # no price data at all: cannot be scored, and is not "still running"
            s["no_bars"] += 1
            continue
        try:
            entry = cal.next_open_after(row.published_at)
            exit_ = cal.sessions_later(entry, hold)
        except ValueError:  # outside the calendar
            s["pending"] += 1
            continue
        # Still running: the end session is after the last bar of the symbol or the benchmark.
        if any(k not in opens or opens[k][0][-1] < np.datetime64(exit_, "ns") for k in (sym, bench)):
            s["pending"] += 1
            continue
        e, x = open_on_or_after(sym, entry), open_on_or_after(sym, exit_)
        be, bx = open_on_or_after(bench, entry), open_on_or_after(bench, exit_)
        assert e is not None and x is not None and be is not None and bx is not None
        s["evaluated"] += 1
        if x / e - 1.0 > bx / be - 1.0:
            s["hits"] += 1
    rows = [
        {
            "symbol": sym,
            **s,
            "hit_rate_pct": (100.0 * s["hits"] / s["evaluated"]) if s["evaluated"] else None,
        }
        for sym, s in sorted(stats.items())
    ]
    return pd.DataFrame(rows, columns=HIT_COLUMNS)


def _calls(session: Session, channel_id: int | None = None) -> pd.DataFrame:
    stmt = select(
        MentionRecord.id, MentionRecord.symbol, MentionRecord.action, MentionRecord.conviction,
        MentionRecord.time_horizon, MentionRecord.published_at,
    ).order_by(MentionRecord.published_at, MentionRecord.id)
    if channel_id is not None:
        stmt = stmt.where(MentionRecord.channel_id == channel_id)
    rows = [
        {"id": i, "symbol": s, "action": a, "conviction": as_float(c), "time_horizon": h, "published_at": p}
        for i, s, a, c, h, p in session.execute(stmt)
    ]
    return pd.DataFrame(rows, columns=["id", "symbol", "action", "conviction", "time_horizon", "published_at"])


def _opens(session: Session, symbols: Iterable[str]) -> pd.DataFrame:
    stmt = select(PriceBar.symbol, PriceBar.date, PriceBar.open).where(PriceBar.symbol.in_(sorted(set(symbols))))
    # plain tuples: pandas probes each SQLAlchemy Row for namedtuple fields, seconds on 600,000 bars
    return pd.DataFrame.from_records([tuple(r) for r in session.execute(stmt)], columns=["symbol", "date", "open"])


@dataclass(frozen=True)
class LiveStatus:
    status: str  # OPEN, TRADED, WOULD-TRADE, SKIPPED, or "" (nothing live yet)
    reason: str = ""


_DECISION_BADGE = {"emitted": "TRADED", "dry_run": "WOULD-TRADE"}


def live_statuses(session: Session) -> dict[str, LiveStatus]:
    """Per symbol: the live badge (see the module docstring)."""
    out: dict[str, LiveStatus] = {}
    closed = set(session.scalars(select(Position.symbol).where(Position.status == "closed").distinct()))
    for sym in closed:
        out[sym] = LiveStatus("TRADED", "closed position(s) on the paper account")
    latest = (
        select(DecisionRecord.symbol, func.max(DecisionRecord.id).label("last_id"))
        .group_by(DecisionRecord.symbol)
        .subquery()
    )
    stmt = select(DecisionRecord.symbol, DecisionRecord.status, DecisionRecord.reason, DecisionRecord.decided_at).join(
        latest, DecisionRecord.id == latest.c.last_id
    )
    for sym, status, reason, decided_at in session.execute(stmt):
        badge = _DECISION_BADGE.get(status, "SKIPPED")
        text = f"broker rejected: {reason}" if status == "broker_rejected" else reason
        out[sym] = LiveStatus(badge, f"{text} (decided {decided_at:%Y-%m-%d %H:%M} UTC)")
    open_counts = session.execute(
        select(Position.symbol, func.count()).where(Position.status == "open").group_by(Position.symbol)
    )
    for sym, n in open_counts:
        out[sym] = LiveStatus("OPEN", f"{n} open lot(s) on the paper account")
    return out


def live_key(session: Session) -> tuple[Any, ...]:
    """What `live_statuses` is computed from, in four index lookups: a new decision (newest id, how
    many), a new lot or a lot closed (newest position id, how many are open)."""
    decisions = session.execute(select(func.max(DecisionRecord.id), func.count(DecisionRecord.id))).one()
    lots = session.execute(
        select(func.max(Position.id), func.count(Position.id).filter(Position.status == "open"))
    ).one()
    return (*decisions, *lots)


SCORECARD_COLUMNS = [
    "symbol", "mentions", "last_action", "last_conviction", "last_date",
    "buy_calls", "evaluated", "hits", "pending", "no_bars", "hit_rate_pct",
    "bt_trades", "bt_pnl_usd", "live_status", "live_reason",
]


def hit_key(params: StrategyParams) -> tuple[Any, ...]:
    """What `call_hit_rates` depends on besides the data: the benchmark and the hold per horizon
    (a cache of hit rates is valid across runs that differ only in stops, caps or sizing)."""
    return (params.benchmark_symbol, *(params.hold_sessions(h) for h in Horizon))


def call_hit_rates(
    session: Session, params: StrategyParams, calendar: NyseCalendar | None = None, channel_id: int | None = None
) -> pd.DataFrame:
    """`hit_rates` of every stored call (`HIT_COLUMNS`): the costly part of the scorecard (it reads
    the open of every bar of every bought symbol), the same for every run with the same `hit_key`.
    `channel_id`: of that channel's calls only."""
    calls = _calls(session, channel_id)
    if calls.empty:
        return pd.DataFrame(columns=HIT_COLUMNS)
    bars = _opens(session, set(calls.loc[calls["action"] == "buy", "symbol"]) | {params.benchmark_symbol})
    return hit_rates(calls, bars, params, calendar)


def _last_calls(session: Session, channel_id: int | None = None) -> pd.DataFrame:
    """Per symbol: its number of calls and its latest call (publish time, then id), counted and
    picked in the database (a window over the mentions) rather than from every row in pandas."""
    ranked = select(
        MentionRecord.symbol, MentionRecord.action, MentionRecord.conviction, MentionRecord.published_at,
        func.count().over(partition_by=MentionRecord.symbol).label("mentions"),
        func.row_number().over(
            partition_by=MentionRecord.symbol, order_by=(MentionRecord.published_at.desc(), MentionRecord.id.desc())
        ).label("rank"),
    )
    if channel_id is not None:
        ranked = ranked.where(MentionRecord.channel_id == channel_id)
    ranked = ranked.subquery()
    stmt = select(ranked.c.symbol, ranked.c.mentions, ranked.c.action, ranked.c.conviction, ranked.c.published_at).where(
        ranked.c.rank == 1
    )
    rows = [(s, int(n), a, as_float(c), p) for s, n, a, c, p in session.execute(stmt)]
    return pd.DataFrame(rows, columns=["symbol", "mentions", "action", "conviction", "published_at"]).set_index("symbol")


def ticker_scorecard(
    session: Session,
    run_id: int | None,
    params: StrategyParams,
    channel_id: int | None = None,
    *,
    hits: pd.DataFrame | None = None,
    trades: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per mentioned symbol (see the module docstring for hit rate and live status).

    `channel_id`: only that channel's calls, and of the run only the trades of those calls (a trade
    belongs to the call that opened it). The live badge stays per symbol: a position is one
    position, whichever channel's call opened it.

    `hits` (`call_hit_rates` for the same data and `hit_key`) and `trades` (`run_trades(run_id)`)
    may be passed in by a caller that keeps them (the dashboard caches both; for the same channel)."""
    last = _last_calls(session, channel_id)
    if last.empty:
        return pd.DataFrame(columns=SCORECARD_COLUMNS)
    counts = last["mentions"]
    hits = (call_hit_rates(session, params, channel_id=channel_id) if hits is None else hits).set_index("symbol")
    if trades is None:
        trades = run_trades(session, run_id) if run_id is not None else pd.DataFrame(columns=TRADE_COLUMNS)
    if channel_id is not None:
        ids = set(session.scalars(select(MentionRecord.id).where(MentionRecord.channel_id == channel_id)))
        trades = trades[trades["mention_id"].isin(ids)]
    bt_pnl = trades.groupby("symbol")["pnl_usd"].sum() if not trades.empty else pd.Series(dtype=float)
    bt_n = trades.groupby("symbol").size() if not trades.empty else pd.Series(dtype=int)
    live = live_statuses(session)
    rows = []
    for sym in sorted(counts.index):
        h = hits.loc[sym] if sym in hits.index else None
        lv = live.get(sym, LiveStatus(""))
        rows.append(
            {
                "symbol": sym,
                "mentions": int(counts[sym]),
                "last_action": last.at[sym, "action"],
                "last_conviction": last.at[sym, "conviction"],
                "last_date": last.at[sym, "published_at"].strftime("%Y-%m-%d"),
                "buy_calls": int(h["buy_calls"]) if h is not None else 0,
                "evaluated": int(h["evaluated"]) if h is not None else 0,
                "hits": int(h["hits"]) if h is not None else 0,
                "pending": int(h["pending"]) if h is not None else 0,
                "no_bars": int(h["no_bars"]) if h is not None else 0,
                "hit_rate_pct": as_float(h["hit_rate_pct"]) if h is not None else None,
                "bt_trades": int(bt_n.get(sym, 0)),
                "bt_pnl_usd": round(float(bt_pnl.get(sym, 0.0)), 2),
                "live_status": lv.status,
                "live_reason": lv.reason,
            }
        )
    return pd.DataFrame(rows, columns=SCORECARD_COLUMNS)
