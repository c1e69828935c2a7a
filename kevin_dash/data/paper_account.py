"""Read-only queries for /paper-account (`pages/paper_account.py`): the live paper account.

Every function takes a SQLAlchemy `Session` (the caller opens and closes it) and never writes.
Each copes with empty tables: an empty frame with the documented columns, or None.

Definitions the page relies on (written down here so the numbers on screen can be checked):

* Equity, cash and day P&L come from the latest `account_snapshots` row (day P&L falls back to
  equity minus the last snapshot of an earlier New York day). Total P&L is measured against
  `starting_equity_usd`. The benchmark over the same period is SPY's close-to-close return from the
  first snapshot's New York date to the last one's (the closes on or before those dates).
* A position's mark is the latest `price_bars` close of its symbol.
* Open positions are kevin's own lots (opened by its orders). Shares the broker account holds
  beyond them are foreign (not kevin's): `foreign_positions` lists them from the latest snapshot,
  apart, and they count in none of kevin's numbers (trading.own_slice). With
  `KEVIN_ALLOCATION_USD` set, total P&L is measured against the allocation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kevin_pipeline.db.models import (
    AccountSnapshot,
    DecisionRecord,
    ManualCloseRequest,
    MentionRecord,
    Position,
    PriceBar,
    RiskDay,
    TradingState,
)
from kevin_pipeline.domain.calendar import NyseCalendar, ny_date, nyse_calendar
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.research.scorecard import as_float as _f
from kevin_pipeline.settings import Settings
from kevin_pipeline.trading.controls import TradingSwitches, switches
from kevin_pipeline.trading.own_slice import KEVIN_LOT


def latest_closes(session: Session, symbols: Iterable[str]) -> dict[str, tuple[date, float]]:
    """symbol -> (date, close) of its latest bar."""
    symbols = sorted(set(symbols))
    if not symbols:
        return {}
    last = (
        select(PriceBar.symbol, func.max(PriceBar.date).label("d"))
        .where(PriceBar.symbol.in_(symbols))
        .group_by(PriceBar.symbol)
        .subquery()
    )
    stmt = select(PriceBar.symbol, PriceBar.date, PriceBar.close).join(
        last, (PriceBar.symbol == last.c.symbol) & (PriceBar.date == last.c.d)
    )
    return {s: (d, float(c)) for s, d, c in session.execute(stmt)}


def closes_between(session: Session, symbol: str, start: date, end: date) -> pd.Series:
    """Closes of `symbol` from the last bar on or before `start` through `end` (DatetimeIndex)."""
    first = session.execute(
        select(func.max(PriceBar.date)).where(PriceBar.symbol == symbol, PriceBar.date <= start)
    ).scalar_one_or_none()
    lo = first or start
    stmt = (
        select(PriceBar.date, PriceBar.close)
        .where(PriceBar.symbol == symbol, PriceBar.date >= lo, PriceBar.date <= end)
        .order_by(PriceBar.date)
    )
    rows = session.execute(stmt).all()
    if not rows:
        return pd.Series(dtype=float, name=symbol)
    return pd.Series([float(c) for _, c in rows], index=pd.DatetimeIndex([pd.Timestamp(d) for d, _ in rows], name="date"), name=symbol)


def at_session_close(series: pd.Series, calendar: NyseCalendar | None = None) -> pd.Series:
    """Re-index daily values from their session date to that session's close (UTC), so they line up
    with intraday snapshots on a time axis."""
    cal = calendar or nyse_calendar()
    stamps = [
        pd.Timestamp(cal.session_close(d.date())) if cal.is_session(d.date()) else pd.Timestamp(d).tz_localize("UTC")
        for d in series.index
    ]
    return pd.Series(series.to_numpy(), index=pd.DatetimeIndex(stamps, name="taken_at"), name=series.name)


SNAPSHOT_COLUMNS = ["taken_at", "equity", "cash", "positions_value", "day_pnl", "source"]


def has_snapshots(session: Session) -> bool:
    return session.execute(select(AccountSnapshot.id).limit(1)).first() is not None


def account_key(session: Session, benchmark: str) -> tuple[object, ...]:
    """What the account's curve, summary and benchmark line are computed from: the snapshots (newest
    id, how many) and the benchmark's bars (newest date, how many). Index lookups, not a read."""
    snaps = session.execute(select(func.max(AccountSnapshot.id), func.count(AccountSnapshot.id))).one()
    bars = session.execute(select(func.max(PriceBar.date), func.count()).where(PriceBar.symbol == benchmark)).one()
    return (*snaps, *bars)


def account_curve(session: Session) -> pd.DataFrame:
    """Every snapshot, oldest first; taken_at as UTC Timestamps."""
    stmt = select(
        AccountSnapshot.taken_at, AccountSnapshot.equity, AccountSnapshot.cash,
        AccountSnapshot.positions_value, AccountSnapshot.day_pnl, AccountSnapshot.source,
    ).order_by(AccountSnapshot.taken_at, AccountSnapshot.id)
    rows = [
        {"taken_at": pd.Timestamp(t), "equity": _f(e), "cash": _f(c), "positions_value": _f(p), "day_pnl": _f(d), "source": s}
        for t, e, c, p, d, s in session.execute(stmt)
    ]
    return pd.DataFrame(rows, columns=SNAPSHOT_COLUMNS)


