"""Compare the broker's positions with kevin's lots; the broker wins.

Every difference is written to `reconciliation_events` and repaired in kevin's books only —
reconciliation never places an order. Typical causes: a leg filled while kevin was down, a
position opened or closed by hand in the broker's UI, a fill kevin never saw.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from kevin_pipeline.db.models import Position, ReconciliationEvent
from kevin_pipeline.trading.context import TradingContext


def reconcile(ctx: TradingContext, now: datetime) -> list[str]:
    broker_positions = {p.symbol: p for p in ctx.broker.positions(now)}
    notes: list[str] = []
    with ctx.app.transaction() as session:
        lots_by_symbol: dict[str, list[Position]] = defaultdict(list)
        for lot in session.scalars(select(Position).where(Position.status == "open").order_by(Position.id)):
            lots_by_symbol[lot.symbol].append(lot)
        for symbol in sorted(set(lots_by_symbol) | set(broker_positions)):
            ours = sum((lot.qty for lot in lots_by_symbol.get(symbol, [])), Decimal(0))
            theirs = Decimal(broker_positions[symbol].qty) if symbol in broker_positions else Decimal(0)
            if ours == theirs:
                continue
            bp = broker_positions.get(symbol)
            if theirs == 0:
                kind, detail = "missing_position", f"{symbol}: kevin holds {ours} shares, the broker none; lots closed"
                for lot in lots_by_symbol[symbol]:
                    price = bp.current_price if bp and bp.current_price else lot.entry_price
                    lot.status, lot.exit_at, lot.exit_price, lot.exit_reason = "closed", now, price, "reconciled"
                    lot.realized_pnl = ((price - lot.entry_price) * lot.qty).quantize(Decimal("0.01"))
            elif ours < theirs:
                kind = "unknown_position" if ours == 0 else "qty_mismatch"
                extra = theirs - ours
                assert bp is not None
                session.add(Position(
                    symbol=symbol, qty=extra, entry_at=now, entry_price=bp.avg_entry_price,
                    cost_basis=(bp.avg_entry_price * extra).quantize(Decimal("0.01")), status="open",
                ))
                detail = f"{symbol}: the broker holds {theirs} shares, kevin {ours}; recorded a lot of {extra}"
            else:
                kind = "qty_mismatch"
                surplus = ours - theirs
                detail = f"{symbol}: kevin holds {ours} shares, the broker {theirs}; reduced kevin's lots by {surplus}"
                for lot in reversed(lots_by_symbol[symbol]):
                    if surplus <= 0:
                        break
                    take = min(lot.qty, surplus)
                    lot.qty -= take
                    lot.cost_basis = (lot.entry_price * lot.qty).quantize(Decimal("0.01"))
                    surplus -= take
                    if lot.qty == 0:
                        lot.status, lot.exit_at, lot.exit_reason, lot.exit_price = "closed", now, "reconciled", lot.entry_price
                        lot.realized_pnl = Decimal("0")
            session.add(ReconciliationEvent(observed_at=now, kind=kind, symbol=symbol, detail=detail, repaired=True))
            notes.append(detail)
    return notes
