"""The mention-driven backtest: replays calls through the SAME rules the live path trades by.

Time runs as in production. Each mention is decided at its publish time, with the account as it
stood then (fills at opens <= t, marks at the last close <= t, unfilled orders counted as held);
orders fill at the open of the first session that opens after the decision; bracket legs are
checked against each session's high/low at its close (an intraday stop "counts from the close");
the loss circuit and the drawdown halt are evaluated at closes. Nothing reads a bar dated after
the instant being simulated, which is what the no-lookahead test checks.
"""

from __future__ import annotations

import bisect
import gc
import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
from pydantic import BaseModel

from kevin_pipeline.domain import risk, venue
from kevin_pipeline.domain.aggregation import aggregation_key, effective_convictions_from_counts, others_in_window_counts
from kevin_pipeline.domain.calendar import NyseCalendar, instant_ns, ny_dates_of_ns, nyse_calendar
from kevin_pipeline.domain.execution import ExitReason
from kevin_pipeline.domain.models import (
    CENT,
    AccountState,
    Action,
    DecisionKind,
    DecisionStatus,
    Mention,
    holds_symbol,
)
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.domain.prices import TICKS_PER_DOLLAR, PriceBook, SessionGrid, from_ticks
from kevin_pipeline.domain.strategy import (
    DecisionFields,
    by_holding_key,
    construct_trusted,
    decision_fields,
    decision_with_the_account,
    decision_without_the_account,
    decisions_by_holding,
    without_the_account_key,
)

ZERO = Decimal("0")
_PCT_QUANTUM = Decimal("0.0001")  # a trade's pnl in percent
# enum members read per decision, as constants (`strategy` says why)
_OPEN_LONG, _CLOSE_LONG, _NO_OP = DecisionKind.OPEN_LONG, DecisionKind.CLOSE_LONG, DecisionKind.NO_OP
_SELL = Action.SELL


# --- outputs ---------------------------------------------------------------------------------


class BacktestTrade(BaseModel):
    symbol: str
    mention_id: int | None
    entry_session: date
    entry_at: datetime
    entry_price: Decimal
    qty: int
    exit_session: date | None = None
    exit_at: datetime | None = None
    exit_price: Decimal | None = None
    exit_reason: ExitReason = ExitReason.END_OF_DATA
    pnl_usd: Decimal = ZERO
    pnl_pct: Decimal = ZERO
    sessions_held: int = 0
    commission_usd: Decimal = ZERO
    stop_price: Decimal
    take_profit_price: Decimal


class BacktestDecision(BaseModel):
    """The audit row per mention: what `evaluate` decided, plus what happened at the fill."""

    mention_id: int | None
    symbol: str
    action: Action
    published_at: datetime
    kind: DecisionKind
    status: DecisionStatus
    reason: str
    effective_conviction: Decimal
    size_usd: Decimal
    hold_sessions: int | None
    entry_session: date | None = None
    filled_qty: int | None = None


@dataclass
class BacktestResult:
    params: StrategyParams
    trades: list[BacktestTrade]
    decisions: list[BacktestDecision]
    # float, indexed by session date: the starting capital at the close before the first session
    # the backtest can trade (the base every return is measured from), then equity at each close
    equity: pd.Series
    benchmark: pd.Series  # buy-and-hold of the benchmark from that first session's open, same base
    exposure: pd.Series  # bool: a position was held at that close
    final_cash: Decimal = ZERO
    notes: list[str] = field(default_factory=list)


# --- the call tape ---------------------------------------------------------------------------


