"""The kill switch on the live path over history: off for a stretch, exits-only for another, on again.

The replay drives the real order path, the simulated broker and the exit scan on a simulated
clock (runs/replay.py); a hook flips the runtime switch as a person would. What must hold:
nothing reaches the broker while off; the sells/avoids called and the time exits that came due
while off go out at the first scan after (catch-up, filled at that session's open); no buy decided
while off or exits-only is ever sent; exits-only sends exits at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from kevin_pipeline.research.synthetic import synthetic_universe
from kevin_pipeline.db.models import DecisionRecord, OrderRecord, Position, SimOrder
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.research.replay import replay
from kevin_pipeline.trading.context import TradingContext
from kevin_pipeline.trading.controls import set_trading_mode
from tests.helpers.market import CAL

# Wide bracket legs and short holds: positions end by a call or their time exit, so both are seen.
PARAMS = StrategyParams(
    stop_loss_pct=Decimal("0.5"), take_profit_pct=Decimal("5"), slippage_bps=Decimal("5"), hold_sessions_weeks=5,
    hold_sessions_months=8, hold_sessions_long_term=12, hold_sessions_unspecified=5,
)


@dataclass
class Books:
    decisions: list[dict[str, Any]] = field(default_factory=list)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    sim: dict[str, dict[str, Any]] = field(default_factory=dict)
    lots: list[dict[str, Any]] = field(default_factory=list)


def _read(ctx: TradingContext, books: Books) -> None:
    with ctx.runtime.sessions() as s:
        for d in s.scalars(select(DecisionRecord).order_by(DecisionRecord.id)):
            books.decisions.append({"mention": d.mention_id, "kind": d.kind, "status": d.status, "at": d.decided_at,
                                    "reason": d.reason, "symbol": d.symbol})
        for o in s.scalars(select(OrderRecord)):
            books.orders[o.client_order_id] = {"status": o.status, "purpose": o.purpose, "error": o.error}
        for o in s.scalars(select(SimOrder).where(SimOrder.parent_client_order_id.is_(None))):
            books.sim[o.client_order_id] = {"side": o.side, "submitted": o.submitted_at, "filled": o.filled_at,
                                            "status": o.status}
        for p in s.scalars(select(Position)):
            books.lots.append({"symbol": p.symbol, "planned": p.planned_exit_session, "exit_at": p.exit_at,
                               "reason": p.exit_reason, "entry_at": p.entry_at})


def test_switch_exits_only_then_off_then_on_over_a_replay(tmp_path):
    u = synthetic_universe(8, 130, 260, seed=21)
    # exits-only 6-23 Sep 2024, on again, off 7-24 Oct, then on to the end (picked where the
    # generated calls hold positions that get sell/avoid calls and reach their time exits)
    eo_days = CAL.sessions_between(date(2024, 9, 6), date(2024, 9, 23))
    off_days = CAL.sessions_between(date(2024, 10, 7), date(2024, 10, 24))
    eo_from, eo_to = CAL.session_open(eo_days[0]), CAL.session_open(CAL.next_session_on_or_after(date(2024, 9, 24)))
    off_from, back_on = CAL.session_open(off_days[0]), CAL.session_open(CAL.next_session_on_or_after(date(2024, 10, 25)))

    def mode_at(t: datetime) -> str:
        return "exits-only" if eo_from <= t < eo_to else "off" if off_from <= t < back_on else "on"

    current = {"mode": "on"}

    def hook(ctx: TradingContext, step: str, now: datetime) -> None:
        mode = mode_at(now)
        if mode != current["mode"]:
            with ctx.runtime.transaction() as session:
                set_trading_mode(session, mode)
            current["mode"] = mode

    books = Books()
    replay(u.mentions, u.bars, PARAMS, workdir=tmp_path, hook=hook, inspect=lambda ctx: _read(ctx, books))

    def quiet(t: datetime) -> bool:
        return eo_from <= t < eo_to or off_from <= t < back_on

    # 1. off: nothing reaches the broker
    assert [cid for cid, o in books.sim.items() if off_from <= o["submitted"] < back_on] == []

    # 2. no buy decided while exits-only or off is ever sent (then or later); they are dry runs
    buys = [d for d in books.decisions if quiet(d["at"]) and d["kind"] == "open_long"]
    assert buys and all(d["status"] != "emitted" for d in buys)
    assert "dry_run" in {d["status"] for d in buys}
    assert [d for d in buys if f"kv-{d['mention']}-b" in books.sim] == []
    sent_buys = {cid for cid, o in books.sim.items() if o["side"] == "buy"}
    assert all(not quiet(o["submitted"]) for cid, o in books.sim.items() if cid in sent_buys)

    # 3. sells/avoids called while off wait, then go out at the first scan after (the 25 Oct open)
    held = [d for d in books.decisions if off_from <= d["at"] < back_on and d["kind"] == "close_long"]
    assert held, "the off stretch should contain a sell or avoid call on a held position"
    for d in held:
        cid = f"kv-{d['mention']}-c"
        assert "held: trading is off" in d["reason"]
        assert books.orders[cid]["status"] != "pending_submit", cid
        if cid in books.sim:  # (nothing is sent when a leg already closed the position)
            assert books.sim[cid]["submitted"] == back_on, cid
    assert any(f"kv-{d['mention']}-c" in books.sim for d in held)

    # 4. time exits that came due while off go out at the first scan after, filled at that open
    caught = [lot for lot in books.lots if lot["reason"] == "time" and lot["planned"] in set(off_days)]
    assert caught, "some planned exit should fall in the off stretch"
    assert all(lot["exit_at"] == back_on for lot in caught)
    assert [lot for lot in books.lots if lot["exit_at"] is not None and off_from <= lot["exit_at"] < back_on
            and lot["reason"] not in ("stop", "take_profit")] == []

    # 5. exits-only: sells/avoids go out when called, time exits on their day
    eo_exits = [d for d in books.decisions if eo_from <= d["at"] < eo_to and d["kind"] == "close_long"]
    assert eo_exits, "the exits-only stretch should contain a sell or avoid call on a held position"
    for d in eo_exits:
        cid = f"kv-{d['mention']}-c"
        assert d["status"] == "emitted" and books.orders[cid]["status"] != "pending_submit"
        if cid in books.sim:
            assert books.sim[cid]["submitted"] == d["at"]
    eo_time = [lot for lot in books.lots if lot["reason"] == "time" and lot["planned"] in set(eo_days)]
    assert eo_time and all(lot["exit_at"] == CAL.session_open(lot["planned"]) for lot in eo_time)

    # 6. on again: buys go out as usual
    assert any(d["status"] == "emitted" and d["kind"] == "open_long" for d in books.decisions if d["at"] >= back_on)

