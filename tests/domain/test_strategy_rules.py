"""The seed's strategy cases, one rule per test, plus DESIGN.md's refinements."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from kevin_pipeline.domain.models import AccountState, DecisionKind, DecisionStatus, Mention
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.domain.strategy import evaluate
from tests.helpers.calls import call

NOW = datetime(2024, 5, 1, 15, 0, tzinfo=timezone.utc)
PARAMS = StrategyParams()


def mention(symbol="NVDA", action="buy", conviction="0.7", horizon="weeks", age_hours=1.0, id=1) -> Mention:
    return call(NOW - timedelta(hours=age_hours), symbol, action, conviction, horizon, id=id, quote="test")


def account(**kw) -> AccountState:
    base = dict(equity=Decimal("100000"), cash=Decimal("100000"), starting_equity=Decimal("100000"))
    base.update(kw)
    return AccountState(**base)


def decide(m: Mention, state: AccountState | None = None, eff: str | None = None, tradable: bool = True, params=PARAMS):
    return evaluate(
        m,
        state or account(),
        NOW,
        params,
        effective_conviction=Decimal(eff) if eff is not None else None,
        is_tradable=tradable,
    )


# --- the seed's 19 cases --------------------------------------------------------------------


def test_buy_high_conviction_opens_long_sized_by_conviction():
    d = decide(mention(conviction="0.8"))
    assert d.kind is DecisionKind.OPEN_LONG and d.status is DecisionStatus.EMITTED
    assert d.symbol == "NVDA"
    assert d.size_usd == Decimal("3000.00")  # 100k x 4% x (0.5 + 0.5 x 0.2/0.4)
    assert d.hold_sessions == 10


def test_buy_at_conviction_floor_gets_half_the_base_fraction():
    assert decide(mention(conviction="0.6")).size_usd == Decimal("2000.00")


def test_buy_below_min_conviction_is_a_no_op():
    d = decide(mention(conviction="0.5"))
    assert d.kind is DecisionKind.NO_OP and d.status is DecisionStatus.SKIPPED_FILTER
    assert "min_conviction" in d.reason


def test_buy_mention_older_than_48h_is_a_no_op():
    d = decide(mention(age_hours=72))
    assert d.kind is DecisionKind.NO_OP and "age" in d.reason


def test_buy_non_tradable_symbol_is_a_no_op():
    d = decide(mention(symbol="OTCXX"), tradable=False)
    assert d.status is DecisionStatus.SKIPPED_NON_TRADABLE and "tradable" in d.reason


def test_buy_intraday_horizon_is_a_no_op():
    d = decide(mention(horizon="intraday"))
    assert d.kind is DecisionKind.NO_OP and d.status is DecisionStatus.SKIPPED_FILTER


def test_buy_blocklisted_symbol_is_a_no_op():
    d = decide(mention(), account(blocklist={"NVDA": NOW + timedelta(days=3)}))
    assert d.status is DecisionStatus.SKIPPED_BLOCKLIST and "blocklist" in d.reason


def test_buy_at_per_ticker_cap_is_a_no_op():
    d = decide(mention(), account(cost_basis={"NVDA": Decimal("7500")}))
    assert d.kind is DecisionKind.NO_OP and d.status is DecisionStatus.SKIPPED_CAPS and "cap" in d.reason


def test_buy_held_below_cap_tops_up_to_the_cap():
    d = decide(mention(conviction="1.0"), account(cost_basis={"NVDA": Decimal("5000")}))
    assert d.kind is DecisionKind.OPEN_LONG
    assert d.size_usd == Decimal("2500.00")  # wanted 4000, cap 7500 - 5000 held
    assert d.extends_hold


def test_sell_when_held_closes_the_long():
    d = decide(mention(action="sell"), account(cost_basis={"NVDA": Decimal("3000")}))
    assert d.kind is DecisionKind.CLOSE_LONG and d.status is DecisionStatus.EMITTED


def test_sell_when_not_held_is_a_no_op_never_a_short():
    d = decide(mention(action="sell"))
    assert d.kind is DecisionKind.NO_OP and d.size_usd == 0


def test_avoid_when_held_closes_the_long_and_blocklists():
    d = decide(mention(action="avoid"), account(cost_basis={"NVDA": Decimal("3000")}))
    assert d.kind is DecisionKind.CLOSE_LONG
    assert d.blocklist_until == NOW - timedelta(hours=1) + timedelta(days=7)


def test_avoid_when_not_held_is_a_no_op_but_blocklists():
    d = decide(mention(action="avoid"))
    assert d.kind is DecisionKind.NO_OP
    assert d.blocklist_until is not None and "blocklist" in d.reason


def test_hold_call_never_trades():
    assert decide(mention(action="hold", conviction="0.9")).kind is DecisionKind.NO_OP


def test_watch_call_never_trades():
    assert decide(mention(action="watch", conviction="0.9")).kind is DecisionKind.NO_OP


def test_size_is_clamped_up_to_the_500_floor():
    d = decide(mention(conviction="0.6"), account(equity=Decimal("10000"), starting_equity=Decimal("10000")))
    assert d.size_usd == Decimal("500.00")  # 2% of 10k = 200 -> 500


def test_size_is_clamped_down_to_the_5000_max():
    d = decide(mention(conviction="1.0"), account(equity=Decimal("1000000"), starting_equity=Decimal("1000000")))
    assert d.size_usd == Decimal("5000.00")  # 4% of 1M = 40k -> 5k


def test_long_term_horizon_holds_90_sessions():
    assert decide(mention(horizon="long_term")).hold_sessions == 90


def test_unspecified_horizon_holds_like_weeks():
    assert decide(mention(horizon="unspecified")).hold_sessions == 10


# --- DESIGN.md refinements -------------------------------------------------------------------


@pytest.mark.parametrize("horizon,sessions", [("days", 3), ("weeks", 10), ("months", 45), ("long_term", 90)])
def test_hold_sessions_per_horizon(horizon, sessions):
    assert decide(mention(horizon=horizon)).hold_sessions == sessions


def test_effective_conviction_not_raw_conviction_drives_the_floor():
    d = decide(mention(conviction="0.55"), eff="0.65")
    assert d.kind is DecisionKind.OPEN_LONG and d.effective_conviction == Decimal("0.65")


def test_mention_exactly_48h_old_still_trades():
    assert decide(mention(age_hours=48)).kind is DecisionKind.OPEN_LONG


def test_blocklist_expiry_is_exclusive():
    d = decide(mention(), account(blocklist={"NVDA": NOW}))
    assert d.kind is DecisionKind.OPEN_LONG


def test_per_ticker_cap_shrinks_with_equity():
    # 7.5% of 50k = 3750 < 7500: with 3000 held only 750 of headroom remains
    state = account(equity=Decimal("50000"), starting_equity=Decimal("50000"), cost_basis={"NVDA": Decimal("3000")})
    d = decide(mention(conviction="1.0"), state)
    assert d.size_usd == Decimal("750.00")


def test_headroom_below_min_trade_buys_nothing_but_extends_the_hold():
    d = decide(mention(), account(cost_basis={"NVDA": Decimal("7200")}))
    assert d.kind is DecisionKind.NO_OP and d.status is DecisionStatus.SKIPPED_CAPS
    assert d.extends_hold and d.hold_sessions == 10


def test_daily_trade_cap_refuses_the_sixth_buy():
    d = decide(mention(), account(daily_trade_count=5))
    assert d.status is DecisionStatus.SKIPPED_CAPS and "daily trade cap" in d.reason


def test_daily_allocation_cap_refuses_rather_than_shrinks():
    d = decide(mention(conviction="0.8"), account(daily_alloc_usd=Decimal("12500")))  # 12500 + 3000 > 15000
    assert d.status is DecisionStatus.SKIPPED_CAPS and d.size_usd == 0
    assert decide(mention(conviction="0.8"), account(daily_alloc_usd=Decimal("12000"))).size_usd == Decimal("3000.00")


def test_loss_circuit_pause_blocks_buys_until_it_expires():
    paused = account(paused_until=NOW + timedelta(hours=2))
    assert decide(mention(), paused).status is DecisionStatus.SKIPPED_CAPS
    expired = account(paused_until=NOW)
    assert decide(mention(), expired).kind is DecisionKind.OPEN_LONG


def test_drawdown_below_80_percent_halts_buys():
    d = decide(mention(), account(equity=Decimal("79999"), cash=Decimal("79999")))
    assert d.status is DecisionStatus.SKIPPED_CAPS and "drawdown" in d.reason
    assert decide(mention(), account(equity=Decimal("80000"))).kind is DecisionKind.OPEN_LONG


def test_pauses_never_block_a_sell():
    state = account(halted=True, paused_until=NOW + timedelta(hours=5), cost_basis={"NVDA": Decimal("3000")})
    assert decide(mention(action="sell"), state).kind is DecisionKind.CLOSE_LONG
    assert decide(mention(action="avoid"), state).kind is DecisionKind.CLOSE_LONG


def test_avoid_does_not_close_when_configured_off():
    params = StrategyParams(avoid_closes_longs=False)
    d = decide(mention(action="avoid"), account(cost_basis={"NVDA": Decimal("3000")}), params=params)
    assert d.kind is DecisionKind.NO_OP and d.blocklist_until is not None


def test_naive_now_is_refused():
    with pytest.raises(ValueError):
        evaluate(mention(), account(), NOW.replace(tzinfo=None), PARAMS)


# --- the rules that need no account ------------------------------------------------------------


def _every_kind_of_call() -> list[Mention]:
    calls = []
    for i, (action, conviction, horizon, age) in enumerate(
        [(a, c, h, g) for a in ("buy", "sell", "avoid", "hold", "watch") for c in ("0.3", "0.6", "0.75", "0.95")
         for h in ("intraday", "days", "weeks", "unspecified") for g in (0.0, 30.0, 72.0)]
    ):
        calls.append(mention(symbol=f"S{i % 7}", action=action, conviction=conviction, horizon=horizon, age_hours=age, id=i))
    return calls


@pytest.mark.parametrize("direction", ["follow", "inverse"])
def test_a_decision_without_the_account_is_what_evaluate_decides_on_any_account(direction):
    """A sweep takes these from a cache per key instead of deciding each run: they must be exactly
    evaluate's decision, whatever the account holds."""
    from kevin_pipeline.domain.strategy import decision_fields, decision_with_the_account, decision_without_the_account

    params = StrategyParams(direction=direction)
    accounts = [
        account(),
        account(equity=Decimal("50000"), cash=Decimal("0"), halted=True, halt_reason="x",
                cost_basis={f"S{i}": Decimal("9000") for i in range(7)},
                blocklist={f"S{i}": NOW + timedelta(days=3) for i in range(7)}, daily_trade_count=99),
    ]
    settled = 0
    account_decided: set[tuple[object, ...]] = set()
    for m in _every_kind_of_call():
        fields = decision_without_the_account(m, NOW, params, m.conviction)
        outcomes = [decision_fields(m, state, NOW, params, m.conviction, True) for state in accounts]
        if fields is not None:
            settled += 1
            assert all(o == fields for o in outcomes), m
        else:  # the account decides: its rules alone give evaluate's decision (what a sweep's run asks)
            assert m.action.value in ("buy", "sell", "avoid")
            assert [decision_with_the_account(m, state, NOW, params, m.conviction) for state in accounts] == outcomes
            account_decided.add(tuple(o["kind"] for o in outcomes))
    assert 100 < settled < len(_every_kind_of_call())
    assert len(account_decided) > 1  # the two accounts decide some calls differently


