"""Value types shared by the backtest and the live path.

Money is Decimal everywhere in here: a size, a cap or a cost basis that drifts by a float ulp can
flip a cap comparison, and the audit trail must show the exact dollars that were decided.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

CENT = Decimal("0.01")
_ZERO = Decimal("0")


class Action(StrEnum):
    BUY = "buy"
    SELL = "sell"
    HOLD = "hold"
    AVOID = "avoid"
    WATCH = "watch"


class Horizon(StrEnum):
    INTRADAY = "intraday"
    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"
    LONG_TERM = "long_term"
    UNSPECIFIED = "unspecified"


class DecisionKind(StrEnum):
    """What the decision asks the broker to do (independent of whether it is allowed to)."""

    OPEN_LONG = "open_long"
    CLOSE_LONG = "close_long"
    NO_OP = "no_op"


class DecisionStatus(StrEnum):
    """The audit-trail status stored per mention.

    The domain produces EMITTED and the SKIPPED_* values; the order path turns EMITTED into
    DRY_RUN (kill switch off) or BROKER_REJECTED when the broker refuses.
    """

    EMITTED = "emitted"
    DRY_RUN = "dry_run"
    SKIPPED_NON_TRADABLE = "skipped_non_tradable"
    SKIPPED_BLOCKLIST = "skipped_blocklist"
    SKIPPED_CAPS = "skipped_caps"
    SKIPPED_FILTER = "skipped_filter"
    BROKER_REJECTED = "broker_rejected"


class Mention(BaseModel):
    """One call from one video. Its time is the video's publish time, never an insert time."""

    model_config = ConfigDict(frozen=True)

    id: int | None = None
    video_id: str = ""
    symbol: str
    action: Action
    conviction: Decimal = Field(ge=0, le=1)
    horizon: Horizon = Horizon.UNSPECIFIED
    published_at: AwareDatetime
    quote: str | None = None

    @field_validator("symbol")
    @classmethod
    def _upper(cls, v: str) -> str:
        return v.strip().upper()


class AccountState(BaseModel):
    """The account as a decision sees it at time `now` (built by the backtest or the live path).

    `cost_basis` counts orders decided but not yet filled as held, so two quick buys cannot
    both see the full per-ticker headroom.
    """

    equity: Decimal
    cash: Decimal
    starting_equity: Decimal
    cost_basis: dict[str, Decimal] = Field(default_factory=dict)
    blocklist: dict[str, datetime] = Field(default_factory=dict)  # symbol -> expiry (exclusive)
    daily_trade_count: int = 0
    daily_alloc_usd: Decimal = Decimal("0")
    paused_until: datetime | None = None
    halted: bool = False
    halt_reason: str | None = None

    def holds(self, symbol: str) -> bool:
        return holds_symbol(self.cost_basis, symbol)


def holds_symbol(cost_basis: Mapping[str, Decimal], symbol: str) -> bool:
    """Whether an account with this cost per symbol (unfilled buys counted) holds `symbol`."""
    return cost_basis.get(symbol, _ZERO) > 0


class Decision(BaseModel):
    """The outcome of evaluating one mention: the audit-trail row, before any broker is involved."""

    mention_id: int | None
    symbol: str
    action: Action  # the call's own action, as the channel made it
    acted_as: Action  # what the rules applied: `action` under the strategy's direction (domain.direction)
    kind: DecisionKind
    status: DecisionStatus
    reason: str
    effective_conviction: Decimal
    size_usd: Decimal = Decimal("0")
    hold_sessions: int | None = None
    extends_hold: bool = False  # a repeated buy that bought nothing still pushes the planned exit
    blocklist_until: datetime | None = None  # set by avoid
    decided_at: AwareDatetime
