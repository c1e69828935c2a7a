"""Backtest scorecard: return, risk and trade statistics of an equity curve against a benchmark.

Pure: no I/O, no clock. The backtest engine hands over its daily equity curve, the benchmark curve
over the same sessions, its trades and (optionally) a per-session "any position held" flag; the
dashboard reuses `drawdown_series`.

Conventions (where two honest readings could differ):

- Units. Every `*_pct` field is in percent units (12.5 means 12.5 %). Ratios (Sharpe, Sortino,
  Calmar, beta, profit factor) are plain numbers. `drawdown_series` returns fractions (-0.1 = -10 %).
- Index. Both curves are indexed by session date (`datetime.date`, `datetime`, or `pd.Timestamp`;
  tz-aware stamps are read in their own zone). Each index is normalised to its calendar date, then
  the two are aligned on the intersection of dates, in date order. The first aligned session is the
  base: returns, total return and CAGR are measured from its value. The backtest engine's curves
  open with a base point (the starting capital, at the close before the first session it can
  trade), so every return is measured from the starting capital, the first day included.
- Daily returns are simple close-to-close returns between consecutive aligned sessions; `n` sessions
  give `n - 1` returns. Annualisation uses `periods_per_year` (252).
- Risk-free rate. `risk_free_rate` is an ANNUAL rate as a fraction (0.04 = 4 %), converted to a
  per-session rate geometrically: `rf_d = (1 + rf) ** (1 / periods_per_year) - 1`. Default 0.
- Volatility = std(r, ddof=1) * sqrt(252). Sharpe = mean(r - rf_d) / std(r - rf_d, ddof=1) * sqrt(252).
- Sortino = mean(r - rf_d) / DD * sqrt(252), with the downside deviation taken over ALL returns
  (days above the target count as 0, they are not dropped): DD = sqrt(mean(min(r - rf_d, 0) ** 2)).
  This is the usual "target downside deviation" (Sortino & Price); dividing by the number of down
  days instead would overstate downside risk.
- Volatility, Sharpe, Sortino and beta are None with fewer than 2 returns; Sharpe and Sortino are
  None when their denominator is 0 (a constant-return or never-losing curve), beta when the
  benchmark's returns do not vary. "0" means below `_ZERO_STD` (1e-12 per session), so float noise
  on a constant series cannot produce a ratio of 1e15.
- CAGR = (final / initial) ** (365.25 / calendar days from first to last session) - 1, None when the
  span is under one day (or the number is not representable as a finite float).
- Max drawdown is the most negative value of (equity / running max) - 1, as a negative percent or 0.
  Trough = the first session reaching it; peak = the LAST session before the trough at the running
  high (the high from which the fall began: of two equal highs, the later one); recovery = the first
  session after the trough whose equity is back at or above that peak, None while under water. All
  three dates are None when there is no drawdown. Calmar = CAGR / |max drawdown|, None when either
  is missing or the drawdown is 0.
- Benchmark. `alpha_vs_benchmark_pct` = strategy total return - benchmark total return, both in
  percent (the seed's definition). Beta = cov(r, rb) / var(rb) on daily returns (ddof=1 for both).
  Jensen's alpha (CAPM) per session = mean(r - rf_d) - beta * mean(rb - rf_d), annualised
  arithmetically (x 252) and in percent; with rf 0 this is mean(r - beta * rb) * 252.
- Trades. Statistics come from the engine's trades, not from daily returns. A trade whose
  `exit_reason` is "end_of_data" is still open (marked to market at the last close): it is counted in
  `open_trade_count` and left out of every trade statistic, because its P&L is not realised and would
  change with one more session of data. `trade_count` counts closed trades. A winner has
  `pnl_usd > 0`, a loser `pnl_usd < 0`; a scratch (exactly 0) counts in `trade_count` (so it lowers
  the win rate) but in neither average. Averages, best and worst use `pnl_pct` (percent units);
  profit factor uses dollars: sum of winners' `pnl_usd` / |sum of losers' `pnl_usd`|, None when there
  are no losers (0.0 when there are losers but no winners). Best/worst ties go to the earlier trade.
- Exposure = % of aligned sessions whose `exposure` flag is True; None when no flag series is given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

END_OF_DATA = "end_of_data"
CAGR_DAY_BASIS = 365.25
_ZERO_STD = 1e-12


class TradeResult(Protocol):
    """What the metrics read from one engine trade. `exit_reason` "end_of_data" = still open."""

    symbol: str
    pnl_usd: Decimal | float
    pnl_pct: Decimal | float
    exit_reason: str


class Metrics(BaseModel):
    """The scorecard of one backtest run. Percent fields in percent units; None where undefined."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    start_date: date | None
    end_date: date | None
    sessions: int
    initial_equity: float
    final_equity: float

    total_return_pct: float
    cagr_pct: float | None
    volatility_pct: float | None
    sharpe: float | None
    sortino: float | None

    max_drawdown_pct: float
    max_drawdown_peak_date: date | None
    max_drawdown_trough_date: date | None
    max_drawdown_recovery_date: date | None
    calmar: float | None

    trade_count: int
    open_trade_count: int
    win_rate_pct: float | None
    avg_winner_pct: float | None
    avg_loser_pct: float | None
    profit_factor: float | None
    best_trade_pct: float | None
    best_trade_symbol: str | None
    worst_trade_pct: float | None
    worst_trade_symbol: str | None

    exposure_pct: float | None

    benchmark_total_return_pct: float
    benchmark_cagr_pct: float | None
    alpha_vs_benchmark_pct: float
    jensen_alpha_annual_pct: float | None
    beta: float | None