def test_the_key_names_every_parameter_a_decision_without_the_account_reads():
    """Parameter sets with the same key give the same decisions (the cache is keyed on it), and
    each parameter of the key matters."""
    from kevin_pipeline.domain.strategy import decision_without_the_account, without_the_account_key

    base = StrategyParams()
    others = StrategyParams(
        hold_sessions_days=1, hold_sessions_weeks=2, hold_sessions_months=3, hold_sessions_long_term=4,
        hold_sessions_unspecified=5, stop_loss_pct=Decimal("0.5"), take_profit_pct=Decimal("0.9"),
        starting_equity_usd=Decimal("1000"), max_trade_usd=Decimal("600"), min_trade_usd=Decimal("1"),
        daily_trade_cap=0, avoid_closes_longs=False, avoid_block_days=0, base_position_pct=Decimal("0.5"),
    )
    assert without_the_account_key(others) == without_the_account_key(base)
    calls = _every_kind_of_call()

    def decided(p: StrategyParams) -> list[object]:
        return [decision_without_the_account(m, NOW, p, m.conviction) for m in calls]

    assert decided(others) == decided(base)
    for change in ({"direction": "inverse"}, {"min_conviction": Decimal("0.8")}, {"max_mention_age_hours": 24.0}):
        changed = base.model_copy(update=change)
        assert without_the_account_key(changed) != without_the_account_key(base)
        assert decided(changed) != decided(base), change


