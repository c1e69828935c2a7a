"""Multi-mention aggregation: a call repeated within the window counts for more.

Only mentions published in [t - window, t] count (ties included, never later ones): counting a
later repeat would let the backtest see the future.

`others_in_window_counts` is the one home of that rule: the backtest calls it on its whole tape,
the live order path on the symbol's stored mentions around the one it decides.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from kevin_pipeline.domain.calendar import instant_ns
from kevin_pipeline.domain.models import Mention
from kevin_pipeline.domain.params import StrategyParams


class Published(Protocol):
    """What the window rule reads of a mention: a `Mention`, or a row of the live path's query."""

    @property
    def symbol(self) -> str: ...

    @property
    def published_at(self) -> datetime: ...


def boost_for(other_count: int, params: StrategyParams) -> Decimal:
    return min(params.mention_boost_per_repeat * other_count, params.max_mention_boost)


_ONE = Decimal(1)  # the most conviction a call can reach


def effective_conviction(mention: Mention, others_in_window: int, params: StrategyParams) -> Decimal:
    return _boosted(mention.conviction, boost_for(others_in_window, params))


def _boosted(conviction: Decimal, boost: Decimal) -> Decimal:
    return min(conviction + boost, _ONE)


def effective_convictions_from_counts(
    mentions: Sequence[Mention], counts: Sequence[int], params: StrategyParams
) -> list[Decimal]:
    """`effective_conviction` of each mention given its `others_in_window` count; the boost is
    worked out once per distinct count (a tape has thousands of calls and a handful of counts)."""
    boosts = {n: boost_for(n, params) for n in set(counts)}
    return [_boosted(m.conviction, boosts[n]) for m, n in zip(mentions, counts)]


def aggregation_key(params: StrategyParams) -> tuple[object, ...]:
    """The parameters this module reads: two parameter sets with the same key give every mention
    the same effective conviction (a sweep computes them once per key, not once per set)."""
    return (params.aggregation_window_hours, params.mention_boost_per_repeat, params.max_mention_boost)


def others_in_window_counts(
    mentions: Sequence[Published], window_hours: float, instants_ns: Sequence[int] | None = None
) -> list[int]:
    """For every mention of the list, how many *other* mentions of its symbol fall in [t - window, t]:
    ties included, later ones never, the mention itself never (each list entry is one mention).

    Returned in the input order. O(n log n) per symbol, for backtests over thousands of calls.
    Instants are compared as UTC nanoseconds (exact: datetimes hold whole microseconds);
    `instants_ns` are the publish times so, when the caller has them (the backtest's tape).
    """
    times_of = [instant_ns(m.published_at) for m in mentions] if instants_ns is None else instants_ns
    window = timedelta(hours=window_hours) // timedelta(microseconds=1) * 1000
    by_symbol: dict[str, list[int]] = defaultdict(list)
    for i, m in enumerate(mentions):
        by_symbol[m.symbol].append(i)
    result: list[int] = [0] * len(mentions)
    for indices in by_symbol.values():
        times = sorted(times_of[i] for i in indices)
        for i in indices:
            t = times_of[i]
            result[i] = bisect.bisect_right(times, t) - bisect.bisect_left(times, t - window) - 1
    return result


def effective_convictions(mentions: Sequence[Mention], params: StrategyParams) -> list[Decimal]:
    """Effective conviction of every mention in the list, each against all the others.

    Returned in the input order. O(n log n) per symbol, for backtests over thousands of calls.
    """
    counts = others_in_window_counts(mentions, params.aggregation_window_hours)
    return effective_convictions_from_counts(mentions, counts, params)
