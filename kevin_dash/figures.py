"""Pure Plotly figure builders: DataFrames/Series in, `go.Figure` out. No database, no Dash.

Conventions: equity in dollars; drawdowns and returns in percent on the axes (the metrics module
keeps fractions, these figures multiply by 100); dates on a shared x axis.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from kevin_pipeline.domain.metrics import drawdown_series

STRATEGY = "#1f6feb"
BENCHMARK = "#6e7781"
COMPARE = ("#1f6feb", "#d2691e", "#2da44e", "#8250df")
GAIN = "#1a7f37"
LOSS = "#cf222e"
CASH = "#bf8700"

_BASE_LAYOUT = {
    "template": "plotly_white",
    "margin": {"l": 60, "r": 20, "t": 40, "b": 40},
    "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
    "hovermode": "x unified",
    "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
}


def as_sent(fig: go.Figure) -> dict[str, Any]:
    """The figure as the JSON Dash sends it (numbers as Plotly's base64 typed arrays, dates as
    text), for a cache to keep: a go.Figure is copied and every array element encoded again on each
    request (a tenth of a second for a chart of 2,000 timestamps)."""
    return json.loads(fig.to_json())


def empty_figure(message: str, height: int = 320) -> go.Figure:
    """A blank figure carrying a message (no data traces)."""
    fig = go.Figure()
    fig.update_layout(**_BASE_LAYOUT, height=height)
    fig.update_layout(hovermode=False)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font={"size": 14, "color": BENCHMARK})
    return fig


MAX_POINTS = 2000  # per line: more than a chart's width in pixels, so a person sees no difference
# Trade markers drawn at once: past this many the triangles (9 px each) overlap into a band on a chart
# 1,400 px wide, and drawing them costs the browser most of a second. Above it the entry and exit
# traces start hidden: their legend entries name the count and show them on a click.
MAX_SHOWN_MARKERS = 500
# Markers on the account's equity line only while there are few snapshots (a sparse account shows
# each snapshot; 2,000 dots on a dense curve are only a thicker line, and slow to draw).
MAX_MARKED_SNAPSHOTS = 200


def downsample(series: pd.Series, max_points: int = MAX_POINTS) -> pd.Series:
    """At most `max_points` of `series` for display: the first and last point, and in each of
    (max_points - 2) / 2 equal runs of points its lowest and its highest, in order. Every peak and
    trough a reader could see survives (a drawdown's bottom is never smoothed away); a series
    that already fits is returned as it is."""
    n = len(series)
    if n <= max_points:
        return series
    values = series.to_numpy(dtype=float)
    edges = np.linspace(0, n, (max_points - 2) // 2 + 1).astype(int)
    keep = {0, n - 1}
    for lo, hi in zip(edges[:-1], edges[1:]):
        if hi > lo:
            chunk = values[lo:hi]
            keep.update((lo + int(np.nanargmin(chunk)), lo + int(np.nanargmax(chunk))) if not np.isnan(chunk).all() else (lo,))
    return series.iloc[sorted(keep)]


def _x(dates: pd.Index | pd.Series) -> pd.Index | list[str]:
    """Session dates as 'YYYY-MM-DD' (a third of the bytes of the ISO timestamps Plotly writes for
    them, the same place on a date axis); anything with a time of day or a zone is left as it is."""
    index = pd.DatetimeIndex(dates)
    if index.tz is None and len(index) and (index == index.normalize()).all():
        return list(index.strftime("%Y-%m-%d"))
    return dates if isinstance(dates, pd.Index) else pd.Index(dates)


def drawdown_pct(equity: pd.Series) -> pd.Series:
    """Drawdown in percent (0 at a high, -10 = 10 % under the running high)."""
    if equity.empty:
        return pd.Series(dtype=float, name="drawdown")
    return drawdown_series(equity) * 100.0


def _value_at(curve: pd.Series, when: pd.Series) -> np.ndarray:
    """The curve's value on each date (the last value on or before it), NaN before the curve starts."""
    if curve.empty:
        return np.full(len(when), np.nan)
    return curve.reindex(pd.DatetimeIndex(when), method="ffill").to_numpy(dtype=float)


def equity_figure(
    curves: Mapping[str, pd.Series],
    benchmark: pd.Series | None = None,
    *,
    benchmark_label: str = "SPY",
    trades: pd.DataFrame | None = None,
    height: int = 560,
) -> go.Figure:
    """Equity curves over the benchmark, with each curve's drawdown underneath.

    `curves`: label -> equity Series (DatetimeIndex). One curve is the single-run view; two or more
    compare runs (then the benchmark traces start hidden, "legendonly"). `trades` (columns symbol, entry_date, exit_date, pnl_usd, pnl_pct, exit_reason,
    qty, entry_price, exit_price) adds entry/exit markers on the FIRST curve, placed at that
    curve's equity on the session; more than `MAX_SHOWN_MARKERS` of them start hidden ("legendonly",
    the legend names the count). Session dates go out as 'YYYY-MM-DD'.
    Trace order: one line per curve, the benchmark, entry markers, exit markers (row 1); one
    drawdown per curve, then the benchmark's drawdown (row 2).
    """
    curves = {k: v for k, v in curves.items() if v is not None and not v.empty}
    if not curves:
        return empty_figure("No equity curve to show", height=height)
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.04,
    )
    palette = COMPARE if len(curves) > 1 else (STRATEGY,)
    for i, (label, eq) in enumerate(curves.items()):
        eq = downsample(eq)
        fig.add_trace(
            go.Scatter(x=_x(eq.index), y=eq.values, name=label, mode="lines",
                       line={"color": palette[i % len(palette)], "width": 2},
                       hovertemplate="%{y:$,.0f}", legendgroup=label),
            row=1, col=1,
        )
    has_bench = benchmark is not None and not benchmark.empty
    # Comparing runs: the benchmark starts hidden (a click on its legend entry shows it), or its
    # scale flattens the runs' curves into one line.
    bench_visible: bool | str = "legendonly" if len(curves) > 1 else True
    if has_bench:
        shown = downsample(benchmark)  # type: ignore[arg-type]
        fig.add_trace(
            go.Scatter(x=_x(shown.index), y=shown.values, name=f"{benchmark_label} buy & hold", mode="lines",
                       line={"color": BENCHMARK, "width": 1.5, "dash": "dot"}, hovertemplate="%{y:$,.0f}",
                       legendgroup="benchmark", visible=bench_visible),
            row=1, col=1,
        )
    first = next(iter(curves.values()))
    if trades is not None and not trades.empty:
        entries = trades.dropna(subset=["entry_date"])
        exits = trades.dropna(subset=["exit_date"])
        markers_visible: bool | str = True if len(entries) + len(exits) <= MAX_SHOWN_MARKERS else "legendonly"
        fig.add_trace(
            go.Scatter(
                x=_x(entries["entry_date"]), y=_value_at(first, entries["entry_date"]), mode="markers",
                name="entries" if markers_visible is True else f"entries ({len(entries)}: click to show)", visible=markers_visible,
                marker={"symbol": "triangle-up", "size": 9, "color": STRATEGY, "line": {"width": 1, "color": "white"}},
                customdata=np.stack([entries["symbol"], entries["qty"], entries["entry_price"]], axis=-1),
                hovertemplate="buy %{customdata[0]} %{customdata[1]:.0f} @ %{customdata[2]:.2f}<extra></extra>",
            ),
            row=1, col=1,
        )
        colors = [GAIN if (p or 0) > 0 else LOSS for p in exits["pnl_usd"]]
        fig.add_trace(
            go.Scatter(
                x=_x(exits["exit_date"]), y=_value_at(first, exits["exit_date"]), mode="markers",
                name="exits" if markers_visible is True else f"exits ({len(exits)}: click to show)", visible=markers_visible,
                marker={"symbol": "triangle-down", "size": 9, "color": colors, "line": {"width": 1, "color": "white"}},
                customdata=np.stack(
                    [exits["symbol"], exits["exit_reason"], exits["pnl_usd"], exits["pnl_pct"]], axis=-1
                ),
                hovertemplate="sell %{customdata[0]} (%{customdata[1]}): %{customdata[2]:$,.2f} "
                "(%{customdata[3]:.1f}%)<extra></extra>",
            ),
            row=1, col=1,
        )
    for i, (label, eq) in enumerate(curves.items()):
        dd = downsample(drawdown_pct(eq))  # from every point, then thinned: the trough stays
        fig.add_trace(
            go.Scatter(x=_x(dd.index), y=dd.values, name=f"{label} drawdown", mode="lines",
                       line={"color": palette[i % len(palette)], "width": 1}, fill="tozeroy" if i == 0 else None,
                       hovertemplate="%{y:.2f}%", legendgroup=label, showlegend=False),
            row=2, col=1,
        )
    if has_bench:
        bdd = downsample(drawdown_pct(benchmark))  # type: ignore[arg-type]
        fig.add_trace(
            go.Scatter(x=_x(bdd.index), y=bdd.values, name=f"{benchmark_label} drawdown", mode="lines",
                       line={"color": BENCHMARK, "width": 1, "dash": "dot"}, hovertemplate="%{y:.2f}%",
                       legendgroup="benchmark", showlegend=False, visible=bench_visible),
            row=2, col=1,
        )
    fig.update_layout(**_BASE_LAYOUT, height=height)
    fig.update_yaxes(title_text="equity ($)", tickformat="$,.0f", row=1, col=1)
    fig.update_yaxes(title_text="drawdown (%)", ticksuffix="%", row=2, col=1)
    return fig


