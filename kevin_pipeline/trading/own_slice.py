"""kevin's own slice of the broker account (DESIGN.md: "kevin's account is its own slice").

The paper account may hold shares kevin did not buy: the user's own trades, or shares bought by
hand in the broker's UI. kevin's lots are only those opened by its own entry orders (client order
ids `kv-...`, i.e. `positions` rows with an `entry_order_id`); whatever the broker holds beyond
them is a *foreign* position. Foreign shares are reported (CLI, dashboard, reconciliation log) and
never sized, capped, exited or closed.

Equity for sizing and risk (headroom, sizing %, loss circuit, drawdown halt) is kevin's slice:

- no `KEVIN_ALLOCATION_USD` (the default): the whole account minus the market value of foreign
  positions; cash is the account's cash;
- with an allocation A: equity = A + kevin's realized P&L + kevin's unrealized P&L, capped by what
  the account minus foreign positions really has; cash = A + realized P&L - cost of kevin's open
  lots, capped by the account's cash. A is then also the starting equity of the drawdown halt.

The drawdown halt's starting equity without an allocation is `KEVIN_STARTING_EQUITY_USD` minus the
foreign positions' value (the part of the paper account's start that is kevin's), so a user's own
holding never halts kevin by itself.

With no foreign position and no allocation the slice IS the broker account, to the cent, so the
live path and the backtest keep deciding alike (tests/research/test_replay_parity.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kevin_pipeline.brokers.base import BrokerAccount, BrokerPosition
from kevin_pipeline.db.models import ManualCloseRequest, Position, ReconciliationEvent

log = logging.getLogger(__name__)

ZERO = Decimal("0")
# kevin's lots: opened by one of its own entry orders. Rows without an entry order were written
# by reconciliation before kevin told foreign positions apart; `release_foreign_lots` removes them.
KEVIN_LOT = (Position.status == "open", Position.entry_order_id.is_not(None))


@dataclass(frozen=True)
class KevinAccount(BrokerAccount):
    """A `BrokerAccount` narrowed to kevin's slice, with what the risk checks measure against."""

    starting_equity: Decimal | None = None  # for the drawdown halt (now)
    last_starting_equity: Decimal | None = None  # the same at the last close
    foreign: tuple["ForeignPosition", ...] = ()


@dataclass(frozen=True)
class ForeignPosition:
    """Shares the broker holds beyond kevin's lots: the user's, never traded by kevin."""

    symbol: str
    qty: Decimal  # the foreign part only
    broker_qty: int  # the whole broker position
    kevin_qty: Decimal
    price: Decimal | None  # the broker's current price
    lastday_price: Decimal | None
    avg_entry_price: Decimal  # the broker's average over the whole position

    @property
    def mark(self) -> Decimal:
        return self.price if self.price is not None else self.avg_entry_price

    @property
    def market_value(self) -> Decimal:
        return self.qty * self.mark

    @property
    def lastday_value(self) -> Decimal:
        return self.qty * (self.lastday_price if self.lastday_price is not None else self.mark)


def kevin_open_qty(session: Session, symbol: str | None = None) -> dict[str, Decimal]:
    """Shares in kevin's open lots, per symbol."""
    stmt = select(Position.symbol, func.sum(Position.qty)).where(*KEVIN_LOT).group_by(Position.symbol)
    if symbol is not None:
        stmt = stmt.where(Position.symbol == symbol)
    return {sym: Decimal(qty) for sym, qty in session.execute(stmt) if qty}


def split_foreign(positions: list[BrokerPosition], kevin_qty: dict[str, Decimal]) -> list[ForeignPosition]:
    """The broker's positions beyond kevin's lots (pure: no I/O)."""
    out = []
    for p in sorted(positions, key=lambda p: p.symbol):
        ours = kevin_qty.get(p.symbol, ZERO)
        extra = Decimal(p.qty) - ours
        if extra > 0:
            out.append(ForeignPosition(p.symbol, extra, p.qty, ours, p.current_price, p.lastday_price, p.avg_entry_price))
    return out


def foreign_positions(session: Session, positions: list[BrokerPosition]) -> list[ForeignPosition]:
    return split_foreign(positions, kevin_open_qty(session))


