"""Daily bars as the engine and the live path read them: one `Bar` per symbol and session.

Its own module because both the backtest engine and the live path (the simulated broker, the
trading context's price book) read prices, and the live path must not import the backtest to do it.
"""

from __future__ import annotations

import math
import mmap
import threading
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd

from kevin_pipeline.domain.execution import price

if TYPE_CHECKING:
    from kevin_pipeline.domain.calendar import NyseCalendar

# `execution.price` keeps 1/100 cent: a tick is 1/10,000 dollar
TICKS_PER_DOLLAR = 10_000
_TIE_MARGIN = 1e-6  # how close to a half tick a scaled float must come to be converted the slow, exact way
_INT32_MIN, _INT32_MAX = int(np.iinfo(np.int32).min), int(np.iinfo(np.int32).max)
_TICK_CHUNK = 8192  # bar rows converted per `price_ticks` call (`PriceBook.tick_table`)
_NEVER_LOW = np.iinfo(np.int64).min // 4  # sentinels that meet every stop and every take-profit
_NEVER_HIGH = np.iinfo(np.int64).max // 4


def price_ticks(values: np.ndarray) -> np.ndarray:
    """`execution.price(v)` of every float, in ticks (int64), without a Decimal per value.

    price() rounds the float's shortest decimal form half-up to 1/100 cent. Scaled by 10,000 in
    floating point, a value lands within ~1e-9 of that decimal; unless its fraction is close to
    one half, rounding the scaled float to the nearest integer is the same rounding. The few that
    are close (a true half tick, or a wider float error), and any beyond 1e15 ticks, go through
    price() itself. A value that is not finite has no price: its tick is 0 (`SessionGrid` hands
    such a bar to the venue, whose price() fails on it as it always did).
    """
    floats = np.asarray(values, dtype=np.float64)
    scaled = floats * float(TICKS_PER_DOLLAR)
    nearest = np.rint(scaled)  # ties to even: only at a half tick, which goes through price() below
    with np.errstate(invalid="ignore"):  # inf - inf
        off = np.subtract(scaled, nearest, out=scaled)
        np.abs(off, out=off)
        sure = off <= 0.5 - _TIE_MARGIN  # False for NaN and infinity
    # The usual book: every value sure and under 1e15 ticks (a NaN or an infinity is not sure).
    # Two reductions decide it, instead of a mask per condition.
    if sure.all() and (not nearest.size or (-1e15 < nearest.min() and nearest.max() < 1e15)):
        return nearest.astype(np.int64)
    with np.errstate(invalid="ignore"):
        unsure = ~sure
        unsure |= ~(np.abs(floats * float(TICKS_PER_DOLLAR)) <= 1e15)  # also NaN and infinity
    nearest[unsure] = 0.0
    ticks = nearest.astype(np.int64)
    for i in np.flatnonzero(unsure):
        value = float(floats.flat[i])
        if math.isfinite(value):
            ticks.flat[i] = int(price(value).scaleb(4))
    return ticks


def _fresh_array(shape: tuple[int, ...], dtype: type[np.integer] = np.int64) -> np.ndarray:
    """An uninitialised integer array; one of 4 MB or more in memory mapped for it, its pages
    made up front when it is small enough to be written whole soon.

    numpy asks the kernel for huge pages for an array of 4 MB or more (MADV_HUGEPAGE). Where
    none is free, each first write to a 2 MB page waits for the kernel to compact memory: filling
    the bench universe's grid took 17 ms, or 40-95 ms, at random. Mapped for the array with its
    pages made in one go (MAP_POPULATE) it takes a steady 20 ms (8 of them making the pages);
    page by page, as each is first written, 25-30 ms. Up to `_POPULATED_AT_MOST`: a grid for a
    universe far larger than a run uses is mapped without, its pages made as rows are filled."""
    size = math.prod(shape) * np.dtype(dtype).itemsize
    if size < _HUGE_PAGE_HINTED:
        return np.empty(shape, dtype=dtype)
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS if hasattr(mmap, "MAP_ANONYMOUS") else 0
    if flags and size <= _POPULATED_AT_MOST and hasattr(mmap, "MAP_POPULATE"):
        flags |= mmap.MAP_POPULATE
    memory = mmap.mmap(-1, size, flags=flags) if flags else mmap.mmap(-1, size)
    return np.frombuffer(memory, dtype=dtype).reshape(shape)


_HUGE_PAGE_HINTED = 4 << 20  # numpy's threshold for MADV_HUGEPAGE
_POPULATED_AT_MOST = 64 << 20


def from_ticks(ticks: int) -> Decimal:
    """A tick count as the Decimal `execution.price` gives (1/100 cent, exponent -4).

    A product with 1E-4: exact, the same value and exponent as `scaleb(-4)`, and faster (a
    backtest converts tens of thousands of ticks)."""
    return Decimal(ticks) * _ONE_TICK


