"""Where daily bars come from: one `PriceSource` protocol, the bundled file, Alpaca, and the DB cache.

    source = CachedSource(runtime, upstream=AlpacaBarsSource(key, secret))
    bars = source.get_bars(["AAPL", "SPY"], date(2023, 1, 1), date(2024, 12, 31))

Every source returns the `frame.BAR_COLUMNS` shape (`date` a naive midnight datetime64 of the New
York session date), so the backtest and the live path never branch on where prices came from.

`CachedSource` reads the `price_bars` table first and asks its upstream only for symbols whose
cached bars do not cover the requested sessions, writing what it gets through the cache.
`fetch_prices` is the "refresh from a source into the cache" operation behind `kevin prices fetch`.
Which source to use is chosen in `market_data.factory`, never here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import pandas as pd
from sqlalchemy.orm import Session

from kevin_pipeline.domain.calendar import NyseCalendar, nyse_calendar
from kevin_pipeline.market_data.bundled import load_bundled_bars
from kevin_pipeline.market_data.cache import load_cached_bars, store_bars
from kevin_pipeline.market_data.frame import BAR_COLUMNS

if TYPE_CHECKING:
    from kevin_pipeline.runtime import Runtime


class PriceSourceError(RuntimeError):
    """A price source could not deliver (missing or refused credentials, network, bad data).

    Messages never contain API keys."""


@runtime_checkable
class PriceSource(Protocol):
    """Daily bars for `symbols`, sessions `start`..`end` inclusive, in the BAR_COLUMNS shape.

    Symbols without bars are simply absent from the frame (the caller decides if that is an error).
    """

    def fetch(self, symbols: Sequence[str], start: date, end: date) -> pd.DataFrame: ...


def normalize_symbols(symbols: Iterable[str] | str) -> list[str]:
    """Upper-case, stripped, de-duplicated, sorted; a single string is one symbol."""
    items = [symbols] if isinstance(symbols, str) else list(symbols)
    return sorted({s.strip().upper() for s in items if s and s.strip()})


def empty_bars() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in BAR_COLUMNS})
    frame["symbol"] = frame["symbol"].astype(object)
    frame["date"] = pd.Series(dtype="datetime64[ns]")
    return frame


class BundledSource:
    """The real daily bars shipped with the package (see market_data.bundled)."""

    name = "bundled"

    def fetch(self, symbols: Sequence[str], start: date, end: date) -> pd.DataFrame:
        return load_bundled_bars(normalize_symbols(symbols), start, end)


SessionsFactory = Callable[[], Session]


class CachedSource:
    """Bars from the app database's `price_bars` cache, back-filled from `upstream` on a miss.

    `sessions` is an `Runtime` (its sessionmaker is used) or any callable returning a new Session
    (a sessionmaker). Each write-through is one short transaction per upstream request.

    A symbol counts as cached for [start, end] when its cached bars reach the first and the last
    NYSE session of the range (the last one capped at the last session already closed at `clock()`,
    so asking for "through today" before the close does not refetch). Holes inside the range are
    not refetched: a missing session is the engine's "no bar" case. A window this object already
    asked upstream for is not asked again (so a symbol listed after `start`, whose head can never be
    filled, costs one request per process, not one per call). With `upstream=None` it reads the
    cache only.
    """

    name = "cache"

    def __init__(
        self,
        sessions: "Runtime | SessionsFactory",
        upstream: PriceSource | None = None,
        *,
        calendar: NyseCalendar | None = None,
        clock: Callable[[], datetime] | None = None,
        source_name: str | None = None,
    ) -> None:
        factory = getattr(sessions, "sessions", sessions)
        if not callable(factory):
            raise TypeError("CachedSource needs an Runtime or a callable returning a Session")
        self._sessions: SessionsFactory = factory
        self.upstream = upstream
        self._calendar = calendar
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._source_name = source_name or getattr(upstream, "name", None) or type(upstream).__name__.lower()
        self._asked: set[tuple[str, date, date]] = set()
        self.upstream_calls = 0

    @property
    def calendar(self) -> NyseCalendar:
        if self._calendar is None:
            self._calendar = nyse_calendar()
        return self._calendar

    def fetch(self, symbols: Sequence[str], start: date, end: date) -> pd.DataFrame:
        return self.get_bars(symbols, start, end)

    def get_bars(self, symbols: Iterable[str] | str, start: date, end: date) -> pd.DataFrame:
        wanted = normalize_symbols(symbols)
        if not wanted or start > end:
            return empty_bars()
        cached = self._read(wanted, start, end)
        if self.upstream is None:
            return cached
        windows = self._missing_windows(wanted, cached, start, end)
        if not windows:
            return cached
        for (lo, hi), syms in sorted(windows.items()):
            self._fill(syms, lo, hi)
        return self._read(wanted, start, end)

    # -- internals ---------------------------------------------------------------------------
    def _read(self, symbols: list[str], start: date, end: date) -> pd.DataFrame:
        with self._sessions() as session:
            return load_cached_bars(session, symbols, start, end)

    def _expected_range(self, start: date, end: date) -> tuple[date, date] | None:
        cal = self.calendar
        sessions = cal.sessions_between(start, end)
        if not sessions:
            return None
        closed = cal.last_closed_session(self._clock())
        last = min(sessions[-1], closed) if closed is not None else None
        if last is None or last < sessions[0]:
            return None
        return sessions[0], last

    def _missing_windows(
        self, symbols: list[str], cached: pd.DataFrame, start: date, end: date
    ) -> dict[tuple[date, date], list[str]]:
        expected = self._expected_range(start, end)
        if expected is None:
            return {}
        first, last = expected
        spans: dict[str, tuple[date, date]] = {}
        if not cached.empty:
            grouped = cached.groupby("symbol")["date"].agg(["min", "max"])
            spans = {str(s): (row["min"].date(), row["max"].date()) for s, row in grouped.iterrows()}
        windows: dict[tuple[date, date], list[str]] = defaultdict(list)
        for sym in symbols:
            span = spans.get(sym)
            if span is None:
                window = (start, end)
            else:
                head, tail = span[0] > first, span[1] < last
                if head and tail:
                    window = (start, end)
                elif head:
                    window = (start, span[0] - timedelta(days=1))
                elif tail:
                    window = (span[1] + timedelta(days=1), end)
                else:
                    continue
            if (sym, *window) in self._asked:
                continue
            windows[window].append(sym)
        return dict(windows)

    def _fill(self, symbols: list[str], start: date, end: date) -> int:
        assert self.upstream is not None
        self.upstream_calls += 1
        frame = self.upstream.fetch(symbols, start, end)
        for sym in symbols:
            self._asked.add((sym, start, end))
        if frame is None or frame.empty:
            return 0
        frame = frame[frame["symbol"].isin(symbols)]
        with self._sessions() as session, session.begin():
            return store_bars(session, frame, self._source_name)


# --- the CLI operation -------------------------------------------------------------------------


def fetch_prices(
    runtime: "Runtime",
    symbols: Iterable[str] | str,
    start: date,
    end: date,
    source: PriceSource,
    *,
    chunk: int = 100,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Fetch bars for `symbols` over [start, end] from `source` and store them in the runtime's price
    cache (replacing any cached bars for the same symbol and session). Returns the rows written.

    Works `chunk` symbols at a time, one short transaction each, so a failure part-way keeps what
    was already stored. `progress(done_symbols, total_symbols)` after each chunk. Raises
    PriceSourceError from the source unchanged; ValueError for an empty symbol list or start > end.
    """
    wanted = normalize_symbols(symbols)
    if not wanted:
        raise ValueError("no symbols to fetch")
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    if chunk < 1:
        raise ValueError("chunk must be >= 1")
    name = getattr(source, "name", None) or type(source).__name__.lower()
    written = 0
    for i in range(0, len(wanted), chunk):
        part = wanted[i : i + chunk]
        frame = source.fetch(part, start, end)
        if frame is not None and not frame.empty:
            with runtime.transaction() as session:
                written += store_bars(session, frame, name)
        if progress is not None:
            progress(min(i + chunk, len(wanted)), len(wanted))
    return written


__all__ = [
    "BundledSource",
    "CachedSource",
    "PriceSource",
    "PriceSourceError",
    "empty_bars",
    "fetch_prices",
    "normalize_symbols",
]
