"""The simulated paper broker: the embedded default venue, no keys needed.

It keeps its own books (sim_* tables) apart from kevin's (orders, positions), exactly as a real
broker would, so reconciliation means the same thing for both venues. What fills at a session's
open and close, and in which order, is the backtest engine's own choreography (domain.venue):
this module only turns its rows into the venue module's inputs and writes its results back. A
market buy fills at the open of the first session that opens after it was placed, shares =
floor(dollars / fill); bracket legs are checked against each session's high/low at its close,
gaps through a leg filled at the open; exits pay the sell slippage.

Time moves only when a caller passes `now`: every call first processes the session opens and
closes in (processed_until, now], so a replay with a simulated clock sees bars "arrive" day by day
and nothing after `now` is ever read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from kevin_pipeline.brokers.base import BrokerAccount, BrokerOrder, BrokerPosition, is_kevins
from kevin_pipeline.domain import venue
from kevin_pipeline.domain.prices import PriceBook
from kevin_pipeline.domain.calendar import NyseCalendar, nyse_calendar
from kevin_pipeline.domain.execution import ExitReason
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.db.engine import begin_write
from kevin_pipeline.db.models import SimAccount, SimClose, SimLot, SimOrder

ZERO = Decimal("0")
PENDING = "accepted"


def _has_legs(lot: SimLot) -> bool:
    """A lot bought with a bracket; a foreign holding (add_foreign_holding) has none."""
    return lot.stop_price > 0 and lot.take_profit_price > 0


@dataclass(slots=True)
class _Held:
    """A sim_lots row as `domain.venue` sees it (a `venue.HeldLot`)."""

    row: SimLot
    qty: Decimal
    stop: Decimal | None
    take_profit: Decimal | None
    mark: Decimal

    @classmethod
    def of(cls, row: SimLot) -> "_Held":
        legs = _has_legs(row)
        return cls(row, row.qty, row.stop_price if legs else None, row.take_profit_price if legs else None, row.mark)


@dataclass(frozen=True, slots=True)
class _Buy:
    """A pending bracket buy as `domain.venue` sees it (a `venue.DueBuy`)."""

    order: SimOrder
    symbol: str
    size: Decimal
    legs: StrategyParams


def _sell_order(lots: Sequence[SimLot]) -> list[_Held]:
    """A symbol's lots in the order a sell takes them: kevin's first, then by age. Like a real venue
    the simulator sells shares; the lots only say whose bracket legs go with them."""
    return [_Held.of(lot) for lot in sorted(lots, key=lambda lot: (not is_kevins(lot.entry_client_order_id), lot.id))]


class SimulatedBroker:
    name = "simulated"

    def __init__(
        self,
        sessions: sessionmaker[Session],
        prices: PriceBook | Callable[[], PriceBook],
        params: StrategyParams,
        calendar: NyseCalendar | None = None,
    ) -> None:
        self._sessions = sessions
        self._prices = prices
        self.params = params
        self.cal = calendar or nyse_calendar()

    # --- plumbing ----------------------------------------------------------------------------
    @property
    def prices(self) -> PriceBook:
        return self._prices if isinstance(self._prices, PriceBook) else self._prices()

    @contextmanager
    def _tx(self, now: datetime) -> Iterator[Session]:
        # One venue transaction at a time: SQLite's write lock first (db.engine.begin_write), the
        # account row's lock on PostgreSQL. A brand-new account may be created by two processes at
        # once: the loser's insert is undone (savepoint) and it locks the winner's row instead.
        with self._sessions() as s, s.begin():
            begin_write(s)
            acct = s.get(SimAccount, 1, with_for_update=True)
            if acct is None:
                cash = self.params.starting_equity_usd
                try:
                    with s.begin_nested():
                        s.add(SimAccount(id=1, cash=cash, starting_cash=cash, processed_until=now))
                except IntegrityError:
                    pass
                acct = s.get(SimAccount, 1, with_for_update=True, populate_existing=True)
                assert acct is not None
            self._advance(s, acct, now)
            yield s

    def _advance(self, s: Session, acct: SimAccount, now: datetime) -> None:
        """Process every session open and close in (processed_until, now]."""
        since = acct.processed_until
        if since is None or now <= since:
            acct.processed_until = max(since or now, now)
            return
        busy = s.scalar(select(SimLot.id).where(SimLot.status == "open").limit(1)) is not None or (
            s.scalar(select(SimOrder.id).where(SimOrder.status == PENDING).limit(1)) is not None
        )
        first = self.cal.next_session_on_or_after(since.date()) if since.date() >= self.cal.first_session else self.cal.first_session
        sessions = self.cal.sessions_between(first, now.date()) if first <= now.date() else []
        for session in sessions:
            open_at, close_at = self.cal.session_open(session), self.cal.session_close(session)
            if since < open_at <= now and busy:
                self._on_open(s, acct, session, open_at)
            if since < close_at <= now:
                self._on_close(s, acct, session, close_at)
        acct.processed_until = now

    def _open_lots(self, s: Session, symbol: str | None = None) -> list[SimLot]:
        stmt = select(SimLot).where(SimLot.status == "open").order_by(SimLot.id)
        if symbol is not None:
            stmt = stmt.where(SimLot.symbol == symbol)
        return list(s.scalars(stmt))

    # --- session events: domain.venue decides, these write its results to the sim_* rows -------
    def _on_open(self, s: Session, acct: SimAccount, session: date, open_at: datetime) -> None:
        by_symbol: dict[str, list[SimLot]] = defaultdict(list)
        for lot in self._open_lots(s):
            by_symbol[lot.symbol].append(lot)
        pending = list(
            s.scalars(select(SimOrder).where(SimOrder.status == PENDING, SimOrder.fill_session <= session).order_by(SimOrder.id))
        )
        sells: dict[str, SimOrder] = {}
        for o in pending:
            if o.side == "sell":
                sells.setdefault(o.symbol, o)  # close_position keeps one working sell per symbol
        held = {sym: _sell_order(lots) for sym, lots in by_symbol.items()}
        for sym in sells:
            held.setdefault(sym, [])
        queued = {
            sym: venue.QueuedClose(ExitReason(o.exit_reason or "sell"), o.qty) for sym, o in sells.items()
        }
        buys = [
            _Buy(o, o.symbol, o.target_usd or ZERO, StrategyParams(
                take_profit_pct=o.take_profit_pct or self.params.take_profit_pct,
                stop_loss_pct=o.stop_loss_pct or self.params.stop_loss_pct,
            ))
            for o in pending if o.side == "buy"
        ]
        opened = venue.open_session(session, held, self.prices.bar, queued, {}, buys, self.params)
        sold: dict[str, list[venue.Exit[_Held]]] = defaultdict(list)
        for e in opened.exits:
            if e.leg:
                self._close_lot(s, acct, e.lot.row, open_at, e.price, e.reason, leg=True)
            else:
                sold[e.lot.row.symbol].append(e)
        for sym, fill in sorted(opened.closed, key=lambda c: sells[c[0]].id):
            self._fill_sell(s, acct, sells[sym], open_at, venue.Sale(fill, sold.get(sym, [])))
        for buy, outcome in opened.buys:
            self._fill_buy(s, acct, buy.order, outcome, session, open_at)

    def _fill_buy(
        self, s: Session, acct: SimAccount, order: SimOrder, outcome: venue.BuyFill | venue.BuyRejected,
        session: date, open_at: datetime,
    ) -> None:
        if isinstance(outcome, venue.BuyRejected):
            order.status, order.note = "rejected", outcome.message
            return
        fill, qty = outcome.price, outcome.qty
        acct.cash -= fill * qty + self.params.commission_usd
        order.status, order.qty, order.filled_qty = "filled", Decimal(qty), Decimal(qty)
        order.filled_avg_price, order.filled_at = fill, open_at
        order.take_profit_price, order.stop_price = outcome.take_profit, outcome.stop
        s.add(
            SimLot(
                symbol=order.symbol, qty=Decimal(qty), entry_client_order_id=order.client_order_id,
                entry_session=session, entry_at=open_at, entry_price=fill, stop_price=outcome.stop,
                take_profit_price=outcome.take_profit, mark=fill, status="open",
            )
        )
        s.flush()

    def _fill_sell(self, s: Session, acct: SimAccount, order: SimOrder, at: datetime, sale: venue.Sale[_Held]) -> None:
        """Write a sell `domain.venue` filled: the lots it sold close (part of a lot splits off as its
        own closed lot, the rest stays open), and the order records what was sold."""
        qty = sum((e.qty for e in sale.exits), ZERO)
        for e in sale.exits:
            lot = e.lot.row
            if lot.qty > e.qty:  # part of a lot: the sold part closes, the rest stays open
                sold = SimLot(
                    symbol=lot.symbol, qty=e.qty, entry_client_order_id=lot.entry_client_order_id,
                    entry_session=lot.entry_session, entry_at=lot.entry_at, entry_price=lot.entry_price,
                    stop_price=lot.stop_price, take_profit_price=lot.take_profit_price, mark=lot.mark, status="open",
                )
                s.add(sold)
                lot.qty -= e.qty
                lot = sold
            self._close_lot(s, acct, lot, at, sale.price, e.reason, leg=False, order=order)
        order.status = "filled" if qty > 0 else "canceled"
        order.qty, order.filled_qty, order.filled_avg_price, order.filled_at = qty, qty, sale.price, at
        if qty == 0:
            order.note = "nothing held when the order reached the market"

    def _close_lot(
        self, s: Session, acct: SimAccount, lot: SimLot, at: datetime, price: Decimal, reason: ExitReason,
        *, leg: bool, order: SimOrder | None = None,
    ) -> None:
        acct.cash += price * lot.qty - self.params.commission_usd
        lot.status, lot.exit_at, lot.exit_price, lot.exit_reason = "closed", at, price, reason.value
        if leg:  # a bracket leg filled: record it as the venue would, as its own sell order
            leg_id = f"{lot.entry_client_order_id[:40]}-{'tp' if reason is ExitReason.TAKE_PROFIT else 'sl'}"
            s.add(
                SimOrder(
                    client_order_id=leg_id, parent_client_order_id=lot.entry_client_order_id, symbol=lot.symbol,
                    side="sell", order_class="bracket", qty=lot.qty, status="filled", submitted_at=lot.entry_at,
                    exit_reason=reason.value, filled_qty=lot.qty, filled_avg_price=price, filled_at=at,
                )
            )
            lot.exit_client_order_id = leg_id
        elif order is not None:
            lot.exit_client_order_id = order.client_order_id

    def _on_close(self, s: Session, acct: SimAccount, session: date, close_at: datetime) -> None:
        held: dict[str, list[_Held]] = defaultdict(list)
        for lot in self._open_lots(s):
            held[lot.symbol].append(_Held.of(lot))
        exits, _ = venue.close_session(session, held, self.prices.bar, self.params)
        for e in sorted(exits, key=lambda e: e.lot.row.id):  # the legs' orders recorded in lot order
            self._close_lot(s, acct, e.lot.row, close_at, e.price, e.reason, leg=True)
        for views in held.values():
            for view in views:
                if view.row.status == "open":
                    view.row.mark = view.mark
        s.flush()
        equity = acct.cash + sum((lot.mark * lot.qty for lot in self._open_lots(s)), ZERO)
        row = s.get(SimClose, session)
        if row is None:
            s.add(SimClose(session=session, equity=equity, closed_at=close_at))
        s.flush()

    # --- the Broker port ---------------------------------------------------------------------
    def account(self, now: datetime) -> BrokerAccount:
        with self._tx(now) as s:
            acct = s.get(SimAccount, 1)
            assert acct is not None
            equity = acct.cash + sum((lot.mark * lot.qty for lot in self._open_lots(s)), ZERO)
            last = s.scalars(select(SimClose).where(SimClose.closed_at <= now).order_by(SimClose.session.desc()).limit(1)).first()
            return BrokerAccount(equity=equity, cash=acct.cash, last_equity=last.equity if last else None, as_of=now)

    def positions(self, now: datetime) -> list[BrokerPosition]:
        with self._tx(now) as s:
            by_symbol: dict[str, list[SimLot]] = defaultdict(list)
            for lot in self._open_lots(s):
                by_symbol[lot.symbol].append(lot)
            out = []
            for symbol, lots in sorted(by_symbol.items()):
                qty = sum((lot.qty for lot in lots), ZERO)
                cost = sum((lot.qty * lot.entry_price for lot in lots), ZERO)
                # marks move only at closes, so the mark is also the last close's price
                out.append(BrokerPosition(symbol, int(qty), (cost / qty).quantize(Decimal("0.0001")), lots[-1].mark,
                                          lastday_price=lots[-1].mark))
            return out

    def orders(self, now: datetime, *, open_only: bool = False) -> list[BrokerOrder]:
        with self._tx(now) as s:
            stmt = select(SimOrder).order_by(SimOrder.id)
            if open_only:
                stmt = stmt.where(SimOrder.status == PENDING)
            return [self._to_order(o) for o in s.scalars(stmt)]

    def get_order(self, client_order_id: str, now: datetime) -> BrokerOrder | None:
        with self._tx(now) as s:
            order = s.scalars(select(SimOrder).where(SimOrder.client_order_id == client_order_id)).first()
            return self._to_order(order) if order else None

    def is_tradable(self, symbol: str, now: datetime) -> bool:
        return self.prices.has_symbol(symbol)

    def latest_price(self, symbol: str, now: datetime) -> Decimal | None:
        last = self.cal.last_closed_session(now)
        book = self.prices
        while last is not None and last >= self.cal.first_session:
            bar = book.bar(symbol, last)
            if bar is not None:
                return bar.close
            if book.first_date() is None or last < book.first_date():
                return None
            last = self.cal.session_at(self.cal.session_index(last) - 1)
        return None

    def submit_bracket_buy(
        self, *, client_order_id: str, symbol: str, target_usd: Decimal, take_profit_pct: Decimal,
        stop_loss_pct: Decimal, time_in_force: str, now: datetime,
    ) -> BrokerOrder:
        if len(client_order_id) > 44:
            raise ValueError(f"client_order_id {client_order_id!r} is longer than 44 characters")
        with self._tx(now) as s:
            existing = s.scalars(select(SimOrder).where(SimOrder.client_order_id == client_order_id)).first()
            if existing is not None:
                return self._to_order(existing)
            order = SimOrder(
                client_order_id=client_order_id, symbol=symbol, side="buy", order_class="bracket",
                target_usd=target_usd, take_profit_pct=take_profit_pct, stop_loss_pct=stop_loss_pct,
                status=PENDING, submitted_at=now, fill_session=self.cal.next_open_after(now),
            )
            s.add(order)
            s.flush()
            return self._to_order(order)

    def close_position(
        self, symbol: str, *, client_order_id: str, reason: str, now: datetime, at_session_open: bool = False,
        qty: int | None = None,
    ) -> BrokerOrder | None:
        with self._tx(now) as s:
            existing = s.scalars(select(SimOrder).where(SimOrder.client_order_id == client_order_id)).first()
            if existing is not None:
                return self._to_order(existing)
            for buy in s.scalars(
                select(SimOrder).where(SimOrder.symbol == symbol, SimOrder.side == "buy", SimOrder.status == PENDING)
            ):
                buy.status, buy.note = "canceled", f"canceled by close ({reason})"
            if not self._open_lots(s, symbol) or (qty is not None and qty < 1):
                return None
            queued = s.scalars(
                select(SimOrder).where(SimOrder.symbol == symbol, SimOrder.side == "sell", SimOrder.status == PENDING)
            ).first()
            if queued is not None:  # one exit per symbol: the latest call names the reason
                queued.exit_reason = reason
                return self._to_order(queued)
            order = SimOrder(
                client_order_id=client_order_id, symbol=symbol, side="sell", order_class="simple", status=PENDING,
                submitted_at=now, exit_reason=reason, fill_session=self.cal.next_open_after(now),
                qty=Decimal(qty) if qty is not None else None,
            )
            s.add(order)
            s.flush()
            session = self.cal.session_containing(now)
            if at_session_open and session is not None:
                bar = self.prices.bar(symbol, session)
                acct = s.get(SimAccount, 1)
                if bar is not None and acct is not None:
                    lots = _sell_order(self._open_lots(s, symbol))
                    sale = venue.sell_at_open(bar.open, lots, order.qty, ExitReason(reason), self.params)
                    self._fill_sell(s, acct, order, self.cal.session_open(session), sale)
            return self._to_order(order)

    def add_foreign_holding(self, symbol: str, qty: int, price: Decimal, now: datetime) -> str:
        """Shares the account holds that kevin did not buy (the user's own trade, made in the
        venue's UI): a filled buy under a non-kevin client order id, paid from the account's cash,
        without bracket legs. For tests and demos; returns that order's client id."""
        with self._tx(now) as s:
            acct = s.get(SimAccount, 1)
            assert acct is not None
            n = len(s.scalars(select(SimOrder.id).where(SimOrder.client_order_id.like("user-%"))).all()) + 1
            cid = f"user-{symbol}-{n}"
            price = Decimal(price)
            acct.cash -= price * qty
            s.add(SimOrder(
                client_order_id=cid, symbol=symbol, side="buy", order_class="simple", qty=Decimal(qty), status="filled",
                submitted_at=now, filled_qty=Decimal(qty), filled_avg_price=price, filled_at=now, note="foreign holding",
            ))
            s.add(SimLot(
                symbol=symbol, qty=Decimal(qty), entry_client_order_id=cid, entry_session=now.date(), entry_at=now,
                entry_price=price, stop_price=ZERO, take_profit_price=ZERO, mark=price, status="open",
            ))
            s.flush()
            return cid

    @staticmethod
    def _to_order(o: SimOrder) -> BrokerOrder:
        return BrokerOrder(
            client_order_id=o.client_order_id,
            broker_order_id=f"sim-{o.id}",
            symbol=o.symbol,
            side=o.side,
            qty=int(o.qty or 0),
            status=o.status,
            submitted_at=o.submitted_at,
            filled_qty=int(o.filled_qty or 0),
            filled_avg_price=o.filled_avg_price,
            filled_at=o.filled_at,
            take_profit_price=o.take_profit_price,
            stop_price=o.stop_price,
            order_class=o.order_class,
            exit_reason=o.exit_reason,
            raw={"parent_client_order_id": o.parent_client_order_id, "note": o.note, "fill_session": str(o.fill_session)},
        )