class MentionTape(Sequence[Mention]):
    """Mentions in decision order, with the work that does not depend on StrategyParams done once.

    `run_backtest` accepts a tape wherever it accepts a list of mentions. A sweep builds one tape
    and runs every parameter set over it, so the sort, the New York dates, the entry sessions
    and the aggregation windows are computed once per sweep instead of once per backtest.
    Iterating a tape gives the mentions in publish order (ties by id).
    """

    def __init__(self, mentions: Iterable[Mention], calendar: NyseCalendar | None = None) -> None:
        self.calendar = calendar or nyse_calendar()
        given = list(mentions)
        # In publish order, ties by id (None first), stably: sorted on (UTC ns, id) with numpy
        given_ns = np.fromiter((instant_ns(m.published_at) for m in given), dtype=np.int64, count=len(given))
        ids = np.fromiter((m.id if m.id is not None else -1 for m in given), dtype=np.int64, count=len(given))
        order = np.lexsort((ids, given_ns)).tolist()  # the last key sorts first; a stable sort
        self.mentions: list[Mention] = [given[j] for j in order]
        self.published_ns: list[int] = given_ns[order].tolist()
        self.ny_dates: list[date] = ny_dates_of_ns(self.published_ns)
        # where each call fills: the first session opening strictly after it (`next_open_after`)
        self.entry_indices: list[int] = self.calendar.next_open_indices(self.published_ns)
        # None past the calendar's end: `entry_session` then raises as `next_open_after` would
        count = self.calendar.session_count
        self._entry_sessions: list[date | None] = [
            self.calendar.session_at(k) if k < count else None for k in self.entry_indices
        ]
        self._counts: dict[float, list[int]] = {}
        self._effective: dict[tuple[object, ...], list[Decimal]] = {}
        self._settled: dict[tuple[object, ...], list[DecisionFields | None]] = {}
        self._quiet: dict[tuple[object, ...], tuple[PriceBook, list[bool], list[int]]] = {}
        self._by_holding: dict[tuple[object, ...], list[tuple[DecisionFields, DecisionFields] | None]] = {}
        self._session_bounds: tuple[list[int], list[int]] | None = None

    def __len__(self) -> int:
        return len(self.mentions)

    def __getitem__(self, i):  # type: ignore[no-untyped-def, override]
        return self.mentions[i]

    def __iter__(self) -> Iterator[Mention]:
        return iter(self.mentions)

    def effective_convictions(self, params: StrategyParams) -> list[Decimal]:
        """`aggregation.effective_convictions` of the tape, cached per aggregation parameters."""
        key = aggregation_key(params)
        eff = self._effective.get(key)
        if eff is None:
            window = params.aggregation_window_hours
            counts = self._counts.get(window)
            if counts is None:
                counts = self._counts[window] = others_in_window_counts(self.mentions, window, self.published_ns)
            eff = self._effective[key] = effective_convictions_from_counts(self.mentions, counts, params)
        return eff

    def decided_without_the_account(self, params: StrategyParams, compute: bool = True) -> list[DecisionFields | None] | None:
        """Per call, `strategy.decision_without_the_account` at its publish time (None: the account
        decides), cached per key: a sweep works it out before its runs and they share it (a single
        run would only do the work twice: `compute=False` returns None when nothing is cached).
        For a tradable symbol only; the engine asks the strategy itself about the others."""
        key = (without_the_account_key(params), aggregation_key(params))
        settled = self._settled.get(key)
        if settled is None and compute:
            settled = self._settled[key] = [
                decision_without_the_account(m, m.published_at, params, c)
                for m, c in zip(self.mentions, self.effective_convictions(params))
            ]
        return settled

    def quiet_calls(self, params: StrategyParams, prices: PriceBook) -> tuple[list[bool], list[int]] | None:
        """Per call: decided without the account (`decided_without_the_account`, cached) on a
        symbol `prices` has bars for; and the indices of the other calls, in order. A light run
        (no audit rows) has nothing to apply for those calls, and decides only the others. None
        when the decisions are not cached; cached per key for the last book asked."""
        settled = self.decided_without_the_account(params, compute=False)
        if settled is None:
            return None
        key = (without_the_account_key(params), aggregation_key(params))
        cached = self._quiet.get(key)
        if cached is not None and cached[0] is prices:
            return cached[1], cached[2]
        tradable: dict[str, bool] = {}
        quiet = []
        for m, fixed in zip(self.mentions, settled):
            ok = tradable.get(m.symbol)
            if ok is None:
                ok = tradable[m.symbol] = prices.has_symbol(m.symbol)
            quiet.append(ok and fixed is not None)
        loud = [i for i, q in enumerate(quiet) if not q]
        self._quiet[key] = (prices, quiet, loud)
        self.decided_by_holding(params)  # the loud sell and avoid calls, for the same light runs
        return quiet, loud

    def decided_by_holding(
        self, params: StrategyParams, compute: bool = True
    ) -> list[tuple[DecisionFields, DecisionFields] | None] | None:
        """Per call, `strategy.decisions_by_holding` at its publish time, unexplained (what a light
        run acts on): a sell or avoid call's decision if the account holds its symbol, and if not.
        Cached per key; `compute=False` returns None when nothing is cached (`quiet_calls` works
        it out with the rest of a light run's preparation)."""
        key = (by_holding_key(params), aggregation_key(params))
        pairs = self._by_holding.get(key)
        if pairs is None and compute:
            pairs = self._by_holding[key] = [
                decisions_by_holding(m, m.published_at, params, c, explain=False)
                for m, c in zip(self.mentions, self.effective_convictions(params))
            ]
        return pairs

    def session_bounds(self) -> tuple[list[int], list[int]]:
        """Per calendar session, the index of the first call published at or after its open, and
        at or after its close: the calls decided before that open (close) are the ones before it.
        The same for every run of the tape, so worked out once."""
        if self._session_bounds is None:
            self._session_bounds = self.calendar.counts_before(self.published_ns)
        return self._session_bounds

    def entry_session(self, i: int) -> date:
        """`calendar.next_open_after(mention i's publish time)`: the session its order fills at."""
        session = self._entry_sessions[i]
        return session if session is not None else self.calendar.session_at(self.entry_indices[i])

    def span(self, start: date | None, end: date | None) -> range:
        """Indices of the mentions published (New York date) in [start, end]: one slice, since the
        tape is in time order."""
        lo = 0 if start is None else bisect.bisect_left(self.ny_dates, start)
        hi = len(self.mentions) if end is None else bisect.bisect_right(self.ny_dates, end)
        return range(lo, max(lo, hi))


# --- engine state ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Lot:
    symbol: str
    mention_id: int | None
    qty: int
    entry_session: date
    entry_k: int  # the entry session's calendar index
    entry_at: datetime
    entry_price: Decimal
    stop: Decimal
    take_profit: Decimal
    commission: Decimal
    mark: Decimal  # the last close (or the fill); only kept current where the venue looks (`_HeldIndex`)
    cost: Decimal = ZERO  # entry_price * qty
    stop_ticks: int = 0
    take_profit_ticks: int = 0

    def __post_init__(self) -> None:
        self.cost = self.entry_price * self.qty
        self.stop_ticks = int(self.stop * TICKS_PER_DOLLAR)  # the legs are whole cents: exact
        self.take_profit_ticks = int(self.take_profit * TICKS_PER_DOLLAR)


@dataclass(slots=True)
class _PendingBuy:
    decision_index: int
    mention_id: int | None
    symbol: str
    size: Decimal
    entry_session: date
    legs: StrategyParams | None = None  # the bracket percentages: the run's (venue.DueBuy)


