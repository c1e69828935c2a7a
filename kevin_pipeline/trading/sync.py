"""Bring kevin's books up to date with the broker: fills become lots, exits close them, and the
account's closing equity feeds the loss circuit and the drawdown halt.

The broker is the source of truth; this only records what it reports. It never places an order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from kevin_pipeline.brokers.base import FINAL_STATUSES, BrokerAccount, BrokerOrder
from kevin_pipeline.db.models import DecisionRecord, OrderRecord, Position, RiskDay
from kevin_pipeline.domain import risk
from kevin_pipeline.trading import own_slice
from kevin_pipeline.trading.context import TradingContext
from kevin_pipeline.trading.controls import trading_state_row

log = logging.getLogger(__name__)

PENDING_SUBMIT = "pending_submit"
EXIT_REASON_BY_PURPOSE = {
    "exit_time": "time",
    "exit_sell": "sell",
    "exit_avoid": "avoid",
    "exit_manual": "manual",
    "stop": "stop",
    "take_profit": "take_profit",
}


@dataclass
class SyncReport:
    lots_opened: int = 0
    lots_closed: int = 0
    orders_updated: int = 0
    notes: list[str] = field(default_factory=list)


def sync_with_broker(ctx: TradingContext, now: datetime) -> SyncReport:
    # Broker calls first, outside any runtime transaction (the simulated venue writes to the same
    # SQLite file; holding our write lock while it writes would deadlock).
    with ctx.runtime.sessions() as session:
        active = session.scalar(select(OrderRecord.id).where(
            OrderRecord.status.notin_(tuple(FINAL_STATUSES) + (PENDING_SUBMIT,))).limit(1)) is not None or (
            session.scalar(select(Position.id).where(Position.status == "open").limit(1)) is not None)
    # Nothing working and nothing held: no order can have changed (reconciliation covers strays).
    broker_orders = {o.client_order_id: o for o in ctx.broker.orders(now)} if active else {}
    account = ctx.broker.account(now)
    positions = ctx.broker.positions(now)
    report = SyncReport()
    # Alpaca's close-position sell carries an id Alpaca made up: match those by broker order id.
    for order in list(broker_orders.values()):
        if order.broker_order_id:
            broker_orders.setdefault(f"broker:{order.broker_order_id}", order)
    with ctx.runtime.transaction() as session:
        trading_state_row(session)  # one writer of kevin's books at a time (FOR UPDATE on PostgreSQL)
        _apply_orders(session, broker_orders, report)
        _apply_legs(session, broker_orders, report)
        report.notes.extend(own_slice.release_foreign_lots(session, now))
        observe_account(session, ctx, own_slice.kevin_account(
            session, account, positions, allocation=ctx.allocation_usd, starting_equity=ctx.params.starting_equity_usd,
            last_close_at=last_close_at(ctx, now)), now)
    return report


def _apply_orders(session: Session, broker_orders: dict[str, BrokerOrder], report: SyncReport) -> None:
    live = session.scalars(
        select(OrderRecord)
        .where(OrderRecord.status.notin_(tuple(FINAL_STATUSES) + (PENDING_SUBMIT,)))
        .order_by(OrderRecord.id)
    ).all()
    for rec in live:
        bo = broker_orders.get(rec.client_order_id)
        if bo is None and rec.broker_order_id:
            bo = broker_orders.get(f"broker:{rec.broker_order_id}")
        if bo is None:
            continue
        if bo.status == rec.status and not bo.is_filled:
            continue
        update_order_record(rec, bo)
        report.orders_updated += 1
        if rec.purpose == "entry" and bo.is_filled:
            _open_lot(session, rec, bo)
            report.lots_opened += 1
        elif rec.side == "sell" and bo.is_filled:
            report.lots_closed += close_symbol_lots(session, rec.symbol, rec, bo, EXIT_REASON_BY_PURPOSE.get(rec.purpose, "sell"))
        elif rec.purpose == "entry" and bo.status in ("canceled", "rejected", "expired") and rec.decision is not None:
            note = bo.raw.get("note") or bo.status
            if bo.status == "rejected":
                rec.decision.status = "broker_rejected"
            rec.decision.reason = f"{rec.decision.reason}; {bo.status} at the broker: {note}"


def update_order_record(rec: OrderRecord, bo: BrokerOrder) -> None:
    rec.status = bo.status
    rec.broker_order_id = bo.broker_order_id or rec.broker_order_id
    if bo.qty:
        rec.qty = Decimal(bo.qty)
    if bo.filled_qty:
        rec.filled_qty = Decimal(bo.filled_qty)
    rec.filled_avg_price = bo.filled_avg_price
    rec.filled_at = bo.filled_at
    rec.take_profit_price = bo.take_profit_price or rec.take_profit_price
    rec.stop_price = bo.stop_price or rec.stop_price
    if bo.submitted_at and rec.submitted_at is None:
        rec.submitted_at = bo.submitted_at
    rec.raw = {k: v for k, v in bo.raw.items() if isinstance(v, (str, int, float, bool, type(None)))}


def _open_lot(session: Session, order: OrderRecord, bo: BrokerOrder) -> None:
    if session.scalar(select(Position.id).where(Position.entry_order_id == order.id)) is not None:
        return
    decision = order.decision
    planned = decision.planned_exit_session if decision else None
    # One planned exit per symbol: the latest of the calls that bought or repeated it.
    held = session.scalars(select(Position.planned_exit_session).where(
        Position.symbol == order.symbol, Position.status == "open")).all()
    candidates = [d for d in [planned, *held] if d is not None]
    planned = max(candidates) if candidates else None
    if planned is not None:
        for lot in session.scalars(select(Position).where(Position.symbol == order.symbol, Position.status == "open")):
            lot.planned_exit_session = planned
    price = bo.filled_avg_price or Decimal(0)
    qty = Decimal(bo.filled_qty or bo.qty)
    session.add(
        Position(
            symbol=order.symbol, qty=qty, entry_order_id=order.id, entry_at=bo.filled_at or order.submitted_at,
            entry_price=price, cost_basis=(price * qty).quantize(Decimal("0.01")), planned_exit_session=planned,
            stop_price=bo.stop_price, take_profit_price=bo.take_profit_price,
            source_mention_id=decision.mention_id if decision else None, status="open",
        )
    )
    session.flush()


def close_symbol_lots(session: Session, symbol: str, order: OrderRecord, bo: BrokerOrder, reason: str) -> int:
    """A close sold kevin's lots of the symbol (sized to them: foreign shares are not touched)."""
    lots = session.scalars(select(Position).where(Position.symbol == symbol, *own_slice.KEVIN_LOT)).all()
    for lot in lots:
        _close_lot(lot, order, bo, reason)
    return len(lots)


