"""Where a mention becomes an order. One path for the sensor's runs, the exit scan, the
dashboard's close button and the replay.

    mention -> aggregation -> domain.strategy.evaluate (risk caps included) -> kill switch
            -> decision + order intent committed -> broker -> order status committed

Crash safety comes from the order of commits. The decision row (UNIQUE per mention) and the order
row (UNIQUE deterministic client_order_id, status `pending_submit`) are committed together before
the broker is called. A crash before that commit leaves nothing, so a re-run decides again. A crash
after it leaves a `pending_submit` order that `recover_pending_orders` re-sends; the broker is
idempotent by client_order_id (the simulator by its unique key, the Alpaca adapter by looking the id
up first), so a re-send can never place a second order.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kevin_pipeline.brokers.base import FINAL_STATUSES, BrokerAccount, BrokerOrder, BrokerRejected, BrokerUnavailable
from kevin_pipeline.db.models import BlocklistEntry, DecisionRecord, MentionRecord, OrderRecord, Position, RiskDay
from kevin_pipeline.db.store import load_mentions
from kevin_pipeline.domain.aggregation import effective_conviction
from kevin_pipeline.domain.calendar import ny_date
from kevin_pipeline.domain.models import AccountState, Action, Decision, DecisionKind, DecisionStatus, Mention
from kevin_pipeline.domain.risk import drawdown_halt_tripped
from kevin_pipeline.domain.strategy import evaluate
from kevin_pipeline.trading import own_slice, sync
from kevin_pipeline.trading.context import TradingContext
from kevin_pipeline.trading.controls import switches, trading_state_row

log = logging.getLogger(__name__)

ZERO = Decimal("0")


@dataclass
class DecisionOutcome:
    mention_id: int
    symbol: str
    status: str
    kind: str
    reason: str
    client_order_id: str | None = None


@dataclass
class ProcessReport:
    decided: list[DecisionOutcome] = field(default_factory=list)
    already_decided: int = 0
    orders_sent: int = 0
    orders_recovered: int = 0

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for d in self.decided:
            out[d.status] = out.get(d.status, 0) + 1
        return out


def entry_client_order_id(mention_id: int) -> str:
    return f"kv-{mention_id}-b"


def close_client_order_id(mention_id: int) -> str:
    return f"kv-{mention_id}-c"


# --- the batch entry point (the sensor's run, the replay) --------------------------------------


def undecided_mention_ids(
    session: Session, mention_ids: Sequence[int] | None = None, limit: int | None = None, *, now: datetime | None = None
) -> list[int]:
    """Mentions without a decision, oldest call first (only those published by `now`: a call
    from the future has not happened yet). Not an id cursor: on PostgreSQL a lower id can commit
    after a higher one, and a cursor alone would skip it."""
    stmt = (
        select(MentionRecord.id)
        .outerjoin(DecisionRecord, DecisionRecord.mention_id == MentionRecord.id)
        .where(DecisionRecord.id.is_(None))
        .order_by(MentionRecord.published_at, MentionRecord.id)
    )
    if now is not None:
        stmt = stmt.where(MentionRecord.published_at <= now)
    if mention_ids is not None:
        stmt = stmt.where(MentionRecord.id.in_(list(mention_ids)))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def process_new_mentions(
    ctx: TradingContext, now: datetime, mention_ids: Sequence[int] | None = None, *, sync_first: bool = True
) -> ProcessReport:
    """Decide (and, kill switch on, order) every undecided mention — or only `mention_ids`."""
    report = ProcessReport()
    report.orders_recovered = recover_pending_orders(ctx, now)
    if sync_first:
        sync.sync_with_broker(ctx, now)
    with ctx.app.sessions() as session:
        ids = undecided_mention_ids(session, mention_ids, now=now)
    if mention_ids is not None:
        report.already_decided = len(set(mention_ids)) - len(ids)
    # One account read serves the batch until an order goes out: orders decided but not filled
    # are already counted from kevin's own rows (see account_state).
    account: BrokerAccount | None = None
    for mention_id in ids:
        if account is None:
            account = read_kevin_account(ctx, now)
        outcome = decide_mention(ctx, mention_id, now, account=account)
        if outcome is None:
            report.already_decided += 1
            continue
        report.decided.append(outcome)
        if outcome.client_order_id is not None:
            report.orders_sent += 1
            account = None
    return report


# --- one mention ------------------------------------------------------------------------------


def decide_mention(
    ctx: TradingContext, mention_id: int, now: datetime, *, account: BrokerAccount | None = None
) -> DecisionOutcome | None:
    """Decide one mention and act on it. None when it was already decided (by an earlier or
    concurrent run)."""
    with ctx.app.sessions() as session:
        rec = session.get(MentionRecord, mention_id)
        if rec is None:
            raise ValueError(f"mention {mention_id} does not exist")
        mention = load_mentions(session, after_id=mention_id - 1, limit=1)[0]
    # Broker reads happen before our transaction (see sync.sync_with_broker for why).
    if account is None:
        account = read_kevin_account(ctx, now)
    tradable = ctx.broker.is_tradable(mention.symbol, now)
    try:
        with ctx.app.transaction() as session:
            trading_state_row(session)  # row lock: decisions are taken one at a time
            if session.scalar(select(DecisionRecord.id).where(DecisionRecord.mention_id == mention_id)) is not None:
                return None
            state = account_state(session, ctx, account, now)
            eff = effective_conviction(mention, _others_in_window(session, mention, ctx), ctx.params)
            decision = evaluate(mention, state, now, ctx.params, effective_conviction=eff, is_tradable=tradable)
            if drawdown_halt_tripped(state.equity, state.starting_equity, ctx.params) and not state.halted:
                sync.halt(session, now, state.equity, ctx, starting_equity=state.starting_equity)
            outcome, order_id = _record(session, ctx, mention, decision, now)
    except IntegrityError:  # a concurrent run decided this mention first
        return None
    if order_id is not None:
        send_order(ctx, order_id, now)
        with ctx.app.sessions() as session:
            order = session.get(OrderRecord, order_id)
            decision_row = order.decision if order else None
            if decision_row is not None:
                outcome.status, outcome.reason = decision_row.status, decision_row.reason
    return outcome


def _others_in_window(session: Session, mention: Mention, ctx: TradingContext) -> int:
    start = mention.published_at - timedelta(hours=ctx.params.aggregation_window_hours)
    return int(session.scalar(
        select(func.count()).select_from(MentionRecord).where(
            MentionRecord.symbol == mention.symbol,
            MentionRecord.published_at >= start,
            MentionRecord.published_at <= mention.published_at,
            MentionRecord.id != mention.id,
        )
    ) or 0)


def read_kevin_account(ctx: TradingContext, now: datetime) -> BrokerAccount:
    """The broker account narrowed to kevin's slice (trading.own_slice): broker reads first, then
    a short read of kevin's lots."""
    account = ctx.broker.account(now)
    positions = ctx.broker.positions(now)
    with ctx.app.sessions() as session:
        return own_slice.kevin_account(session, account, positions, allocation=ctx.allocation_usd,
                                       starting_equity=ctx.params.starting_equity_usd,
                                       last_close_at=sync.last_close_at(ctx, now))