# --- public API --------------------------------------------------------------------------------


def drawdown_series(equity: pd.Series) -> pd.Series:
    """(equity / running max) - 1 per session, as fractions (0 at a high, -0.1 = 10 % under it).

    Keeps the input's index and order; validates like `compute_metrics` (non-empty, no NaN, > 0).
    """
    values = _values(equity, "equity")
    dd = values / np.maximum.accumulate(values) - 1.0
    return pd.Series(dd, index=equity.index, name="drawdown")


def compute_metrics(
    equity: pd.Series,
    benchmark: pd.Series,
    trades: Sequence[TradeResult],
    exposure: pd.Series | None = None,
    risk_free_rate: float = 0.0,
    periods_per_year: int = 252,
) -> Metrics:
    """Score an equity curve against a benchmark curve and the run's trades (see module doc)."""
    if periods_per_year <= 0:
        raise ValueError(f"periods_per_year must be positive, got {periods_per_year}")
    if not (math.isfinite(risk_free_rate) and -1.0 < risk_free_rate < 1.0):
        raise ValueError(
            f"risk_free_rate must be an annual rate as a fraction (0.04 = 4 %), got {risk_free_rate}"
        )

    eq_values, eq_dates = _values(equity, "equity"), _session_dates(equity, "equity")
    bm_values = _values(benchmark, "benchmark")
    if benchmark.index is equity.index and eq_dates.is_monotonic_increasing:
        # the backtest's curves share one index: the same dates, already in order
        dates, eq, bm = eq_dates, eq_values, bm_values
    else:
        bm_dates = _session_dates(benchmark, "benchmark")
        dates = eq_dates.intersection(bm_dates).sort_values()
        if len(dates) == 0:
            raise ValueError("equity and benchmark share no session dates")
        eq = eq_values[eq_dates.get_indexer(dates)]
        bm = bm_values[bm_dates.get_indexer(dates)]

    first, last = dates[0].date(), dates[-1].date()
    span_days = (last - first).days
    r = eq[1:] / eq[:-1] - 1.0
    rb = bm[1:] / bm[:-1] - 1.0
    rf_d = (1.0 + risk_free_rate) ** (1.0 / periods_per_year) - 1.0
    ann = math.sqrt(periods_per_year)

    total_return = eq[-1] / eq[0] - 1.0
    bm_total_return = bm[-1] / bm[0] - 1.0
    cagr = _cagr(eq[0], eq[-1], span_days)

    volatility = sharpe = sortino = beta = jensen = None
    if len(r) >= 2:
        excess = r - rf_d
        std = float(np.std(r, ddof=1))
        volatility = std * ann * 100.0
        if std > _ZERO_STD:
            sharpe = float(excess.mean()) / std * ann
        downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2)))
        if downside > _ZERO_STD:
            sortino = float(excess.mean()) / downside * ann
        bm_std = float(np.std(rb, ddof=1))
        if bm_std > _ZERO_STD:
            cov = float(np.sum((r - r.mean()) * (rb - rb.mean()))) / (len(r) - 1)
            beta = cov / bm_std**2
            daily_alpha = float(excess.mean()) - beta * float((rb - rf_d).mean())
            jensen = daily_alpha * periods_per_year * 100.0

    dd_pct, peak, trough, recovery = _max_drawdown(eq, dates)
    calmar = cagr / abs(dd_pct) if (cagr is not None and dd_pct < 0.0) else None

    return Metrics(
        start_date=first,
        end_date=last,
        sessions=len(dates),
        initial_equity=float(eq[0]),
        final_equity=float(eq[-1]),
        total_return_pct=total_return * 100.0,
        cagr_pct=cagr,
        volatility_pct=volatility,
        sharpe=sharpe,
        sortino=sortino,
        max_drawdown_pct=dd_pct,
        max_drawdown_peak_date=peak,
        max_drawdown_trough_date=trough,
        max_drawdown_recovery_date=recovery,
        calmar=calmar,
        exposure_pct=_exposure_pct(exposure, dates, (equity.index, eq_dates)),
        benchmark_total_return_pct=bm_total_return * 100.0,
        benchmark_cagr_pct=_cagr(bm[0], bm[-1], span_days),
        alpha_vs_benchmark_pct=(total_return - bm_total_return) * 100.0,
        jensen_alpha_annual_pct=jensen,
        beta=beta,
        **_trade_stats(trades),
    )