def sweep_heatmap(
    points: pd.DataFrame,
    *,
    x: str = "hold_sessions_weeks",
    y: str = "min_conviction",
    z: str = "sharpe",
    height: int = 380,
) -> go.Figure:
    """Heatmap of `z` over the grid `x` x `y` (one cell per combination).

    Several runs in one cell (the sweep varied other knobs too) show the best `z` of the cell.
    """
    pts = points.dropna(subset=[x, y]) if not points.empty else points
    if pts.empty:
        return empty_figure("No sweep runs to show", height=height)
    grid = pts.pivot_table(index=y, columns=x, values=z, aggfunc="max", dropna=False).sort_index().sort_index(axis=1)
    cells = [[None if pd.isna(v) else float(v) for v in row] for row in grid.to_numpy(dtype=float)]  # gaps stay empty
    fig = go.Figure(
        go.Heatmap(
            x=[f"{c:g}" for c in grid.columns], y=[f"{r:.2f}" for r in grid.index], z=cells,
            colorscale="RdYlGn", zmid=0, colorbar={"title": {"text": z}},
            texttemplate="%{z:.2f}", hovertemplate=f"{y} %{{y}}<br>{x} %{{x}}<br>{z} %{{z:.3f}}<extra></extra>",
        )
    )
    fig.update_layout(**_BASE_LAYOUT, height=height)
    fig.update_layout(hovermode="closest")
    fig.update_xaxes(title_text="hold sessions (weeks horizon)", type="category")
    fig.update_yaxes(title_text="min conviction", type="category")
    return fig