def _close_lot(lot: Position, order: OrderRecord | None, bo: BrokerOrder, reason: str) -> None:
    price = bo.filled_avg_price or Decimal(0)
    lot.status, lot.exit_at, lot.exit_price, lot.exit_reason = "closed", bo.filled_at, price, reason
    lot.exit_order_id = order.id if order is not None else None
    lot.realized_pnl = ((price - lot.entry_price) * lot.qty).quantize(Decimal("0.01"))


def _apply_legs(session: Session, broker_orders: dict[str, BrokerOrder], report: SyncReport) -> None:
    """A take-profit or stop leg filled at the venue: close the lot its entry opened."""
    for key, bo in broker_orders.items():
        if key.startswith("broker:"):
            continue
        parent = bo.raw.get("parent_client_order_id")
        if not parent or not bo.is_filled or bo.exit_reason not in ("stop", "take_profit"):
            continue
        if session.scalar(select(OrderRecord.id).where(OrderRecord.client_order_id == bo.client_order_id)) is not None:
            continue
        entry = session.scalars(select(OrderRecord).where(OrderRecord.client_order_id == parent)).first()
        if entry is None:
            continue  # not ours: reconciliation reports it
        leg = OrderRecord(
            client_order_id=bo.client_order_id, decision_id=entry.decision_id, broker=entry.broker,
            broker_order_id=bo.broker_order_id, symbol=bo.symbol, side="sell", qty=Decimal(bo.filled_qty or bo.qty),
            order_type="stop" if bo.exit_reason == "stop" else "limit", time_in_force=entry.time_in_force,
            status=bo.status, submitted_at=bo.submitted_at, filled_at=bo.filled_at,
            filled_qty=Decimal(bo.filled_qty or bo.qty), filled_avg_price=bo.filled_avg_price, purpose=bo.exit_reason,
        )
        session.add(leg)
        session.flush()
        lot = session.scalars(select(Position).where(Position.entry_order_id == entry.id, Position.status == "open")).first()
        if lot is None and entry.status != "filled":
            # the entry's fill has not been applied yet (both happened between two syncs)
            update_order_record(entry, _entry_view(entry, broker_orders))
            _open_lot(session, entry, _entry_view(entry, broker_orders))
            lot = session.scalars(select(Position).where(Position.entry_order_id == entry.id, Position.status == "open")).first()
        if lot is not None:
            _close_lot(lot, leg, bo, bo.exit_reason)
            report.lots_closed += 1