@pytest.mark.parametrize("direction", ["follow", "inverse"])
@pytest.mark.parametrize("closes", [True, False])
def test_a_sell_or_avoid_call_decided_by_holding_is_what_the_rules_decide_on_any_account(direction, closes):
    """A sweep's light runs pick a sell or avoid call's decision by whether the book holds the
    symbol: on any account, it must be what the account's rules decide, explained or not."""
    from kevin_pipeline.domain.strategy import (
        decision_with_the_account,
        decision_without_the_account,
        decisions_by_holding,
    )

    params = StrategyParams(direction=direction, avoid_closes_longs=closes)
    accounts = [
        account(),
        account(cost_basis={"S1": Decimal("9000"), "S2": Decimal("0"), "S3": Decimal("0.01")}),
        account(equity=Decimal("50000"), cash=Decimal("0"), halted=True, halt_reason="x", daily_trade_count=99,
                paused_until=NOW + timedelta(hours=5), cost_basis={f"S{i}": Decimal("9000") for i in range(0, 7, 2)},
                blocklist={f"S{i}": NOW + timedelta(days=3) for i in range(7)}),
    ]
    paired = kinds = 0
    seen = set()
    for m in _every_kind_of_call():
        for explain in (True, False):
            pair = decisions_by_holding(m, NOW, params, m.conviction, explain=explain)
            inverse = {"buy": "avoid", "sell": "buy", "avoid": "buy"}
            acted = m.action.value if direction == "follow" else inverse.get(m.action.value)
            if acted not in ("sell", "avoid"):
                assert pair is None, m
                continue
            assert decision_without_the_account(m, NOW, params, m.conviction) is None  # the account decides it
            paired += 1
            for state in accounts:
                want = decision_with_the_account(m, state, NOW, params, m.conviction, explain=explain)
                assert pair[0 if state.holds(m.symbol) else 1] == want, (m, state.cost_basis)
                seen.add((state.holds(m.symbol), want["kind"], want["status"]))
    assert paired > 50 and {held for held, _, _ in seen} == {True, False}  # both halves of the pairs were checked
    assert len({(kind, status) for _, kind, status in seen}) >= (2 if closes else 1)


