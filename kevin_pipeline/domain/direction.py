"""Follow the channel, or bet against it: the strategy's `direction`, as one pure mapping.

Research on finfluencers finds more anti-skilled than skilled callers, and that trading against
the anti-skilled pays (Kakhbod et al., "Finfluencers"). `direction = inverse` tests that on a
channel with the same rules, sizing, caps and exits as following it:

    buy          -> avoid   (close a held long, blocklist the symbol: exactly an avoid call)
    sell, avoid  -> buy     (a long entry sized by the call's conviction; kevin never shorts)
    hold, watch  -> themselves (never trade)

`strategy.evaluate` applies it, so the backtest and the live order path, which both decide
through `evaluate`, can never map a call differently. The aggregation window does not depend on
the direction: it counts the symbol's other calls of any action, and the mapping changes no
call's symbol or time.
"""

from __future__ import annotations

from enum import StrEnum

from kevin_pipeline.domain.models import Action


class Direction(StrEnum):
    FOLLOW = "follow"
    INVERSE = "inverse"


_INVERSE: dict[Action, Action] = {
    Action.BUY: Action.AVOID,
    Action.SELL: Action.BUY,
    Action.AVOID: Action.BUY,
    Action.HOLD: Action.HOLD,
    Action.WATCH: Action.WATCH,
}


_FOLLOW = Direction.FOLLOW  # read per decision: an enum member through its class costs ~70 ns in Python 3.11


def directed_action(action: Action, direction: Direction) -> Action:
    """The action kevin takes on a call of `action` under `direction`."""
    # `==`, not `is`: a params copy made without validation may hold the plain string "follow"
    return action if direction == _FOLLOW else _INVERSE[action]