@dataclass(frozen=True)
class AccountSummary:
    taken_at: datetime
    source: str
    equity: float
    cash: float
    positions_value: float
    day_pnl: float | None
    starting_equity: float
    total_pnl: float
    total_pnl_pct: float
    since: datetime  # first snapshot
    benchmark_symbol: str
    benchmark_return_pct: float | None  # over [since, taken_at], None without bars
    benchmark_note: str


def account_summary(session: Session, settings: Settings | StrategyParams, curve: pd.DataFrame | None = None) -> AccountSummary | None:
    curve = account_curve(session) if curve is None else curve
    if curve.empty:
        return None
    first, last = curve.iloc[0], curve.iloc[-1]
    day_pnl = last["day_pnl"]
    if day_pnl is None or (isinstance(day_pnl, float) and math.isnan(day_pnl)):
        last_day = ny_date(last["taken_at"].to_pydatetime())
        earlier = curve[[ny_date(t.to_pydatetime()) < last_day for t in curve["taken_at"]]]
        day_pnl = float(last["equity"] - earlier.iloc[-1]["equity"]) if not earlier.empty else None
    start_equity = float(getattr(settings, "allocation_usd", None) or settings.starting_equity_usd)
    bench_sym = settings.benchmark_symbol
    since, until = ny_date(first["taken_at"].to_pydatetime()), ny_date(last["taken_at"].to_pydatetime())
    closes = closes_between(session, bench_sym, since, until)
    if len(closes) >= 2:
        bench_ret: float | None = (closes.iloc[-1] / closes.iloc[0] - 1.0) * 100
        note = f"{bench_sym} close {closes.index[0].date()} → {closes.index[-1].date()}"
    elif len(closes) == 1:
        bench_ret, note = 0.0, f"only one {bench_sym} bar in the period"
    else:
        bench_ret, note = None, f"no {bench_sym} bars for {since} → {until}"
    return AccountSummary(
        taken_at=last["taken_at"].to_pydatetime(),
        source=str(last["source"]),
        equity=float(last["equity"]),
        cash=float(last["cash"]),
        positions_value=float(last["positions_value"]),
        day_pnl=day_pnl,
        starting_equity=start_equity,
        total_pnl=float(last["equity"]) - start_equity,
        total_pnl_pct=(float(last["equity"]) / start_equity - 1.0) * 100,
        since=first["taken_at"].to_pydatetime(),
        benchmark_symbol=bench_sym,
        benchmark_return_pct=bench_ret,
        benchmark_note=note,
    )


OPEN_POSITION_COLUMNS = [
    "id", "symbol", "qty", "entry_date", "entry_price", "cost_basis", "mark", "mark_date",
    "pnl_usd", "pnl_pct", "planned_exit", "stop", "take_profit",
    "mention", "quote", "close_requested",
]


def open_positions(session: Session) -> pd.DataFrame:
    lots = session.scalars(select(Position).where(*KEVIN_LOT).order_by(Position.entry_at, Position.id)).all()
    if not lots:
        return pd.DataFrame(columns=OPEN_POSITION_COLUMNS)
    marks = latest_closes(session, {p.symbol for p in lots})
    mention_ids = {p.source_mention_id for p in lots if p.source_mention_id}
    mentions = {
        m.id: m for m in session.scalars(select(MentionRecord).where(MentionRecord.id.in_(mention_ids)))
    } if mention_ids else {}
    pending = session.execute(
        select(ManualCloseRequest.symbol, ManualCloseRequest.position_id).where(ManualCloseRequest.status == "pending")
    ).all()
    rows = []
    for p in lots:
        qty, entry = float(p.qty), float(p.entry_price)
        mark_date, mark = marks.get(p.symbol, (None, None))
        pnl = (mark - entry) * qty if mark is not None else None
        m = mentions.get(p.source_mention_id) if p.source_mention_id else None
        rows.append(
            {
                "id": p.id,
                "symbol": p.symbol,
                "qty": qty,
                "entry_date": ny_date(p.entry_at).isoformat(),
                "entry_price": entry,
                "cost_basis": float(p.cost_basis),
                "mark": mark,
                "mark_date": mark_date.isoformat() if mark_date else None,
                "pnl_usd": pnl,
                "pnl_pct": (mark / entry - 1.0) * 100 if mark is not None and entry else None,
                "planned_exit": p.planned_exit_session.isoformat() if p.planned_exit_session else None,
                "stop": _f(p.stop_price),
                "take_profit": _f(p.take_profit_price),
                "mention": (
                    f"{m.action} {m.symbol} @ {float(m.conviction):.2f} ({m.time_horizon}), {m.published_at:%Y-%m-%d}"
                    if m else None
                ),
                "quote": m.quote if m else None,
                "close_requested": any(
                    sym == p.symbol and (pid is None or pid == p.id) for sym, pid in pending
                ),
            }
        )
    return pd.DataFrame(rows, columns=OPEN_POSITION_COLUMNS)


