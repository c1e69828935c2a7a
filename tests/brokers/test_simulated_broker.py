"""The simulated venue fills with the backtest's rules, only from bars the clock has passed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from tests.helpers.market import bars, et

DECIDED = et(2024, 3, 5, 18)  # after Tuesday's close: the buy fills at Wednesday 3-6's open


def buy(broker, client_order_id: str, usd: str = "1000", now=DECIDED):
    """A $`usd` bracket buy with the default legs: take-profit +20 %, stop -8 %."""
    return broker.submit_bracket_buy(client_order_id=client_order_id, symbol="NVDA", target_usd=Decimal(usd),
                                     take_profit_pct=Decimal("0.2"), stop_loss_pct=Decimal("0.08"), time_in_force="gtc",
                                     now=now)


def test_market_buy_fills_at_the_next_open_in_whole_shares(live_factory):
    live = live_factory()
    b = live.broker
    o = buy(b, "c1", "3050")
    assert o.status == "accepted" and o.qty == 0
    assert b.get_order("c1", et(2024, 3, 6, 9, 29)).status == "accepted"  # not before the open
    filled = b.get_order("c1", et(2024, 3, 6, 9, 31))
    assert (filled.status, filled.qty, filled.filled_avg_price) == ("filled", 30, Decimal("100.0000"))
    assert (filled.take_profit_price, filled.stop_price) == (Decimal("120.00"), Decimal("92.00"))
    assert b.account(et(2024, 3, 6, 10)).cash == Decimal("97000")


def test_same_client_order_id_never_places_a_second_order(live_factory):
    live = live_factory()
    buy(live.broker, "dup")
    buy(live.broker, "dup")
    assert len(live.broker.orders(et(2024, 3, 7))) == 1
    assert live.broker.positions(et(2024, 3, 7))[0].qty == 10


def test_stop_leg_fills_at_the_close_of_the_session_that_touches_it(live_factory):
    live = live_factory(bars("NVDA", {date(2024, 3, 7): (100, 101, 91, 95)}))
    b = live.broker
    buy(b, "c1")
    assert b.positions(et(2024, 3, 7, 15, 59))[0].qty == 10  # intraday stop counts from the close
    assert b.positions(et(2024, 3, 7, 16, 0)) == []
    legs = [o for o in b.orders(et(2024, 3, 8)) if o.exit_reason == "stop"]
    assert legs[0].filled_avg_price == Decimal("92.00") and legs[0].raw["parent_client_order_id"] == "c1"


def test_close_cancels_pending_buys_and_sells_at_the_next_open(live_factory):
    live = live_factory(bars("NVDA", {date(2024, 3, 8): (110, 110, 110, 110)}))
    b = live.broker
    buy(b, "c1")
    buy(b, "c2", now=et(2024, 3, 7, 12))
    sell = b.close_position("NVDA", client_order_id="x1", reason="sell", now=et(2024, 3, 7, 13))
    assert sell.status == "accepted"
    assert b.get_order("c2", et(2024, 3, 7, 13)).status == "canceled"
    done = b.get_order("x1", et(2024, 3, 8, 9, 31))
    assert (done.status, done.qty, done.filled_avg_price) == ("filled", 10, Decimal("110.0000"))
    assert b.close_position("NVDA", client_order_id="x2", reason="sell", now=et(2024, 3, 8, 12)) is None


def test_time_exit_at_session_open_fills_at_that_open(live_factory):
    live = live_factory(bars("NVDA", {date(2024, 3, 11): (105, 106, 104, 104)}))
    b = live.broker
    buy(b, "c1")
    o = b.close_position("NVDA", client_order_id="t1", reason="time", now=et(2024, 3, 11, 9, 35), at_session_open=True)
    assert (o.status, o.filled_avg_price) == ("filled", Decimal("105.0000"))


def test_account_equity_marks_to_the_last_close(live_factory):
    live = live_factory(bars("NVDA", {date(2024, 3, 6): (100, 102, 99, 101)}))
    b = live.broker
    buy(b, "c1")
    assert b.account(et(2024, 3, 6, 12)).equity == Decimal("100000")  # marked at the fill until a close
    acct = b.account(et(2024, 3, 6, 17))
    assert acct.equity == Decimal("100010") and acct.last_equity == Decimal("100010")
    assert b.latest_price("NVDA", et(2024, 3, 6, 17)) == Decimal("101.0000")
