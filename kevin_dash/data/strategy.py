"""Read-only queries for /strategy (`pages/strategy.py`): backtest runs, their history, sweeps.

Every function takes a SQLAlchemy `Session` (the caller opens and closes it) and never writes.
Each copes with empty tables: an empty frame with the documented columns, or None.

The ticker scorecard on the same page (hit rate at horizon, live status, backtest P&L) is defined
and documented in `kevin_pipeline.research.scorecard`, shared with the Dagster `ticker_scorecard`
asset; the page reads it from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from kevin_pipeline.db.models import BacktestRun, PriceBar
from kevin_pipeline.db.videos import channel_summaries
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.research.scorecard import as_float as _f


def curve_series(points: Any, name: str = "equity") -> pd.Series:
    """A stored curve (`[[iso_date, value], ...]`) as a float Series on a DatetimeIndex."""
    if not points:
        return pd.Series(dtype=float, name=name, index=pd.DatetimeIndex([], name="date"))
    dates = pd.to_datetime([p[0] for p in points])
    values = [float(p[1]) for p in points]
    return pd.Series(values, index=pd.DatetimeIndex(dates, name="date"), name=name)


def channel_options(session: Session) -> list[dict[str, Any]]:
    """The /strategy channel filter: every channel with calls (removed ones too: their calls are
    still in the scorecard), as dropdown options labelled with the number of calls."""
    return [
        {"label": f"{s.channel.name} ({s.calls} call{'' if s.calls == 1 else 's'})", "value": s.channel.id}
        for s in channel_summaries(session) if s.calls
    ]


def bar_date_range(session: Session) -> tuple[date | None, date | None]:
    """The first and last price-bar dates: the period a backtest can cover."""
    lo, hi = session.execute(select(func.min(PriceBar.date), func.max(PriceBar.date))).one()
    return lo, hi


# --------------------------------------------------------------------------------------------
# backtest runs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunView:
    id: int
    status: str
    trigger: str
    sweep_id: str | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    params: dict[str, Any]
    metrics: dict[str, Any] | None
    equity: pd.Series
    benchmark: pd.Series
    error: str | None

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    @property
    def benchmark_symbol(self) -> str:
        return str(self.params.get("benchmark_symbol") or "SPY")

    def strategy_params(self) -> StrategyParams:
        return StrategyParams.model_validate(self.params)


def _run_view(run: BacktestRun, curves: bool = True) -> RunView:
    return RunView(
        id=run.id,
        status=run.status,
        trigger=run.trigger,
        sweep_id=run.sweep_id,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        params=dict(run.params or {}),
        metrics=dict(run.metrics) if run.metrics else None,
        equity=curve_series(run.equity_curve if curves else None, "equity"),
        benchmark=curve_series(run.benchmark_curve if curves else None, "benchmark"),
        error=run.error,
    )


def latest_run(session: Session, curves: bool = True) -> RunView | None:
    """The most recent succeeded run (by id: ids only grow), preferring runs outside sweeps.
    `curves=False`: without its equity and benchmark curves (empty Series), for a caller that needs
    only its id, params and times.

    A sweep stores one run per combination; its last combination is not "the latest backtest",
    so sweep runs are shown only when nothing else was run (the sweep heatmap covers them).
    """
    ok = select(BacktestRun).where(BacktestRun.status == "succeeded").order_by(BacktestRun.id.desc()).limit(1)
    if not curves:  # the curves are the row's bulk (two JSON lists of every session)
        ok = ok.options(defer(BacktestRun.equity_curve), defer(BacktestRun.benchmark_curve), defer(BacktestRun.decisions))
    run = session.scalars(ok.where(BacktestRun.sweep_id.is_(None))).first() or session.scalars(ok).first()
    return _run_view(run, curves) if run else None


def get_run(session: Session, run_id: int) -> RunView | None:
    run = session.get(BacktestRun, run_id)
    return _run_view(run) if run else None


def params_summary(params: dict[str, Any] | None) -> str:
    """The knobs a person changes most, in one line: 'conv ≥ 0.60 · weeks 10 · stop 8% · TP 20% · 5 bps'."""
    if not params:
        return ""

    def pct(key: str) -> str:
        v = _f(params.get(key))
        return f"{v * 100:g}%" if v is not None else "?"

    conv = _f(params.get("min_conviction"))
    return " · ".join(
        [
            f"conv ≥ {conv:.2f}" if conv is not None else "conv ?",
            f"weeks {params.get('hold_sessions_weeks', '?')} sess",
            f"stop {pct('stop_loss_pct')}",
            f"TP {pct('take_profit_pct')}",
            f"{_f(params.get('slippage_bps')) or 0:g} bps",
        ]
    )


RUN_HISTORY_COLUMNS = [
    "id", "time", "trigger", "status", "sweep_id", "params", "period",
    "total_return_pct", "benchmark_return_pct", "alpha_pct", "sharpe", "trades", "error",
]


def run_history(session: Session, limit: int = 500) -> pd.DataFrame:
    """Runs newest first: time (finished, else created; UTC ISO minutes), trigger, params, metrics."""
    rows = []
    stmt = (
        select(
            BacktestRun.id, BacktestRun.created_at, BacktestRun.finished_at, BacktestRun.trigger,
            BacktestRun.status, BacktestRun.sweep_id, BacktestRun.params, BacktestRun.metrics, BacktestRun.error,
        )
        .order_by(BacktestRun.id.desc())
        .limit(limit)
    )
    for r in session.execute(stmt):
        m = r.metrics or {}
        when = r.finished_at or r.created_at
        period = f"{m.get('start_date')} → {m.get('end_date')}" if m.get("start_date") else ""
        rows.append(
            {
                "id": r.id,
                "time": when.strftime("%Y-%m-%d %H:%M") if when else "",
                "trigger": r.trigger,
                "status": r.status,
                "sweep_id": r.sweep_id or "",
                "params": params_summary(r.params),
                "period": period,
                "total_return_pct": _f(m.get("total_return_pct")),
                "benchmark_return_pct": _f(m.get("benchmark_total_return_pct")),
                "alpha_pct": _f(m.get("alpha_vs_benchmark_pct")),
                "sharpe": _f(m.get("sharpe")),
                "trades": m.get("trade_count"),
                "error": (r.error or "")[:300],
            }
        )
    return pd.DataFrame(rows, columns=RUN_HISTORY_COLUMNS)


# --------------------------------------------------------------------------------------------
# sweeps
# --------------------------------------------------------------------------------------------

SWEEP_COLUMNS = ["run_id", "min_conviction", "hold_sessions_weeks", "sharpe", "total_return_pct"]


def sweeps(session: Session) -> pd.DataFrame:
    """One row per sweep id: runs, last time; newest first."""
    stmt = (
        select(BacktestRun.sweep_id, func.count(), func.max(BacktestRun.id), func.max(BacktestRun.created_at))
        .where(BacktestRun.sweep_id.is_not(None))
        .group_by(BacktestRun.sweep_id)
        .order_by(func.max(BacktestRun.id).desc())
    )
    rows = [{"sweep_id": s, "runs": n, "last_run": last_id, "time": t} for s, n, last_id, t in session.execute(stmt)]
    return pd.DataFrame(rows, columns=["sweep_id", "runs", "last_run", "time"])


def sweep_points(session: Session, sweep_id: str) -> pd.DataFrame:
    """The succeeded runs of one sweep: min_conviction, hold_sessions_weeks, Sharpe, total return."""
    rows = []
    stmt = select(BacktestRun.id, BacktestRun.params, BacktestRun.metrics).where(
        BacktestRun.sweep_id == sweep_id, BacktestRun.status == "succeeded"
    )
    for run_id, params, metrics in session.execute(stmt):
        params, metrics = params or {}, metrics or {}
        rows.append(
            {
                "run_id": run_id,
                "min_conviction": _f(params.get("min_conviction")),
                "hold_sessions_weeks": _f(params.get("hold_sessions_weeks")),
                "sharpe": _f(metrics.get("sharpe")),
                "total_return_pct": _f(metrics.get("total_return_pct")),
            }
        )
    return pd.DataFrame(rows, columns=SWEEP_COLUMNS)