FOREIGN_POSITION_COLUMNS = ["symbol", "qty", "broker_qty", "kevin_qty", "price", "value", "as_of"]


def foreign_positions(session: Session) -> pd.DataFrame:
    """Positions in the broker account that kevin did not open (the user's own), from the latest
    account snapshot: never kevin's, never traded by it, in none of its numbers."""
    snap = session.scalars(select(AccountSnapshot).order_by(AccountSnapshot.taken_at.desc(), AccountSnapshot.id.desc()).limit(1)).first()
    rows = []
    for p in (snap.positions or []) if snap is not None and isinstance(snap.positions, list) else []:
        foreign = _f(p.get("foreign_qty")) or 0.0
        if foreign <= 0:
            continue
        price = _f(p.get("current_price"))
        rows.append({
            "symbol": p.get("symbol"), "qty": foreign, "broker_qty": float(p.get("qty") or 0),
            "kevin_qty": _f(p.get("kevin_qty")) or 0.0, "price": price,
            "value": foreign * price if price is not None else None, "as_of": snap.taken_at if snap else None,
        })
    return pd.DataFrame(rows, columns=FOREIGN_POSITION_COLUMNS)


CLOSED_POSITION_COLUMNS = [
    "id", "symbol", "qty", "entry_date", "entry_price", "exit_date", "exit_price",
    "pnl_usd", "pnl_pct", "exit_reason",
]


def closed_positions(session: Session, limit: int = 5000) -> pd.DataFrame:
    stmt = select(Position).where(Position.status == "closed").order_by(Position.exit_at.desc(), Position.id.desc()).limit(limit)
    rows = []
    for p in session.scalars(stmt):
        entry, exit_ = float(p.entry_price), _f(p.exit_price)
        pnl = _f(p.realized_pnl)
        if pnl is None and exit_ is not None:
            pnl = (exit_ - entry) * float(p.qty)
        rows.append(
            {
                "id": p.id,
                "symbol": p.symbol,
                "qty": float(p.qty),
                "entry_date": ny_date(p.entry_at).isoformat(),
                "entry_price": entry,
                "exit_date": ny_date(p.exit_at).isoformat() if p.exit_at else None,
                "exit_price": exit_,
                "pnl_usd": pnl,
                "pnl_pct": (exit_ / entry - 1.0) * 100 if exit_ is not None and entry else None,
                "exit_reason": p.exit_reason,
            }
        )
    return pd.DataFrame(rows, columns=CLOSED_POSITION_COLUMNS)


@dataclass(frozen=True)
class RiskView:
    """The paper page's risk panel: the kill switch, pause and halt exactly as the order path reads
    them (`trading.controls.switches`), plus today's counters against the caps."""

    switches: TradingSwitches
    halted_at: datetime | None
    today: date
    trades_today: int
    trade_cap: int
    alloc_today: float
    alloc_cap: float


def risk_view(session: Session, settings: Settings, now: datetime) -> RiskView:
    state = session.get(TradingState, 1)
    today = ny_date(now)
    day = session.get(RiskDay, today)
    return RiskView(
        switches=switches(session, bool(settings.enable_trading)),
        halted_at=state.halted_at if state else None,
        today=today,
        trades_today=int(day.trade_count) if day else 0,
        trade_cap=int(settings.daily_trade_cap),
        alloc_today=float(day.alloc_usd) if day else 0.0,
        alloc_cap=float(settings.daily_alloc_cap_usd),
    )


FEED_COLUMNS = [
    "mention_id", "published", "symbol", "action", "conviction", "horizon", "quote",
    "decision", "status", "effective_conviction", "size_usd", "reason", "decided",
]


def decision_feed(session: Session, limit: int = 100, channel_id: int | None = None) -> pd.DataFrame:
    """The latest mentions (by publish time; of one channel when `channel_id` is given) and what
    the live path decided, if anything yet."""
    stmt = (
        select(MentionRecord, DecisionRecord)
        .outerjoin(DecisionRecord, DecisionRecord.mention_id == MentionRecord.id)
        .order_by(MentionRecord.published_at.desc(), MentionRecord.id.desc())
        .limit(limit)
    )
    if channel_id is not None:
        stmt = stmt.where(MentionRecord.channel_id == channel_id)
    rows = []
    for m, d in session.execute(stmt):
        rows.append(
            {
                "mention_id": m.id,
                "published": m.published_at.strftime("%Y-%m-%d %H:%M"),
                "symbol": m.symbol,
                "action": m.action,
                "conviction": _f(m.conviction),
                "horizon": m.time_horizon,
                "quote": m.quote or "",
                "decision": d.kind if d else "",
                "status": d.status if d else "not decided yet",
                "effective_conviction": _f(d.effective_conviction) if d else None,
                "size_usd": _f(d.size_usd) if d else None,
                "reason": d.reason if d else "no live decision recorded for this mention",
                "decided": d.decided_at.strftime("%Y-%m-%d %H:%M") if d else "",
            }
        )
    return pd.DataFrame(rows, columns=FEED_COLUMNS)
