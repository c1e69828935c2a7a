"""Where a mention becomes an order. One path for the sensor's runs, the exit scan, the
dashboard's close button and the replay.

    mention -> aggregation -> domain.strategy.evaluate (risk caps included) -> kill switch
            -> decision + order intent committed -> broker -> order status committed

Kill switch (trading.controls): `on` sends everything; `exits-only` records new buys as dry runs
and sends exits; `off` sends nothing. A sell/avoid close decided while `off` is committed as an
order intent that waits (`pending_submit`); `recover_pending_orders` sends it at the next run or
scan that allows exits (catch-up). Recovery obeys the switch like every other order: a half-sent
buy goes out only while the switch is `on` and the buy is still timely (`buy_still_timely`);
otherwise it is canceled in kevin's books with the reason on its decision. A buy is never sent late.

Deciders are serialized: the decision transaction holds the write lock from its first statement
(BEGIN IMMEDIATE on SQLite, see db.engine.begin_write) and the trading_state row lock (FOR UPDATE
on PostgreSQL), so the daily caps read by one decider include every decision committed before it.

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

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kevin_pipeline.brokers.base import FINAL_STATUSES, BrokerAccount, BrokerOrder, BrokerRejected, BrokerUnavailable
from kevin_pipeline.db.models import BlocklistEntry, DecisionRecord, MentionRecord, OrderRecord, Position, RiskDay
from kevin_pipeline.db.store import load_mentions
from kevin_pipeline.domain.aggregation import effective_conviction, others_in_window_counts
from kevin_pipeline.domain.calendar import ny_date
from kevin_pipeline.domain.models import AccountState, Action, Decision, DecisionKind, DecisionStatus, Mention
from kevin_pipeline.domain.risk import drawdown_halt_tripped
from kevin_pipeline.domain.strategy import evaluate
from kevin_pipeline.trading import own_slice, sync
from kevin_pipeline.trading.context import TradingContext
from kevin_pipeline.trading.controls import switches, trading_state_row

log = logging.getLogger(__name__)

ZERO = Decimal("0")
DECIDE_ATTEMPTS = 3


@dataclass
class DecisionOutcome:
    mention_id: int
    symbol: str
    status: str
    kind: str
    reason: str
    client_order_id: str | None = None
    sent: bool = False  # the broker got the order in this run (False: held by the switch, or unreachable)


@dataclass
class Recovery:
    """What `recover_pending_orders` did with the half-sent order intents it found."""

    sent: list[str] = field(default_factory=list)  # client order ids the broker got (now)
    waiting: list[str] = field(default_factory=list)  # exits held while the switch is off
    canceled: list[str] = field(default_factory=list)  # buys not sent: switch not on, or too late

    def describe(self) -> str:
        parts = [f"{len(self.sent)} recovered order(s) sent"]
        if self.waiting:
            parts.append(f"{len(self.waiting)} exit(s) waiting for the switch ({', '.join(self.waiting)})")
        if self.canceled:
            parts.append(f"{len(self.canceled)} unsent buy(s) canceled ({', '.join(self.canceled)})")
        return "; ".join(parts)


@dataclass
class ProcessReport:
    decided: list[DecisionOutcome] = field(default_factory=list)
    already_decided: int = 0
    orders_sent: int = 0  # every order the broker got in this run, recovered ones included
    orders_recovered: int = 0  # of which re-sent from a half-sent intent
    recovery: Recovery = field(default_factory=Recovery)

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
    report.recovery = recover_pending_orders(ctx, now)
    report.orders_recovered = report.orders_sent = len(report.recovery.sent)
    if sync_first:
        sync.sync_with_broker(ctx, now)
    with ctx.runtime.sessions() as session:
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
            if outcome.sent:
                report.orders_sent += 1
            account = None
    return report


# --- one mention ------------------------------------------------------------------------------


def decide_mention(
    ctx: TradingContext, mention_id: int, now: datetime, *, account: BrokerAccount | None = None
) -> DecisionOutcome | None:
    """Decide one mention and act on it. None when it was already decided (by an earlier or
    concurrent run)."""
    with ctx.runtime.sessions() as session:
        rec = session.get(MentionRecord, mention_id)
        if rec is None:
            raise ValueError(f"mention {mention_id} does not exist")
        mention = load_mentions(session, after_id=mention_id - 1, limit=1)[0]
    # Broker reads happen before our transaction (see sync.sync_with_broker for why).
    if account is None:
        account = read_kevin_account(ctx, now)
    tradable = ctx.broker.is_tradable(mention.symbol, now)
    for attempt in range(DECIDE_ATTEMPTS):
        try:
            with ctx.runtime.transaction() as session:
                trading_state_row(session)  # row lock: decisions are taken one at a time
                if session.scalar(select(DecisionRecord.id).where(DecisionRecord.mention_id == mention_id)) is not None:
                    return None
                state = account_state(session, ctx, account, now)
                eff = effective_conviction(mention, _others_in_window(session, mention, ctx), ctx.params)
                decision = evaluate(mention, state, now, ctx.params, effective_conviction=eff, is_tradable=tradable)
                if drawdown_halt_tripped(state.equity, state.starting_equity, ctx.params) and not state.halted:
                    sync.halt(session, now, state.equity, ctx, starting_equity=state.starting_equity)
                outcome, order_id, send_now = _record(session, ctx, mention, decision, now)
            break
        except IntegrityError:
            # Deciders are serialized, so this is another writer's row (a risk day, a lot...), not
            # proof that the mention was decided: look, and decide again if it was not.
            with ctx.runtime.sessions() as session:
                if session.scalar(select(DecisionRecord.id).where(DecisionRecord.mention_id == mention_id)) is not None:
                    return None
            if attempt == DECIDE_ATTEMPTS - 1:
                raise
            log.warning("mention %s: a concurrent write collided with its decision; deciding again", mention_id)
    if order_id is not None and send_now:
        outcome.sent = send_order(ctx, order_id, now)
        with ctx.runtime.sessions() as session:
            order = session.get(OrderRecord, order_id)
            decision_row = order.decision if order else None
            if decision_row is not None:
                outcome.status, outcome.reason = decision_row.status, decision_row.reason
    return outcome


# The query only narrows to the symbol's mentions around the window (a day's margin either side);
# which of them count -- the window's edges, ties, never later ones, never itself -- is decided by
# `aggregation.others_in_window_counts`, the function the backtest calls on its tape.
CANDIDATE_MARGIN = timedelta(days=1)


def _others_in_window(session: Session, mention: Mention, ctx: TradingContext) -> int:
    """The other mentions of the symbol in the aggregation window, counted by the domain rule."""
    window = timedelta(hours=ctx.params.aggregation_window_hours)
    candidates = session.execute(
        select(MentionRecord.id, MentionRecord.symbol, MentionRecord.published_at)
        .where(
            MentionRecord.symbol == mention.symbol,
            MentionRecord.published_at >= mention.published_at - window - CANDIDATE_MARGIN,
            MentionRecord.published_at <= mention.published_at + CANDIDATE_MARGIN,
            MentionRecord.id != mention.id,
        )
    ).all()
    return others_in_window_counts([mention, *candidates], ctx.params.aggregation_window_hours)[0]


def read_kevin_account(ctx: TradingContext, now: datetime) -> BrokerAccount:
    """The broker account narrowed to kevin's slice (trading.own_slice): broker reads first, then
    a short read of kevin's lots."""
    account = ctx.broker.account(now)
    positions = ctx.broker.positions(now)
    with ctx.runtime.sessions() as session:
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
) -> tuple[DecisionOutcome, int | None, bool]:
    """Write the decision (and its order intent). Returns the outcome, the order row id, and
    whether to send it now (False: an exit held while the switch is off, sent at catch-up)."""
    assert mention.id is not None
    cal = ctx.calendar
    sw = switches(session, ctx.env_trading_enabled)
    status = d.status
    reason = d.reason
    context: dict[str, object] = {}
    if status is DecisionStatus.EMITTED and d.kind is DecisionKind.OPEN_LONG and not sw.buys_allowed:
        status = DecisionStatus.DRY_RUN
        context["would"] = d.kind.value
        context["would_size_usd"] = str(d.size_usd)
        context["trading_mode"] = sw.mode
    if d.acted_as is not d.action:
        context["direction"] = ctx.params.direction.value  # the call was inverted (domain.direction)
    send_now = True
    if status is DecisionStatus.EMITTED and d.kind is DecisionKind.CLOSE_LONG and not sw.exits_allowed:
        send_now = False
        context["held"] = f"trading {sw.mode}"
        reason = f"{reason}; held: trading is {sw.mode}, the close goes out at the first run or scan that allows exits"
    planned = None
    if d.hold_sessions is not None and (d.kind is DecisionKind.OPEN_LONG or d.extends_hold):
        planned = cal.sessions_later(cal.next_open_after(now), d.hold_sessions)
    row = DecisionRecord(
        mention_id=mention.id, symbol=mention.symbol, action=mention.action.value, kind=d.kind.value,
        status=status.value, effective_conviction=d.effective_conviction, size_usd=d.size_usd,
        hold_sessions=d.hold_sessions, planned_exit_session=planned, extends_hold=d.extends_hold,
        reason=reason, decided_at=now, context=context or None,
    )
    session.add(row)
    session.flush()  # IntegrityError here if another run decided the mention
    if d.blocklist_until is not None:
        # "avoid call #7"; under direction inverse "buy call #7" (an inverted buy blocklists as an avoid)
        session.add(BlocklistEntry(symbol=mention.symbol, reason=f"{mention.action.value} call #{mention.id}", mention_id=mention.id,
                                   starts_at=mention.published_at, expires_at=d.blocklist_until))
    if planned is not None and d.extends_hold:
        _extend_planned_exit(session, mention.symbol, planned)
    outcome = DecisionOutcome(mention.id, mention.symbol, status.value, d.kind.value, reason)
    if status is not DecisionStatus.EMITTED:
        return outcome, None, False
    if d.kind is DecisionKind.OPEN_LONG:
        day = session.get(RiskDay, ny_date(now))
        if day is None:
            day = RiskDay(ny_date=ny_date(now), trade_count=0, alloc_usd=ZERO)
            session.add(day)
        day.trade_count += 1
        day.alloc_usd = Decimal(day.alloc_usd) + d.size_usd
        order = _order_intent(ctx, row, entry_client_order_id(mention.id), "buy", "entry")
    else:
        purpose = "exit_sell" if d.acted_as is Action.SELL else "exit_avoid"
        order = _order_intent(ctx, row, close_client_order_id(mention.id), "sell", purpose)
    session.add(order)
    session.flush()
    outcome.client_order_id = order.client_order_id
    return outcome, order.id, send_now


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


