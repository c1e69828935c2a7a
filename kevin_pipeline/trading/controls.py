"""The switches a person flips: runtime kill switch (on / exits-only / off), resume after a halt,
manual close requests.

Shared by the CLI and the dashboard so both write the same rows the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from kevin_pipeline.db.models import ManualCloseRequest, Position, TradingState
from kevin_pipeline.trading.own_slice import KEVIN_LOT


ON, EXITS_ONLY, OFF = "on", "exits-only", "off"
MODES = (ON, EXITS_ONLY, OFF)

# What each mode in force means, in the words `kevin trading` and the dashboard both show.
MEANINGS = {
    ON: "buys and exits go out",
    EXITS_ONLY: "exits only: no new buys (recorded as dry runs); sells, avoids, time exits and manual closes go out",
    OFF: "nothing goes to the broker; exits wait for catch-up",
}


class TradingModeError(ValueError):
    pass


def parse_mode(text: str) -> str:
    """`on`, `exits-only` (also `exits_only`) or `off`, case-insensitive."""
    mode = text.strip().lower().replace("_", "-")
    if mode not in MODES:
        raise TradingModeError(f"trading mode {text!r}: expected one of {', '.join(MODES)}")
    return mode


@dataclass(frozen=True)
class TradingSwitches:
    """The kill switch as the order path reads it.

    `on`: everything goes to the broker. `exits-only`: no new buys (recorded as dry runs with the
    size they would have had); sells, avoids, time exits and manual closes go out. `off`: nothing
    goes to the broker; exits called or due meanwhile wait and go out once exits are allowed again
    ("catch-up"); buys decided while off are never sent later. KEVIN_ENABLE_TRADING=false forces
    `off` whatever the runtime switch says.
    """

    env_enabled: bool  # KEVIN_ENABLE_TRADING
    runtime_mode: str  # `kevin trading on|exits-only|off`, the dashboard control
    paused_until: datetime | None
    pause_reason: str | None
    halted: bool
    halt_reason: str | None

    @property
    def mode(self) -> str:
        """The mode in force: the runtime switch, forced to `off` by KEVIN_ENABLE_TRADING=false."""
        return self.runtime_mode if self.env_enabled else OFF

    @property
    def runtime_enabled(self) -> bool:
        return self.runtime_mode == ON

    @property
    def buys_allowed(self) -> bool:
        return self.mode == ON

    @property
    def exits_allowed(self) -> bool:
        return self.mode in (ON, EXITS_ONLY)

    @property
    def trading_allowed(self) -> bool:
        """Everything goes to the broker (the mode in force is `on`)."""
        return self.buys_allowed

    @property
    def meaning(self) -> str:
        """What the mode in force lets through (`MEANINGS`)."""
        return MEANINGS[self.mode]

    def paused(self, now: datetime) -> bool:
        """Buys are paused by the loss circuit at `now`."""
        return self.paused_until is not None and now < self.paused_until

    @property
    def can_resume(self) -> bool:
        """`resume` would clear something: a halt, or a pause (even an expired one)."""
        return self.halted or self.paused_until is not None

    def describe(self, now: datetime) -> str:
        parts = [
            f"trading {self.mode.upper()} ({self.meaning}; "
            f"KEVIN_ENABLE_TRADING={'true' if self.env_enabled else 'false'}, runtime switch {self.runtime_mode})"
        ]
        if self.halted:
            parts.append(f"HALTED: {self.halt_reason or 'drawdown halt'} (kevin resume clears it)")
        if self.paused(now):
            parts.append(f"buys paused until {self.paused_until.isoformat()}: {self.pause_reason or ''}".rstrip(": "))
        return "; ".join(parts)


def trading_state_row(session: Session) -> TradingState:
    """The single row, locked FOR UPDATE (PostgreSQL): whoever holds it decides alone."""
    row = session.get(TradingState, 1, with_for_update=True)
    if row is None:  # the migration seeds it; recreate it if someone deleted it
        row = TradingState(id=1, trading_mode=OFF, halted=False)
        session.add(row)
        session.flush()
    return row


def switches(session: Session, env_enabled: bool) -> TradingSwitches:
    row = session.get(TradingState, 1) or TradingState(id=1, trading_mode=OFF, halted=False)
    return TradingSwitches(
        env_enabled=env_enabled,
        runtime_mode=row.trading_mode if row.trading_mode in MODES else OFF,
        paused_until=row.paused_until,
        pause_reason=row.pause_reason,
        halted=bool(row.halted),
        halt_reason=row.halt_reason,
    )


def set_trading_mode(session: Session, mode: str) -> None:
    """Set the runtime switch (`on`, `exits-only`, `off`)."""
    trading_state_row(session).trading_mode = parse_mode(mode)


def set_trading_enabled(session: Session, enabled: bool) -> None:
    """The two-state shorthand: True -> `on`, False -> `off`."""
    set_trading_mode(session, ON if enabled else OFF)


def resume(session: Session) -> bool:
    """Clear the drawdown halt and any loss-circuit pause. Returns whether anything was set."""
    row = trading_state_row(session)
    changed = bool(row.halted or row.paused_until)
    row.halted, row.halt_reason, row.halted_at = False, None, None
    row.paused_until, row.pause_reason = None, None
    return changed


class CloseRequestError(ValueError):
    pass


def request_close(
    session: Session, symbol: str, *, position_id: int | None = None, requested_by: str = "cli", now: datetime | None = None
) -> ManualCloseRequest:
    """Queue a manual close; the order path executes it (the next exit scan, or immediately when
    the caller runs `process_manual_closes`)."""
    symbol = symbol.strip().upper()
    open_lots = select(Position.id).where(Position.symbol == symbol, *KEVIN_LOT)
    if position_id is not None:
        open_lots = open_lots.where(Position.id == position_id)
    if session.execute(open_lots.limit(1)).first() is None:
        raise CloseRequestError(
            f"kevin holds no open lot in {symbol}" + (f" with id {position_id}" if position_id else "")
            + "; kevin closes only the lots its own orders opened (shares you bought yourself are yours to close "
            "in the broker's UI)"
        )
    req = ManualCloseRequest(
        symbol=symbol, position_id=position_id, requested_by=requested_by,
        requested_at=now or datetime.now(timezone.utc), status="pending",
    )
    session.add(req)
    session.flush()
    return req
