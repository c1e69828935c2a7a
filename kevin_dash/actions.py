"""The dashboard's write actions, each behind the dashboard token.

Every action takes the token the person typed, checks it against `settings.dash_token`
(`KEVIN_DASH_TOKEN`) with `hmac.compare_digest`, and only then writes, through the same
functions the CLI uses (`kevin_pipeline.trading.controls`, `kevin_pipeline.research.backtest`). With no
token configured every action is refused: the dashboard is read-only.

The check lives here, server-side, not in the page: a callback can be called directly with a POST
to `/_dash-update-component`, so a disabled button is a courtesy, never the lock.
Nothing here echoes the token or the configured secret, in messages or logs.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from kevin_dash.jobs import BacktestJobs, JobBusy
from kevin_pipeline.runtime import Runtime
from kevin_pipeline.db.models import Position
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.settings import Settings
from kevin_pipeline.trading import controls

log = logging.getLogger(__name__)

NOT_CONFIGURED = (
    "Write actions are disabled: KEVIN_DASH_TOKEN is not set. Set it in the environment and restart "
    "`kevin dash` to close positions, flip the kill switch, resume or run backtests from here."
)
ENTER_TOKEN = "Enter the dashboard token (top right) to enable write actions."
REFUSED = "Refused: the dashboard token is missing or wrong."
REQUESTED_BY = "dashboard"


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    message: str
    job_id: str | None = None


class WriteRefused(PermissionError):
    pass


def token_configured(settings: Settings) -> bool:
    return settings.dash_token is not None and bool(settings.dash_token.get_secret_value())


def write_disabled_reason(settings: Settings, given: str | None) -> str | None:
    """Why write buttons are disabled right now (None: enabled). Presence only, not validity."""
    if not token_configured(settings):
        return NOT_CONFIGURED
    if not given:
        return ENTER_TOKEN
    return None


def check_token(settings: Settings, given: Any) -> None:
    """Raise WriteRefused unless `given` equals the configured token (constant-time compare)."""
    if not token_configured(settings):
        raise WriteRefused(NOT_CONFIGURED)
    if not isinstance(given, str) or not given:
        raise WriteRefused(REFUSED)
    # "surrogatepass": a lone surrogate (JSON "\ud800") is bytes like any other character, so an
    # odd token is refused like every wrong one instead of raising UnicodeEncodeError (HTTP 500).
    expected = settings.dash_token.get_secret_value().encode("utf-8", "surrogatepass")  # type: ignore[union-attr]
    if not hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected):
        raise WriteRefused(REFUSED)


def _refused(action: str, exc: WriteRefused) -> ActionResult:
    log.warning("dashboard write refused: %s (%s)", action, "no token configured" if str(exc) == NOT_CONFIGURED else "bad token")
    return ActionResult(False, str(exc))


# --- trading controls ------------------------------------------------------------------------


def set_kill_switch(runtime: Runtime, token: Any, target: Any) -> ActionResult:
    """Set the runtime kill switch (trading_state.trading_mode) to `target`: `on`, `exits-only`,
    `off` (or True / False for on / off)."""
    try:
        check_token(runtime.settings, token)
    except WriteRefused as exc:
        return _refused("kill switch", exc)
    if isinstance(target, bool):
        target = controls.ON if target else controls.OFF
    if not isinstance(target, str) or target not in controls.MODES:
        return ActionResult(False, f"Refused: the kill switch target must be one of {', '.join(controls.MODES)}.")
    with runtime.transaction() as session:
        controls.set_trading_mode(session, target)
    log.info("dashboard: runtime trading switch set %s", target)
    msg = f"Runtime trading switch is now {target.upper()}."
    if target != controls.OFF and not runtime.settings.enable_trading:
        msg += " Orders still need KEVIN_ENABLE_TRADING=true in the environment; until then trading stays OFF."
    return ActionResult(True, msg)


def resume_trading(runtime: Runtime, token: Any) -> ActionResult:
    """Clear a drawdown halt and any loss-circuit pause."""
    try:
        check_token(runtime.settings, token)
    except WriteRefused as exc:
        return _refused("resume", exc)
    with runtime.transaction() as session:
        changed = controls.resume(session)
    log.info("dashboard: resume (%s)", "cleared" if changed else "nothing to clear")
    return ActionResult(True, "Resumed: halt and pause cleared." if changed else "Nothing to resume: trading was neither halted nor paused.")


def close_position(runtime: Runtime, token: Any, position_id: Any) -> ActionResult:
    """Queue a manual close of one open lot (the order path executes it at its next pass)."""
    try:
        check_token(runtime.settings, token)
    except WriteRefused as exc:
        return _refused("close", exc)
    if isinstance(position_id, bool) or not isinstance(position_id, int):
        return ActionResult(False, "Refused: no position selected.")
    try:
        with runtime.transaction() as session:
            lot = session.get(Position, position_id)
            if lot is None or lot.status != "open":
                return ActionResult(False, f"Position #{position_id} is not open any more.")
            req = controls.request_close(session, lot.symbol, position_id=lot.id, requested_by=REQUESTED_BY)
            symbol, req_id = lot.symbol, req.id
    except controls.CloseRequestError as exc:
        return ActionResult(False, str(exc))
    log.info("dashboard: manual close requested for %s lot %s (request %s)", symbol, position_id, req_id)
    try:  # send it now through the same order path as `kevin close`; the exit scan retries a failure
        from kevin_pipeline.trading.context import trading_context
        from kevin_pipeline.trading.exit_scan import process_manual_closes

        ctx = trading_context(runtime)
        with runtime.sessions() as session:
            exits_allowed = controls.switches(session, ctx.env_trading_enabled).exits_allowed
        if not exits_allowed:
            return ActionResult(
                True, f"Close requested for {symbol} (request #{req_id}); trading is OFF, so nothing goes to the "
                      "broker now: the first exit scan after the switch allows exits sends it."
            )
        process_manual_closes(ctx, datetime.now(UTC))
    except Exception as exc:  # noqa: BLE001 - the request stays queued; say why it is not sent yet
        log.warning("dashboard: close request %s queued, not sent yet: %s", req_id, type(exc).__name__)
        return ActionResult(
            True, f"Close requested for {symbol} (request #{req_id}); the broker could not be reached, "
                  "the next exit scan sends it."
        )
    return ActionResult(
        True, f"Close order sent for {symbol} (request #{req_id}): the whole {symbol} position is sold, "
              "its bracket legs cancelled first."
    )


# --- backtests -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BacktestForm:
    """The form's values as typed: percent fields in percent (8 means 8 %)."""

    min_conviction: Any = None
    hold_sessions_weeks: Any = None
    stop_loss_pct: Any = None
    take_profit_pct: Any = None
    slippage_bps: Any = None
    start: Any = None
    end: Any = None


