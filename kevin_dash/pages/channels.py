"""/channels — is each channel skilled? Its calls scored against the market, the verdict with its
rule, the event study, conviction buckets, and each ticker's calls linked to their videos."""

from __future__ import annotations

import json
from typing import Any

import dash
import dash_ag_grid as dag
import pandas as pd
from dash import Input, Output, State, callback, dcc, html, no_update

from kevin_dash import components as ui
from kevin_dash import figures, figures_channels
from kevin_dash.context import current
from kevin_dash.data import channels as data
from kevin_dash.data.overview import overview
from kevin_pipeline.research.skill import SkillInputError

dash.register_page(__name__, path="/channels", name="Channels", title="kevin · channels")

CALLS_HINT = "Click a ticker above to list its calls."


# --- pieces ----------------------------------------------------------------------------------


def _channel_table(table: pd.DataFrame, horizons: tuple[int, ...], verdict_horizon: int) -> html.Div:
    head = ["channel", "calls", f"scored @{verdict_horizon}", *(f"mean {h}d [95% CI]" for h in horizons),
            f"hit {verdict_horizon}d", f"t {verdict_horizon}d", "verdict", "follow backtest", "inverse backtest"]
    rows = [
        html.Tr(
            [
                html.Td(r["channel"]), html.Td(r["calls"], className="kd-num"), html.Td(r["scored"], className="kd-num"),
                *(html.Td([r[f"mean_{h}"], html.Br(), html.Small(r[f"ci_{h}"], className="channels-ci")], className="kd-num")
                  for h in horizons),
                html.Td(r["hit"], className="kd-num"), html.Td(r["t"], className="kd-num"),
                html.Td(ui.badge(r["verdict"], title=r["rule"]), className="channels-verdict"),
                html.Td(r["follow"], className="kd-num"), html.Td(r["inverse"], className="kd-num"),
            ],
            id=f"channels-row-{i}",
        )
        for i, r in enumerate(table.to_dict("records"))
    ]
    body = html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)], className="kd-table",
                      id="channels-table")
    return html.Div(body, className="kd-table-wrap")


def _backtest_note() -> str:
    return ("follow / inverse backtest: the strategy's backtest on this channel's calls alone, trading them as "
            "called and inverted (a buy becomes do-not-hold, a sell or avoid a long entry), total return.")


def _tickers_grid(rows: list[dict[str, Any]], horizons: tuple[int, ...], verdict_horizon: int, rule: str) -> dag.AgGrid:
    """The per-ticker grid. The verdict's rule is one text for every row: it is said once, as the
    verdict column's header tooltip and the tooltip of each verdict cell (a constant the grid
    returns), not sent again on each of 500 rows (300 KB of a page load)."""
    h = verdict_horizon
    cols: list[dict[str, Any]] = [
        {"field": "symbol", "pinned": "left", "width": 95},
        {"field": "calls", "type": "numericColumn", "width": 90},
        {"field": f"n_scored_{h}", "headerName": f"scored @{h}", "type": "numericColumn", "width": 110},
        *({"field": f"mean_{k}", "headerName": f"{k}d", "type": "numericColumn", "valueFormatter": ui.fmt("+.2%"),
           "headerTooltip": f"mean abnormal return over {k} sessions", "width": 100} for k in horizons),
        {"field": f"ci_{h}", "headerName": f"95% CI {h}d", "width": 170},
        {"field": f"hit_rate_{h}", "headerName": f"hit {h}d", "type": "numericColumn", "valueFormatter": ui.fmt(".0%"),
         "width": 100},
        {"field": "verdict", "cellRenderer": "KevinBadge", "headerTooltip": rule,
         "tooltipValueGetter": {"function": json.dumps(rule)}, "flex": 1, "minWidth": 140},
    ]
    return ui.grid("channels-tickers", cols, rows, **ui.BIG_PAGE, tooltipShowDelay=300,
                   animateRows=False)