def account_state(session: Session, ctx: TradingContext, account: BrokerAccount, now: datetime) -> AccountState:
    """The account as `evaluate` sees it: kevin's slice of equity and cash (`account` comes from
    `read_kevin_account`); kevin's lots plus orders decided but not yet filled (counted as held,
    and their dollars as spent); blocklist; today's caps. Foreign positions count nowhere."""
    basis: dict[str, Decimal] = {}
    for symbol, qty, price in session.execute(
        select(Position.symbol, Position.qty, Position.entry_price).where(*own_slice.KEVIN_LOT)
    ):
        # qty x fill price, unrounded: the backtest's cost basis to the 1/100 cent
        basis[symbol] = basis.get(symbol, ZERO) + Decimal(qty) * Decimal(price)
    reserved = ZERO
    for symbol, size in session.execute(
        select(OrderRecord.symbol, DecisionRecord.size_usd)
        .join(DecisionRecord, OrderRecord.decision_id == DecisionRecord.id)
        .where(OrderRecord.purpose == "entry", OrderRecord.status.notin_(tuple(FINAL_STATUSES)))
    ):
        basis[symbol] = basis.get(symbol, ZERO) + Decimal(size)
        reserved += Decimal(size)
    blocklist: dict[str, datetime] = {}
    for entry in session.scalars(select(BlocklistEntry).where(BlocklistEntry.starts_at <= now, BlocklistEntry.expires_at > now)):
        blocklist[entry.symbol] = max(blocklist.get(entry.symbol, entry.expires_at), entry.expires_at)
    day = session.get(RiskDay, ny_date(now))
    sw = switches(session, ctx.env_trading_enabled)
    return AccountState(
        equity=account.equity,
        cash=account.cash - reserved,
        starting_equity=getattr(account, "starting_equity", None) or ctx.starting_equity,
        cost_basis=basis,
        blocklist=blocklist,
        daily_trade_count=day.trade_count if day else 0,
        daily_alloc_usd=Decimal(day.alloc_usd) if day else ZERO,
        paused_until=sw.paused_until,
        halted=sw.halted,
        halt_reason=sw.halt_reason,
    )


