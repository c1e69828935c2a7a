"""CachedSource: read the price_bars cache, back-fill misses from the upstream once, write through."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timezone

import pandas as pd
import pytest

from kevin_pipeline.runtime import Runtime, open_runtime
from kevin_pipeline.market_data.bundled import load_bundled_bars
from kevin_pipeline.market_data.cache import load_cached_bars, store_bars
from kevin_pipeline.market_data.frame import BAR_COLUMNS, validate_bars
from kevin_pipeline.market_data.source import BundledSource, CachedSource, PriceSource, fetch_prices
from kevin_pipeline.settings import Settings
from tests.helpers.market import CAL, bars

LATER = lambda: datetime(2030, 1, 1, tzinfo=timezone.utc)  # noqa: E731 - every test session is closed


class FakeUpstream:
    """A PriceSource serving a flat 100.0 bar for every session, counting calls."""

    name = "fake"

    def __init__(self, known: set[str] | None = None) -> None:
        self.calls: list[tuple[tuple[str, ...], date, date]] = []
        self.known = known

    def fetch(self, symbols, start, end) -> pd.DataFrame:
        self.calls.append((tuple(symbols), start, end))
        sessions = CAL.sessions_between(start, end)
        served = [bars(s, sessions=sessions) for s in symbols if self.known is None or s in self.known]
        return pd.concat(served, ignore_index=True)[BAR_COLUMNS] if served else pd.DataFrame(columns=BAR_COLUMNS)


@pytest.fixture
def runtime(tmp_path) -> Iterator[Runtime]:
    a = open_runtime(Settings(state_dir=tmp_path))
    yield a
    a.close()


def test_fake_and_bundled_sources_satisfy_the_protocol():
    assert isinstance(FakeUpstream(), PriceSource) and isinstance(BundledSource(), PriceSource)


def test_write_through_happens_once_and_the_second_call_reads_the_cache(runtime):
    up = FakeUpstream()
    src = CachedSource(runtime, upstream=up, clock=LATER)
    first = src.get_bars(["aapl", "MSFT"], date(2024, 5, 1), date(2024, 5, 31))
    assert len(up.calls) == 1 and up.calls[0] == (("AAPL", "MSFT"), date(2024, 5, 1), date(2024, 5, 31))
    n_sessions = len(CAL.sessions_between(date(2024, 5, 1), date(2024, 5, 31)))
    assert len(first) == 2 * n_sessions and list(first.columns) == BAR_COLUMNS and validate_bars(first) == []

    # A new CachedSource (no in-memory memo) on the same database: served from the cache alone.
    again = CachedSource(runtime, upstream=up, clock=LATER)
    second = again.get_bars(["MSFT", "AAPL"], date(2024, 5, 1), date(2024, 5, 31))
    assert len(up.calls) == 1
    pd.testing.assert_frame_equal(first, second)
    # A sub-range is covered too.
    assert len(again.get_bars(["AAPL"], date(2024, 5, 6), date(2024, 5, 10))) == 5 and len(up.calls) == 1

    with runtime.sessions() as s:
        stored = load_cached_bars(s, ["AAPL", "MSFT"])
    assert len(stored) == 2 * n_sessions


def test_only_missing_symbols_and_missing_tails_are_fetched(runtime):
    up = FakeUpstream()
    src = CachedSource(runtime, upstream=up, clock=LATER)
    src.get_bars(["AAPL"], date(2024, 5, 1), date(2024, 5, 31))
    src.get_bars(["AAPL", "NVDA"], date(2024, 5, 1), date(2024, 5, 31))
    assert up.calls[1] == (("NVDA",), date(2024, 5, 1), date(2024, 5, 31))
    # Extending the range asks only for the tail after the last cached bar.
    bars = src.get_bars(["AAPL"], date(2024, 5, 1), date(2024, 6, 14))
    assert up.calls[2] == (("AAPL",), date(2024, 6, 1), date(2024, 6, 14))
    assert bars["date"].max() == pd.Timestamp(2024, 6, 14)


def test_a_symbol_the_upstream_does_not_know_is_asked_once_per_source(runtime):
    up = FakeUpstream(known={"AAPL"})
    src = CachedSource(runtime, upstream=up, clock=LATER)
    bars = src.get_bars(["AAPL", "ZZZZ"], date(2024, 5, 1), date(2024, 5, 10))
    assert set(bars["symbol"]) == {"AAPL"}
    src.get_bars(["AAPL", "ZZZZ"], date(2024, 5, 1), date(2024, 5, 10))
    assert len(up.calls) == 1


def test_sessions_not_yet_closed_do_not_count_as_missing(runtime):
    up = FakeUpstream()
    # "Now" is Wednesday 2024-05-15 at noon New York: the last closed session is Tuesday the 14th.
    now = lambda: datetime(2024, 5, 15, 16, 0, tzinfo=timezone.utc)  # noqa: E731
    src = CachedSource(runtime, upstream=up, clock=now)
    with runtime.transaction() as s:
        store_bars(s, FakeUpstream().fetch(["AAPL"], date(2024, 5, 1), date(2024, 5, 14)), "fake")
    src.get_bars(["AAPL"], date(2024, 5, 1), date(2024, 5, 31))
    assert up.calls == []


def test_without_upstream_it_only_reads_the_cache(runtime):
    src = CachedSource(runtime.sessions, upstream=None)
    frame = src.get_bars(["AAPL"], date(2024, 5, 1), date(2024, 5, 31))
    assert frame.empty and list(frame.columns) == BAR_COLUMNS


def test_fetch_prices_refreshes_the_cache_in_chunks(runtime):
    up = FakeUpstream()
    done = []
    n = fetch_prices(runtime, ["c", "a", "b", "A"], date(2024, 5, 1), date(2024, 5, 3), up, chunk=2,
                     progress=lambda d, t: done.append((d, t)))
    assert n == 9  # 3 symbols x 3 sessions
    assert [c[0] for c in up.calls] == [("A", "B"), ("C",)] and done == [(2, 3), (3, 3)]
    assert fetch_prices(runtime, ["A"], date(2024, 5, 1), date(2024, 5, 3), up) == 3  # replaced, not duplicated
    with runtime.sessions() as s:
        assert len(load_cached_bars(s)) == 9
    with pytest.raises(ValueError):
        fetch_prices(runtime, [], date(2024, 5, 1), date(2024, 5, 3), up)


def test_fetch_prices_from_the_bundled_source(runtime):
    n = fetch_prices(runtime, ["NVDA", "SPY"], date(2022, 1, 3), date(2022, 1, 31), BundledSource())
    expected = load_bundled_bars(["NVDA", "SPY"], date(2022, 1, 3), date(2022, 1, 31))
    assert n == len(expected) > 0
    with runtime.sessions() as s:
        cached = load_cached_bars(s, ["NVDA", "SPY"])
    assert len(cached) == n and set(cached["symbol"]) == {"NVDA", "SPY"}