class _HeldIndex:
    """The held symbols as numpy slots over the `SessionGrid`: each session, which of them the venue
    must look at, and what they are worth at a close, in one array operation each.

    Per slot: where the symbol's grid row starts, its shares, the highest stop and the lowest take-profit of
    its lots (in ticks). A session whose open is at or under that stop or at or over that
    take-profit may fill a leg at the open; one whose low or high reaches them, at the close.
    Anywhere else no leg can fill, so the venue is not asked about that symbol: it would only have
    marked it, and the close's value comes from `value_ticks`. An empty slot points at the grid's
    row with no bars, has no shares, and legs beyond even the grid's "no bar" values: it is never
    asked about and is worth nothing.
    """

    _LOW = np.iinfo(np.int64).min // 2
    _HIGH = np.iinfo(np.int64).max // 2

    def __init__(self, grid: SessionGrid, capacity: int = 64) -> None:
        self.grid = grid
        # The grid's arrays flat (views: rows filled later show through), and per slot where its
        # row starts in them: a session's values are `flat[start + column]`, one gather cheaper
        # than numpy's two-dimensional `array[rows, column]`.
        self.stride = grid.open.shape[1]
        self.open, self.low, self.high, self.close_ff = (
            np.reshape(a, -1, copy=False) for a in (grid.open, grid.low, grid.high, grid.close_ff)  # raises rather than copy
        )
        self.empty_start = grid.empty_row * self.stride  # an empty slot's: the row with no bars
        self.start = np.full(capacity, self.empty_start, dtype=np.int64)
        self.qty = np.zeros(capacity, dtype=np.int64)
        self.stop = np.full(capacity, self._LOW, dtype=np.int64)
        self.take_profit = np.full(capacity, self._HIGH, dtype=np.int64)
        self.slot: dict[str, int] = {}
        self.symbol: list[str | None] = [None] * capacity
        self.free: list[int] = list(range(capacity - 1, -1, -1))

    def set(self, sym: str, lots: list["_Lot"]) -> None:
        """The symbol's slot as its lots now are (freed when it has none)."""
        slot = self.slot.get(sym)
        if not lots:
            if slot is not None:
                del self.slot[sym]
                self.symbol[slot] = None
                self.start[slot], self.qty[slot] = self.empty_start, 0
                self.stop[slot], self.take_profit[slot] = self._LOW, self._HIGH
                self.free.append(slot)
            return
        if slot is None:
            if not self.free:
                self._grow()
            slot = self.slot[sym] = self.free.pop()
            self.symbol[slot] = sym
            self.start[slot] = self.grid.row(sym) * self.stride
        if len(lots) == 1:  # the usual case: one lot per symbol
            lot = lots[0]
            self.qty[slot], self.stop[slot], self.take_profit[slot] = lot.qty, lot.stop_ticks, lot.take_profit_ticks
            return
        self.qty[slot] = sum(lot.qty for lot in lots)
        self.stop[slot] = max(lot.stop_ticks for lot in lots)
        self.take_profit[slot] = min(lot.take_profit_ticks for lot in lots)

    def _grow(self) -> None:
        n = len(self.start)
        self.start = np.concatenate([self.start, np.full(n, self.empty_start, dtype=np.int64)])
        self.qty = np.concatenate([self.qty, np.zeros(n, dtype=np.int64)])
        self.stop = np.concatenate([self.stop, np.full(n, self._LOW, dtype=np.int64)])
        self.take_profit = np.concatenate([self.take_profit, np.full(n, self._HIGH, dtype=np.int64)])
        self.symbol += [None] * n
        self.free = list(range(2 * n - 1, n - 1, -1))

    def _symbols(self, slots: np.ndarray) -> set[str]:
        return {self.symbol[i] for i in slots.tolist()} if len(slots) else set()  # type: ignore[misc]  # a used slot has a symbol

    def at_open(self, column: int) -> set[str]:
        """Held symbols whose bar opens through one of their legs (or that have no bar: see SessionGrid)."""
        o = self.open[self.start + column]
        hit = o <= self.stop
        hit |= o >= self.take_profit
        return self._symbols(hit.nonzero()[0])

    def at_close(self, column: int) -> tuple[set[str], np.ndarray]:
        """Held symbols whose bar's range reaches one of their legs; and each slot's last close on
        or before the session, for `value_ticks` once the legs have filled."""
        at = self.start + column
        hit = self.low[at] <= self.stop
        hit |= self.high[at] >= self.take_profit
        return self._symbols(hit.nonzero()[0]), self.close_ff[at]

    def value_ticks(self, closes: np.ndarray) -> int:
        """Every held share at `closes` (`at_close`'s: no slot is filled at a close, and one emptied
        since holds no shares), in ticks."""
        return int(closes.dot(self.qty))

    def last_close(self, sym: str, column: int) -> Decimal:
        return from_ticks(int(self.close_ff[self.grid.row(sym) * self.stride + column]))


_NO_TRADES_YET = (0, ZERO)  # a day's (count, allocation) before its first buy


