"""Several real processes deciding the same batch at once: every cap holds, nobody crashes.

Each worker is a separate OS process with its own engine (as a CLI `decide` racing a sensor run
is), released together by a barrier onto one SQLite file or one PostgreSQL database. The
simulated broker lives in the same database and has never been used, so its account row is
created under the race too.
"""

from __future__ import annotations

import multiprocessing as mp
import traceback
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
from sqlalchemy import func, select

from kevin_pipeline.runtime import open_runtime
from kevin_pipeline.db.models import DecisionRecord, MentionRecord, RiskDay, SimAccount, SimOrder
from kevin_pipeline.db.store import store_mentions
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.settings import Settings
from kevin_pipeline.trading.controls import set_trading_enabled
from tests.helpers.calls import mention_row
from tests.helpers.market import CAL, NY, bars, et, prices

WORKERS = 6
DAYS = [5, 6, 7]  # three rounds, 5-7 March 2024: each a fresh race for that day's caps
PER_DAY = 16
SYMBOLS = [f"{chr(ord('A') + d)}{i:02d}" for d in range(len(DAYS)) for i in range(PER_DAY)]
PARAMS = StrategyParams(slippage_bps=Decimal("0"))  # conviction 0.8 -> $3,000 a buy: 5 fill the $15,000 cap


def _frames() -> pd.DataFrame:
    return prices(*[bars(s) for s in SYMBOLS])


def _worker(url: str, state_dir: str, mention_ids, barrier, results) -> None:  # type: ignore[no-untyped-def]
    """One decider process: the live path as `kevin decide` (mention_ids None) or a sensor run
    (a list of new mention ids) builds it."""
    try:
        from kevin_pipeline.brokers.simulated import SimulatedBroker
        from kevin_pipeline.domain.prices import PriceBook
        from kevin_pipeline.trading.context import TradingContext
        from kevin_pipeline.trading.order_path import process_new_mentions
        runtime = open_runtime(Settings(state_dir=Path(state_dir), database_url=url, enable_trading=True,
                                **PARAMS.model_dump()), upgrade=False)
        try:
            broker = SimulatedBroker(runtime.sessions, PriceBook.from_frame(_frames()), PARAMS, CAL)
            ctx = TradingContext(runtime=runtime, broker=broker, params=PARAMS, calendar=CAL)
            decided = 0
            for day in DAYS:
                barrier.wait(timeout=120)
                decided += len(process_new_mentions(ctx, et(2024, 3, day, 18, 30), mention_ids).decided)
            results.put(("ok", decided, 0))
        finally:
            runtime.close()
    except BaseException:  # noqa: BLE001 - the parent asserts on it
        results.put(("crash", traceback.format_exc(), 0))


def test_concurrent_deciders_keep_every_cap_and_decide_each_mention_once(db_url, tmp_path):
    runtime = open_runtime(Settings(state_dir=tmp_path / "parent", database_url=db_url, enable_trading=True, **PARAMS.model_dump()))
    try:
        with runtime.transaction() as s:
            set_trading_enabled(s, True)
            rows = [mention_row(et(2024, 3, DAYS[i // PER_DAY], 17, i % PER_DAY), sym, line=i + 1)
                    for i, sym in enumerate(SYMBOLS)]
            store_mentions(s, rows, source="test")
        with runtime.sessions() as s:
            ids = list(s.scalars(select(MentionRecord.id).order_by(MentionRecord.published_at)))
    finally:
        runtime.close()
    # One `kevin decide` over everything, and sensor-style runs over interleaved slices of the batch,
    # so the processes decide different mentions at the same moment.
    batches = [None] + [ids[k::WORKERS - 1] for k in range(WORKERS - 1)]

    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(db_url, str(tmp_path / f"w{i}"), batch, barrier, results))
             for i, batch in enumerate(batches)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    crashes = [o[1] for o in outcomes if o[0] != "ok"]
    assert crashes == [], crashes[0] if crashes else ""
    assert [p.exitcode for p in procs] == [0] * WORKERS
    assert sum(o[1] for o in outcomes) == len(SYMBOLS)  # each mention decided by exactly one worker

    runtime = open_runtime(Settings(state_dir=tmp_path / "check", database_url=db_url, **PARAMS.model_dump()), upgrade=False)
    try:
        with runtime.sessions() as s:
            decisions = list(s.scalars(select(DecisionRecord)))
            assert sorted(d.mention_id for d in decisions) == sorted(s.scalars(select(MentionRecord.id)))
            emitted = [d for d in decisions if d.status == "emitted"]
            assert {d.status for d in decisions} == {"emitted", "skipped_caps"}
            for day in DAYS:
                today = [d for d in emitted if d.decided_at.astimezone(NY).day == day]
                assert len(today) == PARAMS.daily_trade_cap, day  # 5 x $3,000 = the $15,000 cap exactly
                assert sum(d.size_usd for d in today) <= PARAMS.daily_alloc_cap_usd
                risk_day = s.get(RiskDay, date(2024, 3, day))
                assert (risk_day.trade_count, risk_day.alloc_usd) == (5, Decimal("15000.00"))
            buys = list(s.scalars(select(SimOrder).where(SimOrder.side == "buy")))
            assert sorted(o.client_order_id for o in buys) == sorted(f"kv-{d.mention_id}-b" for d in emitted)
            assert s.scalar(select(func.count()).select_from(SimAccount)) == 1
    finally:
        runtime.close()
