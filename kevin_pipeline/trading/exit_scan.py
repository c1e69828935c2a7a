"""The 09:35 ET exit scan: planned time exits, manual closes, reconciliation, account snapshot.

Pauses and halts block new buys only; exits always run while the kill switch allows exits (`on`,
`exits-only`). With the switch `off` nothing is sent: due time exits stay due, manual close
requests stay pending and called sells/avoids stay as waiting intents, so the first scan after
the switch allows exits again sends them all (catch-up), at that session's open. Each exit
order's client id is deterministic (symbol + session for time exits, the request id for manual
closes), so running the scan twice in a session closes nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select

from kevin_pipeline.db.models import AccountSnapshot, ManualCloseRequest, OrderRecord, Position
from kevin_pipeline.trading import order_path, own_slice, reconcile, sync
from kevin_pipeline.trading.context import TradingContext
from kevin_pipeline.trading.controls import switches
from kevin_pipeline.domain.calendar import ny_date


@dataclass
class ExitScanReport:
    session: date | None
    skipped_reason: str | None = None
    time_exits: list[str] = field(default_factory=list)
    manual_closes: list[str] = field(default_factory=list)
    reconciliation: list[str] = field(default_factory=list)
    equity: Decimal | None = None
    trading_mode: str = "on"
    recovery: order_path.Recovery = field(default_factory=order_path.Recovery)
    waiting: list[str] = field(default_factory=list)  # due exits and close requests held while off

    @property
    def orders_sent(self) -> int:
        """Every order the broker got from this scan, recovered ones included."""
        return len(self.recovery.sent) + len(self.time_exits) + len(self.manual_closes)


def time_exit_client_order_id(symbol: str, session: date) -> str:
    return f"kv-t-{symbol}-{session:%Y%m%d}"


def manual_close_client_order_id(request_id: int) -> str:
    return f"kv-m-{request_id}"


def run_exit_scan(ctx: TradingContext, now: datetime) -> ExitScanReport:
    today = ny_date(now)
    if not ctx.calendar.is_session(today):
        return ExitScanReport(session=None, skipped_reason=f"{today} is not an NYSE session")
    report = ExitScanReport(session=today)
    report.recovery = order_path.recover_pending_orders(ctx, now, at_session_open=True)
    sync.sync_with_broker(ctx, now)

    with ctx.runtime.sessions() as session:
        sw = switches(session, ctx.env_trading_enabled)
        due = sorted(set(session.scalars(
            select(Position.symbol).where(Position.status == "open", Position.planned_exit_session <= today)
        )))
        pending_closes = sorted(set(session.scalars(
            select(ManualCloseRequest.symbol).where(ManualCloseRequest.status == "pending"))))
    report.trading_mode = sw.mode
    if not sw.exits_allowed:  # off: they stay due / pending and go out at catch-up
        report.waiting = [f"time exit {s}" for s in due] + [f"manual close {s}" for s in pending_closes]
        due = []
    for symbol in due:
        if _queue_exit(ctx, symbol, time_exit_client_order_id(symbol, today), "exit_time", now):
            report.time_exits.append(symbol)

    report.manual_closes = process_manual_closes(ctx, now)
    if report.time_exits or report.manual_closes or report.recovery.sent:
        sync.sync_with_broker(ctx, now)
    report.reconciliation = reconcile.reconcile(ctx, now)
    report.equity = snapshot_account(ctx, now)
    return report


def process_manual_closes(ctx: TradingContext, now: datetime) -> list[str]:
    """Execute pending close requests from the dashboard or `kevin close` (also callable on its own).

    With the kill switch `off` nothing is sent: the requests stay pending for the catch-up."""
    done: list[str] = []
    with ctx.runtime.sessions() as session:
        if not switches(session, ctx.env_trading_enabled).exits_allowed:
            return done
        requests = list(session.scalars(
            select(ManualCloseRequest).where(ManualCloseRequest.status == "pending").order_by(ManualCloseRequest.id)))
    for req in requests:
        _queue_exit(ctx, req.symbol, manual_close_client_order_id(req.id), "exit_manual", now)
        with ctx.runtime.transaction() as session:
            row = session.get(ManualCloseRequest, req.id)
            assert row is not None
            order = session.scalars(select(OrderRecord).where(
                OrderRecord.client_order_id == manual_close_client_order_id(req.id))).first()
            row.processed_at = now
            if order is not None and order.status == "rejected":
                row.status, row.note = "failed", order.error
            else:
                row.status = "done"
                row.note = f"close order {order.client_order_id}: {order.status}" if order else "nothing to close"
        done.append(req.symbol)
    return done


def _queue_exit(ctx: TradingContext, symbol: str, client_order_id: str, purpose: str, now: datetime) -> bool:
    """Commit an exit intent (once per client id), then send it."""
    with ctx.runtime.transaction() as session:
        existing = session.scalars(select(OrderRecord).where(OrderRecord.client_order_id == client_order_id)).first()
        if existing is None:
            existing = OrderRecord(
                client_order_id=client_order_id, decision_id=None, broker=ctx.broker.name, symbol=symbol, side="sell",
                qty=Decimal(0), order_type="market", time_in_force=ctx.time_in_force, status=sync.PENDING_SUBMIT,
                purpose=purpose,
            )
            session.add(existing)
            session.flush()
        order_id, fresh = existing.id, existing.status == sync.PENDING_SUBMIT
    if fresh:
        order_path.send_order(ctx, order_id, now)
    return fresh


def snapshot_account(ctx: TradingContext, now: datetime) -> Decimal:
    """Record kevin's slice of the account (trading.own_slice): its equity, cash and positions'
    value. Every broker position is listed with the part that is kevin's (`kevin_qty`) and the
    part that is not (`foreign_qty`), so the dashboard can show foreign positions apart."""
    broker_account = ctx.broker.account(now)
    positions = ctx.broker.positions(now)
    with ctx.runtime.transaction() as session:
        account = own_slice.kevin_account(session, broker_account, positions, allocation=ctx.allocation_usd,
                                          starting_equity=ctx.params.starting_equity_usd,
                                          last_close_at=sync.last_close_at(ctx, now))
        foreign = {f.symbol: f.qty for f in account.foreign}
        value = sum(((Decimal(p.qty) - foreign.get(p.symbol, Decimal(0))) * (p.current_price or Decimal(0))
                     for p in positions), Decimal(0))
        session.add(AccountSnapshot(
            taken_at=now, equity=account.equity.quantize(Decimal("0.01")), cash=account.cash.quantize(Decimal("0.01")),
            positions_value=value.quantize(Decimal("0.01")),
            day_pnl=(account.equity - account.last_equity).quantize(Decimal("0.01")) if account.last_equity else None,
            source=ctx.broker.name,
            positions=[{"symbol": p.symbol, "qty": p.qty, "avg_entry_price": str(p.avg_entry_price),
                        "current_price": str(p.current_price) if p.current_price is not None else None,
                        "kevin_qty": str(Decimal(p.qty) - foreign.get(p.symbol, Decimal(0))),
                        "foreign_qty": str(foreign.get(p.symbol, Decimal(0)))} for p in positions],
        ))
    return account.equity
