"""Daily bars as the engine and the live path read them: one `Bar` per symbol and session.

Its own module because both the backtest engine and the live path (the simulated broker, the
trading context's price book) read prices, and the live path must not import the backtest to do it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import NamedTuple

import numpy as np
import pandas as pd

from kevin_pipeline.domain.execution import price


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

    def __init__(self, index: dict[str, dict[date, int]], ohlc: np.ndarray) -> None:
        self._index = index  # symbol -> {session: row}
        self._ohlc = ohlc  # float64 (rows, 4): open, high, low, close
        # the same Bars by session and symbol: the venue reads a session's map once, then one
        # lookup per held symbol on the engine's hot path (`memo`)
        self._bars: dict[date, dict[str, Bar]] = {}
        self._prices: dict[float, Decimal] = {}

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
        for k, sym in enumerate(symbols):
            mine = rows[bounds[k] : bounds[k + 1]]
            # a duplicated (symbol, date): the later row wins
            index[sym] = dict(zip(map(days.__getitem__, date_codes[mine].tolist()), mine.tolist()))
        return cls(index, ohlc)

    def symbols(self) -> set[str]:
        return set(self._index)

    def has_symbol(self, symbol: str) -> bool:
        return bool(self._index.get(symbol))

    def memo(self) -> dict[date, dict[str, Bar]]:
        """The bars `bar` has handed out so far, by session and symbol (a `venue.BarCache`); live,
        not a copy: read it first and ask `bar` for what it lacks."""
        return self._bars

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
        o, h, lo, c = self._ohlc[row].tolist()
        made = Bar(self._price(o), self._price(h), self._price(lo), self._price(c))
        self._bars.setdefault(session, {})[symbol] = made
        return made

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
        ends = [max(b) for b in self._index.values() if b]
        return max(ends) if ends else None

    def first_date(self) -> date | None:
        starts = [min(b) for b in self._index.values() if b]
        return min(starts) if starts else None

    def without_after(self, cutoff: date) -> "PriceBook":
        return PriceBook({s: {d: r for d, r in by.items() if d <= cutoff} for s, by in self._index.items()}, self._ohlc)
