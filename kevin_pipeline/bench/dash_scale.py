"""The dashboard bench database: a channel that talks about stocks daily, five years of it.

25,000 calls over 1,260 NYSE sessions on 500 symbols (+ SPY) from `research.synthetic`, spread over
3 channels (videos of 4 calls each, dealt round-robin), 20 stored backtest runs (8 single runs, a
12-run sweep) and a paper account (decisions, orders, open and closed lots, snapshots). Built once
into `STATE_DIR/bench/dash-v{VERSION}.db` and reused while the file exists: bump `VERSION` when the
contents change. Built into a temporary file and renamed, so an interrupted build is never reused.

Each backtest runs on every `RUN_STRIDE`-th call (6,250 of the 25,000), not all of them: a run on
every call takes seconds and stores every decision, and the page's cost is the same either way
(it reads one run's curve and trades, and the curves still span all five years).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from kevin_pipeline.db.models import AccountSnapshot, DecisionRecord, MentionRecord, OrderRecord, Position
from kevin_pipeline.db.store import store_mentions
from kevin_pipeline.domain.calendar import nyse_calendar
from kevin_pipeline.domain.mention_rows import MentionRow
from kevin_pipeline.domain.models import Mention
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.market_data.cache import store_bars
from kevin_pipeline.research.backtest import execute, load_inputs, save_run
from kevin_pipeline.research.synthetic import Universe, synthetic_universe
from kevin_pipeline.runtime import Runtime, open_runtime
from kevin_pipeline.settings import Settings

VERSION = 1
SYMBOLS, SESSIONS, MENTIONS = 500, 1260, 25_000
CHANNELS = ("Daily Ticker Talk", "Market Mornings", "Small Cap Scout")
SINGLE_RUNS = 8
SWEEP_ID = "bench-sweep"
SWEEP_GRID = [(conv, hold) for conv in ("0.6", "0.7", "0.8") for hold in (5, 10, 15, 20)]  # 12 runs
RUN_STRIDE = 4
DECIDED_MENTIONS = 5_000  # the newest calls get a live decision
SNAPSHOTS_PER_SESSION = 4
CLOSED_LOTS, OPEN_LOTS = 400, 25


def database_path(state_dir: Path) -> Path:
    return state_dir / "bench" / f"dash-v{VERSION}.db"


def ensure_dash_db(state_dir: Path, out: Callable[[str], None] = print) -> Path:
    """The bench database's path, built first when it is not there yet."""
    path = database_path(state_dir)
    if path.exists():
        out(f"  bench database {path} (reused; delete it to rebuild)")
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".building")
    partial.unlink(missing_ok=True)
    started = time.perf_counter()
    build(partial, out)
    partial.rename(path)
    out(f"  bench database built in {time.perf_counter() - started:.0f} s: {path}")
    return path


def open_bench_runtime(path: Path) -> Runtime:
    return open_runtime(Settings(state_dir=path.parent, database_url=f"sqlite:///{path}"))


def build(path: Path, out: Callable[[str], None] = print) -> None:
    universe = synthetic_universe(SYMBOLS, SESSIONS, MENTIONS)
    runtime = open_bench_runtime(path)
    try:
        with runtime.transaction() as s:
            store_bars(s, universe.bars, "bench")
            store_mentions(s, mention_rows(universe.mentions), "bench.jsonl")
        out(f"    {len(universe.bars):,} bars, {len(universe.mentions):,} mentions stored")
        store_runs(runtime, out)
        with runtime.transaction() as s:
            paper_account(s, universe)
        out("    paper account stored")
        with runtime.engine.connect() as conn:  # fold the WAL into the file, so the rename is complete
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        runtime.close()


def mention_rows(mentions: list[Mention]) -> list[MentionRow]:
    """The synthetic calls as import rows; video k belongs to channel k mod 3 and is published when
    its first call is (a video has one publish time)."""
    video_time: dict[str, datetime] = {}
    return [
        MentionRow(
            line=i + 1, video_id=m.video_id, published_at=video_time.setdefault(m.video_id, m.published_at), symbol=m.symbol, action=m.action,
            conviction=m.conviction, horizon=m.horizon, quote=f"I'm a {m.action.value} on {m.symbol} here",
            video_title=f"Stocks today {m.video_id}", channel=CHANNELS[int(m.video_id[3:]) % len(CHANNELS)],
        )
        for i, m in enumerate(mentions)
    ]