def _record(
    session: Session, ctx: TradingContext, mention: Mention, d: Decision, now: datetime
) -> tuple[DecisionOutcome, int | None]:
    assert mention.id is not None
    cal = ctx.calendar
    allowed = switches(session, ctx.env_trading_enabled).trading_allowed
    status = d.status
    context: dict[str, object] = {}
    if status is DecisionStatus.EMITTED and not allowed:
        status = DecisionStatus.DRY_RUN
        context["would"] = d.kind.value
        context["would_size_usd"] = str(d.size_usd)
    planned = None
    if d.hold_sessions is not None and (d.kind is DecisionKind.OPEN_LONG or d.extends_hold):
        planned = cal.sessions_later(cal.next_open_after(now), d.hold_sessions)
    row = DecisionRecord(
        mention_id=mention.id, symbol=mention.symbol, action=mention.action.value, kind=d.kind.value,
        status=status.value, effective_conviction=d.effective_conviction, size_usd=d.size_usd,
        hold_sessions=d.hold_sessions, planned_exit_session=planned, extends_hold=d.extends_hold,
        reason=d.reason, decided_at=now, context=context or None,
    )
    session.add(row)
    session.flush()  # IntegrityError here if another run decided the mention
    if d.blocklist_until is not None:
        session.add(BlocklistEntry(symbol=mention.symbol, reason=f"avoid call #{mention.id}", mention_id=mention.id,
                                   starts_at=mention.published_at, expires_at=d.blocklist_until))
    if planned is not None and d.extends_hold:
        _extend_planned_exit(session, mention.symbol, planned)
    outcome = DecisionOutcome(mention.id, mention.symbol, status.value, d.kind.value, d.reason)
    if status is not DecisionStatus.EMITTED:
        return outcome, None
    if d.kind is DecisionKind.OPEN_LONG:
        day = session.get(RiskDay, ny_date(now))
        if day is None:
            day = RiskDay(ny_date=ny_date(now), trade_count=0, alloc_usd=ZERO)
            session.add(day)
        day.trade_count += 1
        day.alloc_usd = Decimal(day.alloc_usd) + d.size_usd
        order = _order_intent(ctx, row, entry_client_order_id(mention.id), "buy", "entry")
    else:
        purpose = "exit_sell" if mention.action is Action.SELL else "exit_avoid"
        order = _order_intent(ctx, row, close_client_order_id(mention.id), "sell", purpose)
    session.add(order)
    session.flush()
    outcome.client_order_id = order.client_order_id
    return outcome, order.id


def _extend_planned_exit(session: Session, symbol: str, planned) -> None:  # type: ignore[no-untyped-def]
    """A repeated buy moves the symbol's planned exit later: held lots and unfilled entries."""
    for lot in session.scalars(select(Position).where(Position.symbol == symbol, Position.status == "open")):
        if lot.planned_exit_session is None or lot.planned_exit_session < planned:
            lot.planned_exit_session = planned
    for decision in sync.pending_entry_decisions(session):
        if decision.symbol == symbol and (decision.planned_exit_session is None or decision.planned_exit_session < planned):
            decision.planned_exit_session = planned


