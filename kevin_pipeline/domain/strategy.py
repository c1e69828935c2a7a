"""The decision for one mention: DESIGN.md's rules, in one pure function.

This is where a BUY call becomes an intent to buy N dollars for H sessions. The backtest engine
and the live order path (`kevin_pipeline.trading`) both call `evaluate`; nothing else decides.
It is also where the strategy's `direction` maps the call (`domain.direction`): under `inverse` a
buy call is decided as an avoid call and a sell or avoid call as a buy, so both paths invert alike.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, TypedDict, TypeVar, Unpack

from pydantic import BaseModel

from kevin_pipeline.domain import risk, sizing
from kevin_pipeline.domain.direction import directed_action
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


# A Decision's field values, every field given and each of its type (`decision_fields`).
DecisionFields = dict[str, Any]

# The enum members the rules compare with or return on every call, as module constants: in
# Python 3.11 `Enum.MEMBER` goes through the enum metaclass's attribute hook (~70 ns a read,
# several per decision, tens of thousands of decisions per backtest). Same objects.
_BUY, _SELL, _AVOID = Action.BUY, Action.SELL, Action.AVOID
_OPEN_LONG, _CLOSE_LONG, _NO_OP = DecisionKind.OPEN_LONG, DecisionKind.CLOSE_LONG, DecisionKind.NO_OP
_EMITTED, _SKIPPED_CAPS = DecisionStatus.EMITTED, DecisionStatus.SKIPPED_CAPS
_SKIPPED_FILTER = DecisionStatus.SKIPPED_FILTER
_NEVER_TRADE = (Action.HOLD, Action.WATCH)
_INTRADAY = Horizon.INTRADAY


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
    buys under the min trade size. The rules act on the call's action under `params.direction`
    (`Decision.acted_as`); the decision still records the call's own `action`.
    """
    return construct_trusted(Decision, decision_fields(mention, state, now, params, effective_conviction, is_tradable))


def decision_fields(
    mention: Mention, state: AccountState, now: datetime, params: StrategyParams, effective_conviction: Decimal | None,
    is_tradable: bool,
) -> DecisionFields:
    """`evaluate`'s decision as its Decision's field values, before they become the model.

    The backtest decides every call of a tape and keeps its own audit row, not the Decision: it
    reads these instead of having a model built per call only to be dropped. Same rules, same
    values: `evaluate` is this plus the model.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    conviction = mention.conviction if effective_conviction is None else effective_conviction
    action = directed_action(mention.action, params.direction)
    out = _Outcomes(mention, action, conviction, now)
    settled = _without_the_account(mention, action, conviction, now, params, is_tradable, out)
    if settled is not None:
        return settled
    return _with_the_account(mention, state, now, params, conviction, out)


def decision_with_the_account(
    mention: Mention, state: AccountState, now: datetime, params: StrategyParams, effective_conviction: Decimal,
    *, explain: bool = True,
) -> DecisionFields:
    """`decision_fields` of a tradable call `decision_without_the_account` returned None for: only
    the rules that read the account run. A sweep's tape knows which calls those are, so its runs
    do not ask the account-free rules again for each of them.

    `explain=False` gives only what a run acts on (`ACTED_ON`: the kind, the status, the action
    acted as, the size, the hold, a hold extended, a blocklist expiry), not the audit fields: a
    sweep's light run keeps no audit row, and writing out the amounts and dates of the thousands
    of reasons it would drop was about 3 % of its time.
    """
    action = directed_action(mention.action, params.direction)
    out = _Outcomes(mention, action, effective_conviction, now, explain)
    return _with_the_account(mention, state, now, params, effective_conviction, out)


def _with_the_account(
    mention: Mention, state: AccountState, now: datetime, params: StrategyParams, conviction: Decimal, out: _Outcomes
) -> DecisionFields:
    """A sell or avoid call, or a buy that passed the account-free filters: the rules that read
    what the account holds, in DESIGN.md's order."""
    held = state.holds(mention.symbol)
    if out.action is _SELL or out.action is _AVOID:
        return _close_or_skip(mention, held, params, out)
    return _evaluate_buy(mention, state, now, params, conviction, held, out)