def test_the_key_names_every_parameter_a_decision_by_holding_reads():
    from kevin_pipeline.domain.strategy import by_holding_key, decisions_by_holding

    base = StrategyParams()
    others = StrategyParams(
        min_conviction=Decimal("0.9"), max_mention_age_hours=1.0, hold_sessions_days=1, hold_sessions_weeks=2,
        stop_loss_pct=Decimal("0.5"), take_profit_pct=Decimal("0.9"), starting_equity_usd=Decimal("1000"),
        max_trade_usd=Decimal("600"), min_trade_usd=Decimal("1"), daily_trade_cap=0, base_position_pct=Decimal("0.5"),
        max_per_ticker_usd=Decimal("1"), daily_alloc_cap_usd=Decimal("1"), drawdown_halt_pct=Decimal("0.99"),
    )
    assert by_holding_key(others) == by_holding_key(base)
    calls = _every_kind_of_call()

    def decided(p: StrategyParams) -> list[object]:
        return [decisions_by_holding(m, NOW, p, m.conviction) for m in calls]

    assert decided(others) == decided(base)
    for change in ({"direction": "inverse"}, {"avoid_closes_longs": False}, {"avoid_block_days": 2}):
        changed = base.model_copy(update=change)
        assert by_holding_key(changed) != by_holding_key(base)
        assert decided(changed) != decided(base), change


