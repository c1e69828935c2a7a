"""The broker port: what the order path needs from a venue, and nothing about which venue.

Two adapters implement it: `SimulatedBroker` (the embedded default, fills from daily bars with
the backtest's own fill rules) and `AlpacaPaperBroker` (alpaca-py, paper endpoint only).

The order path hands a broker *dollars*, not shares: Alpaca must turn them into whole shares at
submission (from the latest price), while the simulator does it at the fill (from the open), which
is what the backtest does. Bracket legs are given as percentages for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

# Order statuses in Alpaca's vocabulary, which the simulator uses too.
OPEN_STATUSES = frozenset(
    {"new", "accepted", "pending_new", "accepted_for_bidding", "partially_filled", "held", "pending_cancel",
     "pending_replace", "calculated", "done_for_day"}
)
FINAL_STATUSES = frozenset({"filled", "canceled", "expired", "rejected", "replaced", "stopped", "suspended"})

# Every order kevin sends carries a client order id with this prefix (entries `kv-<mention>-b`, exits
# `kv-<mention>-c`, `kv-t-...`, `kv-m-...`): that is how kevin tells its own orders, and so its own
# lots, from anything else in the broker account.
KEVIN_CLIENT_ID_PREFIX = "kv-"


def is_kevins(client_order_id: str | None) -> bool:
    return bool(client_order_id) and str(client_order_id).startswith(KEVIN_CLIENT_ID_PREFIX)


@dataclass(frozen=True)
class BrokerOrder:
    client_order_id: str
    broker_order_id: str | None
    symbol: str
    side: str  # "buy" | "sell"
    qty: int
    status: str
    submitted_at: datetime | None = None
    filled_qty: int = 0
    filled_avg_price: Decimal | None = None
    filled_at: datetime | None = None
    take_profit_price: Decimal | None = None
    stop_price: Decimal | None = None
    order_class: str = "simple"  # "bracket" for entries
    exit_reason: str | None = None  # for sells: time / stop / take_profit / sell / avoid / manual
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_filled(self) -> bool:
        return self.status == "filled"


@dataclass(frozen=True)
class BrokerPosition:
    symbol: str
    qty: int
    avg_entry_price: Decimal
    current_price: Decimal | None = None
    lastday_price: Decimal | None = None  # the previous session's close (Alpaca's `lastday_price`)

    @property
    def market_value(self) -> Decimal | None:
        return None if self.current_price is None else self.current_price * self.qty


@dataclass(frozen=True)
class BrokerAccount:
    equity: Decimal
    cash: Decimal
    last_equity: Decimal | None  # equity at the previous session's close (Alpaca's `last_equity`)
    as_of: datetime


class BrokerError(Exception):
    """A broker call failed. `message` is the broker's own words, safe to store (no secrets)."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class BrokerRejected(BrokerError):
    """The broker refused the request for good (4xx, or retries exhausted): record broker_rejected."""


class BrokerUnavailable(BrokerError):
    """The broker could not be reached and the outcome is unknown: retry later, never re-submit blind."""


class ConfigurationError(RuntimeError):
    """The broker cannot start (missing keys, non-paper endpoint)."""


@runtime_checkable
class Broker(Protocol):
    name: str  # "simulated" | "alpaca"

    def account(self, now: datetime) -> BrokerAccount: ...

    def positions(self, now: datetime) -> list[BrokerPosition]: ...

    def orders(self, now: datetime, *, open_only: bool = False) -> list[BrokerOrder]:
        """Orders the broker knows (entries, their legs and exits), newest state."""
        ...

    def get_order(self, client_order_id: str, now: datetime) -> BrokerOrder | None:
        """Look an order up by kevin's client order id (None when the broker never got it)."""
        ...

    def is_tradable(self, symbol: str, now: datetime) -> bool: ...

    def latest_price(self, symbol: str, now: datetime) -> Decimal | None: ...

    def submit_bracket_buy(
        self,
        *,
        client_order_id: str,
        symbol: str,
        target_usd: Decimal,
        take_profit_pct: Decimal,
        stop_loss_pct: Decimal,
        time_in_force: str,
        now: datetime,
    ) -> BrokerOrder:
        """Market buy of floor(target / price) whole shares with a bracket (take-profit limit and
        stop). Idempotent by `client_order_id`: a second call returns the first order."""
        ...

    def close_position(
        self, symbol: str, *, client_order_id: str, reason: str, now: datetime, at_session_open: bool = False,
        qty: int | None = None,
    ) -> BrokerOrder | None:
        """Cancel the symbol's open bracket legs and pending buys, then sell `qty` shares (kevin's
        own lots; shares it did not buy stay). `qty=None` sells the whole position: only for a caller
        that owns all of it, never kevin's order path. `qty=0` only cancels kevin's open orders.
        Idempotent by `client_order_id`. None when nothing is sold. `at_session_open`: the planned
        time exit of the 09:35 scan, which the simulator fills at that session's open (as the
        backtest does); a real broker sells now."""
        ...
