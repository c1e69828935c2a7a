"""The decision for one mention: DESIGN.md's rules, in one pure function.

This is where a BUY call becomes an intent to buy N dollars for H sessions. The backtest engine
and the live order path (`kevin_pipeline.trading`) both call `evaluate`; nothing else decides.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel

from kevin_pipeline.domain import risk, sizing
from kevin_pipeline.domain.models import (
    AccountState,
    Action,
    Decision,
    DecisionKind,
    DecisionStatus,
    Horizon,
    Mention,
)
from kevin_pipeline.domain.params import StrategyParams

_M = TypeVar("_M", bound=BaseModel)


def construct_trusted(cls: type[_M], values: dict[str, Any]) -> _M:
    """An instance of `cls` holding exactly `values`: every field given, each already of its type.

    What pydantic's `model_construct` does, without its generic per-field work. The backtest
    decides thousands of mentions per run and builds a model or two for each; validating them
    (or `model_construct`) costs several times this. Only for models without private attributes.
    """
    obj = cls.__new__(cls)
    object.__setattr__(obj, "__dict__", values)
    object.__setattr__(obj, "__pydantic_fields_set__", set(values))
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj


# Decision's defaults, for the fields a decision may leave unset (read from the model, not repeated).
_DECISION_DEFAULTS: dict[str, Any] = {
    name: f.default for name, f in Decision.model_fields.items() if not f.is_required()
}


def evaluate(
    mention: Mention,
    state: AccountState,
    now: datetime,
    params: StrategyParams,
    *,
    effective_conviction: Decimal | None = None,
    is_tradable: bool = True,
) -> Decision:
    """Decide what to do about `mention` given the account at `now` (timezone-aware).

    `effective_conviction` comes from `aggregation` (defaults to the mention's own conviction).
    The result never shorts, never exceeds the per-ticker cap or the max trade size, and never
    buys under the min trade size.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    conviction = mention.conviction if effective_conviction is None else effective_conviction

    # Every value below is already of its field's type (the mention was validated, `now` is aware,
    # sizes are Decimal cents), so the Decision is built without re-validating it; a conviction
    # handed in as something other than a Decimal still goes through validation.
    trusted = type(conviction) is Decimal and type(mention.action) is Action

    def decide(kind: DecisionKind, status: DecisionStatus, reason: str, **extra: object) -> Decision:
        if trusted:
            values = {
                "mention_id": mention.id,
                "symbol": mention.symbol,
                "action": mention.action,
                "kind": kind,
                "status": status,
                "reason": reason,
                "effective_conviction": conviction,
                **_DECISION_DEFAULTS,
                "decided_at": now,
            }
            if extra:
                values.update(extra)
            return construct_trusted(Decision, values)
        return Decision(
            mention_id=mention.id,
            symbol=mention.symbol,
            action=mention.action,
            kind=kind,
            status=status,
            reason=reason,
            effective_conviction=conviction,
            decided_at=now,
            **extra,
        )

    def skip(status: DecisionStatus, reason: str, **extra: object) -> Decision:
        return decide(DecisionKind.NO_OP, status, reason, **extra)

    if not is_tradable:
        return skip(DecisionStatus.SKIPPED_NON_TRADABLE, f"{mention.symbol} is not tradable at the broker")

    held = state.holds(mention.symbol)

    if mention.action in (Action.HOLD, Action.WATCH):
        return skip(DecisionStatus.SKIPPED_FILTER, f"{mention.action.value} calls never trade")

    if mention.action is Action.SELL:
        if held:
            return decide(DecisionKind.CLOSE_LONG, DecisionStatus.EMITTED, "sell call: close the long position")
        return skip(DecisionStatus.SKIPPED_FILTER, "sell call on a symbol not held: long-only, never shorts")

    if mention.action is Action.AVOID:
        until = risk.blocklist_until(mention.published_at, params)
        note = f"blocklisted until {until.isoformat()}"
        if held and params.avoid_closes_longs:
            return decide(
                DecisionKind.CLOSE_LONG, DecisionStatus.EMITTED, f"avoid call: close the long; {note}", blocklist_until=until
            )
        why = "not held" if not held else "avoid_closes_longs is off"
        return skip(DecisionStatus.SKIPPED_FILTER, f"avoid call ({why}); {note}", blocklist_until=until)

    return _evaluate_buy(mention, state, now, params, conviction, held, decide, skip)


def _evaluate_buy(mention, state, now, params, conviction, held, decide, skip) -> Decision:  # type: ignore[no-untyped-def]
    if conviction < params.min_conviction:
        return skip(
            DecisionStatus.SKIPPED_FILTER,
            f"effective conviction {conviction} below min_conviction {params.min_conviction}",
        )
    hold = params.hold_sessions(mention.horizon)
    if mention.horizon is Horizon.INTRADAY or hold is None:
        return skip(DecisionStatus.SKIPPED_FILTER, "intraday horizon: daily-bar strategy does not trade intraday calls")
    age_hours = (now - mention.published_at).total_seconds() / 3600
    if age_hours > params.max_mention_age_hours:
        return skip(
            DecisionStatus.SKIPPED_FILTER,
            f"mention age {age_hours:.1f} h exceeds max age {params.max_mention_age_hours:g} h",
        )
    blocked_until = risk.blocklisted_until(state, mention.symbol, now)
    if blocked_until is not None:
        return skip(DecisionStatus.SKIPPED_BLOCKLIST, f"{mention.symbol} on the avoid blocklist until {blocked_until.isoformat()}")

    size = sizing.target_size(state.equity, conviction, params)
    held_basis = state.cost_basis.get(mention.symbol, Decimal(0))
    headroom = sizing.ticker_headroom(state.equity, held_basis, params)
    capped = sizing.to_cents(min(size, max(headroom, Decimal(0))))
    if capped < params.min_trade_usd:
        # The call was repeated: it buys nothing, but (if it passes every other rule, including
        # the account's pauses and caps) it still pushes the planned exit later.
        blocked = risk.buy_block_reason(state, Decimal(0), now, params)
        if blocked is not None:
            return skip(DecisionStatus.SKIPPED_CAPS, blocked)
        cap = sizing.ticker_cap(state.equity, params)
        what = "per-ticker cap reached" if headroom <= 0 else f"per-ticker headroom {capped} below min trade {params.min_trade_usd}"
        return skip(
            DecisionStatus.SKIPPED_CAPS,
            f"{what} ({held_basis} held, cap {cap})" + ("; planned exit extended" if held else ""),
            hold_sessions=hold,
            extends_hold=held,
        )
    blocked = risk.buy_block_reason(state, capped, now, params)
    if blocked is not None:
        return skip(DecisionStatus.SKIPPED_CAPS, blocked)

    topped = " (topped up to the per-ticker cap)" if capped < size else ""
    return decide(
        DecisionKind.OPEN_LONG,
        DecisionStatus.EMITTED,
        f"buy {capped} at conviction {conviction} for {hold} sessions{topped}",
        size_usd=capped,
        hold_sessions=hold,
        extends_hold=held,
    )
