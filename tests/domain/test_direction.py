"""direction = inverse: a buy call is decided as an avoid call, a sell or avoid call as a buy (long
only), hold and watch stay no-ops; same sizing, caps and blocklist as following (domain.direction)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from kevin_pipeline.domain.direction import Direction, directed_action
from kevin_pipeline.domain.models import AccountState, Action, DecisionKind, DecisionStatus, Mention
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.domain.strategy import evaluate
from tests.helpers.calls import call

NOW = datetime(2024, 5, 1, 15, 0, tzinfo=timezone.utc)
FOLLOW = StrategyParams()
INVERSE = StrategyParams(direction="inverse")


def mention(action: str, conviction: str = "0.8", horizon: str = "weeks", age_hours: float = 1.0) -> Mention:
    return call(NOW - timedelta(hours=age_hours), "NVDA", action, conviction, horizon, id=1)


def account(**kw) -> AccountState:
    return AccountState(**{"equity": Decimal("100000"), "cash": Decimal("100000"),
                           "starting_equity": Decimal("100000"), **kw})


HELD = account(cost_basis={"NVDA": Decimal("3000")})


# --- the mapping ---------------------------------------------------------------------------


def test_inverse_maps_buy_to_avoid_sell_and_avoid_to_buy_and_keeps_hold_and_watch():
    assert {a: directed_action(a, Direction.INVERSE) for a in Action} == {
        Action.BUY: Action.AVOID,
        Action.SELL: Action.BUY,
        Action.AVOID: Action.BUY,
        Action.HOLD: Action.HOLD,
        Action.WATCH: Action.WATCH,
    }


def test_follow_maps_every_action_to_itself():
    assert all(directed_action(a, Direction.FOLLOW) is a for a in Action)


def test_follow_is_the_default_and_the_setting_reads_any_case():
    assert StrategyParams().direction is Direction.FOLLOW
    assert StrategyParams(direction=" Inverse ").direction is Direction.INVERSE


def test_an_unknown_direction_is_refused_naming_the_field():
    with pytest.raises(ValidationError, match="direction"):
        StrategyParams(direction="contrarian")


# --- inverse through evaluate ----------------------------------------------------------------


def test_inverted_buy_on_a_held_long_closes_it_and_blocklists_like_an_avoid():
    d = evaluate(mention("buy"), HELD, NOW, INVERSE)
    assert d.kind is DecisionKind.CLOSE_LONG and d.status is DecisionStatus.EMITTED
    assert (d.action, d.acted_as) == (Action.BUY, Action.AVOID)
    assert d.blocklist_until == NOW - timedelta(hours=1) + timedelta(days=7)
    assert d.reason.startswith("inverse: buy call taken as avoid; avoid call: close the long")


def test_inverted_buy_without_a_position_buys_nothing_and_still_blocklists():
    d = evaluate(mention("buy"), account(), NOW, INVERSE)
    assert d.kind is DecisionKind.NO_OP and d.size_usd == 0
    assert d.blocklist_until == NOW - timedelta(hours=1) + timedelta(days=7)


def test_inverted_buy_keeps_a_held_long_when_avoid_closes_longs_is_off():
    d = evaluate(mention("buy"), HELD, NOW, INVERSE.model_copy(update={"avoid_closes_longs": False}))
    assert d.kind is DecisionKind.NO_OP and "avoid_closes_longs is off" in d.reason


@pytest.mark.parametrize("action", ["sell", "avoid"])
def test_inverted_sell_or_avoid_opens_a_long_sized_by_conviction(action):
    d = evaluate(mention(action, conviction="0.9"), account(), NOW, INVERSE)
    assert d.kind is DecisionKind.OPEN_LONG and d.status is DecisionStatus.EMITTED
    assert d.acted_as is Action.BUY and d.action is Action(action)
    assert d.size_usd == Decimal("3500.00")  # 100k x 4% x (0.5 + 0.5 x 0.3/0.4)
    assert d.hold_sessions == 10 and d.blocklist_until is None


def test_inverted_sell_on_a_held_symbol_tops_up_to_the_per_ticker_cap_and_extends_the_hold():
    d = evaluate(mention("sell", conviction="1.0"), account(cost_basis={"NVDA": Decimal("5000")}), NOW, INVERSE)
    assert d.kind is DecisionKind.OPEN_LONG and d.size_usd == Decimal("2500.00") and d.extends_hold


def test_inverted_sell_uses_the_effective_conviction_the_window_gives():
    d = evaluate(mention("sell", conviction="0.55"), account(), NOW, INVERSE, effective_conviction=Decimal("0.65"))
    assert d.kind is DecisionKind.OPEN_LONG and d.size_usd == Decimal("2250.00")  # 4000 x (0.5 + 0.5 x 0.05/0.4)


@pytest.mark.parametrize(
    "m,state,why",
    [
        (mention("sell", conviction="0.5"), account(), "min_conviction"),
        (mention("avoid", horizon="intraday"), account(), "intraday"),
        (mention("sell", age_hours=49), account(), "max age"),
        (mention("avoid"), account(blocklist={"NVDA": NOW + timedelta(days=1)}), "blocklist"),
        (mention("sell"), account(halted=True), "halt"),
    ],
    ids=["below-floor", "intraday", "stale", "blocklisted", "halted"],
)
def test_an_inverted_entry_passes_the_same_filters_and_caps_as_a_buy(m, state, why):
    d = evaluate(m, state, NOW, INVERSE)
    assert d.kind is DecisionKind.NO_OP and why in d.reason.lower()


@pytest.mark.parametrize("action", ["hold", "watch"])
def test_hold_and_watch_never_trade_under_inverse(action):
    d = evaluate(mention(action), HELD, NOW, INVERSE)
    assert d.kind is DecisionKind.NO_OP and d.acted_as is Action(action)
    assert d.reason == f"{action} calls never trade"


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("state", [account(), HELD, account(cost_basis={"NVDA": Decimal("7500")})],
                         ids=["flat", "held", "at-cap"])
def test_inverse_decides_exactly_as_following_the_mapped_call(action, state):
    """Nothing but the action differs: sizing, caps, hold and blocklist are the follow rules'."""
    m = mention(action.value)
    inverted = evaluate(m, state, NOW, INVERSE)
    mapped = evaluate(m.model_copy(update={"action": directed_action(action, Direction.INVERSE)}), state, NOW, FOLLOW)
    same = ("kind", "status", "size_usd", "hold_sessions", "extends_hold", "blocklist_until", "acted_as")
    assert {f: getattr(inverted, f) for f in same} == {f: getattr(mapped, f) for f in same}
    assert inverted.reason.endswith(mapped.reason) and inverted.action is action


def test_follow_decisions_act_on_the_call_itself_with_no_inverse_note():
    d = evaluate(mention("buy"), account(), NOW, FOLLOW)
    assert d.acted_as is Action.BUY and not d.reason.startswith("inverse")