def _order_intent(ctx: TradingContext, decision: DecisionRecord, client_order_id: str, side: str, purpose: str) -> OrderRecord:
    return OrderRecord(
        client_order_id=client_order_id, decision_id=decision.id, broker=ctx.broker.name, symbol=decision.symbol,
        side=side, qty=ZERO, order_type="market", time_in_force=ctx.time_in_force, status=sync.PENDING_SUBMIT,
        purpose=purpose,
    )


# --- talking to the broker --------------------------------------------------------------------


def send_order(ctx: TradingContext, order_id: int, now: datetime) -> None:
    """Send a committed order intent. Safe to call again after a crash: the broker dedupes by id."""
    with ctx.app.sessions() as session:
        order = session.get(OrderRecord, order_id)
        if order is None or order.status != sync.PENDING_SUBMIT:
            return
        size = order.decision.size_usd if order.decision else ZERO
        intent = (order.client_order_id, order.symbol, order.side, order.purpose, Decimal(size))
        # a close sells kevin's own shares only: the user's shares of the symbol stay
        own_qty = int(own_slice.kevin_open_qty(session, order.symbol).get(order.symbol, ZERO)) if order.side == "sell" else 0
    client_order_id, symbol, side, purpose, size = intent
    try:
        if side == "buy":
            result: BrokerOrder | None = ctx.broker.submit_bracket_buy(
                client_order_id=client_order_id, symbol=symbol, target_usd=size,
                take_profit_pct=ctx.params.take_profit_pct, stop_loss_pct=ctx.params.stop_loss_pct,
                time_in_force=ctx.time_in_force, now=now,
            )
        else:
            reason = sync.EXIT_REASON_BY_PURPOSE.get(purpose, "sell")
            result = ctx.broker.close_position(
                symbol, client_order_id=client_order_id, reason=reason, now=now, at_session_open=(purpose == "exit_time"),
                qty=own_qty,
            )
    except BrokerRejected as exc:
        _mark_rejected(ctx, order_id, exc.message)
        return
    except BrokerUnavailable as exc:
        log.warning("broker unavailable for %s (%s); will retry on the next run", client_order_id, exc.message)
        return
    with ctx.app.transaction() as session:
        order = session.get(OrderRecord, order_id)
        assert order is not None
        order.submitted_at = order.submitted_at or now
        if result is None:
            order.status, order.error = "canceled", f"kevin holds no {symbol} shares at the broker: no sell sent"
            _close_pending_entries(session, symbol)
            return
        sync.update_order_record(order, result)
        if result.is_filled and side == "sell":
            sync.close_symbol_lots(session, symbol, order, result, sync.EXIT_REASON_BY_PURPOSE.get(purpose, "sell"))
        if side == "sell":
            _close_pending_entries(session, symbol)


def _close_pending_entries(session: Session, symbol: str) -> None:
    """A close cancels the symbol's unfilled entries at the broker; mirror that at once so the
    next decision does not count them as held."""
    for entry in session.scalars(select(OrderRecord).where(
        OrderRecord.symbol == symbol, OrderRecord.purpose == "entry",
        OrderRecord.status.notin_(tuple(FINAL_STATUSES) + (sync.PENDING_SUBMIT,)),
    )):
        entry.status = "canceled"
        if entry.decision is not None:
            entry.decision.reason += "; canceled before its fill by a later close"


def _mark_rejected(ctx: TradingContext, order_id: int, message: str) -> None:
    with ctx.app.transaction() as session:
        order = session.get(OrderRecord, order_id)
        assert order is not None
        order.status, order.error = "rejected", message
        if order.decision is not None and order.purpose == "entry":
            order.decision.status = DecisionStatus.BROKER_REJECTED.value
            order.decision.reason = f"{order.decision.reason}; broker rejected: {message}"


def recover_pending_orders(ctx: TradingContext, now: datetime) -> int:
    """Re-send order intents a crash left unsent (the broker dedupes by client order id)."""
    with ctx.app.sessions() as session:
        ids = list(session.scalars(select(OrderRecord.id).where(OrderRecord.status == sync.PENDING_SUBMIT).order_by(OrderRecord.id)))
    for order_id in ids:
        send_order(ctx, order_id, now)
    return len(ids)