def _ticker_rows(frame: pd.DataFrame, h: int) -> list[dict[str, Any]]:
    """The grid's rows with only the columns it shows: the report's other columns (and the rule,
    the same on every row) would triple what every page load sends for 500 tickers."""
    if frame.empty:
        return []
    shown = frame.assign(**{f"ci_{h}": [data.ci_text(lo, hi) for lo, hi in zip(frame[f"ci_low_{h}"], frame[f"ci_high_{h}"])]})
    means = [c for c in shown.columns if c.startswith("mean_")]
    shown = shown[["symbol", "calls", f"n_scored_{h}", *means, f"ci_{h}", f"hit_rate_{h}", "verdict"]]
    shown = shown.astype(object).where(shown.notna(), None)  # NaN -> null: the grid leaves it blank
    return ui.records(shown, "symbol")


def _calls_table(calls: pd.DataFrame, horizons: tuple[int, ...], symbol: str) -> html.Div:
    head = ["published (UTC)", "action", "conviction", "entry", *(f"{h}d" for h in horizons), "quote", "video"]
    rows = [
        html.Tr(
            [
                html.Td(r["published"]), html.Td(r["action"]), html.Td(f"{r['conviction']:.2f}", className="kd-num"),
                html.Td(r["entry_date"]),
                *(html.Td(data.pct_text(r[f"ar_{h}"]), className=f"kd-num {_tone(r[f'ar_{h}'])}") for h in horizons),
                html.Td(r["quote"] or ""),
                html.Td(html.A("▶ watch", href=r["link"], target="_blank", rel="noopener noreferrer") if isinstance(r["link"], str) else "—"),
            ],
            id=f"channels-call-{r['mention_id']}",
        )
        for r in calls.to_dict("records")
    ]
    table = html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)], className="kd-table",
                       id="channels-calls-table")
    return html.Div([html.H3(f"{symbol}: {len(rows)} calls (abnormal return at each horizon)"), table],
                    className="kd-table-wrap")


def _tone(value: Any) -> str:
    return "" if value is None or pd.isna(value) else ui.tone(float(value))


def _channel_view(d: data.ChannelsData, channel: str) -> tuple[Any, Any, list[dict[str, Any]]]:
    """A channel's two charts (plain dicts, as Dash sends them) and its ticker rows, drawn once per
    report and channel."""
    return d.memo(("view", channel), lambda: (
        figures.as_sent(figures_channels.event_study_figure(d.event(channel))),
        figures.as_sent(figures_channels.conviction_figure(d.event_by_conviction(channel))),
        _ticker_rows(d.tickers(channel), d.report.verdict_horizon),
    ))


def _load() -> data.ChannelsData:
    ctx = current()
    with ctx.runtime.sessions() as s:
        return ctx.skill.get(s, ctx.settings.strategy_params())


def _loaded(what: str) -> data.ChannelsData | html.Div:
    """The kept report, or the panel saying why `what` could not be loaded."""
    try:
        return _load()
    except Exception as exc:  # noqa: BLE001 - a panel shows the error instead of breaking the page
        return ui.error_notice(what, exc)


# --- layout ----------------------------------------------------------------------------------


