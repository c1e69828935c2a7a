"""The switches a person flips: runtime kill switch, resume after a halt, manual close requests.

Shared by the CLI and the dashboard so both write the same rows the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from kevin_pipeline.db.models import ManualCloseRequest, Position, TradingState
from kevin_pipeline.trading.own_slice import KEVIN_LOT


@dataclass(frozen=True)
class TradingSwitches:
    env_enabled: bool  # KEVIN_ENABLE_TRADING
    runtime_enabled: bool  # `kevin trading on|off`, the dashboard toggle
    paused_until: datetime | None
    pause_reason: str | None
    halted: bool
    halt_reason: str | None

    @property
    def trading_allowed(self) -> bool:
        """Orders go to the broker only when both switches allow it."""
        return self.env_enabled and self.runtime_enabled

    def describe(self, now: datetime) -> str:
        parts = [
            f"trading {'ON' if self.trading_allowed else 'OFF'} "
            f"(KEVIN_ENABLE_TRADING={'true' if self.env_enabled else 'false'}, "
            f"runtime switch {'on' if self.runtime_enabled else 'off'})"
        ]
        if self.halted:
            parts.append(f"HALTED: {self.halt_reason or 'drawdown halt'} (kevin resume clears it)")
        if self.paused_until is not None and now < self.paused_until:
            parts.append(f"buys paused until {self.paused_until.isoformat()}: {self.pause_reason or ''}".rstrip(": "))
        return "; ".join(parts)


def trading_state_row(session: Session) -> TradingState:
    row = session.get(TradingState, 1, with_for_update=True)
    if row is None:  # the migration seeds it; recreate it if someone deleted it
        row = TradingState(id=1, trading_enabled=False, halted=False)
        session.add(row)
        session.flush()
    return row


def switches(session: Session, env_enabled: bool) -> TradingSwitches:
    row = session.get(TradingState, 1) or TradingState(id=1, trading_enabled=False, halted=False)
    return TradingSwitches(
        env_enabled=env_enabled,
        runtime_enabled=bool(row.trading_enabled),
        paused_until=row.paused_until,
        pause_reason=row.pause_reason,
        halted=bool(row.halted),
        halt_reason=row.halt_reason,
    )


def set_trading_enabled(session: Session, enabled: bool) -> None:
    trading_state_row(session).trading_enabled = enabled


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
