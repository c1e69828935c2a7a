"""Faults across a whole replay of the live path: broker timeouts (before and after the venue acted),
rate limits and 5xx, rejections, database errors mid-transaction, and process kills at each step of
the order path. Whatever happens: no duplicate order, no lost mention, books equal the broker's."""

from __future__ import annotations

import os
import random
from collections import Counter
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from kevin_pipeline.research.synthetic import synthetic_universe
from kevin_pipeline.brokers.base import BrokerRejected, BrokerUnavailable
from kevin_pipeline.db.models import DecisionRecord, MentionRecord, OrderRecord, Position, SimOrder
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.research.replay import replay
from kevin_pipeline.trading import order_path, reconcile

FAULT_RATE = float(os.environ.get("KEVIN_FAULT_RATE", "0.12"))


class ProcessKilled(BaseException):
    """The process died (not an Exception: nothing in kevin may catch it)."""


class FaultyBroker:
    """The real simulated venue behind a flaky connection and a crashing client."""

    def __init__(self, inner, rng: random.Random, counts: Counter) -> None:
        self.inner, self.rng, self.counts = inner, rng, counts
        self.name = inner.name

    def _call(self, method: str, *args, **kwargs):
        fn = getattr(self.inner, method)
        writes = method in ("submit_bracket_buy", "close_position")
        if self.rng.random() >= FAULT_RATE:
            return fn(*args, **kwargs)
        kinds = ["kill_before", "kill_after", "timeout_before", "timeout_after", "unavailable_5xx_429"]
        if writes:
            kinds.append("rejected")
        kind = self.rng.choice(kinds)
        self.counts[kind] += 1
        if kind == "kill_before":
            raise ProcessKilled(method)
        if kind == "timeout_before":
            raise BrokerUnavailable(f"{method}: read timed out")
        if kind == "unavailable_5xx_429":
            raise BrokerUnavailable(f"{method}: 503 after 4 attempts (429/5xx)")
        if kind == "rejected":
            raise BrokerRejected("403 insufficient buying power", status_code=403)
        fn(*args, **kwargs)  # the venue acted; the answer never arrives
        if kind == "kill_after":
            raise ProcessKilled(method)
        raise BrokerUnavailable(f"{method}: connection reset after the request was sent")

    def __getattr__(self, method):
        if method in ("account", "positions", "orders", "get_order", "is_tradable", "latest_price",
                      "submit_bracket_buy", "close_position"):
            return lambda *a, **kw: self._call(method, *a, **kw)
        raise AttributeError(method)


def test_two_hundred_faults_lose_nothing_and_duplicate_nothing(tmp_path, monkeypatch):
    rng = random.Random(7)
    counts: Counter = Counter()
    real_record = order_path._record

    def flaky_record(session, ctx, mention, decision, now):
        out = real_record(session, ctx, mention, decision, now)  # rows written, transaction still open
        if rng.random() < FAULT_RATE:
            counts["db_error_mid_transaction"] += 1
            raise OperationalError("INSERT ...", {}, Exception("database is locked"))
        return out

    monkeypatch.setattr(order_path, "_record", flaky_record)
    u = synthetic_universe(12, 200, 220, seed=11)
    params = StrategyParams(stop_loss_pct=Decimal("0.04"), take_profit_pct=Decimal("0.06"))
    checks: dict[str, object] = {}

    def inspect(ctx):
        venue = ctx.broker.inner
        end = max(m.published_at for m in u.mentions)
        order_path.process_new_mentions(ctx, end)  # a last, fault-free run
        with ctx.runtime.sessions() as s:
            checks["mentions"] = s.scalar(select(func.count()).select_from(MentionRecord))
            checks["decisions"] = s.scalar(select(func.count()).select_from(DecisionRecord))
            checks["undecided"] = order_path.undecided_mention_ids(s)
            venue_ids = list(s.scalars(select(SimOrder.client_order_id).where(SimOrder.parent_client_order_id.is_(None))))
            ours = set(s.scalars(select(OrderRecord.client_order_id)))
            checks["venue_orders"] = venue_ids
            checks["orphans"] = [cid for cid in venue_ids if cid not in ours]
            checks["statuses"] = Counter(s.scalars(select(DecisionRecord.status)))
        ctx.broker = venue
        checks["reconcile"] = reconcile.reconcile(ctx, end)
        positions = {p.symbol: p.qty for p in venue.positions(end)}
        with ctx.runtime.sessions() as s:
            held: Counter = Counter()
            for sym, qty in s.execute(select(Position.symbol, Position.qty).where(Position.status == "open")):
                held[sym] += int(qty)
        checks["books_match"] = dict(held) == positions

    replay(u.mentions, u.bars, params, workdir=tmp_path,
           wrap_broker=lambda b: FaultyBroker(b, rng, counts),
           restart_on=(ProcessKilled, BrokerUnavailable, OperationalError), max_restarts=200, inspect=inspect)

    injected = sum(counts.values())
    assert injected >= 200, counts
    assert checks["undecided"] == [] and checks["decisions"] == checks["mentions"] > 150
    venue_orders = checks["venue_orders"]
    assert len(venue_orders) == len(set(venue_orders)) and checks["orphans"] == []
    per_mention = Counter(cid.rsplit("-", 1)[0] for cid in venue_orders if cid.endswith("-b"))
    assert max(per_mention.values()) == 1
    assert checks["books_match"] is True and checks["reconcile"] == []  # nothing to repair: books tracked the venue
    assert checks["statuses"]["emitted"] > 20
    print(f"faults injected: {dict(counts)} (total {injected}); decisions {dict(checks['statuses'])}; repairs {checks['reconcile']}")