def _entry_view(entry: OrderRecord, broker_orders: dict[str, BrokerOrder]) -> BrokerOrder:
    return broker_orders[entry.client_order_id]


def last_close_at(ctx: TradingContext, now: datetime) -> datetime | None:
    last = ctx.calendar.last_closed_session(now)
    return ctx.calendar.session_close(last) if last is not None else None


def observe_account(session: Session, ctx: TradingContext, account: BrokerAccount, now: datetime) -> None:
    """Record the equity at the last close; trip the loss circuit and the drawdown halt from it.
    `account` is kevin's slice (own_slice.kevin_account), not the whole broker account."""
    cal, params = ctx.calendar, ctx.params
    last = cal.last_closed_session(now)
    if last is None or account.last_equity is None:
        return
    state = trading_state_row(session)  # before the risk day: deciders insert risk days under this lock
    day = session.get(RiskDay, last)
    if day is None:
        day = RiskDay(ny_date=last, trade_count=0, alloc_usd=Decimal(0))
        session.add(day)
    if day.close_equity is not None:
        return
    day.close_equity = account.last_equity
    previous = session.get(RiskDay, cal.session_at(cal.session_index(last) - 1))
    close_at = cal.session_close(last)
    if previous is not None and previous.close_equity is not None:
        if risk.loss_circuit_tripped(previous.close_equity, account.last_equity, params):
            until = risk.loss_pause_until(close_at, params)
            if state.paused_until is None or state.paused_until < until:
                state.paused_until = until
                state.pause_reason = (
                    f"loss circuit: equity fell from {previous.close_equity} to {account.last_equity} "
                    f"at the {last} close (>= {params.daily_loss_circuit_pct:.0%})"
                )
    start = getattr(account, "last_starting_equity", None) or ctx.starting_equity
    if not state.halted and risk.drawdown_halt_tripped(account.last_equity, start, params):
        halt(session, close_at, account.last_equity, ctx, starting_equity=start)


def halt(
    session: Session, at: datetime, equity: Decimal, ctx: TradingContext, *, starting_equity: Decimal | None = None
) -> None:
    state = trading_state_row(session)
    state.halted, state.halted_at = True, at
    state.halt_reason = (
        f"equity {equity} below {ctx.params.drawdown_halt_pct:.0%} of starting equity "
        f"{starting_equity if starting_equity is not None else ctx.starting_equity} at {at.isoformat()}"
    )
    log.warning("drawdown halt: %s", state.halt_reason)


def pending_entry_decisions(session: Session) -> list[DecisionRecord]:
    return list(session.scalars(
        select(DecisionRecord).join(OrderRecord, OrderRecord.decision_id == DecisionRecord.id)
        .where(OrderRecord.purpose == "entry", OrderRecord.status.notin_(tuple(FINAL_STATUSES)))
    ))
