"""Pure Plotly builders for /channels: the event study and the conviction buckets.

Inputs are `research.skill.SkillReport` frames (returns as fractions); the axes are in percent, as
in `figures`. No database, no Dash.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from kevin_dash.figures import _BASE_LAYOUT, BENCHMARK, STRATEGY, empty_figure
from kevin_pipeline.domain.channel_skill import CONVICTION_BUCKETS

BUCKET_COLORS = {"<0.6": "#8c959f", "0.6-0.8": "#1f6feb", ">=0.8": "#8250df"}
ENTRY_NOTE = "entry: first open after the video"


def _pct(values: pd.Series) -> list[float | None]:
    return [None if pd.isna(v) else float(v) * 100.0 for v in values]


def _day_axis(fig: go.Figure, height: int) -> go.Figure:
    fig.update_layout(**_BASE_LAYOUT, height=height)
    fig.add_vline(x=0, line={"color": BENCHMARK, "width": 1, "dash": "dash"},
                  annotation_text=ENTRY_NOTE, annotation_position="top left")
    fig.add_hline(y=0, line={"color": BENCHMARK, "width": 1})
    fig.update_xaxes(title_text="sessions from the entry session")
    fig.update_yaxes(title_text="cumulative abnormal return (%)", ticksuffix="%")
    return fig


def event_study_figure(event: pd.DataFrame, *, height: int = 380) -> go.Figure:
    """Mean cumulative abnormal return per day around the call, inside its 95 % band.

    `event`: one group of `channel_skill.event_study` rows (day, n, mean_car, ci_low, ci_high).
    Trace order: the band's upper edge, its lower edge (filled up to the upper), the mean.
    """
    if event.empty or event["mean_car"].isna().all():
        return empty_figure("No scored calls to draw the event study", height=height)
    e = event.sort_values("day")
    band = {"mode": "lines", "line": {"width": 0, "color": STRATEGY}, "hoverinfo": "skip", "showlegend": False}
    fig = go.Figure([
        go.Scatter(x=e["day"], y=_pct(e["ci_high"]), name="95% band (upper)", **band),
        go.Scatter(x=e["day"], y=_pct(e["ci_low"]), name="95% band", fill="tonexty",
                   fillcolor="rgba(31,111,235,0.15)", **{**band, "showlegend": True}),
        go.Scatter(x=e["day"], y=_pct(e["mean_car"]), name="mean CAR", mode="lines+markers",
                   line={"color": STRATEGY, "width": 2}, marker={"size": 3}, customdata=e["n"],
                   hovertemplate="day %{x}: %{y:.2f}% (%{customdata} calls)<extra></extra>"),
    ])
    return _day_axis(fig, height)


def conviction_figure(event_by_conviction: pd.DataFrame, *, height: int = 380) -> go.Figure:
    """Mean cumulative abnormal return per conviction bucket: does higher conviction mean better
    calls? One line per bucket ('<0.6', '0.6-0.8', '>=0.8'), named with its number of calls."""
    e = event_by_conviction
    if e.empty or e["mean_car"].isna().all():
        return empty_figure("No scored calls to compare conviction buckets", height=height)
    fig = go.Figure()
    for bucket in [b for b in CONVICTION_BUCKETS if b in set(e["conviction_bucket"])]:
        rows = e[e["conviction_bucket"] == bucket].sort_values("day")
        calls = int(rows.loc[rows["day"] == 0, "n"].max()) if (rows["day"] == 0).any() else int(rows["n"].max())
        fig.add_trace(go.Scatter(
            x=rows["day"], y=_pct(rows["mean_car"]), name=f"conviction {bucket} ({calls} calls)", mode="lines",
            line={"color": BUCKET_COLORS.get(str(bucket), STRATEGY), "width": 2},
            hovertemplate="day %{x}: %{y:.2f}%<extra>" + f"conviction {bucket}</extra>",
        ))
    _day_axis(fig, height)
    fig.update_layout(showlegend=True)  # a single bucket still names itself
    return fig