# --- helpers -----------------------------------------------------------------------------------


def _values(series: pd.Series, name: str) -> np.ndarray:
    if not isinstance(series, pd.Series):
        raise TypeError(f"{name} must be a pandas Series, got {type(series).__name__}")
    if len(series) == 0:
        raise ValueError(f"{name} series is empty")
    try:
        values = series.to_numpy(dtype="float64", na_value=np.nan)  # Decimal/object -> float
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} series has non-numeric values: {exc}") from exc
    bad = ~np.isfinite(values)
    if bad.any():
        at = series.index[bad][0]
        raise ValueError(f"{name} series has {int(bad.sum())} NaN/infinite value(s), first at {at!r}")
    nonpos = values <= 0.0
    if nonpos.any():
        at = series.index[nonpos][0]
        raise ValueError(
            f"{name} series has {int(nonpos.sum())} non-positive value(s), first {values[nonpos][0]} at {at!r}"
        )
    return values


def _session_dates(series: pd.Series, name: str) -> pd.DatetimeIndex:
    """The index as midnight-normalised naive timestamps (one per calendar date), checked unique."""
    try:
        idx = pd.DatetimeIndex(pd.to_datetime(series.index))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} index must hold session dates: {exc}") from exc
    if idx.hasnans:
        raise ValueError(f"{name} index has missing (NaT) dates")
    if idx.tz is not None:
        idx = idx.tz_localize(None)  # wall-clock date in the stamp's own zone
    stamps = idx.to_numpy()
    if not np.array_equal(stamps, stamps.astype("datetime64[D]").astype(stamps.dtype)):  # dates already are midnights
        idx = idx.normalize()
    if idx.has_duplicates:
        raise ValueError(f"{name} index has duplicate session dates, e.g. {idx[idx.duplicated()][0].date()}")
    return idx


def _cagr(initial: float, final: float, span_days: int) -> float | None:
    if span_days < 1:
        return None
    try:
        growth = (final / initial) ** (CAGR_DAY_BASIS / span_days)
    except OverflowError:
        return None
    return (growth - 1.0) * 100.0 if math.isfinite(growth) else None


def _max_drawdown(eq: np.ndarray, dates: pd.DatetimeIndex) -> tuple[float, date | None, date | None, date | None]:
    running_max = np.maximum.accumulate(eq)
    dd = eq / running_max - 1.0
    trough_i = int(np.argmin(dd))
    if dd[trough_i] >= 0.0:
        return 0.0, None, None, None
    peak_value = running_max[trough_i]
    # last session at or before the trough that stood at the running high
    peak_i = int(np.flatnonzero(eq[: trough_i + 1] == peak_value)[-1])
    recovered = np.flatnonzero(eq[trough_i + 1 :] >= peak_value)
    recovery = dates[trough_i + 1 + int(recovered[0])].date() if len(recovered) else None
    return float(dd[trough_i]) * 100.0, dates[peak_i].date(), dates[trough_i].date(), recovery