_ONE_TICK = Decimal("1E-4")


class SessionGrid:
    """A PriceBook's bars as integer ticks on the calendar's session axis: one row per symbol, one
    column per session from the book's first to its last bar.

    The backtest engine asks each session which held symbols the venue must look at (an open or a
    range that reaches a bracket leg) and values its positions, with one numpy operation over the
    held symbols instead of a Python loop over them. The venue still decides every fill from the
    Decimal bars: the grid only says where there is nothing to decide.

    Rows are filled the first time a symbol is asked for (`row`): a backtest holds a fraction of a
    large universe. The last row is all "no bar": the row of an empty slot.
    """

    def __init__(self, book: "PriceBook", cal: "NyseCalendar") -> None:
        self._book = book
        self._cal = cal
        first, last = book.first_date(), book.last_date()
        span = cal.sessions_between(first, last) if first is not None and last is not None else []
        self.k0 = cal.session_index(span[0]) if span else 0
        self.columns = len(span)
        shape = (len(book._index) + 1, max(self.columns, 1))
        # Where a symbol has no bar, no leg can fill: the low is above every stop and the high under
        # every take-profit. The open there reads as "through the take-profit": the venue is asked,
        # finds no bar and leaves the symbol as it is (rare, and cheaper than a mask per session).
        # Each row is written whole the first time its symbol is asked for (`row`). Mapped with
        # its pages made up front for a universe of up to a few thousand symbols (`_fresh_array`);
        # past that, a page is made as a row is first written, so a run holding a few symbols of a
        # far larger universe does not pay for all of it.
        self.open = _fresh_array(shape)
        self.high = _fresh_array(shape)
        self.low = _fresh_array(shape)
        self.close_ff = _fresh_array(shape)  # the last close at or before the session
        self.empty_row = shape[0] - 1
        self._blank(self.empty_row)
        self._rows: dict[str, int] = {}
        self._row_columns: np.ndarray | None = None
        self._filling = threading.Lock()  # a book may be shared by threads (the dashboard's runs)

    def _columns_of_rows(self) -> np.ndarray:
        """Each bar row's grid column (-1: not a session of the span), worked out once per grid
        from the book's distinct dates (under the filling lock)."""
        if self._row_columns is None:
            cal, k0, n = self._cal, self.k0, self.columns
            days, row_day = self._book.row_days()
            ks = [cal.session_index(d) - k0 if cal.is_session(d) else -1 for d in days]
            of_day = np.array([k if 0 <= k < n else -1 for k in ks], dtype=np.int64)
            self._row_columns = of_day[row_day] if len(of_day) else np.full(len(row_day), -1, dtype=np.int64)
        return self._row_columns

    def row(self, symbol: str) -> int:
        """The symbol's row, its bars converted on first use (the empty row for an unknown symbol)."""
        r = self._rows.get(symbol)
        if r is not None:
            return r
        if not self._book._index.get(symbol):
            return self.empty_row
        with self._filling:
            r = self._rows.get(symbol)
            if r is None:
                r = len(self._rows)
                self._fill(r, symbol)
                self._rows[symbol] = r  # published once filled: a reader never sees half a row
        return r

    def _blank(self, r: int) -> None:
        """Row `r` with no bar anywhere."""
        self.open[r], self.high[r], self.low[r], self.close_ff[r] = _NEVER_HIGH, _NEVER_LOW, _NEVER_HIGH, 0

    def _fill(self, r: int, symbol: str) -> None:
        ticks, bad = self._book.tick_table()
        rows = self._book.symbol_rows(symbol)
        at = self._columns_of_rows()[rows]
        if len(at) and at.min() < 0:  # bars off the span's sessions (a weekend, a holiday): never on the grid
            inside = at >= 0
            rows, at = rows[inside], at[inside]
        n = len(at)
        if n < self.open.shape[1]:  # a session without a bar (its dates are distinct)
            self._blank(r)
        if not n:
            return
        columns = at
        if n > 1 and (np.diff(rows) == 1).all() and (np.diff(at) == 1).all():
            # The usual layout (a file sorted by symbol and date): the symbol's rows are one block
            # of the table, its sessions one run of columns, in the same order. Slices, not scatters.
            mine = ticks[int(rows[0]) : int(rows[0]) + n]
            columns = slice(int(at[0]), int(at[0]) + n)  # type: ignore[assignment]
        else:
            mine = ticks[rows]
        self.open[r, columns], self.high[r, columns], self.low[r, columns] = mine[:, 0], mine[:, 1], mine[:, 2]
        if n == self.columns:  # a bar every session: nothing to carry over
            self.close_ff[r, columns] = mine[:, 3]
        else:
            last = np.full(self.columns, -1, dtype=np.int64)  # per session: the column of the last bar so far
            last[at] = at
            np.maximum.accumulate(last, out=last)
            closes = np.zeros(self.columns, dtype=np.int64)
            closes[at] = mine[:, 3]
            self.close_ff[r, : self.columns] = np.where(last >= 0, closes[last], 0)
        if bad is not None and bad[rows].any():  # the venue must see these bars (and fail on them) exactly as before
            at_bad = at[bad[rows]]
            self.open[r, at_bad] = self.low[r, at_bad] = _NEVER_LOW
            self.high[r, at_bad] = _NEVER_HIGH