def account_figure(
    curve: pd.DataFrame,
    benchmark: pd.Series | None = None,
    *,
    starting_equity: float | None = None,
    benchmark_label: str = "SPY",
    height: int = 380,
) -> go.Figure:
    """Paper-account equity (and cash) from snapshots; the benchmark scaled to the first equity.

    Trace order: equity, cash, benchmark (when given with at least one close). A dotted line marks
    the starting equity.
    """
    if curve.empty:
        return empty_figure("No account snapshots yet", height=height)
    fig = go.Figure()
    equity = downsample(curve.set_index("taken_at")["equity"])
    cash = downsample(curve.set_index("taken_at")["cash"])
    mode = "lines+markers" if len(equity) <= MAX_MARKED_SNAPSHOTS else "lines"
    fig.add_trace(go.Scatter(x=equity.index, y=equity.values, name="equity", mode=mode,
                             line={"color": STRATEGY, "width": 2}, marker={"size": 4}, hovertemplate="%{y:$,.2f}"))
    fig.add_trace(go.Scatter(x=cash.index, y=cash.values, name="cash", mode="lines",
                             line={"color": CASH, "width": 1}, hovertemplate="%{y:$,.2f}"))
    if benchmark is not None and not benchmark.empty:
        scaled = downsample(scale_benchmark(benchmark, float(curve["equity"].iloc[0])))
        fig.add_trace(go.Scatter(x=scaled.index, y=scaled.values, name=f"{benchmark_label} (same start)", mode="lines",
                                 line={"color": BENCHMARK, "width": 1.5, "dash": "dot"}, hovertemplate="%{y:$,.2f}"))
    if starting_equity is not None:
        fig.add_hline(y=starting_equity, line={"color": BENCHMARK, "width": 1, "dash": "dash"},
                      annotation_text="starting equity", annotation_position="bottom right")
    fig.update_layout(**_BASE_LAYOUT, height=height)
    fig.update_yaxes(title_text="$", tickformat="$,.0f")
    return fig


def scale_benchmark(closes: pd.Series, start_value: float) -> pd.Series:
    """The benchmark as the value of `start_value` invested at its first close."""
    if closes.empty:
        return closes
    return closes / float(closes.iloc[0]) * start_value
