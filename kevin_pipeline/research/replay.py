"""Parity replay: drive the LIVE path over history with a simulated clock, then compare its trades
with the backtest's on the same mentions, bars and settings.

Each mention is handed to the order path at its publish time (as the sensor would, seconds
after it), the exit scan runs at every session's open, and the simulated broker sees each bar
only once the clock has passed it. Any difference between the two trade lists is a bug in one of
the paths.

Timing note: production schedules the exit scan at 09:35 ET; the replay runs it at the open
instant, which is when the backtest exits. A call published in those five minutes could see a
position that the backtest has already closed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select

from kevin_pipeline.runtime import Runtime, open_runtime
from kevin_pipeline.brokers.simulated import SimulatedBroker
from kevin_pipeline.brokers.base import FINAL_STATUSES, Broker
from kevin_pipeline.db.models import ManualCloseRequest, MentionRecord, OrderRecord, Position
from kevin_pipeline.db.store import store_mentions
from kevin_pipeline.domain.backtest import BacktestTrade, run_backtest
from kevin_pipeline.domain.calendar import NyseCalendar, ny_date, nyse_calendar
from kevin_pipeline.domain.mention_rows import MentionRow
from kevin_pipeline.domain.models import Mention
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.domain.prices import PriceBook
from kevin_pipeline.settings import Settings
from kevin_pipeline.trading import exit_scan, order_path
from kevin_pipeline.trading.context import TradingContext
from kevin_pipeline.trading.controls import set_trading_enabled

PRICE_TOLERANCE = Decimal("0.01")


@dataclass(frozen=True)
class TradeKey:
    symbol: str
    mention: str
    entry_session: date
    exit_session: date | None
    qty: int
    exit_reason: str


@dataclass
class ReplayTrade:
    key: TradeKey
    entry_price: Decimal
    exit_price: Decimal | None


@dataclass
class ReplayResult:
    backtest_trades: list[ReplayTrade]
    live_trades: list[ReplayTrade]
    differences: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "differences": self.differences,
            "backtest_trades": len(self.backtest_trades),
            "live_trades": len(self.live_trades),
        }


Hook = Callable[[TradingContext, str, datetime], None]


def replay(
    mentions: Sequence[Mention],
    bars: pd.DataFrame | PriceBook,
    params: StrategyParams,
    *,
    workdir: Path | None = None,
    database_url: str | None = None,
    calendar: NyseCalendar | None = None,
    hook: Hook | None = None,
    wrap_broker: Callable[[Broker], Broker] | None = None,
    restart_on: tuple[type[BaseException], ...] = (),
    max_restarts: int = 50,
    inspect: Callable[[TradingContext], None] | None = None,
) -> ReplayResult:
    """`hook(ctx, step, now)` runs before each step; `wrap_broker` decorates the simulated venue;
    a step that raises one of `restart_on` is run again, as a restarted process would (fault
    injection in tests); `inspect(ctx)` sees the live books before the database is dropped."""
    cal = calendar or nyse_calendar()
    mentions = unique_mentions(mentions)
    book = bars if isinstance(bars, PriceBook) else PriceBook.from_frame(bars)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        settings = Settings(state_dir=Path(tmp), database_url=database_url, enable_trading=True,
                            **params.model_dump())
        runtime = open_runtime(settings)
        try:
            labels = _import(runtime, mentions)
            broker: Broker = SimulatedBroker(runtime.sessions, book, params, cal)
            ctx = TradingContext(runtime=runtime, broker=wrap_broker(broker) if wrap_broker else broker, params=params, calendar=cal)
            with runtime.transaction() as session:
                set_trading_enabled(session, True)
            _drive(ctx, book, cal, hook, restart_on, max_restarts)
            live = _live_trades(runtime, labels)
            if inspect is not None:
                inspect(ctx)
        finally:
            runtime.close()
    backtest = _backtest_trades(run_backtest(mentions, book, params, calendar=cal).trades, {m.id: _label(m) for m in mentions})
    return ReplayResult(backtest, live, compare(backtest, live))


def unique_mentions(mentions: Sequence[Mention]) -> list[Mention]:
    """What an import keeps: the first mention per natural key (video, symbol, action, horizon),
    each timed by its video's first-seen publish time."""
    seen: set[tuple[str, str, str, str]] = set()
    video_time: dict[str, datetime] = {}
    out = []
    for m in mentions:
        video = m.video_id or f"v{m.id}"
        key = (video, m.symbol, m.action.value, m.horizon.value)
        if key not in seen:
            seen.add(key)
            t = video_time.setdefault(video, m.published_at)
            out.append(m if t == m.published_at else m.model_copy(update={"published_at": t}))
    return out


def _label(m: Mention) -> str:
    return f"{m.video_id}|{m.symbol}|{m.action.value}|{m.horizon.value}|{m.published_at.isoformat()}"


def _import(runtime: Runtime, mentions: Sequence[Mention]) -> dict[int, str]:
    rows = [
        MentionRow(line=i + 1, video_id=m.video_id or f"v{m.id}", published_at=m.published_at, symbol=m.symbol,
                   action=m.action, conviction=m.conviction, horizon=m.horizon, quote=m.quote)
        for i, m in enumerate(mentions)
    ]
    with runtime.transaction() as session:
        store_mentions(session, rows, source="replay")
    labels: dict[int, str] = {}
    with runtime.sessions() as session:
        for rec in session.scalars(select(MentionRecord)):
            video = rec.video_id
            labels[rec.id] = f"{video}|{rec.symbol}|{rec.action}|{rec.time_horizon}|{rec.published_at.isoformat()}"
    return labels


