"""domain.venue: the order of fills at a session's open and close, shared by the backtest engine and
the simulated broker. One behaviour per test; bars and lots are plain values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from kevin_pipeline.domain import venue
from kevin_pipeline.domain.execution import ExitReason
from kevin_pipeline.domain.params import StrategyParams

D = Decimal
DAY = date(2024, 3, 11)
PARAMS = StrategyParams()  # 5 bps slippage, stop 8 %, take-profit 20 %


@dataclass(frozen=True)
class Bar:
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal


@dataclass
class Lot:
    qty: int
    stop: Decimal | None = D("92")
    take_profit: Decimal | None = D("120")
    mark: Decimal = D("100")


@dataclass(frozen=True)
class Buy:
    symbol: str
    size: Decimal
    legs: StrategyParams | None = None


def bars(**by_symbol: tuple[float, float, float, float]):
    table = {sym: Bar(*(D(str(v)) for v in ohlc)) for sym, ohlc in by_symbol.items()}
    return lambda sym, session: table.get(sym) if session == DAY else None


def open_(held, bar_of, queued=None, planned=None, buys=()):
    return venue.open_session(DAY, held, bar_of, queued or {}, planned or {}, list(buys), PARAMS)


def test_a_gap_through_the_stop_fills_at_the_open_before_a_queued_sell():
    gapped, other = Lot(10), Lot(5, stop=D("80"), take_profit=D("130"))
    opened = open_({"X": [gapped, other]}, bars(X=(90, 95, 89, 94)), queued={"X": venue.QUEUED_SELL})
    assert [(e.lot, e.reason, e.price, e.leg) for e in opened.exits] == [
        (gapped, ExitReason.STOP, D("89.9550"), True),  # the open less 5 bps
        (other, ExitReason.SELL, D("89.9550"), False),
    ]
    assert opened.closed == [("X", D("89.9550"))]


def test_a_gap_above_the_take_profit_fills_at_the_open_without_slippage():
    opened = open_({"X": [Lot(10)]}, bars(X=(125, 126, 124, 125)))
    assert [(e.reason, e.price) for e in opened.exits] == [(ExitReason.TAKE_PROFIT, D("125"))]


def test_a_time_exit_after_a_queued_sell_of_the_same_symbol_does_nothing():
    lot = Lot(10)
    opened = open_({"X": [lot]}, bars(X=(100, 101, 99, 100)), queued={"X": venue.QUEUED_AVOID}, planned={"X": DAY})
    assert [(e.reason, e.qty) for e in opened.exits] == [(ExitReason.AVOID, 10)]


def test_a_time_exit_due_sells_every_lot_at_the_open_with_slippage():
    a, b = Lot(3), Lot(4)
    opened = open_({"X": [a, b]}, bars(X=(100, 101, 99, 100)), planned={"X": date(2024, 3, 8)})
    assert [(e.lot, e.reason, e.price) for e in opened.exits] == [
        (a, ExitReason.TIME, D("99.9500")), (b, ExitReason.TIME, D("99.9500"))
    ]


def test_a_planned_exit_after_this_session_waits():
    opened = open_({"X": [Lot(3)]}, bars(X=(100, 101, 99, 100)), planned={"X": date(2024, 3, 12)})
    assert opened.exits == []


def test_at_one_open_every_gap_comes_before_every_queued_close_and_every_time_exit():
    b = bars(A=(100, 101, 99, 100), B=(90, 91, 89, 90), C=(100, 101, 99, 100))
    opened = open_({"A": [Lot(1)], "B": [Lot(1)], "C": [Lot(1)]}, b,
                   queued={"A": venue.QUEUED_SELL}, planned={"C": DAY})
    assert [e.reason for e in opened.exits] == [ExitReason.STOP, ExitReason.SELL, ExitReason.TIME]


def test_a_symbol_without_a_bar_keeps_its_lots_and_its_queued_close_for_the_next_bar():
    opened = open_({"X": [Lot(10)]}, bars(), queued={"X": venue.QUEUED_SELL}, planned={"X": DAY})
    assert (opened.exits, opened.closed) == ([], [])


def test_a_queued_close_with_nothing_left_is_used_up_and_sells_nothing():
    opened = open_({"X": []}, bars(X=(100, 101, 99, 100)), queued={"X": venue.QUEUED_SELL})
    assert (opened.exits, opened.closed) == ([], [("X", D("99.9500"))])


def test_a_partial_close_sells_lots_in_the_given_order_and_a_time_exit_sells_the_rest():
    first, second = Lot(4), Lot(6)
    opened = open_({"X": [first, second]}, bars(X=(100, 101, 99, 100)),
                   queued={"X": venue.QueuedClose(ExitReason.MANUAL, 7)}, planned={"X": DAY})
    assert [(e.lot, e.qty, e.reason) for e in opened.exits] == [
        (first, 4, ExitReason.MANUAL), (second, 3, ExitReason.MANUAL), (second, 3, ExitReason.TIME)
    ]


def test_a_lot_without_legs_never_gaps_out():
    opened = open_({"X": [Lot(10, stop=None, take_profit=None)]}, bars(X=(10, 11, 9, 10)))
    assert opened.exits == []


def test_a_pending_buy_fills_at_the_open_with_slippage_in_whole_shares_with_legs_from_the_fill():
    buy = Buy("X", D("1000"))
    opened = open_({}, bars(X=(100, 101, 99, 100)), buys=[buy])
    assert opened.buys == [(buy, venue.BuyFill(D("100.0500"), 9, D("120.06"), D("92.05")))]


def test_a_buy_takes_its_own_leg_percentages_when_it_has_them():
    buy = Buy("X", D("1000"), legs=StrategyParams(take_profit_pct=D("0.5"), stop_loss_pct=D("0.1")))
    (_, fill), = open_({}, bars(X=(100, 101, 99, 100)), buys=[buy]).buys
    assert (fill.take_profit, fill.stop) == (D("150.08"), D("90.05"))


def test_a_buy_without_a_bar_on_its_session_is_rejected_as_no_bar():
    (_, outcome), = open_({}, bars(), buys=[Buy("X", D("1000"))]).buys
    assert outcome == venue.BuyRejected("no X bar on entry session 2024-03-11", True)


def test_a_buy_too_small_for_one_share_buys_nothing():
    (_, outcome), = open_({}, bars(X=(100, 101, 99, 100)), buys=[Buy("X", D("50"))]).buys
    assert outcome == venue.BuyRejected("50 buys no whole share at 100.0500", False)


def test_a_bar_touching_both_legs_counts_the_stop_at_the_stop_with_slippage():
    lot = Lot(10)
    exits, _ = venue.close_session(DAY, {"X": [lot]}, bars(X=(100, 125, 90, 110)), PARAMS)
    assert [(e.lot, e.reason, e.price) for e in exits] == [(lot, ExitReason.STOP, D("91.9540"))]


def test_a_bar_reaching_the_take_profit_fills_at_the_limit():
    exits, _ = venue.close_session(DAY, {"X": [Lot(10)]}, bars(X=(100, 121, 99, 118)), PARAMS)
    assert [(e.reason, e.price) for e in exits] == [(ExitReason.TAKE_PROFIT, D("120"))]


def test_the_close_marks_the_lots_left_and_returns_their_change_in_value():
    kept, stopped = Lot(10, stop=D("80")), Lot(5, mark=D("100"))
    exits, change = venue.close_session(DAY, {"X": [kept, stopped]}, bars(X=(100, 103, 91, 102)), PARAMS)
    assert [e.lot for e in exits] == [stopped]
    assert (kept.mark, stopped.mark, change) == (D("102"), D("100"), D("20"))


def test_a_symbol_without_a_bar_at_the_close_is_neither_checked_nor_marked():
    lot = Lot(10)
    assert venue.close_session(DAY, {"X": [lot]}, bars(), PARAMS) == ([], D("0"))
    assert lot.mark == D("100")


def test_a_market_sell_at_the_open_prices_with_slippage_even_when_nothing_is_held():
    sale = venue.sell_at_open(D("100"), [], None, ExitReason.TIME, PARAMS)
    assert (sale.price, sale.exits) == (D("99.9500"), [])
