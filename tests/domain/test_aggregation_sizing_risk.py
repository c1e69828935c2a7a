from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from kevin_pipeline.domain import risk, sizing
from kevin_pipeline.domain.aggregation import effective_convictions, others_in_window_counts
from kevin_pipeline.domain.models import AccountState, Mention
from kevin_pipeline.domain.params import StrategyParams
from tests.helpers.calls import call

T0 = datetime(2024, 3, 4, 15, 0, tzinfo=timezone.utc)
P = StrategyParams()


def m(id: int, hours: float, symbol="NVDA", conviction="0.60", action="buy") -> Mention:
    return call(T0 + timedelta(hours=hours), symbol, action, conviction, "weeks", id=id)


# --- aggregation -----------------------------------------------------------------------------


def test_each_other_mention_in_48h_adds_five_points():
    ms = [m(1, 0), m(2, 10), m(3, 20)]
    assert effective_convictions(ms, P) == [Decimal("0.60"), Decimal("0.65"), Decimal("0.70")]


def test_boost_is_capped_at_twenty_points():
    ms = [m(i, i) for i in range(1, 9)]  # the 8th sees 7 others
    assert effective_convictions(ms, P)[-1] == Decimal("0.80")


def test_effective_conviction_never_exceeds_one():
    ms = [m(1, 0, conviction="0.95"), m(2, 1, conviction="0.95")]
    assert effective_convictions(ms, P)[1] == Decimal("1")


def test_window_excludes_older_than_48h_and_any_later_mention():
    ms = [m(1, 0), m(2, 48.01), m(3, 49)]
    eff = effective_convictions(ms, P)
    assert eff[0] == Decimal("0.60")  # later mentions never count (no lookahead)
    assert eff[1] == Decimal("0.60")  # mention 1 is 48.01 h earlier: outside
    assert eff[2] == Decimal("0.65")


def test_window_boundary_and_ties_are_included():
    ms = [m(1, 0), m(2, 48), m(3, 48)]
    assert effective_convictions(ms, P) == [Decimal("0.60"), Decimal("0.70"), Decimal("0.70")]


def test_other_symbols_do_not_boost_but_any_action_does():
    ms = [m(1, 0, symbol="AAPL"), m(2, 1, action="watch"), m(3, 2)]
    assert effective_convictions(ms, P) == [Decimal("0.60"), Decimal("0.60"), Decimal("0.65")]


def test_window_counts_match_the_rule_spelled_out_by_brute_force():
    """The one window function against the rule written plainly: other mentions of the symbol,
    any action, published in [t - 48 h, t]; ties and the window's first instant count."""
    ms = [m(i, i * 7.3 % 60, symbol="NVDA" if i % 3 else "AAPL") for i in range(1, 20)]
    ms += [m(20, 10), m(21, 10), m(22, 10 - 48)]  # a tie, and a mention at the first instant of their window
    counts = others_in_window_counts(ms, P.aggregation_window_hours)
    window = timedelta(hours=48)
    assert counts[-3] == counts[-2] and counts[-3] >= 2  # each sees the other and the edge one
    for mention, n in zip(ms, counts):
        assert n == sum(1 for o in ms if o is not mention and o.symbol == mention.symbol
                        and mention.published_at - window <= o.published_at <= mention.published_at)
    # the same instants in another zone, or as the tape's UTC nanoseconds, count the same
    from zoneinfo import ZoneInfo

    from kevin_pipeline.domain.calendar import instant_ns

    eastern = [x.model_copy(update={"published_at": x.published_at.astimezone(ZoneInfo("America/New_York"))}) for x in ms]
    assert others_in_window_counts(eastern, P.aggregation_window_hours) == counts
    assert others_in_window_counts(ms, P.aggregation_window_hours, [instant_ns(x.published_at) for x in ms]) == counts
    just_out = [*ms, m(23, 10 - 48 - 1 / 3_600_000_000)]  # one microsecond before the window of 20 and 21
    assert others_in_window_counts(just_out, P.aggregation_window_hours)[-4:-2] == counts[-3:-1]
    eff = effective_convictions(ms, P)
    for mention, n, e in zip(ms, counts, eff):
        assert e == min(mention.conviction + min(Decimal("0.05") * n, Decimal("0.20")), Decimal(1))


# --- sizing ----------------------------------------------------------------------------------


def test_size_ramps_linearly_between_the_floor_and_full_conviction():
    assert sizing.target_size(Decimal("100000"), Decimal("0.7"), P) == Decimal("2500.00")
    assert sizing.target_size(Decimal("100000"), Decimal("1.0"), P) == Decimal("4000.00")


def test_size_rounds_down_to_cents():
    assert sizing.target_size(Decimal("33333.33"), Decimal("0.9"), P) == Decimal("1166.66")


def test_whole_shares_floor_and_zero_under_one_share():
    assert sizing.whole_shares(Decimal("1000"), Decimal("333.34")) == 2
    assert sizing.whole_shares(Decimal("500"), Decimal("600")) == 0
    with pytest.raises(ValueError):
        sizing.whole_shares(Decimal("500"), Decimal("0"))


