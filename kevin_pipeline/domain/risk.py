"""Account-level risk rules: daily caps, loss circuit, drawdown halt, blocklist.

These gate NEW BUYS only. Exits (sell, avoid, stop, take-profit, time, manual) always run: a
paused account that cannot sell is a trap (the seed blocked sells while paused; we don't).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from kevin_pipeline.domain.models import AccountState
from kevin_pipeline.domain.params import StrategyParams


def buy_block_reason(state: AccountState, size_usd: Decimal, now: datetime, params: StrategyParams) -> str | None:
    """Why a buy of `size_usd` may not be placed now, or None when the account allows it.

    A buy that would pass the daily allocation cap is refused, not shrunk: a silently smaller
    order would not be the call the audit trail says it was.
    """
    if state.halted or drawdown_halt_tripped(state.equity, state.starting_equity, params):
        reason = state.halt_reason or (
            f"equity {state.equity} below {params.drawdown_halt_pct:.0%} of starting equity {state.starting_equity}"
        )
        return f"drawdown halt: {reason}; buys stay halted until a person resumes"
    if state.paused_until is not None and now < state.paused_until:
        return f"loss circuit breaker: buys paused until {state.paused_until.isoformat()}"
    if size_usd > state.cash:
        return f"insufficient cash: {state.cash} available (after pending orders) for a {size_usd} buy"
    if state.daily_trade_count >= params.daily_trade_cap:
        return f"daily trade cap reached ({state.daily_trade_count}/{params.daily_trade_cap} new trades today)"
    if state.daily_alloc_usd + size_usd > params.daily_alloc_cap_usd:
        return (
            f"daily allocation cap: {state.daily_alloc_usd} already allocated today + {size_usd} "
            f"would exceed {params.daily_alloc_cap_usd}"
        )
    return None


def loss_circuit_tripped(previous_close_equity: Decimal, close_equity: Decimal, params: StrategyParams) -> bool:
    """Close-to-close equity drop of at least the circuit percentage."""
    if previous_close_equity <= 0:
        return False
    drop = (previous_close_equity - close_equity) / previous_close_equity
    return drop >= params.daily_loss_circuit_pct


def loss_pause_until(close_time: datetime, params: StrategyParams) -> datetime:
    """Buys stay paused for the configured hours from the close that tripped the circuit."""
    return close_time + timedelta(hours=params.loss_pause_hours)


def drawdown_halt_tripped(equity: Decimal, starting_equity: Decimal, params: StrategyParams) -> bool:
    return equity < starting_equity * params.drawdown_halt_pct


def blocklist_until(avoid_published_at: datetime, params: StrategyParams) -> datetime:
    """An avoid blocks buys from its publish time until + N x 24 h (exclusive)."""
    return avoid_published_at + timedelta(days=params.avoid_block_days)


def blocklisted_until(state: AccountState, symbol: str, now: datetime) -> datetime | None:
    expiry = state.blocklist.get(symbol)
    if expiry is not None and now < expiry:
        return expiry
    return None