def _kevin_pnl(session: Session, prices: dict[str, Decimal], at: datetime | None) -> Decimal:
    """kevin's realized + unrealized P&L from its own lots; `at`: as of that time (a close), with
    `prices` the marks then. Lots without a price are marked at their entry (no unrealized P&L)."""
    pnl = ZERO
    stmt = select(Position).where(Position.entry_order_id.is_not(None))
    if at is not None:
        stmt = stmt.where(Position.entry_at <= at)
    for lot in session.scalars(stmt):
        closed = lot.status == "closed" and (at is None or (lot.exit_at is not None and lot.exit_at <= at))
        if closed:
            pnl += Decimal(lot.realized_pnl or 0)
        else:
            mark = prices.get(lot.symbol, Decimal(lot.entry_price))
            pnl += Decimal(lot.qty) * (mark - Decimal(lot.entry_price))
    return pnl


def _slice_cash(session: Session, allocation: Decimal) -> Decimal:
    realized = ZERO
    open_cost = ZERO
    for lot in session.scalars(select(Position).where(Position.entry_order_id.is_not(None))):
        if lot.status == "closed":
            realized += Decimal(lot.realized_pnl or 0)
        else:
            open_cost += Decimal(lot.qty) * Decimal(lot.entry_price)
    return allocation + realized - open_cost


def kevin_account(
    session: Session,
    account: BrokerAccount,
    positions: list[BrokerPosition],
    *,
    allocation: Decimal | None,
    starting_equity: Decimal,
    last_close_at: datetime | None = None,
) -> KevinAccount:
    """The broker account narrowed to kevin's slice (module docstring), in the broker's own shape
    so every caller of `equity`, `cash` and `last_equity` reads kevin's numbers."""
    foreign = foreign_positions(session, positions)
    f_now = sum((f.market_value for f in foreign), ZERO)
    f_last = sum((f.lastday_value for f in foreign), ZERO)
    equity = account.equity - f_now
    last = account.last_equity - f_last if account.last_equity is not None else None
    cash = account.cash
    start, last_start = starting_equity - f_now, starting_equity - f_last
    if allocation is not None:
        start = last_start = allocation
        now_prices = {p.symbol: p.current_price for p in positions if p.current_price is not None}
        equity = min(allocation + _kevin_pnl(session, now_prices, None), equity)
        cash = min(_slice_cash(session, allocation), cash)
        if last is not None and last_close_at is not None:
            last_prices = {p.symbol: p.lastday_price for p in positions if p.lastday_price is not None}
            last = min(allocation + _kevin_pnl(session, last_prices, last_close_at), last)
    return KevinAccount(equity=equity, cash=cash, last_equity=last, as_of=account.as_of, starting_equity=start,
                        last_starting_equity=last_start, foreign=tuple(foreign))


def release_foreign_lots(session: Session, now: datetime) -> list[str]:
    """Remove open lots that no kevin order opened (written by reconciliation before kevin told
    foreign positions apart). Idempotent: once removed there is nothing left to remove. Each is
    logged as a `foreign_position` event; a pending manual close of one is failed with a reason."""
    notes = []
    for lot in session.scalars(
        select(Position).where(Position.status == "open", Position.entry_order_id.is_(None)).order_by(Position.id)
    ):
        detail = (f"{lot.symbol}: lot #{lot.id} of {lot.qty} shares was recorded by an older reconciliation but no "
                  "kevin order opened it; it is a foreign position now, reported and never traded")
        for req in session.scalars(select(ManualCloseRequest).where(
                ManualCloseRequest.position_id == lot.id, ManualCloseRequest.status == "pending")):
            req.status, req.processed_at = "failed", now
            req.note = "not kevin's position (no kevin order opened it); close it in the broker's own UI"
        session.add(ReconciliationEvent(observed_at=now, kind="foreign_position", symbol=lot.symbol, detail=detail,
                                        repaired=True))
        session.delete(lot)
        notes.append(detail)
        log.warning("%s", detail)
    if notes:
        session.flush()
    return notes


__all__ = [
    "ForeignPosition", "KEVIN_LOT", "KevinAccount", "foreign_positions", "kevin_account", "kevin_open_qty", "release_foreign_lots",
    "split_foreign",
]
