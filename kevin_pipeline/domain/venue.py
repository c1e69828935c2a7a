"""The venue's choreography of one session: what fills, in which order, at a session's open and close.

The backtest engine (`domain.backtest`) and the simulated paper broker (`brokers.simulated`) both
call these functions and only apply what they return to their own books (the engine's in-memory
lots, the broker's sim_* rows), so a backtest cannot drift from the simulated venue by
construction. Pure: no I/O, no database, no clock; bars come through `bar_of`, time is `session`.

At the open, per held symbol (a symbol without a bar that session is left as it is: exits wait
for its next bar):
1. a session that opens through a bracket leg fills it at the open: the stop with the sell
   slippage, the take-profit limit at the (better) open price without;
2. a queued sell or avoid close sells what is left at the open, with the sell slippage;
3. a planned time exit due by this session sells what is still left, the same way;
then, once every exit is known, the buys due this session fill at the open with the buy slippage.
At the close: each lot's legs against the session's high/low, the stop at the stop price with
the sell slippage, the take-profit at its limit. Daily bars cannot say which leg came first, so a
bar that touches both counts the stop: the pessimistic reading. Every lot left is marked to the
close.

Pure but for one write: `close_session` sets the `mark` of the lots it marks (the engine's hot
loop marks in the same pass that checks the legs). Everything else is returned for the caller to
apply: the engine to its in-memory book, the broker to its rows.

Written for the engine's hot path: the checks are inlined, and nothing is allocated for a symbol
or lot where nothing happens.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Generic, Protocol, TypeVar

from kevin_pipeline.domain import sizing
from kevin_pipeline.domain.execution import ExitReason, buy_fill_price, sell_fill_price
from kevin_pipeline.domain.params import StrategyParams

ZERO = Decimal("0")


class BarLike(Protocol):
    """A daily bar (`PriceBook.bar`'s `Bar`)."""

    @property
    def open(self) -> Decimal: ...
    @property
    def high(self) -> Decimal: ...
    @property
    def low(self) -> Decimal: ...
    @property
    def close(self) -> Decimal: ...


class HeldLot(Protocol):
    """One lot as the venue sees it. `stop`/`take_profit` None: a lot without bracket legs (a
    holding kevin did not buy); it is only ever sold by a sell, never by a leg."""

    @property
    def qty(self) -> int | Decimal: ...
    @property
    def stop(self) -> Decimal | None: ...
    @property
    def take_profit(self) -> Decimal | None: ...

    mark: Decimal  # the last close (or the fill) the lot is valued at; `close_session` moves it


class DueBuy(Protocol):
    """A market buy of `size` dollars due at this open; `legs` gives its bracket percentages
    (None: the strategy parameters')."""

    @property
    def symbol(self) -> str: ...
    @property
    def size(self) -> Decimal: ...
    @property
    def legs(self) -> StrategyParams | None: ...


L = TypeVar("L", bound=HeldLot)
B = TypeVar("B", bound=DueBuy)
BarOf = Callable[[str, date], BarLike | None]
# {session: {symbol: bar}} bars already at hand (`PriceBook.memo`): read before `bar_of` is asked,
# which saves a call per held symbol and session on the engine's hot path
BarCache = Mapping[date, Mapping[str, BarLike]]
_NO_BARS: Mapping[str, BarLike] = {}


@dataclass(frozen=True, slots=True)
class QueuedClose:
    """A sell or avoid close waiting for the symbol's next open. `qty` None sells every share."""

    reason: ExitReason
    qty: int | Decimal | None = None


QUEUED_SELL = QueuedClose(ExitReason.SELL)
QUEUED_AVOID = QueuedClose(ExitReason.AVOID)
# read per fill, as constants: an enum member through its class costs ~70 ns in Python 3.11
_STOP, _TAKE_PROFIT, _TIME = ExitReason.STOP, ExitReason.TAKE_PROFIT, ExitReason.TIME


# Exit and BuyFill are built for every fill of a run and only read after: not frozen, because a
# frozen dataclass pays an `object.__setattr__` per field (four times the cost of building one).
@dataclass(slots=True)
class Exit(Generic[L]):
    """`qty` shares of `lot` sold at `price`: the whole lot, or (a sell of fewer shares) its first
    `qty`, the rest staying open. `leg`: a bracket leg filled (a venue records it as its own order)."""

    lot: L
    qty: int | Decimal
    price: Decimal
    reason: ExitReason
    leg: bool


@dataclass(slots=True)
class BuyFill:
    price: Decimal
    qty: int
    take_profit: Decimal
    stop: Decimal


@dataclass(frozen=True, slots=True)
class BuyRejected:
    """Why a due buy bought nothing; `no_bar`: the symbol has no bar that session."""

    message: str
    no_bar: bool


@dataclass(slots=True)
class SessionOpen(Generic[L, B]):
    exits: list[Exit[L]]  # in the order they fill: every gap, then queued closes, then time exits
    # (symbol, fill price) of each queued close that reached the market: it is used up, even if
    # nothing was left to sell
    closed: list[tuple[str, Decimal]]
    buys: list[tuple[B, BuyFill | BuyRejected]]  # the due buys, in the order given


# --- the open --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sale(Generic[L]):
    """A market sell at the open: its fill price (the open with the sell slippage) and what it sold
    (nothing: nothing was held when it reached the market)."""

    price: Decimal
    exits: list[Exit[L]]


def sell_at_open(
    open_price: Decimal, lots: Sequence[L], qty: int | Decimal | None, reason: ExitReason, params: StrategyParams
) -> Sale[L]:
    """A market sell of `qty` shares (None: all) of `lots`, taken in the given order, at the open.
    The queued closes of `open_session` and a venue's time exit sent at the open both sell so."""
    fill = sell_fill_price(open_price, params)
    exits: list[Exit[L]] = []
    _sell(lots, qty, fill, reason, exits)
    return Sale(fill, exits)


def _sell(lots: Sequence[L], qty: int | Decimal | None, fill: Decimal, reason: ExitReason, exits: list[Exit[L]]) -> None:
    if qty is None:
        for lot in lots:
            exits.append(Exit(lot, lot.qty, fill, reason, False))
        return
    left = qty
    for lot in lots:
        if left <= 0:
            break
        sold = lot.qty if lot.qty <= left else left
        exits.append(Exit(lot, sold, fill, reason, False))
        left -= sold


def open_session(
    session: date,
    held: Mapping[str, Sequence[L]],
    bar_of: BarOf,
    queued: Mapping[str, QueuedClose],
    planned: Mapping[str, date],
    buys: Sequence[B],
    params: StrategyParams,
    cache: BarCache | None = None,
) -> SessionOpen[L, B]:
    """Everything that fills at `session`'s open, in order (see the module docstring).

    `held`: the open lots per symbol, in the order a sell takes them (a queued close is only seen
    for a symbol in `held`; its list may be empty). `planned`: each symbol's planned exit session.
    `buys`: the buys due at this open. Nothing is mutated: the caller applies the result.
    """
    gaps: list[Exit[L]] = []
    sells: list[Exit[L]] = []
    timed: list[Exit[L]] = []
    closed: list[tuple[str, Decimal]] = []
    today = cache.get(session, _NO_BARS) if cache is not None else _NO_BARS
    for sym, lots in held.items():
        bar = today.get(sym)
        if bar is None and (bar := bar_of(sym, session)) is None:
            continue  # exits wait for the symbol's next bar
        o = bar.open
        left: Sequence[L] = lots
        for lot in lots:
            stop = lot.stop
            if stop is None:
                continue
            if o <= stop:
                hit = Exit(lot, lot.qty, sell_fill_price(o, params), _STOP, True)
            elif o >= lot.take_profit:  # type: ignore[operator]  # legs come in pairs
                hit = Exit(lot, lot.qty, o, _TAKE_PROFIT, True)
            else:
                continue
            gaps.append(hit)
            left = [x for x in left if x is not lot]
        close = queued.get(sym)
        rest: dict[int, int | Decimal] | None = None  # shares left of lots a partial close sold part of
        if close is not None:
            fill = sell_fill_price(o, params)
            closed.append((sym, fill))
            if left:
                if close.qty is None:
                    _sell(left, None, fill, close.reason, sells)
                    left = []
                else:
                    before = len(sells)
                    _sell(left, close.qty, fill, close.reason, sells)
                    rest = {}
                    for e in sells[before:]:
                        if e.qty != e.lot.qty:
                            rest[id(e.lot)] = e.lot.qty - e.qty
                    gone = {id(e.lot) for e in sells[before:] if e.qty == e.lot.qty}
                    left = [x for x in left if id(x) not in gone]
        due = planned.get(sym)
        if due is not None and due <= session and left:
            fill = sell_fill_price(o, params)
            for lot in left:
                timed.append(Exit(lot, rest.get(id(lot), lot.qty) if rest else lot.qty, fill, _TIME, False))
    filled = [
        (b, buy_at_open(today.get(b.symbol) or bar_of(b.symbol, session), b.size, b.legs or params, params, session, b.symbol))
        for b in buys
    ]
    return SessionOpen(gaps + sells + timed, closed, filled)


def buy_at_open(
    bar: BarLike | None, size: Decimal, legs: StrategyParams, params: StrategyParams, session: date, symbol: str
) -> BuyFill | BuyRejected:
    """A market buy of `size` dollars at the open: whole shares at the open plus the buy slippage,
    bracket legs set from the fill by `legs`' percentages."""
    if bar is None:
        return BuyRejected(f"no {symbol} bar on entry session {session}", True)
    fill = buy_fill_price(bar.open, params)
    qty = sizing.whole_shares(size, fill)
    if qty < 1:
        return BuyRejected(f"{size} buys no whole share at {fill}", False)
    take_profit, stop = sizing.bracket_prices(fill, legs)
    return BuyFill(fill, qty, take_profit, stop)


# --- the close -------------------------------------------------------------------------------


def close_session(
    session: date, held: Mapping[str, Sequence[L]], bar_of: BarOf, params: StrategyParams, cache: BarCache | None = None
) -> tuple[list[Exit[L]], Decimal]:
    """The bracket legs touched during `session`, filled at its close; every other lot of a symbol
    with a bar is marked to the close. Returns `(exits, change in the marked lots' value)`.

    The one write this module makes: a lot's `mark` (the engine keeps its market value
    incrementally from the returned change; the broker stores the mark). Exited lots keep theirs.
    """
    exits: list[Exit[L]] = []
    change = ZERO
    today = cache.get(session, _NO_BARS) if cache is not None else _NO_BARS
    for sym, lots in held.items():
        bar = today.get(sym)
        if bar is None and (bar := bar_of(sym, session)) is None:
            continue
        high, low, close = bar.high, bar.low, bar.close
        for lot in lots:
            stop = lot.stop
            if stop is not None:
                if low <= stop:
                    exits.append(Exit(lot, lot.qty, sell_fill_price(stop, params), _STOP, True))
                    continue
                if high >= lot.take_profit:  # type: ignore[operator]  # legs come in pairs
                    exits.append(Exit(lot, lot.qty, lot.take_profit, _TAKE_PROFIT, True))  # type: ignore[arg-type]
                    continue
            change += (close - lot.mark) * lot.qty
            lot.mark = close
    return exits, change