@dataclass
class _Book:
    cash: Decimal
    starting_equity: Decimal
    lots: dict[str, list[_Lot]] = field(default_factory=dict)
    # each symbol's place in `lots` (a count, taken when its key is added): the book's order of a
    # few symbols without a walk over every symbol held
    lots_order: dict[str, int] = field(default_factory=dict)
    _keys_added: Iterator[int] = field(default_factory=itertools.count)
    planned_exit: dict[str, date] = field(default_factory=dict)
    pending: list[_PendingBuy] = field(default_factory=list)
    pending_count: dict[str, int] = field(default_factory=dict)  # pending buys per symbol
    queued_close: dict[str, venue.QueuedClose] = field(default_factory=dict)
    blocklist: dict[str, datetime] = field(default_factory=dict)
    daily: dict[date, tuple[int, Decimal]] = field(default_factory=dict)
    paused_until: datetime | None = None
    halted: bool = False
    halt_reason: str | None = None
    index: _HeldIndex | None = None  # set by the engine: the held symbols over the price grid
    # the pending buys' sizes, summed as they come and go: whole cents, so exactly their sum
    reserved: Decimal = ZERO
    mv: Decimal = ZERO  # sum of lot.mark * lot.qty: recounted at each close, moved by fills and exits between
    basis: dict[str, Decimal] = field(default_factory=dict)  # filled cost per symbol
    # What a decision sees as held per symbol: the filled cost plus the pending buys, summed as
    # `state_at` always did (filled basis first, then each pending size in order), refreshed for
    # one symbol whenever its lots or pending buys change rather than rebuilt per mention.
    held: dict[str, Decimal] = field(default_factory=dict)
    # Symbols that lost a lot or a pending buy, or got a planned exit, since the last open: only
    # these can have become "no lots, nothing pending", so only these need the open's clean-up.
    touched: set[str] = field(default_factory=set)
    # The run's one AccountState and the New York date it was last filled for: decisions in a row
    # see the same account until something changes it (`changed`: stale), so they share it; when
    # stale, the next decision refills its values in place rather than building another.
    _state: AccountState | None = None
    _state_day: date | None = None
    _stale: bool = True
    # (planned exit's session index, symbol, planned exit) as set: `exits_due`. Ordered by the
    # index: an int compares in a fraction of a date's time, and each session pops its due plans.
    _exit_heap: list[tuple[int, str, date]] = field(default_factory=list)
    _exits_due: set[str] = field(default_factory=set)

    def changed(self) -> None:
        """Something a decision sees moved (cash, marks, lots, pending buys, caps, pauses, halt)."""
        self._stale = True

    def add_lot(self, lot: _Lot) -> None:
        lots = self.lots.get(lot.symbol)
        if lots is None:
            lots = self.lots[lot.symbol] = []
            self.lots_order[lot.symbol] = next(self._keys_added)  # a new key goes last, as in `lots`
        lots.append(lot)
        if self.index is not None:
            self.index.set(lot.symbol, lots)
        self.mv += lot.mark * lot.qty
        self.basis[lot.symbol] = self.basis.get(lot.symbol, ZERO) + lot.cost
        self._refresh_held(lot.symbol)

    def remove_lot(self, lot: _Lot) -> None:
        self.touched.add(lot.symbol)
        self.lots[lot.symbol].remove(lot)
        if self.index is not None:
            self.index.set(lot.symbol, self.lots[lot.symbol])
        self.mv -= lot.mark * lot.qty
        b = self.basis[lot.symbol] - lot.cost
        if self.lots[lot.symbol]:
            self.basis[lot.symbol] = b
        else:
            del self.basis[lot.symbol]
        self._refresh_held(lot.symbol)

    def add_pending(self, p: _PendingBuy, day: date) -> None:
        """A buy decided on New York date `day`, waiting for its open: its cash is reserved, it
        counts toward the day's caps and as held.

        Equity does not move, so the decisions' account is brought up to date in place (its cash
        and the day's buys) rather than made stale: the next decision neither refills it nor
        checks the drawdown halt again for an equity already checked.
        """
        self.pending.append(p)
        self.reserved += p.size
        self.pending_count[p.symbol] = self.pending_count.get(p.symbol, 0) + 1
        count, alloc = self.daily.get(day, _NO_TRADES_YET)
        self.daily[day] = (count + 1, alloc + p.size)
        # held as `_refresh_held` sums it: the filled cost, then each pending size in order (this one last)
        self.held[p.symbol] = self.held.get(p.symbol, ZERO) + p.size
        if self._stale or self._state_day != day or self._state is None:
            self._stale = True
        else:
            self._fill_buys(self._state.__dict__, day)

    def remove_pending(self, p: _PendingBuy, refresh: bool = True) -> None:
        """`refresh=False`: the symbol's lot arrives next (`add_lot`), which refreshes what it holds."""
        self.touched.add(p.symbol)
        self.pending.remove(p)
        self.reserved -= p.size
        n = self.pending_count[p.symbol] - 1
        if n:
            self.pending_count[p.symbol] = n
        else:
            del self.pending_count[p.symbol]
        if refresh:
            self._refresh_held(p.symbol)

    def plan_exit(self, sym: str, session: date, k: int) -> None:
        """The symbol's planned exit: `session` (calendar index `k`), unless one already planned is later."""
        current = self.planned_exit.get(sym)
        if current is None or session > current:
            self.planned_exit[sym] = session
            heapq.heappush(self._exit_heap, (k, sym, session))

    def exits_due(self, session: date, k: int) -> set[str]:
        """The symbols whose planned exit is at or before `session` (calendar index `k`), without a
        look at every planned exit: each one set is pushed on a heap, and kept here from the
        session it falls due until it is dropped or moved later."""
        heap, due = self._exit_heap, self._exits_due
        while heap and heap[0][0] <= k:
            _, sym, when = heapq.heappop(heap)
            if self.planned_exit.get(sym) == when:  # still the plan (not dropped, not moved later)
                due.add(sym)
        if due:
            for sym in [s for s in due if self.planned_exit.get(s, date.max) > session]:  # dropped or moved later
                due.discard(sym)
        return due

    def has_pending(self, sym: str) -> bool:
        return sym in self.pending_count

    def _refresh_held(self, sym: str) -> None:
        self._stale = True
        value = self.basis.get(sym)
        if sym in self.pending_count:
            value = ZERO if value is None else value
            for p in self.pending:
                if p.symbol == sym:
                    value = value + p.size
        if value is None:
            self.held.pop(sym, None)
        else:
            self.held[sym] = value

    def equity(self) -> Decimal:
        return self.cash + self.mv

    def state_at(self, day: date) -> AccountState:
        """The account a decision on New York date `day` sees (unfilled buys count as held).

        `cost_basis` and `blocklist` are the book's own dicts, not copies: `strategy.evaluate` only
        reads the state. The state serves the next decision on the same date until `changed` (or a
        lot or pending buy moving) makes it stale.
        """
        view = self._state
        if not self._stale and self._state_day == day:
            return view  # type: ignore[return-value]  # not stale: built
        if view is None:  # one state per run, its values replaced when stale: no decision keeps the one it was handed
            view = self._state = construct_trusted(AccountState, {
                "equity": ZERO, "cash": ZERO, "starting_equity": self.starting_equity,
                "cost_basis": self.held, "blocklist": self.blocklist,  # the book's own dicts: always current
                "daily_trade_count": 0, "daily_alloc_usd": ZERO, "paused_until": None, "halted": False, "halt_reason": None,
            })
        values = view.__dict__
        values["equity"] = self.cash + self.mv
        self._fill_buys(values, day)
        values["paused_until"] = self.paused_until
        values["halted"] = self.halted
        values["halt_reason"] = self.halt_reason
        self._state_day = day
        self._stale = False
        return view

    def _fill_buys(self, values: dict[str, object], day: date) -> None:
        """The state's values a pending buy moves: the cash left after pending buys, the day's buys."""
        values["cash"] = self.cash - self.reserved if self.pending else self.cash
        values["daily_trade_count"], values["daily_alloc_usd"] = self.daily.get(day, _NO_TRADES_YET)


