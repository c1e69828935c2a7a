"""Compare the broker's positions with kevin's lots; the broker wins.

Every difference is written to `reconciliation_events` and repaired in kevin's books only —
reconciliation never places an order. Typical causes: a leg filled while kevin was down, a
position closed by hand in the broker's UI.

Shares the broker holds beyond kevin's lots are not kevin's (they were not opened by its client
order ids): they become no lot, only a `foreign_position` event each time their quantity changes
(see trading.own_slice). Reconciliation only ever shrinks or closes kevin's own lots.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from kevin_pipeline.db.models import Position, ReconciliationEvent
from kevin_pipeline.trading import own_slice
from kevin_pipeline.trading.context import TradingContext

FOREIGN_POSITION = "foreign_position"


def reconcile(ctx: TradingContext, now: datetime) -> list[str]:
    broker_positions = {p.symbol: p for p in ctx.broker.positions(now)}
    notes: list[str] = []
    with ctx.runtime.transaction() as session:
        notes.extend(own_slice.release_foreign_lots(session, now))
        lots_by_symbol: dict[str, list[Position]] = defaultdict(list)
        for lot in session.scalars(select(Position).where(*own_slice.KEVIN_LOT).order_by(Position.id)):
            lots_by_symbol[lot.symbol].append(lot)
        last_foreign = _last_foreign_details(session)
        for symbol in sorted(set(lots_by_symbol) | set(broker_positions) | set(last_foreign)):
            ours = sum((lot.qty for lot in lots_by_symbol.get(symbol, [])), Decimal(0))
            theirs = Decimal(broker_positions[symbol].qty) if symbol in broker_positions else Decimal(0)
            foreign_note = _foreign_event(session, symbol, max(theirs - ours, Decimal(0)), last_foreign.get(symbol), now)
            if foreign_note:
                notes.append(foreign_note)
            if ours <= theirs:
                continue  # kevin's lots are all there; anything beyond them is not kevin's
            bp = broker_positions.get(symbol)
            if theirs == 0:
                kind, detail = "missing_position", f"{symbol}: kevin holds {ours} shares, the broker none; lots closed"
                for lot in lots_by_symbol[symbol]:
                    price = bp.current_price if bp and bp.current_price else lot.entry_price
                    lot.status, lot.exit_at, lot.exit_price, lot.exit_reason = "closed", now, price, "reconciled"
                    lot.realized_pnl = ((price - lot.entry_price) * lot.qty).quantize(Decimal("0.01"))
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


def foreign_detail(symbol: str, foreign: Decimal) -> str:
    """The event text for a foreign quantity; also the key that logs each change only once."""
    if foreign <= 0:
        return f"{symbol}: no shares outside kevin's lots any more"
    return f"{symbol}: {foreign} shares in the broker account are not kevin's (no kevin order opened them); reported, never traded"


def _last_foreign_details(session: Session) -> dict[str, str]:
    """The latest `foreign_position` event per symbol (the foreign quantity last reported)."""
    latest: dict[str, str] = {}
    for symbol, detail in session.execute(
        select(ReconciliationEvent.symbol, ReconciliationEvent.detail)
        .where(ReconciliationEvent.kind == FOREIGN_POSITION)
        .order_by(ReconciliationEvent.observed_at, ReconciliationEvent.id)
    ):
        if symbol and not detail.startswith(f"{symbol}: lot #"):  # lot releases are not quantity reports
            latest[symbol] = detail
    return latest


def _foreign_event(session: Session, symbol: str, foreign: Decimal, last: str | None, now: datetime) -> str | None:
    """Log the symbol's foreign quantity when it differs from the last one reported (once per
    change, not every scan). Nothing is repaired: foreign shares are the user's business."""
    if foreign <= 0 and last is None:
        return None
    detail = foreign_detail(symbol, foreign)
    if detail == last:
        return None
    session.add(ReconciliationEvent(observed_at=now, kind=FOREIGN_POSITION, symbol=symbol, detail=detail, repaired=False))
    return detail