def test_bracket_prices_are_cents_and_stop_below_basis():
    assert sizing.bracket_prices(Decimal("100.00"), P) == (Decimal("120.00"), Decimal("92.00"))
    assert sizing.bracket_prices(Decimal("33.333"), P) == (Decimal("40.00"), Decimal("30.67"))
    tp, stop = sizing.bracket_prices(Decimal("0.05"), StrategyParams(stop_loss_pct=Decimal("0.01")))
    assert stop <= Decimal("0.04")


# --- risk ------------------------------------------------------------------------------------


def state(**kw) -> AccountState:
    base = dict(equity=Decimal("100000"), cash=Decimal("100000"), starting_equity=Decimal("100000"))
    base.update(kw)
    return AccountState(**base)


def test_loss_circuit_trips_at_three_percent_close_to_close():
    assert risk.loss_circuit_tripped(Decimal("100000"), Decimal("97000"), P)
    assert not risk.loss_circuit_tripped(Decimal("100000"), Decimal("97000.01"), P)


def test_loss_pause_lasts_24h_from_the_close():
    close = datetime(2024, 3, 4, 21, 0, tzinfo=timezone.utc)
    assert risk.loss_pause_until(close, P) == close + timedelta(hours=24)


def test_drawdown_halt_below_80_percent_of_start():
    assert risk.drawdown_halt_tripped(Decimal("79999.99"), Decimal("100000"), P)
    assert not risk.drawdown_halt_tripped(Decimal("80000"), Decimal("100000"), P)


def test_daily_allocation_exactly_at_the_cap_is_allowed():
    assert risk.buy_block_reason(state(daily_alloc_usd=Decimal("10000")), Decimal("5000"), T0, P) is None
    assert risk.buy_block_reason(state(daily_alloc_usd=Decimal("10000.01")), Decimal("5000"), T0, P) is not None


def test_blocklist_runs_seven_days_exclusive():
    until = risk.blocklist_until(T0, P)
    s = state(blocklist={"NVDA": until})
    assert risk.blocklisted_until(s, "NVDA", until - timedelta(seconds=1)) == until
    assert risk.blocklisted_until(s, "NVDA", until) is None
    assert until - T0 == timedelta(days=7)


def test_the_ticker_cap_answers_for_the_equity_and_parameters_asked_not_the_last_ones():
    """ticker_cap keeps its last answer (buys between two closes ask with the same equity): a
    different equity or parameter set must never get it, equal equity always the same digits."""
    from kevin_pipeline.domain.sizing import ticker_cap

    small = StrategyParams(max_position_pct=Decimal("0.05"), max_per_ticker_usd=Decimal("100000"))
    big = StrategyParams(max_position_pct=Decimal("0.20"), max_per_ticker_usd=Decimal("100000"))
    asks = [(Decimal("100000"), small), (Decimal("100000.0000"), small), (Decimal("100000"), big),
            (Decimal("90000.01"), big), (Decimal("90000.01"), small), (Decimal("-5"), small), (Decimal("100000"), small)]
    got = [ticker_cap(e, p) for e, p in asks]
    assert [str(c) for c in got] == ["5000.00", "5000.00", "20000.00", "18000.00", "4500.00", "0.00", "5000.00"]


def test_a_size_depends_on_the_conviction_value_not_how_it_is_written():
    """target_size keeps each conviction's weight (a few hundred distinct values a backtest): 0.8
    and 0.80 share one, so both must size to the same cents, and each still its own number."""
    from kevin_pipeline.domain.sizing import target_size

    equity = Decimal("123456.78")
    sizes = [target_size(equity, Decimal(c), P) for c in ("0.80", "0.8", "0.9", "0.900", "0.60", "0.6", "1", "1.00")]
    assert [str(s) for s in sizes[::2]] == [str(s) for s in sizes[1::2]]  # each written two ways: the same digits
    assert sizes[4] < sizes[0] < sizes[2] < sizes[6]
    assert all(s == s.quantize(Decimal("0.01")) and s.as_tuple().exponent == -2 for s in sizes)


def test_fill_prices_and_legs_depend_on_the_settings_values_not_how_they_are_written():
    """The slippage and bracket factors are kept per setting: each setting gets its own, and two
    ways of writing one setting give the same prices to the digit."""
    from kevin_pipeline.domain.execution import buy_fill_price, sell_fill_price
    from kevin_pipeline.domain.sizing import bracket_prices

    price = Decimal("123.4567")
    fills = []
    for bps, tp, sl in (("10", "0.15", "0.08"), ("10.0", "0.150", "0.080"), ("25", "0.30", "0.05"), ("0", "0.15", "0.08")):
        p = StrategyParams(slippage_bps=Decimal(bps), take_profit_pct=Decimal(tp), stop_loss_pct=Decimal(sl))
        fills.append([str(x) for x in (buy_fill_price(price, p), sell_fill_price(price, p), *bracket_prices(price, p))])
    assert fills[0] == fills[1] == ["123.5802", "123.3332", "141.98", "113.58"]
    assert fills[2] == ["123.7653", "123.1481", "160.49", "117.28"]
    assert fills[3] == ["123.4567", "123.4567", "141.98", "113.58"]
