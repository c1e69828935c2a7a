"""Asset checks: the data the strategy trusts is checked where the UI shows it.

price_bars     every NYSE session present within each symbol's range; valid prices
               (market_data.frame.validate_bars: > 0, low <= open/close <= high, no duplicates)
mentions       known actions and horizons; every mentioned symbol has bars (WARN: such calls are
               skipped, not wrong)
transcripts    every video older than KEVIN_TRANSCRIPT_CHECK_HOURS has a transcript or a recorded reason
extracted_mentions  every symbol an extractor stored has bars at hand (WARN: flagged, not traded)
backtest_run   the equity curve has one point per NYSE session; the trades reconcile with the cash

The checks read the app database (the assets write there); the small functions below them do the
arithmetic and are tested on their own.
"""

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import dagster as dg
import pandas as pd
from sqlalchemy import select

from kevin_pipeline.db.models import BacktestTrade, MentionRecord, Video
from kevin_pipeline.defs.assets import backtest_run, mentions, price_bars
from kevin_pipeline.defs.calls import extracted_mentions, transcripts
from kevin_pipeline.defs.common import bullet_list, latest_dagster_run
from kevin_pipeline.defs.resources import KevinRuntimeResource, PriceSourceResource
from kevin_pipeline.domain.calendar import NyseCalendar, nyse_calendar
from kevin_pipeline.domain.models import Action, Horizon
from kevin_pipeline.market_data.cache import cached_symbols, load_cached_bars
from kevin_pipeline.market_data.frame import validate_bars

CENT = Decimal("0.01")


# --- pure helpers -----------------------------------------------------------------------------


def missing_sessions(bars: pd.DataFrame, calendar: NyseCalendar) -> dict[str, list[date]]:
    """Per symbol, the NYSE sessions between its first and last bar that have no bar."""
    out: dict[str, list[date]] = {}
    if bars.empty:
        return out
    for symbol, group in bars.groupby("symbol"):
        have = set(pd.to_datetime(group["date"]).dt.date)
        expected = calendar.sessions_between(min(have), max(have))
        gaps = [d for d in expected if d not in have]
        if gaps:
            out[str(symbol)] = gaps
    return out


def off_calendar_bars(bars: pd.DataFrame, calendar: NyseCalendar) -> list[str]:
    if bars.empty:
        return []
    days = pd.to_datetime(bars["date"]).dt.date
    mask = [not calendar.is_session(d) for d in days]
    return [f"{s} {d}" for s, d, bad in zip(bars["symbol"], days, mask) if bad]


def curve_gaps(points: Sequence[Sequence[Any]] | None, calendar: NyseCalendar) -> tuple[list[date], list[str]]:
    """(sessions missing between the curve's first and last point, points on non-sessions or repeated)."""
    dates = [date.fromisoformat(str(p[0])[:10]) for p in points or []]
    if not dates:
        return [], []
    seen: set[date] = set()
    extra = []
    for d in dates:
        if d in seen or not calendar.is_session(d):
            extra.append(d.isoformat())
        seen.add(d)
    missing = [d for d in calendar.sessions_between(min(dates), max(dates)) if d not in seen]
    return missing, extra


def reconciliation_difference(initial: Decimal, final: Decimal, pnls: Iterable[Decimal]) -> tuple[Decimal, Decimal]:
    """(final - (initial + sum of trade P&L), tolerance). Each P&L is rounded to the cent, so the
    tolerance is half a cent per trade, and at least one cent."""
    pnls = list(pnls)
    diff = final - (initial + sum(pnls, Decimal(0)))
    return diff, max(CENT, CENT / 2 * len(pnls))


def _sample(items: Sequence[Any], n: int = 10) -> str:
    shown = ", ".join(str(x) for x in items[:n])
    return shown + (f", ... ({len(items)} in all)" if len(items) > n else "")


def _symbols_without_bars(symbols: set[str], have: set[str], *, ok: str, bad: str) -> dg.AssetCheckResult:
    """WARN: a call without bars is skipped (cannot be backtested or filled), not wrong."""
    without = sorted(symbols - have)
    return dg.AssetCheckResult(
        passed=not without,
        severity=dg.AssetCheckSeverity.WARN,
        description=ok if not without else f"{bad} {_sample(without)}",
        metadata={"symbols": len(symbols), "symbols_without_bars": bullet_list(without)},
    )