class _TickHolder:
    """A book's tick table (`PriceBook.tick_table`), shared by the books cut from it (same rows)."""

    __slots__ = ("table", "lock")

    def __init__(self) -> None:
        self.table: tuple[np.ndarray, np.ndarray | None] | None = None
        self.lock = threading.Lock()  # a book may be shared by threads (the dashboard's runs)


class Bar(NamedTuple):
    """One session's prices, exact to the cent (`execution.price`). A NamedTuple: immutable, and
    several times cheaper to build than a frozen dataclass (a backtest builds tens of thousands)."""

    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal


class PriceBook:
    """Daily bars per symbol: floats in one array, each bar turned into Decimal the first time a
    session asks for it (a backtest touches a few percent of a large universe's bars)."""

    def __init__(
        self, index: dict[str, dict[date, int]], ohlc: np.ndarray, days: list[date] | None = None,
        row_day: np.ndarray | None = None, tick_holder: "_TickHolder | None" = None,
    ) -> None:
        self._index = index  # symbol -> {session: row}
        self._ohlc = ohlc  # float64 (rows, 4): open, high, low, close
        self._days = days  # the distinct dates, and each row's position in them (`row_days`)
        self._row_day = row_day
        self._span: tuple[date, date] | None = None  # (first, last) bar date, when known at construction
        # the same Bars by session and symbol: the venue reads a session's map once, then one
        # lookup per held symbol on the engine's hot path (`memo`)
        self._bars: dict[date, dict[str, Bar]] = {}
        self._prices: dict[float, Decimal] = {}
        # Every bar's prices in ticks (`tick_table`), converted in one pass the first time a bar or
        # a grid row is asked for; books cut from this one (`without_after`) share the same rows.
        self._tick_holder = tick_holder if tick_holder is not None else _TickHolder()
        self._ticks: np.ndarray | None = None  # the table's ticks, once made
        self._rows_of: dict[str, np.ndarray] = {}  # `symbol_rows`
        self._grids: dict[int, tuple["NyseCalendar", SessionGrid]] = {}

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> "PriceBook":
        if frame.empty:
            return cls({}, np.empty((0, 4)))
        ohlc = frame[["open", "high", "low", "close"]].to_numpy(dtype="float64")
        # Grouped with numpy rather than row by row: a universe has hundreds of thousands of bars
        # but only a few thousand distinct dates, so only those become `date` objects.
        sym_codes, symbols = pd.factorize(frame["symbol"].astype(str))
        date_codes, stamps = pd.factorize(pd.to_datetime(frame["date"]))
        if (date_codes < 0).any():
            raise ValueError("bars: a row has no date")
        days = [ts.date() for ts in stamps]
        rows = np.argsort(sym_codes, kind="stable")  # by symbol, each symbol's rows in file order
        bounds = np.searchsorted(sym_codes[rows], np.arange(len(symbols) + 1))
        index: dict[str, dict[date, int]] = {}
        rows_of: dict[str, np.ndarray] = {}
        for k, sym in enumerate(symbols):
            mine = rows[bounds[k] : bounds[k + 1]]
            # a duplicated (symbol, date): the later row wins
            index[sym] = dict(zip(map(days.__getitem__, date_codes[mine].tolist()), mine.tolist()))
            if len(index[sym]) == len(mine):  # no (symbol, date) twice: its rows, in its dict's order
                rows_of[sym] = mine
        book = cls(index, ohlc, days, date_codes.astype(np.int64))
        book._rows_of = rows_of
        book._span = (min(days), max(days)) if days else None
        return book

    def row_days(self) -> tuple[list[date], np.ndarray]:
        """(distinct dates, each bar row's index into them): the rows' dates without a `date` per row."""
        if self._days is None or self._row_day is None:
            days = sorted({d for by in self._index.values() for d in by})
            where = {d: i for i, d in enumerate(days)}
            row_day = np.zeros(len(self._ohlc), dtype=np.int64)
            for by in self._index.values():
                for d, row in by.items():
                    row_day[row] = where[d]
            self._days, self._row_day = days, row_day
        return self._days, self._row_day

    def symbols(self) -> set[str]:
        return set(self._index)

    def has_symbol(self, symbol: str) -> bool:
        return bool(self._index.get(symbol))

    def memo(self) -> dict[date, dict[str, Bar]]:
        """The bars `bar` has handed out so far, by session and symbol (a `venue.BarCache`); live,
        not a copy: read it first and ask `bar` for what it lacks."""
        return self._bars

    def session_grid(self, cal: "NyseCalendar") -> SessionGrid:
        """The book on `cal`'s session axis (built once per calendar; rows fill as they are used)."""
        held = self._grids.get(id(cal))
        if held is None or held[0] is not cal:
            held = self._grids[id(cal)] = (cal, SessionGrid(self, cal))
        return held[1]

    def bar(self, symbol: str, session: date) -> Bar | None:
        today = self._bars.get(session)
        if today is not None:
            cached = today.get(symbol)
            if cached is not None:
                return cached
        rows = self._index.get(symbol)
        row = rows.get(session) if rows else None
        if row is None:
            return None
        ticks = self._ticks
        if ticks is None:
            ticks = self._ticks = self.tick_table()[0]
        o, h, lo, c = ticks[row].tolist()
        if o and h and lo and c:
            made = Bar(from_ticks(o), from_ticks(h), from_ticks(lo), from_ticks(c))
        else:  # a zero tick: NaN, infinite, -0.0 or a true 0: price() itself, as it always was
            o, h, lo, c = self._ohlc[row].tolist()
            made = Bar(self._price(o), self._price(h), self._price(lo), self._price(c))
        self._bars.setdefault(session, {})[symbol] = made
        return made

    def symbol_rows(self, symbol: str) -> np.ndarray:
        """The symbol's bar rows, in its {session: row} order (empty for an unknown symbol)."""
        rows = self._rows_of.get(symbol)
        if rows is None:
            by_date = self._index.get(symbol) or {}
            rows = self._rows_of[symbol] = np.fromiter(by_date.values(), dtype=np.int64, count=len(by_date))
        return rows

    def tick_table(self) -> tuple[np.ndarray, np.ndarray | None]:
        """(every bar row's prices in ticks, (rows, 4) in the book's row order; the rows with a
        price that is not a finite number, or None when there are none).

        Converted whole, in one `price_ticks` pass, the first time it is asked for: a backtest
        reads the bars of most symbols it trades, and one pass over the book costs less than one
        per symbol (a few hundred numpy calls, and a sorted copy of each symbol's rows)."""
        held = self._tick_holder.table
        if held is None:
            with self._tick_holder.lock:
                held = self._tick_holder.table
                if held is None:
                    # int32 while every price fits (below $214,748.36: half the memory to write),
                    # int64 from the first chunk that does not
                    ticks = _fresh_array(self._ohlc.shape, np.int32)
                    for a in range(0, len(ticks), _TICK_CHUNK):  # temporaries that stay in the cache
                        chunk = price_ticks(self._ohlc[a : a + _TICK_CHUNK])
                        fits = not chunk.size or (_INT32_MIN <= chunk.min() and chunk.max() <= _INT32_MAX)
                        if ticks.dtype != np.int64 and not fits:
                            ticks = ticks.astype(np.int64)
                        ticks[a : a + _TICK_CHUNK] = chunk
                    bad = None
                    if ticks.size and not ticks.all():  # a zero tick: a price that may not be a number
                        finite = np.isfinite(self._ohlc).all(axis=1)
                        bad = None if finite.all() else ~finite
                    held = self._tick_holder.table = (ticks, bad)  # published whole
        return held

    def _price(self, value: float) -> Decimal:
        """`execution.price(value)`, memoized by value: bars repeat the same few thousand cent
        prices, and a backtest meets tens of thousands of bars for the first time."""
        cached = self._prices.get(value)
        if cached is None:
            cached = price(value)
            if value != 0:  # 0.0 and -0.0 are one dict key but not one Decimal
                self._prices[value] = cached
        return cached

    def last_date(self, symbol: str | None = None) -> date | None:
        if symbol is not None:
            by_date = self._index.get(symbol)
            return max(by_date) if by_date else None
        if self._span is not None:
            return self._span[1]
        ends = [max(b) for b in self._index.values() if b]
        return max(ends) if ends else None

    def first_date(self) -> date | None:
        if self._span is not None:
            return self._span[0]
        starts = [min(b) for b in self._index.values() if b]
        return min(starts) if starts else None

    def without_after(self, cutoff: date) -> "PriceBook":
        return PriceBook(
            {s: {d: r for d, r in by.items() if d <= cutoff} for s, by in self._index.items()}, self._ohlc, self._days,
            self._row_day, self._tick_holder,
        )