def send_order(ctx: TradingContext, order_id: int, now: datetime, *, at_session_open: bool = False) -> bool:
    """Send a committed order intent. Safe to call again after a crash: the broker dedupes by id.

    Callers check the kill switch first. `at_session_open`: an exit sent by the 09:35 scan (time
    exits, catch-up), which the simulated venue fills at that session's open. Returns whether the
    broker answered (accepted, filled, rejected, or nothing held); False when there was nothing to
    send or the broker was unreachable (the intent stays for the next run)."""
    with ctx.runtime.sessions() as session:
        order = session.get(OrderRecord, order_id)
        if order is None or order.status != sync.PENDING_SUBMIT:
            return False
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
                symbol, client_order_id=client_order_id, reason=reason, now=now,
                at_session_open=(purpose == "exit_time" or at_session_open), qty=own_qty,
            )
    except BrokerRejected as exc:
        _mark_rejected(ctx, order_id, exc.message)
        return True
    except BrokerUnavailable as exc:
        log.warning("broker unavailable for %s (%s); will retry on the next run", client_order_id, exc.message)
        return False
    with ctx.runtime.transaction() as session:
        order = session.get(OrderRecord, order_id)
        assert order is not None
        order.submitted_at = order.submitted_at or now
        if result is None:
            order.status, order.error = "canceled", f"kevin holds no {symbol} shares at the broker: no sell sent"
            _close_pending_entries(session, symbol)
            return True
        sync.update_order_record(order, result)
        if result.is_filled and side == "sell":
            sync.close_symbol_lots(session, symbol, order, result, sync.EXIT_REASON_BY_PURPOSE.get(purpose, "sell"))
        if side == "sell":
            _close_pending_entries(session, symbol)
    return True


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
    with ctx.runtime.transaction() as session:
        order = session.get(OrderRecord, order_id)
        assert order is not None
        order.status, order.error = "rejected", message
        if order.decision is not None and order.purpose == "entry":
            order.decision.status = DecisionStatus.BROKER_REJECTED.value
            order.decision.reason = f"{order.decision.reason}; broker rejected: {message}"