def _close_or_skip(mention: Mention, held: bool, params: StrategyParams, out: _Outcomes) -> DecisionFields:
    """A call acted on as a sell or an avoid. Whether the account holds the symbol is all it reads
    of the account (`decisions_by_holding` relies on it); of the parameters, only `by_holding_key`'s."""
    if out.action is _SELL:
        if held:
            return out.emit(_CLOSE_LONG, "sell call: close the long position")
        return out.skip(_SKIPPED_FILTER, "sell call on a symbol not held: long-only, never shorts")

    # An avoid call. Under inverse a buy call lands here: it closes and blocklists exactly as an avoid call.
    until = risk.blocklist_until(mention.published_at, params)
    if held and params.avoid_closes_longs:
        return out.emit(_CLOSE_LONG, "avoid call: close the long; blocklisted until {}", until, blocklist_until=until)
    why = "not held" if not held else "avoid_closes_longs is off"
    return out.skip(_SKIPPED_FILTER, "avoid call ({}); blocklisted until {}", why, until, blocklist_until=until)


def decisions_by_holding(
    mention: Mention, now: datetime, params: StrategyParams, effective_conviction: Decimal, *, explain: bool = True
) -> tuple[DecisionFields, DecisionFields] | None:
    """(the decision if the account holds the symbol, if it does not) of a call acted on as a sell
    or an avoid on a tradable symbol, None for any other call.

    What the account holds is all such a call reads of it (`_close_or_skip`), so a sweep works
    both out once per tape (`backtest.MentionTape.decided_by_holding`) and its light runs pick
    one by what the book holds, instead of asking the rules again with the account."""
    action = directed_action(mention.action, params.direction)
    if action is not _SELL and action is not _AVOID:
        return None
    return (
        _close_or_skip(mention, True, params, _Outcomes(mention, action, effective_conviction, now, explain)),
        _close_or_skip(mention, False, params, _Outcomes(mention, action, effective_conviction, now, explain)),
    )


def by_holding_key(params: StrategyParams) -> tuple[object, ...]:
    """The parameters `decisions_by_holding` reads: same key, same decisions."""
    return (params.direction, params.avoid_closes_longs, params.avoid_block_days)


def decision_without_the_account(
    mention: Mention, now: datetime, params: StrategyParams, effective_conviction: Decimal
) -> DecisionFields | None:
    """`decision_fields` of a call on a tradable symbol when the account cannot change it, else None.

    A hold or watch call, a buy under the conviction floor, an intraday buy, a buy too old: each
    is skipped whatever the account holds. It reads only what `without_the_account_key` names
    (and the call, its conviction and `now`), so a sweep works it out once per key for every call
    of its tape (`backtest.MentionTape.decided_without_the_account`), not once per run.
    """
    action = directed_action(mention.action, params.direction)
    out = _Outcomes(mention, action, effective_conviction, now)
    return _without_the_account(mention, action, effective_conviction, now, params, True, out)


def without_the_account_key(params: StrategyParams) -> tuple[object, ...]:
    """The parameters `decision_without_the_account` reads: same key, same decisions."""
    return (params.direction, params.min_conviction, params.max_mention_age_hours)


