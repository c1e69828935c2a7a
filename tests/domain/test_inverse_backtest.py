"""The contrarian backtest (direction = inverse) on small hand-made bars, computed by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from kevin_pipeline.domain.backtest import run_backtest
from kevin_pipeline.domain.models import Action, DecisionKind, DecisionStatus
from kevin_pipeline.domain.params import StrategyParams
from tests.helpers.calls import call
from tests.helpers.market import bars, et, prices

FOLLOW = StrategyParams(slippage_bps=Decimal("0"))
INVERSE = StrategyParams(direction="inverse", slippage_bps=Decimal("0"))


def test_an_inverted_buy_call_opens_nothing_where_following_it_would_buy():
    calls = [call(et(2024, 3, 5, 18))]
    followed = run_backtest(calls, prices(bars("NVDA")), FOLLOW)
    inverted = run_backtest(calls, prices(bars("NVDA")), INVERSE)
    assert len(followed.trades) == 1
    assert inverted.trades == []
    (d,) = inverted.decisions
    assert (d.action, d.kind, d.status) == (Action.BUY, DecisionKind.NO_OP, DecisionStatus.SKIPPED_FILTER)
    assert d.reason.startswith("inverse: buy call taken as avoid")
    assert inverted.equity.iloc[-1] == 100000.0


def test_an_inverted_sell_call_is_a_long_entry_sized_by_its_conviction_with_slippage():
    # sell, conviction 0.9, weeks: $100,000 x 4% x (0.5 + 0.5 x 0.3/0.4) = $3,500 at the open of
    # Wed 3/6 plus 10 bps = $100.10 -> 34 shares; held 10 sessions -> exit at the open of 3/20,
    # $110 less 10 bps = $109.89: P&L 34 x (109.89 - 100.10) = $332.86.
    p = StrategyParams(direction="inverse", slippage_bps=Decimal("10"))
    nvda = bars("NVDA", {date(2024, 3, 20): (110, 110, 110, 110)})
    r = run_backtest([call(et(2024, 3, 5, 18), action="sell", conviction="0.9", horizon="weeks")], prices(nvda), p)
    (d,) = r.decisions
    assert (d.kind, d.size_usd, d.hold_sessions) == (DecisionKind.OPEN_LONG, Decimal("3500.00"), 10)
    (t,) = r.trades
    assert (t.entry_session, t.entry_price, t.qty) == (date(2024, 3, 6), Decimal("100.1000"), 34)
    assert (t.exit_session, t.exit_reason, t.exit_price) == (date(2024, 3, 20), "time", Decimal("109.8900"))
    assert t.pnl_usd == Decimal("332.86")
    assert (t.stop_price, t.take_profit_price) == (Decimal("92.09"), Decimal("120.12"))  # the same legs


def test_a_held_long_is_closed_by_an_inverted_buy_and_the_symbol_is_blocklisted():
    # avoid 0.8 (days) -> long $3,000 = 30 shares at $100 on 3/6; the buy call on 3/7 at noon is
    # taken as avoid: the lot closes at the next open, 3/8, at $95 (P&L 30 x -5 = -$150), and the
    # sell call on 3/8 (taken as a buy) finds NVDA blocklisted for 7 x 24 h from 3/7 noon.
    calls = [call(et(2024, 3, 5, 18), action="avoid"), call(et(2024, 3, 7, 12)), call(et(2024, 3, 8, 12), action="sell")]
    nvda = bars("NVDA", {date(2024, 3, 8): (95, 95, 95, 95)})
    r = run_backtest(calls, prices(nvda), INVERSE)
    (t,) = r.trades
    assert (t.entry_session, t.qty, t.entry_price) == (date(2024, 3, 6), 30, Decimal("100.0000"))
    assert (t.exit_session, t.exit_reason, t.exit_price, t.pnl_usd) == (date(2024, 3, 8), "avoid", Decimal("95.0000"), Decimal("-150.00"))
    opened, closed, blocked = r.decisions
    assert closed.kind is DecisionKind.CLOSE_LONG and closed.action is Action.BUY
    assert blocked.status is DecisionStatus.SKIPPED_BLOCKLIST and blocked.action is Action.SELL
    assert r.final_cash == Decimal("99850.00")


def test_calls_of_any_action_in_the_window_boost_an_inverted_entry():
    # sell 0.8 on 3/5 -> $3,000 (30 shares); an avoid 0.8 a day later counts the sell as another
    # call in the window: effective 0.85 -> $4,000 x (0.5 + 0.5 x 0.25/0.4) = $3,250, under the
    # $4,500 headroom left -> 32 shares on 3/7.
    calls = [call(et(2024, 3, 5, 18), action="sell"), call(et(2024, 3, 6, 18), action="avoid")]
    r = run_backtest(calls, prices(bars("NVDA")), INVERSE)
    assert [d.effective_conviction for d in r.decisions] == [Decimal("0.8"), Decimal("0.85")]
    assert [d.size_usd for d in r.decisions] == [Decimal("3000.00"), Decimal("3250.00")]
    assert [(t.entry_session, t.qty) for t in r.trades] == [(date(2024, 3, 6), 30), (date(2024, 3, 7), 32)]
