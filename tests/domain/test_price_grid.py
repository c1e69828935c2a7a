"""The integer-tick view of the bars the engine filters and values with (`prices.SessionGrid`).

The engine asks the venue only about held symbols whose bar reaches a leg, and values the rest
from the grid; both are right only if every tick is exactly `execution.price` of the bar, and the
grid's columns are the calendar's sessions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

import numpy as np
import pandas as pd
import pytest
from kevin_pipeline.domain.calendar import nyse_calendar
from kevin_pipeline.domain.execution import price
from kevin_pipeline.domain.prices import PriceBook, from_ticks, price_ticks


def _exact(values: np.ndarray) -> list[int]:
    return [int(price(float(v)).scaleb(4)) for v in values]


def test_ticks_are_exactly_execution_price_even_at_half_ticks():
    rng = np.random.default_rng(3)
    values = np.concatenate([
        rng.uniform(0, 3000, 20_000),
        np.round(rng.uniform(0, 500, 5_000), 2),
        np.round(rng.uniform(0, 50, 5_000), 4) + 0.00005,  # true half ticks: price() rounds them up
        np.array([0.00005, 1.00005, 10.12345, 0.1 + 0.2, 123456.78905, 0.0, 2.5e-5, 99999.99995]),
        np.array([-0.0, -1.23455, -7.00004, 1e12 + 0.00005, 3e11 + 0.12345, 0.49999999999999994]),  # beyond 1e15 ticks: price() itself
    ])
    assert price_ticks(values).tolist() == _exact(values)
    assert price_ticks(np.array([10.00005]))[0] == 100001  # half up, not to even
    assert repr(from_ticks(123456)) == repr(price(12.3456)) == "Decimal('12.3456')"
    for ticks in (0, 1, -1, 7, -123_456_789, 10**15, 10**15 + 3, -(10**15) - 9):  # the exponent is -4 whatever the value
        assert repr(from_ticks(ticks)) == repr(Decimal(ticks).scaleb(-4))
    assert repr(from_ticks(1_000_000)) == repr(price(100.0))


def test_a_bar_that_is_not_a_number_has_no_tick_and_does_not_raise_here():
    assert price_ticks(np.array([np.nan, 1.5, np.inf, -np.inf])).tolist() == [0, 15000, 0, 0]


def test_a_bar_is_execution_price_of_each_value_however_the_book_was_read():
    """`PriceBook.bar` builds Decimals from the book's ticks: each must be price() of its float to
    the digit (the same repr), including half ticks, zeros, a negative zero, NaN and infinity, and
    a book whose symbols' rows are interleaved (not one block each) or given twice for a date."""
    rng = np.random.default_rng(5)
    tricky = [0.00005, 1.00005, 10.12345, 0.1 + 0.2, 123456.78905, 0.0, -0.0, 2.5e-5, 99999.99995, -1.23455, 7.5]
    values = np.concatenate([np.round(rng.uniform(0, 500, 400), 4), tricky, [np.nan, np.inf, 3.0]])
    days = [d.date() for d in pd.bdate_range("2020-01-01", periods=len(values) // 2 + 1)]
    rows = []
    for i, v in enumerate(values):  # two symbols, alternating rows; each value in a different field
        rows.append(("AAA" if i % 2 else "BBB", days[i // 2].isoformat(), *np.roll([v, 5.0, 4.0, 4.5], i % 4)))
    rows.append(("AAA", days[0].isoformat(), 9.99995, 1.5, 1.25, 1.375))  # a (symbol, date) twice: the later row wins
    book = _book(rows)
    frame = pd.DataFrame(rows, columns=["symbol", "date", "open", "high", "low", "close"]).drop_duplicates(
        ["symbol", "date"], keep="last")
    raised = 0
    for sym, d, *ohlc in frame.itertuples(index=False):
        try:
            want = [price(float(v)) for v in ohlc]
        except InvalidOperation:  # infinity has no price: the bar fails as price() does
            with pytest.raises(InvalidOperation):
                book.bar(sym, date.fromisoformat(d))
            raised += 1
            continue
        bar = book.bar(sym, date.fromisoformat(d))
        assert [repr(x) for x in bar] == [repr(x) for x in want], (sym, d, ohlc)
    assert raised == 1


def _book(rows: list[tuple[str, str, float, float, float, float]]) -> PriceBook:
    return PriceBook.from_frame(pd.DataFrame(rows, columns=["symbol", "date", "open", "high", "low", "close"]))


def test_grid_rows_hold_each_session_bar_and_carry_the_last_close_over_gaps():
    cal = nyse_calendar()
    book = _book([
        ("AAA", "2024-03-04", 10.0, 11.0, 9.5, 10.5),  # Monday
        ("AAA", "2024-03-06", 10.6, 10.9, 10.1, 10.25),  # no bar on the 5th
        ("AAA", "2024-03-09", 1.0, 1.0, 1.0, 1.0),  # a Saturday: not a session, never on the grid
        ("BBB", "2024-03-05", 20.0, 20.0, 20.0, 20.0),
        ("BBB", "2024-03-07", 21.0, 22.0, 20.5, 21.123456),
    ])
    grid = book.session_grid(cal)
    assert book.session_grid(cal) is grid  # one per calendar
    assert cal.session_at(grid.k0) == date(2024, 3, 4) and grid.columns == 5  # Mon 4th .. Fri 8th
    a, b = grid.row("AAA"), grid.row("BBB")
    assert grid.row("AAA") == a != b
    assert (grid.low[a, :5] < 10**15).tolist() == [True, False, True, False, False]  # a bar: a real low
    # no bar: no leg can fill there (the low over every stop, the high under every take-profit)
    assert grid.low[a, 1] > 10**15 and grid.high[a, 1] < -10**15 and grid.low[a, 3] > 10**15
    assert grid.open[a, 2] == 106000 and grid.low[a, 0] == 95000 and grid.high[a, 0] == 110000
    assert grid.close_ff[a, :5].tolist() == [105000, 105000, 102500, 102500, 102500]
    assert grid.close_ff[b, :5].tolist() == [0, 200000, 200000, 211235, 211235]  # 21.123456 -> 21.1235
    assert from_ticks(int(grid.close_ff[b, 3])) == book.bar("BBB", date(2024, 3, 7)).close
    empty = grid.row("ZZZ")
    assert empty == grid.empty_row and (grid.low[empty] > 10**15).all() and not grid.close_ff[empty].any()


def test_a_bar_that_is_not_a_number_is_always_handed_to_the_venue():
    cal = nyse_calendar()
    book = _book([("AAA", "2024-03-04", 10.0, 11.0, 9.5, 10.5), ("AAA", "2024-03-05", float("nan"), 11.0, 9.5, 10.5)])
    grid = book.session_grid(cal)
    r = grid.row("AAA")
    # an open under every stop and over every take-profit: the engine cannot skip this bar
    assert grid.open[r, 1] < -10**15 and grid.low[r, 1] < -10**15 and grid.high[r, 1] > 10**15
    assert book.bar("AAA", date(2024, 3, 5)).open.is_nan()  # what the venue meets, as it always did


def test_a_book_cut_at_a_date_has_a_grid_of_its_own_span():
    cal = nyse_calendar()
    book = _book([("AAA", "2024-03-04", 10.0, 11.0, 9.5, 10.5), ("AAA", "2024-03-08", 11.0, 11.0, 11.0, 11.0)])
    cut = book.without_after(date(2024, 3, 5))
    grid = cut.session_grid(cal)
    assert grid.columns == 1 and grid.close_ff[grid.row("AAA"), 0] == 105000
    assert book.session_grid(cal).columns == 5


def test_the_held_index_grows_past_its_capacity_and_frees_slots():
    """The engine's held symbols over the grid: which ones a session's bar reaches a leg of, and
    what they are worth, however many are held at once."""
    from types import SimpleNamespace

    from kevin_pipeline.domain.backtest import _HeldIndex

    cal = nyse_calendar()
    rows = []
    for i in range(100):
        p = 10.0 + i
        rows += [(f"S{i:03d}", "2024-03-04", p, p + 1, p - 1, p), (f"S{i:03d}", "2024-03-05", p, p + 0.5, p - 0.5, p + 0.25)]
    grid = _book(rows).session_grid(cal)
    held = _HeldIndex(grid, capacity=4)

    def lot(i: int, qty: int, stop: float, tp: float) -> SimpleNamespace:
        return SimpleNamespace(qty=qty, stop_ticks=round(stop * 10_000), take_profit_ticks=round(tp * 10_000))

    for i in range(100):  # stops 0.75 under the open, take-profits 0.75 over it
        held.set(f"S{i:03d}", [lot(i, 2, 9.25 + i, 10.75 + i)])
    assert len(held.start) >= 100 and len(held.slot) == 100
    assert held.at_open(0) == set() and held.at_close(1)[0] == set()
    assert held.at_close(0)[0] == {f"S{i:03d}" for i in range(100)}  # day one's range is +-1
    assert held.value_ticks(held.at_close(1)[1]) == sum(2 * (10.25 + i) * 10_000 for i in range(100))
    held.set("S007", [lot(7, 1, 17.5, 30.0), lot(7, 3, 5.0, 17.4)])  # two lots: the highest stop, the lowest take-profit
    hit, closes = held.at_close(1)
    assert hit == {"S007"}
    assert held.value_ticks(closes) == sum(2 * (10.25 + i) * 10_000 for i in range(100)) + 2 * 17.25 * 10_000
    for i in range(0, 100, 2):  # emptied after the closes were read (legs filled at the close): they hold nothing
        held.set(f"S{i:03d}", [])
    assert held.value_ticks(closes) == sum(2 * (10.25 + i) * 10_000 for i in range(1, 100, 2)) + 2 * 17.25 * 10_000
    assert len(held.slot) == 50 and held.at_close(0)[0] == {f"S{i:03d}" for i in range(1, 100, 2)}
    held.set("NEW", [])  # nothing held, nothing to free
    assert held.value_ticks(held.at_close(1)[1]) == sum(2 * (10.25 + i) * 10_000 for i in range(1, 100, 2)) + 2 * 17.25 * 10_000


def test_threads_sharing_a_book_see_whole_rows_only():
    """The dashboard may run backtests on one PriceBook from several threads: a row is published
    only once filled, and each symbol gets one row."""
    from concurrent.futures import ThreadPoolExecutor

    cal = nyse_calendar()
    rows = [(f"S{i:02d}", d, 10.0 + i, 11.0 + i, 9.0 + i, 10.5 + i)
            for i in range(40) for d in ("2024-03-04", "2024-03-05", "2024-03-06")]
    grid = _book(rows).session_grid(cal)
    symbols = [f"S{i:02d}" for i in range(40)] * 8
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda s: (s, grid.row(s), int(grid.close_ff[grid.row(s), 2])), symbols))
    assert {s: r for s, r, _ in got} == {s: grid.row(s) for s in symbols}
    assert len({r for _, r, _ in got}) == 40
    assert all(close == (105_000 + 10_000 * int(s[1:])) for s, _, close in got)


def test_a_books_first_and_last_dates_are_its_bars_even_when_cut():
    book = _book([("AAA", "2024-03-05", 1, 1, 1, 1), ("BBB", "2024-03-01", 1, 1, 1, 1), ("AAA", "2024-03-11", 1, 1, 1, 1)])
    assert (book.first_date(), book.last_date()) == (date(2024, 3, 1), date(2024, 3, 11))
    cut = book.without_after(date(2024, 3, 6))
    assert (cut.first_date(), cut.last_date()) == (date(2024, 3, 1), date(2024, 3, 5))
    assert cut.last_date("AAA") == date(2024, 3, 5) and book.last_date("BBB") == date(2024, 3, 1)


def test_a_book_with_prices_past_int32_ticks_keeps_them_exact():
    """The tick table holds int32 while every price fits ($214,748.36 at most) and int64 from the
    first chunk that does not: a price past it, even far into the book, is still exact."""
    import kevin_pipeline.domain.prices as prices

    cal = nyse_calendar()
    days = [d.date().isoformat() for d in pd.bdate_range("2024-03-04", periods=8)]
    rows = [(f"S{i:02d}", d, 10.0 + i, 11.0 + i, 9.0 + i, 10.5 + i) for i in range(3) for d in days]
    rows += [("BRK", d, 650_000.12345, 700_000.5, 214_748.3648, 1e12 + 0.5) for d in days]  # past int32 ticks
    book = _book(rows)
    old = prices._TICK_CHUNK
    prices._TICK_CHUNK = 4  # the big prices arrive in a later chunk than the first
    try:
        ticks, bad = book.tick_table()
    finally:
        prices._TICK_CHUNK = old
    assert ticks.dtype == np.int64 and bad is None
    bar = book.bar("BRK", date(2024, 3, 5))
    assert [repr(x) for x in bar] == [repr(price(v)) for v in (650_000.12345, 700_000.5, 214_748.3648, 1e12 + 0.5)]
    assert book.bar("S01", date(2024, 3, 5)) == (price(11.0), price(12.0), price(10.0), price(11.5))
    grid = book.session_grid(cal)
    r = grid.row("BRK")
    assert grid.open[r, 1] == 6_500_001_235 and grid.low[r, 1] == 2_147_483_648 and grid.close_ff[r, 7] == 10**16 + 5000
    small = _book(rows[:24])
    assert small.tick_table()[0].dtype == np.int32  # every price fits: half the memory
    assert small.bar("S02", date(2024, 3, 11)) == (price(12.0), price(13.0), price(11.0), price(12.5))


def test_a_grid_row_is_the_same_whatever_order_the_file_has():
    """A symbol's rows in one block in date order are copied as slices; any other order is
    scattered by column. Both give the same grid, gaps and bars off the sessions included."""
    cal = nyse_calendar()
    rng = np.random.default_rng(11)
    days = [d.date().isoformat() for d in pd.date_range("2024-03-01", "2024-04-30")]  # weekends, Good Friday
    rows = []
    for i in range(6):
        kept = days if i < 3 else [d for d in days if rng.random() < 0.7]  # three with every day, three with gaps
        rows += [(f"S{i}", d, *(np.round(rng.uniform(5, 50, 4), 4).tolist())) for d in kept]
    sorted_book, shuffled = _book(rows), _book([rows[j] for j in rng.permutation(len(rows))])
    a, b = sorted_book.session_grid(cal), shuffled.session_grid(cal)
    assert a.columns == b.columns == len(cal.sessions_between(date(2024, 3, 1), date(2024, 4, 30)))
    for i in range(6):
        ra, rb = a.row(f"S{i}"), b.row(f"S{i}")
        for name in ("open", "high", "low", "close_ff"):
            assert getattr(a, name)[ra, : a.columns].tolist() == getattr(b, name)[rb, : b.columns].tolist(), (i, name)
    day = date(2024, 4, 2)
    want = sorted_book.bar("S1", day)
    assert want is not None and a.open[a.row("S1"), cal.session_index(day) - a.k0] == int(want.open.scaleb(4))
