"""Property tests: whatever the mention and the account, a decision never breaks a hard limit."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from kevin_pipeline.domain.models import AccountState, Action, DecisionKind, Horizon, Mention
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.domain.sizing import ticker_cap
from kevin_pipeline.domain.strategy import evaluate

NOW = datetime(2024, 5, 1, 15, 0, tzinfo=timezone.utc)
P = StrategyParams()
money = st.decimals(min_value=0, max_value=5_000_000, places=2, allow_nan=False, allow_infinity=False)
frac = st.decimals(min_value=0, max_value=1, places=4, allow_nan=False, allow_infinity=False)


@st.composite
def scenarios(draw):
    symbol = draw(st.sampled_from(["NVDA", "AAPL", "TSLA"]))
    m = Mention(
        id=1,
        symbol=symbol,
        action=draw(st.sampled_from(list(Action))),
        conviction=draw(frac),
        horizon=draw(st.sampled_from(list(Horizon))),
        published_at=NOW - timedelta(hours=draw(st.floats(0, 100))),
    )
    equity = draw(money)
    held = draw(st.dictionaries(st.sampled_from(["NVDA", "AAPL", "TSLA"]), money, max_size=3))
    state = AccountState(
        equity=equity,
        cash=draw(money),
        starting_equity=draw(money.filter(lambda x: x > 0)),
        cost_basis=held,
        daily_trade_count=draw(st.integers(0, 8)),
        daily_alloc_usd=draw(st.decimals(min_value=0, max_value=20000, places=2)),
    )
    eff = draw(frac)
    return m, state, eff


@settings(max_examples=600, deadline=None)
@given(scenarios())
def test_no_decision_ever_shorts_or_breaks_a_size_limit(scenario):
    m, state, eff = scenario
    d = evaluate(m, state, NOW, P, effective_conviction=eff)
    if d.kind is DecisionKind.OPEN_LONG:
        assert m.action is Action.BUY
        assert P.min_trade_usd <= d.size_usd <= P.max_trade_usd
        assert state.cost_basis.get(m.symbol, Decimal(0)) + d.size_usd <= ticker_cap(state.equity, P)
        assert state.daily_trade_count < P.daily_trade_cap
        assert state.daily_alloc_usd + d.size_usd <= P.daily_alloc_cap_usd
        assert d.size_usd == d.size_usd.quantize(Decimal("0.01"))
        assert eff >= P.min_conviction
    elif d.kind is DecisionKind.CLOSE_LONG:
        assert m.action in (Action.SELL, Action.AVOID)
        assert state.holds(m.symbol)  # closing only what is held: long-only, never a short
    else:
        assert d.size_usd == 0