def _drive(
    ctx: TradingContext, book: PriceBook, cal: NyseCalendar, hook: Hook | None,
    restart_on: tuple[type[BaseException], ...], max_restarts: int,
) -> None:
    with ctx.runtime.sessions() as session:
        calls = list(session.execute(
            select(MentionRecord.id, MentionRecord.published_at).order_by(MentionRecord.published_at, MentionRecord.id)))
    if not calls:
        return
    last_bar = book.last_date(ctx.params.benchmark_symbol) or book.last_date()
    first = cal.next_session_on_or_after(ny_date(calls[0][1]))
    sessions = cal.sessions_between(first, last_bar) if last_bar and first <= last_bar else []
    i = 0

    def step(name: str, now: datetime, fn: Callable[[], object]) -> None:
        for attempt in range(max_restarts + 1):
            try:
                if hook is not None:
                    hook(ctx, name, now)
                fn()
                return
            except restart_on:
                if attempt == max_restarts:
                    raise

    for session in sessions:
        open_at, close_at = cal.session_open(session), cal.session_close(session)
        while i < len(calls) and calls[i][1] < open_at:
            mid, t = calls[i]
            step("mention", t, lambda: order_path.process_new_mentions(ctx, t, [mid]))
            i += 1
        if _anything_live(ctx):  # with nothing held or working, a scan can change nothing
            step("exit_scan", open_at, lambda: exit_scan.run_exit_scan(ctx, open_at))
        while i < len(calls) and calls[i][1] < close_at:
            mid, t = calls[i]
            step("mention", t, lambda: order_path.process_new_mentions(ctx, t, [mid]))
            i += 1
    end = cal.session_close(sessions[-1]) if sessions else datetime.now(timezone.utc)
    while i < len(calls):
        mid, t = calls[i]
        step("mention", t, lambda: order_path.process_new_mentions(ctx, t, [mid]))
        i += 1
        end = max(end, t)
    step("final_sync", end, lambda: order_path.process_new_mentions(ctx, end))


def _anything_live(ctx: TradingContext) -> bool:
    with ctx.runtime.sessions() as session:
        return any(
            session.scalar(stmt.limit(1)) is not None
            for stmt in (
                select(Position.id).where(Position.status == "open"),
                select(OrderRecord.id).where(OrderRecord.status.notin_(tuple(FINAL_STATUSES))),
                select(ManualCloseRequest.id).where(ManualCloseRequest.status == "pending"),
            )
        )


def _live_trades(runtime: Runtime, labels: dict[int, str]) -> list[ReplayTrade]:
    out = []
    with runtime.sessions() as session:
        for lot in session.scalars(select(Position).order_by(Position.id)):
            reason = lot.exit_reason if lot.status == "closed" else "end_of_data"
            out.append(ReplayTrade(
                TradeKey(lot.symbol, labels.get(lot.source_mention_id or -1, "?"), ny_date(lot.entry_at),
                         ny_date(lot.exit_at) if lot.exit_at and lot.status == "closed" else None, int(lot.qty), reason or "?"),
                Decimal(lot.entry_price), Decimal(lot.exit_price) if lot.status == "closed" and lot.exit_price is not None else None,
            ))
    return sorted(out, key=_order)


def _backtest_trades(trades: Sequence[BacktestTrade], labels: dict[int | None, str]) -> list[ReplayTrade]:
    out = [
        ReplayTrade(
            TradeKey(t.symbol, labels.get(t.mention_id, "?"), t.entry_session, t.exit_session, t.qty, t.exit_reason.value),
            t.entry_price, t.exit_price,
        )
        for t in trades
    ]
    return sorted(out, key=_order)


def _order(t: ReplayTrade) -> tuple[Any, ...]:
    k = t.key
    return (k.entry_session, k.symbol, k.mention, k.qty, k.exit_session or date.max, k.exit_reason)


def compare(backtest: list[ReplayTrade], live: list[ReplayTrade]) -> list[str]:
    differences = []
    remaining = {id(t): t for t in live}
    by_key: dict[TradeKey, list[ReplayTrade]] = {}
    for t in live:
        by_key.setdefault(t.key, []).append(t)
    for bt in backtest:
        matches = by_key.get(bt.key) or []
        if not matches:
            differences.append(f"backtest trade missing from the live path: {bt.key}")
            continue
        lt = matches.pop(0)
        remaining.pop(id(lt))
        if abs(bt.entry_price - lt.entry_price) > PRICE_TOLERANCE:
            differences.append(f"entry price differs for {bt.key}: backtest {bt.entry_price}, live {lt.entry_price}")
        if (bt.exit_price is None) != (lt.exit_price is None) or (
            bt.exit_price is not None and lt.exit_price is not None and abs(bt.exit_price - lt.exit_price) > PRICE_TOLERANCE
        ):
            differences.append(f"exit price differs for {bt.key}: backtest {bt.exit_price}, live {lt.exit_price}")
    for lt in remaining.values():
        differences.append(f"live trade not in the backtest: {lt.key}")
    return differences