# --- price bars -------------------------------------------------------------------------------


@dg.asset_check(asset=price_bars, description="Every NYSE session between a symbol's first and last bar has a bar.")
def price_bars_have_every_session(kevin_runtime: KevinRuntimeResource) -> dg.AssetCheckResult:
    cal = nyse_calendar()
    with kevin_runtime.runtime.sessions() as session:
        bars = load_cached_bars(session)
    gaps = missing_sessions(bars, cal)
    off = off_calendar_bars(bars, cal)
    lines = [f"{sym}: {len(days)} missing ({_sample([d.isoformat() for d in days])})" for sym, days in sorted(gaps.items())]
    if off:
        lines.append(f"bars on non-sessions: {_sample(off)}")
    return dg.AssetCheckResult(
        passed=not gaps and not off,
        description="no missing sessions" if not lines else f"{len(gaps)} symbol(s) with missing sessions",
        metadata={
            "symbols_checked": int(bars["symbol"].nunique()) if not bars.empty else 0,
            "missing_sessions": sum(len(v) for v in gaps.values()),
            "off_calendar_bars": len(off),
            "problems": bullet_list(lines),
        },
    )


@dg.asset_check(asset=price_bars, description="Prices > 0 and low <= open, close <= high (validate_bars).")
def price_bars_valid_prices(kevin_runtime: KevinRuntimeResource) -> dg.AssetCheckResult:
    with kevin_runtime.runtime.sessions() as session:
        bars = load_cached_bars(session)
    problems = validate_bars(bars)
    return dg.AssetCheckResult(
        passed=not problems,
        description="all bars valid" if not problems else f"{len(problems)} problem(s), e.g. {problems[0]}",
        metadata={"bars_checked": len(bars), "problems": bullet_list(problems)},
    )


# --- mentions ---------------------------------------------------------------------------------


@dg.asset_check(asset=mentions, description="Every stored call has a known action and horizon.")
def mentions_known_actions(kevin_runtime: KevinRuntimeResource) -> dg.AssetCheckResult:
    actions, horizons = {a.value for a in Action}, {h.value for h in Horizon}
    with kevin_runtime.runtime.sessions() as session:
        rows = session.execute(select(MentionRecord.id, MentionRecord.action, MentionRecord.time_horizon)).all()
    bad = [f"mention {i}: action {a!r}, horizon {h!r}" for i, a, h in rows if a not in actions or h not in horizons]
    return dg.AssetCheckResult(
        passed=not bad,
        description="all actions and horizons known" if not bad else f"{len(bad)} call(s) with an unknown action or horizon",
        metadata={"mentions_checked": len(rows), "unknown": bullet_list(bad)},
    )


@dg.asset_check(
    asset=mentions,
    additional_deps=[price_bars],
    description="Every mentioned symbol has cached bars (calls without bars cannot be backtested or filled).",
)
def mentions_symbols_have_bars(kevin_runtime: KevinRuntimeResource) -> dg.AssetCheckResult:
    with kevin_runtime.runtime.sessions() as session:
        symbols = set(session.scalars(select(MentionRecord.symbol).distinct()))
        have = cached_symbols(session)
    return _symbols_without_bars(symbols, have, ok="every symbol has bars", bad="no bars for")


# --- videos to calls --------------------------------------------------------------------------