# --- the engine ------------------------------------------------------------------------------


ProgressFn = Callable[[int, int], None]


def run_backtest(
    mentions: Sequence[Mention],
    prices: PriceBook | pd.DataFrame,
    params: StrategyParams,
    *,
    calendar: NyseCalendar | None = None,
    start: date | None = None,
    end: date | None = None,
    progress: ProgressFn | None = None,
    audit: bool = True,
) -> BacktestResult:
    """Replay `mentions` over daily bars. `prices` must include the benchmark symbol's bars.

    `start`/`end` restrict which mentions are traded (by publish date, New York) and where the
    simulation stops; aggregation still sees earlier mentions, as the live path would.
    `mentions` may be a `MentionTape` (built on the same calendar) to skip the per-call setup.
    `audit=False` leaves `decisions` empty: a sweep that keeps only each run's metrics does not
    build the thousands of audit rows it would drop. Trades, curves and cash are the same.
    """
    with _collector_paused():
        return _run(mentions, prices, params, calendar, start, end, progress, audit)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection during a run (restored after it, as it was).

    A run allocates a few hundred thousand small objects that form no reference cycles; each
    generation-0 collection they trigger re-scans the caller's long-lived objects (the mentions,
    the bars) for nothing, about a fifth of a run's time. Sweep workers freeze those objects
    instead (`gc.freeze`); a single backtest (CLI, dashboard, bench) pauses the collector.

    Turned back on, the collector would at once walk every object the run made and kept (the
    audit rows, the trades, the bars: tens of thousands, ~5 % of a run) to find no cycle among
    them. They are moved to the oldest generation unwalked instead (a freeze and an unfreeze:
    two list splices), where a later full collection sees them like any long-lived object. Not
    when the caller froze objects of its own: unfreezing would hand those back to the collector.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def _run(
    mentions: Sequence[Mention], prices: PriceBook | pd.DataFrame, params: StrategyParams, calendar: NyseCalendar | None,
    start: date | None, end: date | None, progress: ProgressFn | None, audit: bool = True,
) -> BacktestResult:
    cal = calendar or nyse_calendar()
    book_prices = prices if isinstance(prices, PriceBook) else PriceBook.from_frame(prices)
    tape = mentions if isinstance(mentions, MentionTape) and mentions.calendar is cal else MentionTape(mentions, cal)
    span = tape.span(start, end)
    last_bar = book_prices.last_date(params.benchmark_symbol) or book_prices.last_date()
    if end is not None and last_bar is not None:
        last_bar = min(last_bar, end)
    engine = _Engine(cal, book_prices, params, tape, audit)
    if not span or last_bar is None:
        return engine.finish(span, last_session=None)

    first = span[0]
    first_session = cal.next_session_on_or_after(tape.ny_dates[first])
    last_session = cal.next_session_on_or_after(last_bar) if not cal.is_session(last_bar) else last_bar
    if last_session > last_bar:
        last_session = cal.session_at(cal.session_index(last_session) - 1)
    # The first session the backtest can trade: `--start`'s, else the first call's entry session.
    # The curves (strategy and benchmark) start there with the starting capital.
    engine.curve_start = cal.next_session_on_or_after(start) if start is not None else tape.entry_session(first)
    first_session = min(first_session, engine.curve_start)
    sessions = cal.sessions_between(first_session, last_session) if first_session <= last_session else []

    # The calls before each open and each close: where the tape's calls fall among the sessions
    # is the same for every run, so the tape knows it (`session_bounds`).
    before_open, before_close = tape.session_bounds()
    i, stop = span.start, span.stop
    engine.skip_to(i)
    base = cal.session_index(sessions[0]) if sessions else 0
    total = len(sessions)
    for n, session in enumerate(sessions):
        k = base + n
        i = engine.decide_up_to(i, min(before_open[k], stop))
        engine.on_open(session, cal.open_at(k), k)
        i = engine.decide_up_to(i, min(before_close[k], stop))
        engine.on_close(session, cal.close_at(k), k)
        if progress is not None and (n % 250 == 0 or n == total - 1):
            progress(n + 1, total)
    return engine.finish(range(i, stop), last_session=sessions[-1] if sessions else None)