def layout(**_: Any) -> html.Div:
    title = html.Div([html.H1("Channels"), html.Span("is following this channel's calls worth it?", className="kd-sub")],
                     className="kd-page-title")
    try:
        with current().runtime.sessions() as s:
            ov = overview(s)
        if not ov.mentions:
            return html.Div([title, ui.guidance(
                "No calls yet", html.Span(["Import mentions and prices first (", html.Code("make demo"),
                                           " loads the bundled sample); then reload this page."]),
                guidance_id="channels-guidance")], id="channels-page")
        d = _load()
    except SkillInputError as exc:
        return html.Div([title, ui.guidance("Cannot score the calls yet", str(exc), guidance_id="channels-guidance")],
                        id="channels-page")
    except Exception as exc:  # noqa: BLE001 - a panel shows the error instead of breaking the page
        return html.Div([title, ui.error_notice("the channels page", exc)], id="channels-page")
    names = d.channel_names
    if not names:
        return html.Div([title, ui.guidance("No calls to score", "No buy, sell or avoid calls are stored (holds and "
                                            "watches are not calls).", guidance_id="channels-guidance")], id="channels-page")
    report, channel = d.report, names[0]
    event, conviction, _ = _channel_view(d, channel)
    children: list[Any] = [title]
    if ov.sample_mentions:
        children.append(html.Div(f"{ov.sample_mentions} of {ov.mentions} mentions come from the bundled ILLUSTRATIVE "
                                 "SAMPLE (not real calls).", className="kd-banner"))
    children += [
        ui.section(
            "Channel skill",
            _channel_table(data.channel_table(d), report.horizons, report.verdict_horizon),
            html.P(["Verdict rule: ", report.rule], className="kd-section-note", id="channels-rule"),
            html.P(_backtest_note(), className="kd-section-note", id="channels-backtest-note"),
            section_id="channels-table-section",
            note=f"Abnormal return = the call's return minus {report.benchmark}'s over the same sessions, from the "
                 "first open after the video (sells and avoids count reversed). Hover a verdict for its rule.",
        ),
        html.Div(
            [html.Label("Channel", htmlFor="channels-channel"),
             dcc.Dropdown(id="channels-channel", options=[{"label": n, "value": n} for n in names], value=channel,
                          clearable=False, style={"maxWidth": "480px"})],
            className="kd-field kd-field-wide",
        ),
        ui.section("Event study", ui.graph("channels-event", event), section_id="channels-event-section",
                   note="Mean cumulative abnormal return from 10 sessions before the entry to 60 after, with its 95% "
                        "band (days resampled): the run-up before the video, and what a follower gets after."),
        ui.section("By conviction", ui.graph("channels-conviction", conviction), section_id="channels-conviction-section",
                   note="The same mean path per conviction bucket: does higher conviction mean better calls?"),
        ui.below("channels-below", "channels-drawn"),
    ]
    return html.Div(children, id="channels-page")


ui.after_chart("channels-event", "channels-drawn")


def warm() -> bool:
    """Compute the skill report and draw the first channel (`kevin_dash.warmup`): the report is the
    slow part of the dashboard (20-40 s on five years of a daily channel's calls)."""
    with current().runtime.sessions() as s:
        if not overview(s).mentions:
            return False
    try:
        d = _load()
    except SkillInputError:  # the page explains it when opened
        return False
    for name in d.channel_names[:1]:
        _channel_view(d, name)
    return bool(d.channel_names)


@callback(Output("channels-below", "children"), Input("channels-drawn", "data"), State("channels-channel", "value"),
          prevent_initial_call=True)
def _below(drawn: Any, channel: str | None) -> Any:
    """The tickers grid of the channel shown, under the charts."""
    if not drawn or not channel:
        return no_update
    d = _loaded("the tickers")
    if not isinstance(d, data.ChannelsData):
        return d
    report = d.report
    _, _, rows = _channel_view(d, channel)
    return ui.section("Tickers", _tickers_grid(rows, report.horizons, report.verdict_horizon, report.rule),
                      html.Div(CALLS_HINT, id="channels-calls", className="kd-section-note"),
                      section_id="channels-tickers-section",
                      note="Per ticker, the same statistics; click a row for its calls and their videos.")


# --- callbacks -------------------------------------------------------------------------------


@callback(
    output=[Output("channels-event", "figure"), Output("channels-conviction", "figure"),
            Output("channels-tickers", "rowData"), Output("channels-calls", "children")],
    inputs=Input("channels-channel", "value"),
    prevent_initial_call=True,
)
def _show_channel(channel: str | None) -> tuple[Any, ...]:
    if not channel:
        return no_update, no_update, no_update, no_update
    try:
        return (*_channel_view(_load(), channel), CALLS_HINT)
    except Exception as exc:  # noqa: BLE001 - a panel shows the error instead of breaking the page
        failed = figures.empty_figure("Could not load the channel (see the server log)")
        return failed, failed, [], ui.error_notice("the channel", exc)


@callback(
    Output("channels-calls", "children", allow_duplicate=True),
    Input("channels-tickers", "cellClicked"),
    State("channels-channel", "value"),
    prevent_initial_call=True,
)
def _show_calls(cell: dict[str, Any] | None, channel: str | None) -> Any:
    symbol = (cell or {}).get("rowId")
    if not symbol or not channel:
        return no_update
    d = _loaded("the calls")
    if not isinstance(d, data.ChannelsData):
        return d
    return _calls_table(d.calls_of(channel, symbol), d.report.horizons, symbol)