@dg.asset_check(
    asset=transcripts,
    description="Every video older than KEVIN_TRANSCRIPT_CHECK_HOURS has a transcript or a recorded reason.",
)
def videos_have_transcript_or_reason(kevin_runtime: KevinRuntimeResource) -> dg.AssetCheckResult:
    runtime = kevin_runtime.runtime
    hours = runtime.settings.transcript_check_hours
    cutoff = datetime.now(UTC) - timedelta(hours=hours)
    with runtime.sessions() as session:
        rows = session.execute(
            select(Video.video_id, Video.transcript_status, Video.transcript_reason)
            .where(Video.published_at < cutoff, Video.transcript_status.in_(("waiting", "failed")))
        ).all()
    unexplained = sorted(v for v, _status, reason in rows if not reason)
    return dg.AssetCheckResult(
        passed=not unexplained,
        description=(
            f"every video older than {hours:g} h has a transcript or a reason" if not unexplained
            else f"{len(unexplained)} video(s) older than {hours:g} h without a transcript or reason: {_sample(unexplained)}"
        ),
        metadata={
            "without_transcript": len(rows),
            "unexplained": bullet_list(unexplained),
            "reasons": bullet_list(f"{v} {status}: {reason}" for v, status, reason in rows if reason),
        },
    )


@dg.asset_check(
    asset=extracted_mentions,
    description="Every symbol an extractor stored has bars at hand (else flagged: it cannot be backtested or filled).",
)
def extracted_symbols_have_bars(
    kevin_runtime: KevinRuntimeResource, price_source: PriceSourceResource
) -> dg.AssetCheckResult:
    runtime = kevin_runtime.runtime
    with runtime.sessions() as session:
        symbols = set(session.scalars(
            select(MentionRecord.symbol).where(MentionRecord.extractor.is_not(None)).distinct()
        ))
        have = cached_symbols(session)
    have |= price_source.symbols_with_bars(runtime)
    return _symbols_without_bars(symbols, have, ok="every extracted symbol has bars", bad="flagged, no bars:")


# --- backtest ---------------------------------------------------------------------------------


def _no_run() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, description="no successful backtest run stored by Dagster")


@dg.asset_check(asset=backtest_run, description="The latest run's equity curve has one point per NYSE session.")
def backtest_equity_curve_has_no_gaps(kevin_runtime: KevinRuntimeResource) -> dg.AssetCheckResult:
    with kevin_runtime.runtime.sessions() as session:
        run = latest_dagster_run(session)
        if run is None:
            return _no_run()
        missing, extra = curve_gaps(run.equity_curve, nyse_calendar())
        points = len(run.equity_curve or [])
    return dg.AssetCheckResult(
        passed=not missing and not extra,
        description="one point per session" if not (missing or extra) else f"{len(missing)} missing session(s)",
        metadata={
            "run_id": run.id,
            "points": points,
            "missing_sessions": bullet_list([d.isoformat() for d in missing]),
            "off_calendar_or_repeated": bullet_list(extra),
        },
    )


@dg.asset_check(
    asset=backtest_run,
    description="Final equity == starting equity + the sum of trade P&L (open trades at their mark), within rounding.",
)
def backtest_trades_reconcile_with_cash(kevin_runtime: KevinRuntimeResource) -> dg.AssetCheckResult:
    with kevin_runtime.runtime.sessions() as session:
        run = latest_dagster_run(session)
        if run is None:
            return _no_run()
        pnls = list(session.scalars(select(BacktestTrade.pnl_usd).where(BacktestTrade.run_id == run.id)))
        initial = Decimal(str(run.params.get("starting_equity_usd")))
        curve = run.equity_curve or []
        run_id = run.id
    if not curve:
        return dg.AssetCheckResult(passed=not pnls, description="no equity curve", metadata={"run_id": run_id})
    final = Decimal(str(curve[-1][1]))
    diff, tolerance = reconciliation_difference(initial, final, (Decimal(p) for p in pnls))
    return dg.AssetCheckResult(
        passed=abs(diff) <= tolerance,
        description=f"final equity - (start + P&L) = {diff:.4f} $ (tolerance {tolerance} $)",
        metadata={
            "run_id": run_id,
            "starting_equity_usd": float(initial),
            "final_equity_usd": float(final),
            "sum_trade_pnl_usd": float(sum(pnls, Decimal(0))),
            "difference_usd": float(diff),
            "trades": len(pnls),
        },
    )


ALL_CHECKS = [
    videos_have_transcript_or_reason,
    extracted_symbols_have_bars,
    price_bars_have_every_session,
    price_bars_valid_prices,
    mentions_known_actions,
    mentions_symbols_have_bars,
    backtest_equity_curve_has_no_gaps,
    backtest_trades_reconcile_with_cash,
]