def _without_the_account(
    mention: Mention, action: Action, conviction: Decimal, now: datetime, params: StrategyParams, is_tradable: bool,
    out: _Outcomes,
) -> DecisionFields | None:
    """The rules that need no account, in DESIGN.md's order: tradable, never-trading actions, then
    a buy's conviction floor, horizon and age (None: the account decides)."""
    if not is_tradable:
        return out.skip(DecisionStatus.SKIPPED_NON_TRADABLE, f"{mention.symbol} is not tradable at the broker")

    if action in _NEVER_TRADE:
        return out.skip(_SKIPPED_FILTER, f"{action} calls never trade")  # a StrEnum formats as its value

    if action is not _BUY:
        return None
    if conviction < params.min_conviction:
        return out.skip(
            _SKIPPED_FILTER,
            f"effective conviction {conviction} below min_conviction {params.min_conviction}",
        )
    if mention.horizon is _INTRADAY or params.hold_sessions(mention.horizon) is None:
        return out.skip(_SKIPPED_FILTER, "intraday horizon: daily-bar strategy does not trade intraday calls")
    age_hours = (now - mention.published_at).total_seconds() / 3600
    if age_hours > params.max_mention_age_hours:
        return out.skip(
            _SKIPPED_FILTER,
            f"mention age {age_hours:.1f} h exceeds max age {params.max_mention_age_hours:g} h",
        )
    return None


def _evaluate_buy(
    mention: Mention,
    state: AccountState,
    now: datetime,
    params: StrategyParams,
    conviction: Decimal,
    held: bool,
    out: _Outcomes,
) -> DecisionFields:
    """A buy call that passed the filters without the account (`_without_the_account`): then the
    blocklist, the size, the per-ticker headroom and the account's pauses and caps, in DESIGN.md's order."""
    hold = params.hold_sessions(mention.horizon)
    assert hold is not None  # intraday was skipped before
    blocked_until = risk.blocklisted_until(state, mention.symbol, now)
    if blocked_until is not None:
        return out.skip(DecisionStatus.SKIPPED_BLOCKLIST, "{} on the avoid blocklist until {}", mention.symbol, blocked_until)

    size = sizing.target_size(state.equity, conviction, params)
    held_basis = state.cost_basis.get(mention.symbol, sizing.ZERO)
    headroom = sizing.ticker_headroom(state.equity, held_basis, params)
    # the target is whole cents already: only a headroom under it is rounded down to cents
    capped = size if size <= headroom else sizing.to_cents(max(headroom, sizing.ZERO))
    if capped < params.min_trade_usd:
        # The call was repeated: it buys nothing, but (if it passes every other rule, including
        # the account's pauses and caps) it still pushes the planned exit later.
        blocked = risk.buy_block_reason(state, sizing.ZERO, now, params)
        if blocked is not None:
            return out.skip(_SKIPPED_CAPS, blocked)
        cap = sizing.ticker_cap(state.equity, params)
        extended = "; planned exit extended" if held else ""
        if headroom <= 0:
            return out.skip(
                _SKIPPED_CAPS, "per-ticker cap reached ({} held, cap {}){}", held_basis, cap, extended,
                hold_sessions=hold, extends_hold=held,
            )
        return out.skip(
            _SKIPPED_CAPS, "per-ticker headroom {} below min trade {} ({} held, cap {}){}",
            capped, params.min_trade_usd, held_basis, cap, extended, hold_sessions=hold, extends_hold=held,
        )
    blocked = risk.buy_block_reason(state, capped, now, params)
    if blocked is not None:
        return out.skip(_SKIPPED_CAPS, blocked)

    topped = " (topped up to the per-ticker cap)" if capped < size else ""
    return out.emit(
        _OPEN_LONG,
        "buy {} at conviction {} for {} sessions{}", capped, conviction, hold, topped,
        size_usd=capped,
        hold_sessions=hold,
        extends_hold=held,
    )


# --- building the Decision -------------------------------------------------------------------

_M = TypeVar("_M", bound=BaseModel)


class _Details(TypedDict, total=False):
    """The Decision fields a rule may set; the rest keep the model's defaults."""

    size_usd: Decimal
    hold_sessions: int
    extends_hold: bool
    blocklist_until: datetime


# Decision's defaults, for the fields a decision may leave unset (read from the model, not repeated).
_DECISION_DEFAULTS: dict[str, object] = {
    name: f.default for name, f in Decision.model_fields.items() if not f.is_required()
}
# The fields of a decision a run acts on: all a decision without its explanation holds (`explain=False`).
ACTED_ON: frozenset[str] = frozenset({"acted_as", "kind", "status", *_DECISION_DEFAULTS})


