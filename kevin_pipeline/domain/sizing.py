"""How many dollars and shares a buy gets, and where its bracket legs sit.

Shared by the backtest, the simulated broker and the Alpaca adapter, so a size or a stop price
can never be computed two ways.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from functools import lru_cache

from kevin_pipeline.domain.models import CENT
from kevin_pipeline.domain.params import StrategyParams

ZERO = Decimal("0")
ONE = Decimal(1)
HALF = Decimal("0.5")


def to_cents(amount: Decimal) -> Decimal:
    """Round a dollar amount down to cents: rounding up could breach a cap by a cent."""
    return amount.quantize(CENT, ROUND_DOWN)  # the rounding by position: a keyword costs more than the rounding


def target_size(equity: Decimal, effective_conviction: Decimal, params: StrategyParams) -> Decimal:
    """Conviction-weighted fixed fraction: 50% of the base fraction at the floor, 100% at c = 1.

    equity x base% x (0.5 + 0.5 x (c - floor) / (1 - floor)), clamped to [min, max] and cents.
    """
    raw = equity * params.base_position_pct * _conviction_weight(effective_conviction, params.min_conviction)
    # min(max(raw, low), high) as the comparisons it makes: the builtins cost four times as much on Decimals
    low, high = params.min_trade_usd, params.max_trade_usd
    floored = low if low > raw else raw
    return to_cents(high if high < floored else floored)


@lru_cache(maxsize=4096)
def _conviction_weight(effective_conviction: Decimal, floor: Decimal) -> Decimal:
    """0.5 + 0.5 x the conviction's place between the floor and 1, clamped to [0.5, 1].

    Memoized: a backtest sizes thousands of buys from a few hundred distinct convictions. Equal
    values written differently (0.8, 0.80) share an entry; the size is rounded to cents after, so
    it comes out the same to the digit.
    """
    ramp = (effective_conviction - floor) / (ONE - floor)
    ramp = min(max(ramp, ZERO), ONE)
    return HALF + HALF * ramp


def ticker_cap(equity: Decimal, params: StrategyParams) -> Decimal:
    """The most one symbol may hold: the dollar cap, or the position % of equity if smaller.

    The last answer is kept: equity moves only at opens and closes, and every buy decided in
    between asks again. Equal equity gives the same cap to the digit (it is rounded to cents).
    """
    global _last_cap
    last = _last_cap
    if last[1] is params and last[0] == equity:
        return last[2]
    cap = min(params.max_per_ticker_usd, to_cents(params.max_position_pct * max(equity, ZERO)))
    _last_cap = (equity, params, cap)  # one tuple, replaced whole: a thread reads the old one or the new
    return cap


_last_cap: tuple[Decimal, StrategyParams | None, Decimal] = (ZERO, None, ZERO)  # (equity, params, cap)


def ticker_headroom(equity: Decimal, cost_basis_held: Decimal, params: StrategyParams) -> Decimal:
    return ticker_cap(equity, params) - cost_basis_held


def whole_shares(target_usd: Decimal, price: Decimal) -> int:
    """Bracket orders take whole shares only: floor(target / price), 0 when under one share."""
    if price <= 0:
        raise ValueError(f"price must be positive (got {price})")
    return int(target_usd / price)  # int() truncates toward zero: ROUND_DOWN, without a rounding call


def bracket_prices(basis_price: Decimal, params: StrategyParams) -> tuple[Decimal, Decimal]:
    """(take_profit_limit, stop) for a long filled or based at `basis_price`, rounded to cents.

    Sub-penny prices are rejected by brokers; the stop is kept at least one cent below the basis
    (Alpaca refuses a sell stop that is not).
    """
    up, down = _leg_factors(params.take_profit_pct, params.stop_loss_pct)
    take_profit = (basis_price * up).quantize(CENT, ROUND_HALF_UP)
    stop = (basis_price * down).quantize(CENT, ROUND_HALF_UP)
    below = to_cents(basis_price) - CENT
    return take_profit, below if below < stop else stop  # min(stop, below)


@lru_cache(maxsize=256)
def _leg_factors(take_profit_pct: Decimal, stop_loss_pct: Decimal) -> tuple[Decimal, Decimal]:
    """(1 + take-profit %, 1 - stop-loss %), once per setting: every fill sets both legs, and
    they are rounded to cents after, so the prices come out the same to the digit."""
    return ONE + take_profit_pct, ONE - stop_loss_pct
