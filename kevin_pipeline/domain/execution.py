"""How an order meets a daily bar: fill prices and slippage.

The backtest engine and the simulated paper broker both fill through these functions (by way of
`domain.venue`, which also holds the bracket legs' rules), so a simulated fill can never differ
from a backtested one.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from functools import lru_cache

from kevin_pipeline.domain.params import StrategyParams

PRICE_QUANTUM = Decimal("0.0001")
BPS = Decimal("10000")


class ExitReason(StrEnum):
    TIME = "time"
    STOP = "stop"
    TAKE_PROFIT = "take_profit"
    SELL = "sell"
    AVOID = "avoid"
    MANUAL = "manual"
    END_OF_DATA = "end_of_data"


# The rounding is passed by position throughout: `Decimal.quantize` parses a keyword argument
# slowly (about 150 ns a call, and a backtest quantizes tens of thousands of times).


def price(value: float | Decimal | str) -> Decimal:
    """A bar price as Decimal at 1/100 cent, the precision fills are stored with."""
    if isinstance(value, float):
        value = repr(value)
    return Decimal(value).quantize(PRICE_QUANTUM, ROUND_HALF_UP)


def buy_fill_price(open_price: Decimal, params: StrategyParams) -> Decimal:
    return (open_price * _slipped(1, params.slippage_bps)).quantize(PRICE_QUANTUM, ROUND_HALF_UP)


def sell_fill_price(reference: Decimal, params: StrategyParams) -> Decimal:
    """Stop, time, sell, avoid and manual exits pay the sell slippage (take-profit limits do not)."""
    return (reference * _slipped(-1, params.slippage_bps)).quantize(PRICE_QUANTUM, ROUND_HALF_UP)


@lru_cache(maxsize=64)
def _slipped(side: int, slippage_bps: Decimal) -> Decimal:
    """1 + slippage (a buy, side 1) or 1 - slippage (a sell, side -1), worked out once per
    setting: a backtest fills thousands of orders. The fill is rounded after, so the price comes
    out the same to the digit however the setting is written."""
    return 1 + side * slippage_bps / BPS