# --- reasons: written out only when kept ---------------------------------------------------


@pytest.mark.parametrize("direction", ["follow", "inverse"])
def test_a_decision_left_unexplained_is_what_the_run_acts_on_of_the_explained_one(direction):
    """A sweep's light run asks for no reasons and keeps no audit row: every field it acts on must
    be what the audit run gets."""
    from kevin_pipeline.domain.strategy import ACTED_ON, decision_with_the_account, decision_without_the_account

    params = StrategyParams(direction=direction)
    accounts = [
        account(),
        account(cost_basis={"S1": Decimal("9000"), "S2": Decimal("4990")}, blocklist={"S3": NOW + timedelta(days=3)}),
        account(equity=Decimal("50000"), cash=Decimal("0"), halted=True, halt_reason="x", daily_trade_count=99),
    ]
    outcomes = set()
    for m in _every_kind_of_call():
        if decision_without_the_account(m, NOW, params, m.conviction) is not None:
            continue
        for state in accounts:
            explained = decision_with_the_account(m, state, NOW, params, m.conviction)
            unexplained = decision_with_the_account(m, state, NOW, params, m.conviction, explain=False)
            assert explained["reason"] and "reason" not in unexplained
            assert unexplained == {name: explained[name] for name in ACTED_ON}
            outcomes.add((explained["kind"], explained["status"]))
    assert len(outcomes) >= 4  # several rules were reached, not one


def test_the_account_rules_write_their_reasons_out_in_full():
    """The reasons an audit row shows: amounts as the Decimals they are, times in ISO 8601."""
    until = (NOW - timedelta(hours=1) + timedelta(days=PARAMS.avoid_block_days)).isoformat()
    assert decide(mention(action="avoid")).reason == f"avoid call (not held); blocklisted until {until}"
    held = account(cost_basis={"NVDA": Decimal("3000")})
    assert decide(mention(action="avoid"), held).reason == f"avoid call: close the long; blocklisted until {until}"
    blocked = account(blocklist={"NVDA": datetime(2024, 5, 3, 14, 30, tzinfo=timezone.utc)})
    assert decide(mention(), blocked).reason == "NVDA on the avoid blocklist until 2024-05-03T14:30:00+00:00"
    assert decide(mention(conviction="0.8")).reason == "buy 3000.00 at conviction 0.8 for 10 sessions"
    cap = min(PARAMS.max_per_ticker_usd, (PARAMS.max_position_pct * Decimal("100000")).quantize(Decimal("0.01")))
    full = account(cost_basis={"NVDA": cap})
    assert decide(mention(), full).reason == f"per-ticker cap reached ({cap} held, cap {cap}); planned exit extended"
    nearly = account(cost_basis={"NVDA": cap - Decimal("10.50")})
    assert decide(mention(), nearly).reason == (
        f"per-ticker headroom 10.50 below min trade {PARAMS.min_trade_usd} ({cap - Decimal('10.50')} held, cap {cap})"
        "; planned exit extended"
    )
    inverse = StrategyParams(direction="inverse")
    assert decide(mention(action="sell", conviction="0.8"), params=inverse).reason == (
        "inverse: sell call taken as buy; buy 3000.00 at conviction 0.8 for 10 sessions"
    )


def test_a_buy_topped_up_to_the_cap_is_rounded_down_to_the_cent_and_a_full_target_is_kept_as_is():
    cap = min(PARAMS.max_per_ticker_usd, (PARAMS.max_position_pct * Decimal("100000")).quantize(Decimal("0.01")))
    topped = decide(mention(conviction="0.8"), account(cost_basis={"NVDA": cap - Decimal("2500.0099")}))
    assert (topped.kind, topped.size_usd) == (DecisionKind.OPEN_LONG, Decimal("2500.00"))
    assert topped.reason.endswith("(topped up to the per-ticker cap)")
    exact = decide(mention(conviction="0.8"), account(cost_basis={"NVDA": cap - Decimal("3000.00")}))
    assert (exact.size_usd, str(exact.size_usd)) == (Decimal("3000.00"), "3000.00")
    assert not exact.reason.endswith("cap)")
