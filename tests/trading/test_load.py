"""Load: a flood of mentions arriving at once is decided exactly once each (KEVIN_LOAD_MENTIONS,
default 1,000 in CI; 10,000 for the issue's full count; `make bench` prints mentions per second)."""

from __future__ import annotations

import os
from datetime import timedelta

from sqlalchemy import func, select

from kevin_pipeline.research.synthetic import synthetic_universe
from kevin_pipeline.db.models import DecisionRecord, MentionRecord, SimOrder
from kevin_pipeline.db.store import store_mentions
from kevin_pipeline.market_data.cache import store_bars
from kevin_pipeline.trading import order_path
from tests.helpers.calls import mention_row

N = int(os.environ.get("KEVIN_LOAD_MENTIONS", "1000"))


def test_a_flood_of_mentions_is_decided_exactly_once(live_factory):
    u = synthetic_universe(40, 60, N, seed=5)
    live = live_factory(u.bars)
    with live.runtime.transaction() as s:
        store_bars(s, u.bars, "test")
    now = max(m.published_at for m in u.mentions) + timedelta(seconds=5)
    rows = [mention_row(now - timedelta(minutes=30), m.symbol, m.action, m.conviction, m.horizon, line=i + 1)
            for i, m in enumerate(u.mentions)]
    with live.runtime.transaction() as s:
        store_mentions(s, rows, "load")
    with live.runtime.sessions() as s:
        ids = list(s.scalars(select(MentionRecord.id).order_by(MentionRecord.id)))
    # the sensor hands the job batches of ids; two overlapping batches must still decide each once
    first = order_path.process_new_mentions(live.ctx, now, ids[: N // 2 + 50])
    second = order_path.process_new_mentions(live.ctx, now, ids[N // 2:])
    again = order_path.process_new_mentions(live.ctx, now)
    assert len(first.decided) + len(second.decided) == N and again.decided == []
    assert second.already_decided == 50
    with live.runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(DecisionRecord)) == N
        assert s.scalar(select(func.count(func.distinct(DecisionRecord.mention_id)))) == N
        buys = s.scalar(select(func.count()).select_from(DecisionRecord).where(
            DecisionRecord.status == "emitted", DecisionRecord.kind == "open_long"))
        venue_buys = s.scalar(select(func.count()).select_from(SimOrder).where(SimOrder.side == "buy"))
        assert venue_buys == buys == live.params.daily_trade_cap  # one New York day: the cap binds