def buy_still_timely(ctx: TradingContext, decided_at: datetime, published_at: datetime | None, now: datetime) -> bool:
    """A half-sent buy may still go out at `now` only if it would fill where it was decided to:
    the entry session's open (the first open after the decision) has not passed, and the call is
    still inside `max_mention_age_hours`. Otherwise sending it would be a late buy."""
    cal = ctx.calendar
    if cal.next_open_after(now) != cal.next_open_after(decided_at):
        return False
    if published_at is not None and now - published_at > timedelta(hours=ctx.params.max_mention_age_hours):
        return False
    return True


def recover_pending_orders(ctx: TradingContext, now: datetime, *, at_session_open: bool = False) -> Recovery:
    """Deal with order intents a crash, an unreachable broker or the kill switch left unsent.

    Exits (sell, avoid, time, manual) go out while the switch allows exits (`on`, `exits-only`)
    and wait while it is `off`. A buy goes out only while the switch is `on` and the buy is still
    timely; otherwise it is canceled in kevin's books (after checking that the broker never got
    it). The broker dedupes by client order id, so a re-send never places a second order."""
    recovery = Recovery()
    with ctx.runtime.sessions() as session:
        sw = switches(session, ctx.env_trading_enabled)
        pending = []
        for order in session.scalars(
            select(OrderRecord).where(OrderRecord.status == sync.PENDING_SUBMIT).order_by(OrderRecord.id)
        ):
            decision = order.decision
            published = decision.mention.published_at if decision is not None and decision.mention is not None else None
            pending.append((order.id, order.client_order_id, order.side, decision.decided_at if decision else None, published))
    for order_id, client_order_id, side, decided_at, published in pending:
        if side == "sell":
            if not sw.exits_allowed:
                recovery.waiting.append(client_order_id)
            elif send_order(ctx, order_id, now, at_session_open=at_session_open):
                recovery.sent.append(client_order_id)
            continue
        timely = decided_at is not None and buy_still_timely(ctx, decided_at, published, now)
        if sw.buys_allowed and timely:
            if send_order(ctx, order_id, now):
                recovery.sent.append(client_order_id)
            continue
        why = (f"the kill switch is {sw.mode}" if not sw.buys_allowed
               else "its entry session's open has passed or the call is past its max age")
        if _cancel_unsent_buy(ctx, order_id, client_order_id, now, why):
            recovery.canceled.append(client_order_id)
    return recovery


def _cancel_unsent_buy(ctx: TradingContext, order_id: int, client_order_id: str, now: datetime, why: str) -> bool:
    """Cancel a half-sent buy in kevin's books. The broker is only asked whether it already has the
    order (a crash after the submit): then its state is recorded and nothing is canceled."""
    try:
        at_broker = ctx.broker.get_order(client_order_id, now)
    except BrokerUnavailable as exc:
        log.warning("broker unavailable to check %s (%s); deciding it on the next run", client_order_id, exc.message)
        return False
    with ctx.runtime.transaction() as session:
        order = session.get(OrderRecord, order_id)
        if order is None or order.status != sync.PENDING_SUBMIT:
            return False
        if at_broker is not None:
            sync.update_order_record(order, at_broker)
            return False
        order.status, order.error = "canceled", f"not sent: {why} (a buy is never sent late)"
        if order.decision is not None:
            order.decision.reason = f"{order.decision.reason}; not sent: {why}, canceled in kevin's books (a buy is never sent late)"
    log.warning("half-sent buy %s canceled: %s", client_order_id, why)
    return True