def _decimal(value: Any, name: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{name}: not a number ({value!r})") from None
    if not out.is_finite():
        raise ValueError(f"{name}: not a finite number")
    return out


def _date(value: Any, name: str) -> date | None:
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ValueError(f"{name}: not a date ({value!r}), use YYYY-MM-DD") from None


def form_to_params(settings: Settings, form: BacktestForm) -> tuple[StrategyParams, date | None, date | None]:
    """The settings' strategy params with the form's overrides; ValueError says which field is wrong."""
    overrides: dict[str, Any] = {}
    conv = _decimal(form.min_conviction, "conviction floor")
    if conv is not None:
        overrides["min_conviction"] = conv
    weeks = _decimal(form.hold_sessions_weeks, "hold sessions (weeks)")
    if weeks is not None:
        if weeks != weeks.to_integral_value():
            raise ValueError("hold sessions (weeks): a whole number of sessions")
        overrides["hold_sessions_weeks"] = int(weeks)
    stop = _decimal(form.stop_loss_pct, "stop-loss %")
    if stop is not None:
        overrides["stop_loss_pct"] = stop / 100
    tp = _decimal(form.take_profit_pct, "take-profit %")
    if tp is not None:
        overrides["take_profit_pct"] = tp / 100
    slip = _decimal(form.slippage_bps, "slippage (bps)")
    if slip is not None:
        overrides["slippage_bps"] = slip
    try:
        params = settings.strategy_params(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'params'}: {e['msg']}" for e in exc.errors())
        raise ValueError(problems) from None
    start, end = _date(form.start, "start date"), _date(form.end, "end date")
    if start and end and start > end:
        raise ValueError("the start date is after the end date")
    return params, start, end


def start_backtest(runtime: Runtime, jobs: BacktestJobs, token: Any, form: BacktestForm) -> ActionResult:
    """Validate the form and queue the backtest; the page polls the job."""
    try:
        check_token(runtime.settings, token)
    except WriteRefused as exc:
        return _refused("run backtest", exc)
    try:
        params, start, end = form_to_params(runtime.settings, form)
    except ValueError as exc:
        return ActionResult(False, f"Cannot run: {exc}")
    try:
        job_id = jobs.submit(params, start, end)
    except JobBusy as exc:
        return ActionResult(False, f"Not started: {exc}.")
    log.info("dashboard: backtest job %s queued at %s", job_id, datetime.now(UTC).isoformat())
    return ActionResult(True, "Backtest queued.", job_id=job_id)