class _Outcomes:
    """The two ways `evaluate` ends for one mention: `emit` an action or `skip` with a reason.
    The mention, the action the rules apply, its effective conviction and `now` are bound once,
    so each rule names only what it decides. A call the direction turned into another action says
    so at the head of its reason. `explain=False`: only the fields a run acts on (`ACTED_ON`)."""

    __slots__ = ("mention", "action", "conviction", "now", "explain")

    def __init__(self, mention: Mention, action: Action, conviction: Decimal, now: datetime, explain: bool = True) -> None:
        self.mention = mention
        self.action = action
        self.conviction = conviction
        self.now = now
        self.explain = explain

    # A reason is a `str.format` template and its values: written out only when it is kept. A
    # datetime in a reason is written as its ISO 8601 form.
    def emit(self, kind: DecisionKind, reason: str, *values: object, **details: Unpack[_Details]) -> DecisionFields:
        return self._fields(kind, _EMITTED, reason, values, details)

    def skip(self, status: DecisionStatus, reason: str, *values: object, **details: Unpack[_Details]) -> DecisionFields:
        return self._fields(_NO_OP, status, reason, values, details)

    def _fields(
        self, kind: DecisionKind, status: DecisionStatus, reason: str, values: tuple[object, ...], details: _Details
    ) -> DecisionFields:
        """The Decision's field values, validated only when a value may not be of its field's type.

        The mention was validated, `now` is aware (checked by `evaluate`) and sizes are Decimal
        cents, so only a conviction handed in as something other than a Decimal (or a mention
        built without validation) goes through pydantic; the backtest decides thousands of
        mentions a run.
        """
        if not self.explain:  # what a run acts on, no more: it keeps no audit row
            return {"acted_as": self.action, "kind": kind, "status": status, **_DECISION_DEFAULTS, **details}
        mention, conviction = self.mention, self.conviction
        fields: dict[str, object] = {
            "mention_id": mention.id,
            "symbol": mention.symbol,
            "action": mention.action,
            "acted_as": self.action,
            "kind": kind,
            "status": status,
            "reason": self._text(reason, values),
            "effective_conviction": conviction,
            **_DECISION_DEFAULTS,  # every field, in the model's order, as validation stores them
            "decided_at": self.now,
            **details,
        }
        if type(conviction) is Decimal and type(mention.action) is Action:
            return fields
        return dict(Decision.model_validate(fields).__dict__)

    def _text(self, reason: str, values: tuple[object, ...]) -> str:
        text = reason.format(*(v.isoformat() if isinstance(v, datetime) else v for v in values)) if values else reason
        if self.action is self.mention.action:
            return text
        return f"inverse: {self.mention.action.value} call taken as {self.action.value}; {text}"


def construct_trusted(cls: type[_M], values: dict[str, object]) -> _M:
    """An instance of `cls` holding exactly `values`: every field given, each already of its type.

    What pydantic's `model_construct` does, without its generic per-field work. The backtest
    decides thousands of mentions per run and builds a model or two for each; validating them
    (or `model_construct`) costs several times this. Only for models without private attributes.

    Every field being given, the instances of a class share one fields-set (`model_fields_set`):
    pydantic only ever adds an assigned field's name to it, which is already there. One set per
    row would be thousands of objects for the garbage collector to walk after a run.
    """
    obj = _new(cls)
    _set_attr(obj, "__dict__", values)
    fields = _every_field.get(cls)
    if fields is None:
        fields = _every_field[cls] = set(cls.model_fields)
    _set_fields_set(obj, fields)
    _set_extra(obj, None)
    _set_private(obj, None)
    return obj


_every_field: dict[type[BaseModel], set[str]] = {}


# BaseModel's own slots, set through their descriptors (what `object.__setattr__` ends up calling)
_new = object.__new__
_set_attr = object.__setattr__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__
