"""The mention-driven backtest: replays calls through the SAME rules the live path trades by.

Time runs as in production. Each mention is decided at its publish time, with the account as it
stood then (fills at opens <= t, marks at the last close <= t, unfilled orders counted as held);
orders fill at the open of the first session that opens after the decision; bracket legs are
checked against each session's high/low at its close (an intraday stop "counts from the close");
the loss circuit and the drawdown halt are evaluated at closes. Nothing reads a bar dated after
the instant being simulated, which is what the no-lookahead test checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
from pydantic import BaseModel

from kevin_pipeline.domain import risk, sizing
from kevin_pipeline.domain.aggregation import effective_convictions
from kevin_pipeline.domain.calendar import NyseCalendar, ny_date, nyse_calendar
from kevin_pipeline.domain.execution import (
    ExitReason,
    buy_fill_price,
    gap_exit,
    intraday_exit,
    price,
    sell_fill_price,
)
from kevin_pipeline.domain.models import (
    AccountState,
    Action,
    Decision,
    DecisionKind,
    DecisionStatus,
    Mention,
)
from kevin_pipeline.domain.params import StrategyParams

ZERO = Decimal("0")


# --- inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bar:
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal


class PriceBook:
    """Daily bars per symbol: floats in one array, each bar turned into Decimal the first time a
    session asks for it (a backtest touches a few percent of a large universe's bars)."""

    def __init__(self, index: dict[str, dict[date, int]], ohlc: np.ndarray) -> None:
        self._index = index  # symbol -> {session: row}
        self._ohlc = ohlc  # float64 (rows, 4): open, high, low, close
        self._cache: dict[int, Bar] = {}

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> "PriceBook":
        if frame.empty:
            return cls({}, np.empty((0, 4)))
        symbols = frame["symbol"].astype(str).tolist()
        dates = pd.to_datetime(frame["date"]).dt.date.tolist()
        ohlc = frame[["open", "high", "low", "close"]].to_numpy(dtype="float64")
        index: dict[str, dict[date, int]] = {}
        for row, (sym, d) in enumerate(zip(symbols, dates)):
            index.setdefault(sym, {})[d] = row  # a duplicated (symbol, date): the later row wins
        return cls(index, ohlc)

    def symbols(self) -> set[str]:
        return set(self._index)

    def has_symbol(self, symbol: str) -> bool:
        return bool(self._index.get(symbol))

    def bar(self, symbol: str, session: date) -> Bar | None:
        by_date = self._index.get(symbol)
        row = by_date.get(session) if by_date else None
        if row is None:
            return None
        cached = self._cache.get(row)
        if cached is None:
            o, h, lo, c = self._ohlc[row].tolist()
            cached = self._cache[row] = Bar(price(o), price(h), price(lo), price(c))
        return cached

    def last_date(self, symbol: str | None = None) -> date | None:
        if symbol is not None:
            by_date = self._index.get(symbol)
            return max(by_date) if by_date else None
        ends = [max(b) for b in self._index.values() if b]
        return max(ends) if ends else None

    def first_date(self) -> date | None:
        starts = [min(b) for b in self._index.values() if b]
        return min(starts) if starts else None

    def without_after(self, cutoff: date) -> "PriceBook":
        return PriceBook({s: {d: r for d, r in by.items() if d <= cutoff} for s, by in self._index.items()}, self._ohlc)


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
    equity: pd.Series  # float, indexed by session date: equity at each close
    benchmark: pd.Series  # buy-and-hold of the benchmark from the first entry session's open
    exposure: pd.Series  # bool: a position was held at that close
    final_cash: Decimal = ZERO
    notes: list[str] = field(default_factory=list)


# --- engine state ----------------------------------------------------------------------------


@dataclass
class _Lot:
    symbol: str
    mention_id: int | None
    qty: int
    entry_session: date
    entry_at: datetime
    entry_price: Decimal
    stop: Decimal
    take_profit: Decimal
    commission: Decimal
    mark: Decimal

    @property
    def cost(self) -> Decimal:
        return self.entry_price * self.qty


@dataclass
class _PendingBuy:
    decision_index: int
    mention_id: int | None
    symbol: str
    size: Decimal
    entry_session: date


@dataclass
class _Book:
    cash: Decimal
    starting_equity: Decimal
    lots: dict[str, list[_Lot]] = field(default_factory=dict)
    planned_exit: dict[str, date] = field(default_factory=dict)
    pending: list[_PendingBuy] = field(default_factory=list)
    queued_close: dict[str, ExitReason] = field(default_factory=dict)
    blocklist: dict[str, datetime] = field(default_factory=dict)
    daily: dict[date, tuple[int, Decimal]] = field(default_factory=dict)
    paused_until: datetime | None = None
    halted: bool = False
    halt_reason: str | None = None
    mv: Decimal = ZERO  # sum of lot.mark * lot.qty, kept incrementally
    basis: dict[str, Decimal] = field(default_factory=dict)  # filled cost per symbol

    def add_lot(self, lot: _Lot) -> None:
        self.lots.setdefault(lot.symbol, []).append(lot)
        self.mv += lot.mark * lot.qty
        self.basis[lot.symbol] = self.basis.get(lot.symbol, ZERO) + lot.cost

    def remove_lot(self, lot: _Lot) -> None:
        self.lots[lot.symbol].remove(lot)
        self.mv -= lot.mark * lot.qty
        b = self.basis[lot.symbol] - lot.cost
        if self.lots[lot.symbol]:
            self.basis[lot.symbol] = b
        else:
            del self.basis[lot.symbol]

    def remark(self, lot: _Lot, mark: Decimal) -> None:
        self.mv += (mark - lot.mark) * lot.qty
        lot.mark = mark

    def equity(self) -> Decimal:
        return self.cash + self.mv

    def state_at(self, t: datetime) -> AccountState:
        reserved = sum((p.size for p in self.pending), ZERO)
        basis: dict[str, Decimal] = dict(self.basis)
        for p in self.pending:
            basis[p.symbol] = basis.get(p.symbol, ZERO) + p.size
        count, alloc = self.daily.get(ny_date(t), (0, ZERO))
        return AccountState.model_construct(
            equity=self.equity(),
            cash=self.cash - reserved,
            starting_equity=self.starting_equity,
            cost_basis=basis,
            blocklist=dict(self.blocklist),
            daily_trade_count=count,
            daily_alloc_usd=alloc,
            paused_until=self.paused_until,
            halted=self.halted,
            halt_reason=self.halt_reason,
        )


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
) -> BacktestResult:
    """Replay `mentions` over daily bars. `prices` must include the benchmark symbol's bars.

    `start`/`end` restrict which mentions are traded (by publish date, New York) and where the
    simulation stops; aggregation still sees earlier mentions, as the live path would.
    """
    cal = calendar or nyse_calendar()
    book_prices = prices if isinstance(prices, PriceBook) else PriceBook.from_frame(prices)
    ordered = sorted(mentions, key=lambda m: (m.published_at, m.id if m.id is not None else -1))
    eff_all = effective_convictions(ordered, params)
    pairs = [
        (m, e)
        for m, e in zip(ordered, eff_all)
        if (start is None or ny_date(m.published_at) >= start) and (end is None or ny_date(m.published_at) <= end)
    ]
    last_bar = book_prices.last_date(params.benchmark_symbol) or book_prices.last_date()
    if end is not None and last_bar is not None:
        last_bar = min(last_bar, end)
    engine = _Engine(cal, book_prices, params)
    if not pairs or last_bar is None:
        return engine.finish(pairs, last_session=None)

    first_session = cal.next_session_on_or_after(ny_date(pairs[0][0].published_at))
    last_session = cal.next_session_on_or_after(last_bar) if not cal.is_session(last_bar) else last_bar
    if last_session > last_bar:
        last_session = cal.session_at(cal.session_index(last_session) - 1)
    sessions = cal.sessions_between(first_session, last_session) if first_session <= last_session else []
    engine.curve_start = cal.next_open_after(pairs[0][0].published_at)

    i = 0
    total = len(sessions)
    for n, session in enumerate(sessions):
        open_at = cal.session_open(session)
        close_at = cal.session_close(session)
        while i < len(pairs) and pairs[i][0].published_at < open_at:
            engine.decide(*pairs[i])
            i += 1
        engine.on_open(session, open_at)
        while i < len(pairs) and pairs[i][0].published_at < close_at:
            engine.decide(*pairs[i])
            i += 1
        engine.on_close(session, close_at)
        if progress is not None and (n % 250 == 0 or n == total - 1):
            progress(n + 1, total)
    return engine.finish(pairs[i:], last_session=sessions[-1] if sessions else None)