class _Engine:
    def __init__(
        self, cal: NyseCalendar, prices: PriceBook, params: StrategyParams, tape: MentionTape, audit: bool = True
    ) -> None:
        self.audit = audit
        self.cal = cal
        self.prices = prices
        self.params = params
        self.tape = tape
        self.effective = tape.effective_convictions(params)
        self.settled = tape.decided_without_the_account(params, compute=False)
        quiet = None if audit else tape.quiet_calls(params, prices)
        # a light run's calls decided without the account, and the others' indices (None: every call is decided)
        self.quiet, self.loud = quiet if quiet is not None else (None, None)
        self.next_loud = 0  # in `loud`: the next call a light run decides
        # a light run's sell and avoid calls: decided by what the book holds (None: by the rules)
        self.by_holding = tape.decided_by_holding(params, compute=False) if quiet is not None else None
        self.grid = prices.session_grid(cal)
        self.book = _Book(cash=params.starting_equity_usd, starting_equity=params.starting_equity_usd)
        self.held = self.book.index = _HeldIndex(self.grid)
        self.trades: list[BacktestTrade] = []
        self.decisions: list[BacktestDecision] = []
        self.curve: dict[date, float] = {}
        self.exposure: dict[date, bool] = {}
        self.prev_close_equity: Decimal | None = None
        self.curve_start: date | None = None
        self.notes: list[str] = []
        self._tradable: dict[str, bool] = {}

    # decisions ------------------------------------------------------------------------------
    def skip_to(self, i: int) -> None:
        """The run's first call is the tape's `i` (`start`): a light run skips the loud ones before it."""
        if self.loud is not None:
            self.next_loud = bisect.bisect_left(self.loud, i)

    def decide_up_to(self, i: int, end: int) -> int:
        """Decide the tape's calls `i` to `end` (exclusive), all published between two session
        events (an open, a close), and return where the next run of calls starts.

        A light run decides only the calls the account can change (`loud`): the others change
        nothing it keeps. One thing a call does whatever it is: the first after a change of the
        book checks the drawdown halt at its time. Equity moves only at opens and closes, so the
        first call after one checks for all of them; when it is a quiet one it checks here.
        """
        if i >= end:
            return i
        loud = self.loud
        if loud is None:
            for j in range(i, end):
                self.decide(j)
            return end
        if self.quiet[i] and self.book._stale:  # type: ignore[index]  # set with loud
            self._halt_if_tripped(self.tape.mentions[i].published_at)
        n, stop = self.next_loud, len(loud)
        while n < stop and loud[n] < end:
            self.decide(loud[n])
            n += 1
        self.next_loud = n
        return end

    def decide(self, i: int) -> None:
        """Decide the tape's mention `i` at its publish time."""
        book = self.book
        # Decisions change no cash and no mark: equity can only have moved (and tripped the halt)
        # since the last check if the book changed, which makes the shared state stale.
        tape = self.tape
        mention = tape.mentions[i]
        t = mention.published_at
        sym = mention.symbol
        tradable = self._tradable.get(sym)
        if tradable is None:
            tradable = self._tradable[sym] = self.prices.has_symbol(sym)
        fresh = book._stale
        known = self.settled if tradable else None
        if known is not None and (settled := known[i]) is not None:  # skipped whatever the account holds
            if self.audit:
                self._record(mention, settled, True, tape.entry_session(i))
            if fresh:
                self._halt_if_tripped(t)
            return
        # `evaluate`'s decision as field values: the audit row below is what the run keeps. Where
        # the tape knows the account-free rules pass, only the account's rules are asked; a light
        # run's sell or avoid call reads only whether the book holds the symbol.
        if known is not None and self.by_holding is not None and (pair := self.by_holding[i]) is not None:
            d = pair[0] if holds_symbol(book.held, sym) else pair[1]
        elif known is not None:
            state = book.state_at(tape.ny_dates[i])
            d = decision_with_the_account(mention, state, t, self.params, self.effective[i], explain=self.audit)
        else:
            d = decision_fields(mention, book.state_at(tape.ny_dates[i]), t, self.params, self.effective[i], tradable)
        kind: DecisionKind = d["kind"]
        size: Decimal = d["size_usd"]
        hold: int | None = d["hold_sessions"]
        if self.audit:
            self._record(mention, d, tradable, tape.entry_session(i))
        blocked: datetime | None = d["blocklist_until"]
        if blocked is not None:
            book.blocklist[sym] = max(book.blocklist.get(sym, blocked), blocked)
        if hold is not None and (d["extends_hold"] or kind is _OPEN_LONG):
            exit_k = tape.entry_indices[i] + hold
            book.plan_exit(sym, self.cal.session_at(exit_k), exit_k)
            book.touched.add(sym)
        if kind is _OPEN_LONG:
            pending = _PendingBuy(len(self.decisions) - 1, mention.id, sym, size, tape.entry_session(i))  # -1: no audit
            book.add_pending(pending, tape.ny_dates[i])
        elif kind is _CLOSE_LONG:
            if book.has_pending(sym):
                for p in [p for p in book.pending if p.symbol == sym]:
                    book.remove_pending(p)
                    if self.audit:
                        cancelled = self.decisions[p.decision_index]
                        cancelled.reason += f"; cancelled before its fill by {mention.action.value} call #{mention.id}"
            if book.lots.get(sym):
                book.queued_close[sym] = venue.QUEUED_SELL if d["acted_as"] is _SELL else venue.QUEUED_AVOID
            elif sym not in book.queued_close:
                book.planned_exit.pop(sym, None)
        if fresh:
            self._halt_if_tripped(t)

    def _halt_if_tripped(self, t: datetime) -> None:
        book = self.book
        if book.halted is False and risk.drawdown_halt_tripped(book.equity(), book.starting_equity, self.params):
            self._halt(t)

    def _record(self, mention: Mention, d: dict[str, object], tradable: bool, entry_session: date) -> None:
        """The run's audit row for `evaluate`'s decision `d` (fills and cancels amend it later)."""
        kind = d["kind"]
        row: BacktestDecision = construct_trusted(
            BacktestDecision,
            {
                "mention_id": mention.id,
                "symbol": mention.symbol,
                "action": mention.action,
                "published_at": mention.published_at,
                "kind": kind,
                "status": d["status"],
                "reason": d["reason"] if tradable else f"no price bars for {mention.symbol}",
                "effective_conviction": d["effective_conviction"],
                "size_usd": d["size_usd"],
                "hold_sessions": d["hold_sessions"],
                "entry_session": entry_session if kind is not _NO_OP else None,
                "filled_qty": None,
            },
        )
        self.decisions.append(row)

    # session open ----------------------------------------------------------------------------
    def on_open(self, session: date, open_at: datetime, k: int) -> None:
        """Apply what `venue.open_session` says fills at this open, in its order."""
        book = self.book
        lots_by_symbol = book.lots
        due = [p for p in book.pending if p.entry_session <= session] if book.pending else []
        held = self._at_open(session, k) if lots_by_symbol else {}
        if held or due:  # else nothing can fill at this open
            opened = venue.open_session(
                session, held, self.prices.bar, book.queued_close, book.planned_exit, due, self.params,
                self.prices.memo(),  # PriceBook.bar's memo, read first: this runs per held symbol
            )
            for sym, _ in opened.closed:
                del book.queued_close[sym]
            for e in opened.exits:
                self._close_lot(e.lot, session, k, open_at, e.price, e.reason)
            for p, outcome in opened.buys:
                self._fill(p, outcome, session, k, open_at)
        # Drop planned exits with nothing left to exit, and emptied lot lists. Only touched symbols
        # can be in either state (see `_Book.touched`); deleting keys keeps the others' order.
        for sym in book.touched:
            if sym in book.planned_exit and not lots_by_symbol.get(sym) and sym not in book.pending_count:
                del book.planned_exit[sym]
            if sym in lots_by_symbol and not lots_by_symbol[sym]:
                del lots_by_symbol[sym]
        book.touched.clear()

    def _fill(
        self, p: _PendingBuy, outcome: venue.BuyFill | venue.BuyRejected, session: date, k: int, open_at: datetime
    ) -> None:
        """A due buy's outcome at the open: the pending buy goes, and its lot comes if it filled."""
        decision = self.decisions[p.decision_index] if self.audit else None
        if isinstance(outcome, venue.BuyRejected):
            self.book.remove_pending(p)
            if decision is not None:
                decision.status = DecisionStatus.SKIPPED_NON_TRADABLE if outcome.no_bar else DecisionStatus.SKIPPED_CAPS
                decision.reason += f"; skipped: {outcome.message}"
            return
        fill, qty = outcome.price, outcome.qty
        commission = self.params.commission_usd
        lot = _Lot(p.symbol, p.mention_id, qty, session, k, open_at, fill, outcome.stop, outcome.take_profit, commission, fill)
        self.book.cash -= lot.cost + commission  # cost: fill * qty
        self.book.remove_pending(p, refresh=False)
        self.book.add_lot(lot)
        if decision is not None:
            decision.filled_qty = qty

    def _at_open(self, session: date, k: int) -> dict[str, list[_Lot]]:
        """The held symbols the venue must see at this open: an open through a leg, a queued sell
        or avoid close, a time exit due. Any other symbol would be left as it is."""
        book = self.book
        if not book.lots:
            return {}
        column = k - self.grid.k0
        look = self.held.at_open(column) if 0 <= column < self.grid.columns else set()
        look.update(book.queued_close)
        look.update(book.exits_due(session, k))
        return self._looked_at(look, column - 1) if look else {}

    def _looked_at(self, look: set[str], marked_at: int | None) -> dict[str, list[_Lot]]:
        """`look`'s lots, in the book's order, each marked to its symbol's last close at or before
        grid column `marked_at`: what the venue values them at (at an open, or at the end).

        `marked_at` None: left as they are. At a close the book's value is counted afresh from the
        grid once the legs have filled (`value_ticks`), so no mark a close's exit takes out of it
        is read; the venue marks the lots that stay."""
        held: dict[str, list[_Lot]] = {}
        lots_by_symbol = self.book.lots
        for sym in sorted([s for s in look if s in lots_by_symbol], key=self.book.lots_order.__getitem__):
            lots = held[sym] = lots_by_symbol[sym]
            if marked_at is None:
                continue
            mark = self.held.last_close(sym, marked_at)
            for lot in lots:
                lot.mark = mark
        return held

    # session close ---------------------------------------------------------------------------
    def on_close(self, session: date, close_at: datetime, k: int) -> None:
        """Apply `venue.close_session`: the legs touched today fill, every other lot is marked."""
        book, params = self.book, self.params
        book.changed()  # the marks move, and a pause or a halt may start
        lots_by_symbol = book.lots
        if lots_by_symbol:
            column = k - self.grid.k0
            look, closes = self.held.at_close(column)
            exits = []
            if look:
                held = self._looked_at(look, None)  # the book's value is recounted below
                exits, _ = venue.close_session(session, held, self.prices.bar, params, self.prices.memo())
            for e in exits:
                self._close_lot(e.lot, session, k, close_at, e.price, e.reason)
            for e in exits:
                sym = e.lot.symbol
                if not lots_by_symbol.get(sym):
                    lots_by_symbol.pop(sym, None)
                    book.queued_close.pop(sym, None)
                    if sym not in book.pending_count:
                        book.planned_exit.pop(sym, None)
            book.mv = from_ticks(self.held.value_ticks(closes))  # every lot left at this close
        equity = book.cash + book.mv
        if self.curve_start is not None and session >= self.curve_start:
            self.curve[session] = float(equity)
            self.exposure[session] = bool(lots_by_symbol)
        if self.prev_close_equity is not None and risk.loss_circuit_tripped(self.prev_close_equity, equity, params):
            book.paused_until = risk.loss_pause_until(close_at, params)
        if not book.halted and risk.drawdown_halt_tripped(equity, book.starting_equity, params):
            self._halt(close_at)
        self.prev_close_equity = equity

    def _halt(self, t: datetime) -> None:
        self.book.changed()
        self.book.halted = True
        self.book.halt_reason = (
            f"equity fell below {self.params.drawdown_halt_pct:.0%} of starting equity at {t.isoformat()}"
        )
        self.notes.append(f"drawdown halt at {t.isoformat()}: no new buys for the rest of the backtest")

    # closing ---------------------------------------------------------------------------------
    def _close_lot(self, lot: _Lot, session: date, k: int, at: datetime, fill: Decimal, reason: ExitReason) -> None:
        commission = self.params.commission_usd
        self.book.cash += fill * lot.qty - commission
        self.book.remove_lot(lot)
        self.trades.append(self._trade(lot, session, k - lot.entry_k, at, fill, reason, lot.commission + commission))

    def _trade(
        self, lot: _Lot, session: date | None, held: int, at: datetime | None, fill: Decimal, reason: ExitReason,
        commission: Decimal,
    ) -> BacktestTrade:
        pnl = (fill - lot.entry_price) * lot.qty - commission
        return construct_trusted(  # every value is already of its field's type
            BacktestTrade,
            {
                "symbol": lot.symbol,
                "mention_id": lot.mention_id,
                "entry_session": lot.entry_session,
                "entry_at": lot.entry_at,
                "entry_price": lot.entry_price,
                "qty": lot.qty,
                "exit_session": session,
                "exit_at": at,
                "exit_price": fill if session else None,
                "exit_reason": reason,
                "pnl_usd": pnl.quantize(CENT),
                "pnl_pct": (pnl / lot.cost * 100).quantize(_PCT_QUANTUM),
                "sessions_held": held,
                "commission_usd": commission,
                "stop_price": lot.stop,
                "take_profit_price": lot.take_profit,
            },
        )

    # end -------------------------------------------------------------------------------------
    def finish(self, undecided: range, last_session: date | None) -> BacktestResult:
        self.skip_to(undecided.start)  # calls after the last bar: decided, but nothing can fill
        self.decide_up_to(undecided.start, undecided.stop)
        for p in self.book.pending if self.audit else ():
            d = self.decisions[p.decision_index]
            d.status = DecisionStatus.SKIPPED_NON_TRADABLE
            d.reason += f"; skipped: entry session {p.entry_session} is after the end of the price data"
        self.book.pending.clear()
        self.book.reserved = ZERO
        if last_session is not None and self.book.lots:
            self._looked_at(set(self.book.lots), self.cal.session_index(last_session) - self.grid.k0)
        for lots in self.book.lots.values():
            for lot in lots:
                held = self.cal.session_index(last_session) - lot.entry_k if last_session else 0
                self.trades.append(self._trade(lot, None, held, None, lot.mark, ExitReason.END_OF_DATA, lot.commission))
        if self.curve and self.curve_start is not None:
            # The base point: the starting capital at the close before the first session the
            # backtest can trade (the account at that session's open, before the first buy), so
            # every return, the first day's fills and slippage included, is measured from it.
            base = self._base_date(self.curve_start)
            self.curve = {base: float(self.params.starting_equity_usd), **self.curve}
            self.exposure = {base: False, **self.exposure}
        # One index for the three curves (the same sessions): the metrics read its dates once.
        sessions = pd.Index(list(self.curve), name="session")
        equity = pd.Series(list(self.curve.values()), index=sessions, dtype=float)
        exposure = pd.Series(list(self.exposure.values()), index=sessions, dtype=bool)  # set with the curve, same keys
        bench = self._benchmark(list(self.curve), sessions)
        self.trades.sort(key=lambda tr: (tr.entry_session, tr.symbol, tr.mention_id or 0))
        return BacktestResult(
            params=self.params,
            trades=self.trades,
            decisions=self.decisions,
            equity=equity,
            benchmark=bench,
            exposure=exposure,
            final_cash=self.book.cash,
            notes=self.notes,
        )

    def _base_date(self, first: date) -> date:
        """The session before `first` (a calendar day earlier at the calendar's very start)."""
        k = self.cal.session_index(first)
        return self.cal.session_at(k - 1) if k > 0 else first - timedelta(days=1)

    def _benchmark(self, sessions: list[date], index: pd.Index) -> pd.Series:
        """Buy-and-hold of the benchmark from the open of the first session the backtest can trade
        (`curve_start`), same capital; the base point before it is the starting capital in cash."""
        sym = self.params.benchmark_symbol
        values: dict[date, float] = {}
        shares: float | None = None
        last: float | None = None
        for s in sessions:
            bar = self.prices.bar(sym, s)
            if shares is None:
                if self.curve_start is not None and s < self.curve_start:
                    values[s] = float(self.params.starting_equity_usd)
                    continue
                if bar is None:
                    values[s] = float(self.params.starting_equity_usd)
                    continue
                shares = float(self.params.starting_equity_usd) / float(bar.open)
            if bar is not None:
                last = float(bar.close)
            values[s] = shares * last if last is not None else float(self.params.starting_equity_usd)
        if sessions and shares is None:
            self.notes.append(f"no {sym} bars in the backtest window: benchmark is flat")
        return pd.Series(list(values.values()), index=index, dtype=float)  # `sessions`' index: one value each, in order

