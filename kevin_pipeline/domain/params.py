"""Every strategy and risk knob, with the seed's numbers as defaults.

This is the single home of those numbers: `kevin_pipeline.settings.Settings` inherits these fields
(so `KEVIN_MIN_CONVICTION=0.7` works) and the backtest takes the same object, so live and
backtest can never disagree about a default.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kevin_pipeline.domain.direction import Direction
from kevin_pipeline.domain.models import Horizon

Fraction = Field(ge=0, le=1)


class StrategyParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    # Follow the channel's calls, or take the opposite long-only side (domain.direction)
    direction: Direction = Direction.FOLLOW

    # Signal filters
    min_conviction: Decimal = Field(Decimal("0.60"), ge=0, le=1)
    max_mention_age_hours: float = Field(48.0, gt=0)

    # Sizing: equity x base_pct x (0.5 + 0.5 x (c - floor) / (1 - floor)), clamped to [min, max]
    base_position_pct: Decimal = Field(Decimal("0.04"), gt=0, le=1)
    min_trade_usd: Decimal = Field(Decimal("500"), ge=0)
    max_trade_usd: Decimal = Field(Decimal("5000"), gt=0)
    max_per_ticker_usd: Decimal = Field(Decimal("7500"), gt=0)

    # Hold, in NYSE sessions, per horizon (intraday never trades)
    hold_sessions_days: int = Field(3, ge=1)
    hold_sessions_weeks: int = Field(10, ge=1)
    hold_sessions_months: int = Field(45, ge=1)
    hold_sessions_long_term: int = Field(90, ge=1)
    hold_sessions_unspecified: int = Field(10, ge=1)

    # Exits
    stop_loss_pct: Decimal = Field(Decimal("0.08"), gt=0, lt=1)
    take_profit_pct: Decimal = Field(Decimal("0.20"), gt=0)
    avoid_closes_longs: bool = True
    avoid_block_days: int = Field(7, ge=0)

    # Multi-mention aggregation
    aggregation_window_hours: float = Field(48.0, ge=0)
    mention_boost_per_repeat: Decimal = Field(Decimal("0.05"), ge=0, le=1)
    max_mention_boost: Decimal = Field(Decimal("0.20"), ge=0, le=1)

    # Risk
    max_position_pct: Decimal = Field(Decimal("0.075"), gt=0, le=1)
    daily_trade_cap: int = Field(5, ge=0)
    daily_alloc_cap_usd: Decimal = Field(Decimal("15000"), ge=0)
    daily_loss_circuit_pct: Decimal = Field(Decimal("0.03"), gt=0, le=1)
    loss_pause_hours: float = Field(24.0, ge=0)
    drawdown_halt_pct: Decimal = Field(Decimal("0.80"), gt=0, le=1)

    # Execution (backtest and simulated broker)
    starting_equity_usd: Decimal = Field(Decimal("100000"), gt=0)
    slippage_bps: Decimal = Field(Decimal("5"), ge=0, le=1000)
    commission_usd: Decimal = Field(Decimal("0"), ge=0)
    benchmark_symbol: str = "SPY"

    @field_validator("direction", mode="before")
    @classmethod
    def _direction_any_case(cls, value: object) -> object:
        # KEVIN_DIRECTION=Inverse and `--set direction=INVERSE` mean what they say
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> "StrategyParams":
        if self.min_trade_usd > self.max_trade_usd:
            raise ValueError(
                f"min_trade_usd ({self.min_trade_usd}) must not exceed max_trade_usd ({self.max_trade_usd})"
            )
        if self.min_conviction >= 1:
            raise ValueError("min_conviction must be below 1 (the sizing ramp divides by 1 - min_conviction)")
        return self

    def hold_sessions(self, horizon: Horizon) -> int | None:
        """Sessions to hold for a horizon; None for intraday, which never trades."""
        name = _HOLD_FIELD.get(horizon)
        return None if name is None else getattr(self, name)  # type: ignore[no-any-return]


# The field holding each horizon's hold (read per call by the strategy: a lookup, not a dict built each time)
_HOLD_FIELD: dict[Horizon, str] = {
    Horizon.DAYS: "hold_sessions_days",
    Horizon.WEEKS: "hold_sessions_weeks",
    Horizon.MONTHS: "hold_sessions_months",
    Horizon.LONG_TERM: "hold_sessions_long_term",
    Horizon.UNSPECIFIED: "hold_sessions_unspecified",
}