def _exposure_pct(
    exposure: pd.Series | None, dates: pd.DatetimeIndex, known: tuple[pd.Index, pd.DatetimeIndex] | None = None
) -> float | None:
    """`known`: an index already read (`_session_dates`) and its dates, reused when `exposure` has it."""
    if exposure is None:
        return None
    if not isinstance(exposure, pd.Series):
        raise TypeError(f"exposure must be a pandas Series or None, got {type(exposure).__name__}")
    ex_dates = known[1] if known is not None and exposure.index is known[0] else _session_dates(exposure, "exposure")
    pos = np.arange(len(dates)) if ex_dates is dates else ex_dates.get_indexer(dates)
    missing = pos < 0
    if missing.any():
        raise ValueError(
            f"exposure has no value for {int(missing.sum())} session(s), first {dates[missing][0].date()}"
        )
    raw = exposure.to_numpy()[pos]
    if pd.isna(raw).any():
        raise ValueError("exposure has missing (NaN/None) values")
    try:
        flags = raw.astype("float64")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"exposure must be boolean: {exc}") from exc
    if not np.isin(flags, (0.0, 1.0)).all():
        raise ValueError("exposure must be boolean (True/False or 1/0)")
    return float(flags.mean()) * 100.0


def _num(value: Any, what: str, symbol: str) -> float:
    if value is None:
        raise ValueError(f"closed trade {symbol}: {what} is missing")
    try:
        out = float(value)  # Decimal, int, float, numpy scalar
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise ValueError(f"closed trade {symbol}: {what} {value!r} is not a number") from exc
    if not math.isfinite(out):
        raise ValueError(f"closed trade {symbol}: {what} {value!r} is not finite")
    return out


def _is_open(trade: TradeResult) -> bool:
    reason = getattr(trade, "exit_reason", None)
    if isinstance(reason, str):  # a str or a StrEnum (the engine's): compared as text, no `.value` lookup
        return reason == END_OF_DATA
    return getattr(reason, "value", reason) == END_OF_DATA  # a plain Enum


def _pnl_floats(closed: Sequence[TradeResult]) -> tuple[np.ndarray, np.ndarray]:
    """Each closed trade's pnl_usd and pnl_pct as floats; a missing, non-numeric or non-finite
    value raises naming its trade (`_num`). Converted in bulk first: a sweep scores thousands of
    trades per run, and a second pass only happens on the way to the error."""
    try:
        usd = np.array([float(t.pnl_usd) for t in closed], dtype=np.float64)
        pct = np.array([float(t.pnl_pct) for t in closed], dtype=np.float64)
        if np.isfinite(usd).all() and np.isfinite(pct).all():
            return usd, pct
    except (TypeError, ValueError, ArithmeticError):
        pass
    usd = np.array([_num(t.pnl_usd, "pnl_usd", str(t.symbol)) for t in closed])
    pct = np.array([_num(t.pnl_pct, "pnl_pct", str(t.symbol)) for t in closed])
    return usd, pct


def _trade_stats(trades: Sequence[TradeResult]) -> dict[str, Any]:
    closed = [t for t in trades if not _is_open(t)]
    stats: dict[str, Any] = {
        "trade_count": len(closed),
        "open_trade_count": len(trades) - len(closed),
        "win_rate_pct": None,
        "avg_winner_pct": None,
        "avg_loser_pct": None,
        "profit_factor": None,
        "best_trade_pct": None,
        "best_trade_symbol": None,
        "worst_trade_pct": None,
        "worst_trade_symbol": None,
    }
    if not closed:
        return stats
    usd, pct = _pnl_floats(closed)
    winners, losers = usd > 0.0, usd < 0.0
    gross_loss = float(-usd[losers].sum())
    best_i, worst_i = int(np.argmax(pct)), int(np.argmin(pct))  # first on ties
    stats.update(
        win_rate_pct=float(winners.sum()) / len(closed) * 100.0,
        avg_winner_pct=float(pct[winners].mean()) if winners.any() else None,
        avg_loser_pct=float(pct[losers].mean()) if losers.any() else None,
        profit_factor=float(usd[winners].sum()) / gross_loss if losers.any() and gross_loss > 0.0 else None,
        best_trade_pct=float(pct[best_i]),
        best_trade_symbol=str(closed[best_i].symbol),
        worst_trade_pct=float(pct[worst_i]),
        worst_trade_symbol=str(closed[worst_i].symbol),
    )
    return stats