def run_params() -> list[tuple[StrategyParams, str | None]]:
    """The 20 stored runs: single runs varying the stop, then the sweep (sweep id set)."""
    base = StrategyParams()
    singles = [(base.model_copy(update={"stop_loss_pct": Decimal(f"0.{5 + i:02d}")}), None) for i in range(SINGLE_RUNS)]
    sweep = [
        (base.model_copy(update={"min_conviction": Decimal(conv), "hold_sessions_weeks": hold}), SWEEP_ID)
        for conv, hold in SWEEP_GRID
    ]
    return sweep + singles  # singles last: the newest run is a single run, as after a real sweep


def store_runs(runtime: Runtime, out: Callable[[str], None]) -> None:
    with runtime.sessions() as s:
        inputs = load_inputs(s, StrategyParams())
    inputs = replace(inputs, mentions=inputs.mentions[::RUN_STRIDE])
    for i, (params, sweep_id) in enumerate(run_params(), 1):
        outcome = execute(inputs, StrategyParams.model_validate(params.model_dump()))
        with runtime.transaction() as s:
            save_run(s, outcome, trigger="cli", sweep_id=sweep_id)
        out(f"    run {i}/{len(run_params())}: {len(outcome.result.trades)} trades")


def paper_account(s: Session, universe: Universe) -> None:
    """Live rows as the order path leaves them: a decision per recent call, an entry order per
    lot, closed and open lots, and account snapshots a few times a session for five years."""
    cal = nyse_calendar()
    last_close = {sym: float(g["close"].iloc[-1]) for sym, g in universe.bars.groupby("symbol")}
    records = list(s.scalars(select(MentionRecord).order_by(MentionRecord.id.desc()).limit(DECIDED_MENTIONS)))
    statuses = ("emitted", "dry_run", "skipped_filter", "skipped_caps")
    for i, m in enumerate(records):
        status = statuses[i % len(statuses)] if m.action == "buy" else "skipped_filter"
        kind = "open_long" if status in ("emitted", "dry_run") else "no_op"
        s.add(DecisionRecord(
            mention_id=m.id, symbol=m.symbol, action=m.action, kind=kind, status=status,
            effective_conviction=m.conviction, size_usd=Decimal("1000") if kind == "open_long" else Decimal("0"),
            reason=f"bench decision ({status})", decided_at=m.published_at + timedelta(seconds=20),
        ))
    buys = [m for m in records if m.action == "buy"][: CLOSED_LOTS + OPEN_LOTS]
    for i, m in enumerate(buys):
        entry = Decimal(f"{last_close[m.symbol] * (0.9 + (i % 7) * 0.03):.2f}")
        qty = Decimal(max(1, int(1000 / float(entry))))
        order = OrderRecord(
            client_order_id=f"kv-bench-{m.id}", broker="simulated", symbol=m.symbol, side="buy", qty=qty,
            order_type="market", time_in_force="day", status="filled", purpose="entry", filled_qty=qty,
            filled_avg_price=entry, filled_at=m.published_at + timedelta(minutes=1), submitted_at=m.published_at,
        )
        s.add(order)
        s.flush()
        closed = i >= OPEN_LOTS
        exit_price = (entry * Decimal("1.04") if i % 3 else entry * Decimal("0.93")).quantize(Decimal("0.01"))
        s.add(Position(
            entry_order_id=order.id, symbol=m.symbol, qty=qty, entry_at=m.published_at + timedelta(minutes=1),
            entry_price=entry, cost_basis=(entry * qty).quantize(Decimal("0.01")),
            planned_exit_session=cal.sessions_later(cal.next_session_on_or_after(m.published_at.date()), 10),
            stop_price=(entry * Decimal("0.92")).quantize(Decimal("0.0001")),
            take_profit_price=(entry * Decimal("1.20")).quantize(Decimal("0.0001")),
            source_mention_id=m.id, status="closed" if closed else "open",
            exit_at=m.published_at + timedelta(days=14) if closed else None,
            exit_price=exit_price if closed else None, exit_reason=("time" if i % 3 else "stop") if closed else None,
            realized_pnl=((exit_price - entry) * qty).quantize(Decimal("0.01")) if closed else None,
        ))
    equity = 100_000.0
    for k, day in enumerate(universe.sessions):
        close = cal.session_close(day)
        for j in range(SNAPSHOTS_PER_SESSION):
            equity *= 1.0 + 0.0004 * (((k * 7 + j * 3) % 11) - 4.6)
            s.add(AccountSnapshot(
                taken_at=close - timedelta(hours=1.5 * (SNAPSHOTS_PER_SESSION - 1 - j)), equity=Decimal(f"{equity:.2f}"),
                cash=Decimal(f"{equity * 0.4:.2f}"), positions_value=Decimal(f"{equity * 0.6:.2f}"), day_pnl=None,
                source="simulated", positions=[],
            ))
    s.flush()