class _Engine:
    def __init__(self, cal: NyseCalendar, prices: PriceBook, params: StrategyParams) -> None:
        self.cal = cal
        self.prices = prices
        self.params = params
        self.book = _Book(cash=params.starting_equity_usd, starting_equity=params.starting_equity_usd)
        self.trades: list[BacktestTrade] = []
        self.decisions: list[BacktestDecision] = []
        self.curve: dict[date, float] = {}
        self.exposure: dict[date, bool] = {}
        self.prev_close_equity: Decimal | None = None
        self.curve_start: date | None = None
        self.notes: list[str] = []

    # decisions ------------------------------------------------------------------------------
    def decide(self, mention: Mention, eff: Decimal) -> None:
        t = mention.published_at
        book = self.book
        tradable = self.prices.has_symbol(mention.symbol)
        d: Decision = _evaluate(mention, book.state_at(t), t, self.params, eff, tradable)
        reason = d.reason if tradable else f"no price bars for {mention.symbol}"
        entry_session = self.cal.next_open_after(t)
        row = BacktestDecision(
            mention_id=mention.id,
            symbol=mention.symbol,
            action=mention.action,
            published_at=t,
            kind=d.kind,
            status=d.status,
            reason=reason,
            effective_conviction=d.effective_conviction,
            size_usd=d.size_usd,
            hold_sessions=d.hold_sessions,
            entry_session=entry_session if d.kind is not DecisionKind.NO_OP else None,
        )
        self.decisions.append(row)
        sym = mention.symbol
        if d.blocklist_until is not None:
            book.blocklist[sym] = max(book.blocklist.get(sym, d.blocklist_until), d.blocklist_until)
        if d.hold_sessions is not None and (d.extends_hold or d.kind is DecisionKind.OPEN_LONG):
            exit_session = self.cal.sessions_later(entry_session, d.hold_sessions)
            book.planned_exit[sym] = max(book.planned_exit.get(sym, exit_session), exit_session)
        if d.kind is DecisionKind.OPEN_LONG:
            day = ny_date(t)
            count, alloc = book.daily.get(day, (0, ZERO))
            book.daily[day] = (count + 1, alloc + d.size_usd)
            book.pending.append(_PendingBuy(len(self.decisions) - 1, mention.id, sym, d.size_usd, entry_session))
        elif d.kind is DecisionKind.CLOSE_LONG:
            for p in [p for p in book.pending if p.symbol == sym]:
                book.pending.remove(p)
                cancelled = self.decisions[p.decision_index]
                cancelled.reason += f"; cancelled before its fill by {mention.action.value} call #{mention.id}"
            if book.lots.get(sym):
                book.queued_close[sym] = ExitReason.SELL if mention.action is Action.SELL else ExitReason.AVOID
            elif sym not in book.queued_close:
                book.planned_exit.pop(sym, None)
        if book.halted is False and risk.drawdown_halt_tripped(book.equity(), book.starting_equity, self.params):
            self._halt(t)

    # session open ----------------------------------------------------------------------------
    def on_open(self, session: date, open_at: datetime) -> None:
        book, params = self.book, self.params
        for sym in list(book.lots):
            bar = self.prices.bar(sym, session)
            if bar is None:
                continue
            for lot in list(book.lots[sym]):
                hit = gap_exit(bar.open, lot.stop, lot.take_profit, params)
                if hit is not None:
                    self._close_lot(lot, session, open_at, hit[1], hit[0])
            queued = book.queued_close.pop(sym, None)
            if queued is not None:
                self._close_symbol(sym, session, open_at, sell_fill_price(bar.open, params), queued)
            planned = book.planned_exit.get(sym)
            if planned is not None and planned <= session and book.lots.get(sym):
                self._close_symbol(sym, session, open_at, sell_fill_price(bar.open, params), ExitReason.TIME)
        for p in [p for p in book.pending if p.entry_session <= session]:
            book.pending.remove(p)
            self._fill(p, session, open_at)
        for sym in list(book.planned_exit):
            if not book.lots.get(sym) and not any(p.symbol == sym for p in book.pending):
                del book.planned_exit[sym]
        for sym in list(book.lots):
            if not book.lots[sym]:
                del book.lots[sym]

    def _fill(self, p: _PendingBuy, session: date, open_at: datetime) -> None:
        decision = self.decisions[p.decision_index]
        bar = self.prices.bar(p.symbol, session)
        if bar is None:
            decision.status = DecisionStatus.SKIPPED_NON_TRADABLE
            decision.reason += f"; skipped: no {p.symbol} bar on entry session {session}"
            return
        fill = buy_fill_price(bar.open, self.params)
        qty = sizing.whole_shares(p.size, fill)
        if qty < 1:
            decision.status = DecisionStatus.SKIPPED_CAPS
            decision.reason += f"; skipped: {p.size} buys no whole share at {fill}"
            return
        commission = self.params.commission_usd
        self.book.cash -= fill * qty + commission
        take_profit, stop = sizing.bracket_prices(fill, self.params)
        lot = _Lot(p.symbol, p.mention_id, qty, session, open_at, fill, stop, take_profit, commission, fill)
        self.book.add_lot(lot)
        decision.filled_qty = qty

    # session close ---------------------------------------------------------------------------
    def on_close(self, session: date, close_at: datetime) -> None:
        book, params = self.book, self.params
        for sym, lots in list(book.lots.items()):
            bar = self.prices.bar(sym, session)
            if bar is None:
                continue
            for lot in list(lots):
                hit = intraday_exit(bar.high, bar.low, lot.stop, lot.take_profit, params)
                if hit is not None:
                    self._close_lot(lot, session, close_at, hit[1], hit[0])
                else:
                    book.remark(lot, bar.close)
            if not book.lots.get(sym):
                book.lots.pop(sym, None)
                book.queued_close.pop(sym, None)
                if not any(p.symbol == sym for p in book.pending):
                    book.planned_exit.pop(sym, None)
        equity = book.equity()
        if self.curve_start is not None and session >= self.curve_start:
            self.curve[session] = float(equity)
            self.exposure[session] = bool(book.lots)
        if self.prev_close_equity is not None and risk.loss_circuit_tripped(self.prev_close_equity, equity, params):
            book.paused_until = risk.loss_pause_until(close_at, params)
        if not book.halted and risk.drawdown_halt_tripped(equity, book.starting_equity, params):
            self._halt(close_at)
        self.prev_close_equity = equity

    def _halt(self, t: datetime) -> None:
        self.book.halted = True
        self.book.halt_reason = (
            f"equity fell below {self.params.drawdown_halt_pct:.0%} of starting equity at {t.isoformat()}"
        )
        self.notes.append(f"drawdown halt at {t.isoformat()}: no new buys for the rest of the backtest")

    # closing ---------------------------------------------------------------------------------
    def _close_symbol(self, sym: str, session: date, at: datetime, fill: Decimal, reason: ExitReason) -> None:
        for lot in list(self.book.lots.get(sym, [])):
            self._close_lot(lot, session, at, fill, reason)

    def _close_lot(self, lot: _Lot, session: date, at: datetime, fill: Decimal, reason: ExitReason) -> None:
        commission = self.params.commission_usd
        self.book.cash += fill * lot.qty - commission
        self.book.remove_lot(lot)
        self.trades.append(self._trade(lot, session, at, fill, reason, lot.commission + commission))

    def _trade(
        self, lot: _Lot, session: date | None, at: datetime | None, fill: Decimal, reason: ExitReason, commission: Decimal
    ) -> BacktestTrade:
        pnl = (fill - lot.entry_price) * lot.qty - commission
        held = self.cal.session_index(session) - self.cal.session_index(lot.entry_session) if session else 0
        return BacktestTrade(
            symbol=lot.symbol,
            mention_id=lot.mention_id,
            entry_session=lot.entry_session,
            entry_at=lot.entry_at,
            entry_price=lot.entry_price,
            qty=lot.qty,
            exit_session=session,
            exit_at=at,
            exit_price=fill if session else None,
            exit_reason=reason,
            pnl_usd=pnl.quantize(Decimal("0.01")),
            pnl_pct=(pnl / lot.cost * 100).quantize(Decimal("0.0001")),
            sessions_held=held,
            commission_usd=commission,
            stop_price=lot.stop,
            take_profit_price=lot.take_profit,
        )

    # end -------------------------------------------------------------------------------------
    def finish(self, undecided: Iterable[tuple[Mention, Decimal]], last_session: date | None) -> BacktestResult:
        for m, e in undecided:  # calls after the last bar: decided, but nothing can fill
            self.decide(m, e)
        for p in self.book.pending:
            d = self.decisions[p.decision_index]
            d.status = DecisionStatus.SKIPPED_NON_TRADABLE
            d.reason += f"; skipped: entry session {p.entry_session} is after the end of the price data"
        self.book.pending.clear()
        for lots in self.book.lots.values():
            for lot in lots:
                trade = self._trade(lot, None, None, lot.mark, ExitReason.END_OF_DATA, lot.commission)
                trade.sessions_held = (
                    self.cal.session_index(last_session) - self.cal.session_index(lot.entry_session) if last_session else 0
                )
                self.trades.append(trade)
        equity = pd.Series(self.curve, dtype=float)
        equity.index = pd.Index(list(self.curve), name="session")
        exposure = pd.Series(self.exposure, dtype=bool)
        exposure.index = pd.Index(list(self.exposure), name="session")
        bench = self._benchmark(list(self.curve))
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

    def _benchmark(self, sessions: list[date]) -> pd.Series:
        """Buy-and-hold of the benchmark from the first curve session's open, same capital."""
        sym = self.params.benchmark_symbol
        values: dict[date, float] = {}
        shares: float | None = None
        last: float | None = None
        for s in sessions:
            bar = self.prices.bar(sym, s)
            if shares is None:
                if bar is None:
                    values[s] = float(self.params.starting_equity_usd)
                    continue
                shares = float(self.params.starting_equity_usd) / float(bar.open)
            if bar is not None:
                last = float(bar.close)
            values[s] = shares * last if last is not None else float(self.params.starting_equity_usd)
        if sessions and shares is None:
            self.notes.append(f"no {sym} bars in the backtest window: benchmark is flat")
        series = pd.Series(values, dtype=float)
        series.index = pd.Index(list(values), name="session")
        return series


def _evaluate(
    mention: Mention, state: AccountState, t: datetime, params: StrategyParams, eff: Decimal, tradable: bool
) -> Decision:
    from kevin_pipeline.domain.strategy import evaluate

    return evaluate(mention, state, t, params, effective_conviction=eff, is_tradable=tradable)
