"""/strategy — the latest backtest, the ticker scorecard and decision feed (all channels or one),
run history, sweeps, and "Run backtest"."""

from __future__ import annotations

import json
from typing import Any

import dash
import dash_ag_grid as dag
import pandas as pd
from dash import Input, Output, State, callback, dcc, html, no_update

from kevin_dash import actions, figures
from kevin_dash import components as ui
from kevin_dash.context import current
from kevin_dash.data import strategy as data
from kevin_dash.data.overview import overview
from kevin_dash.data.channels import DataVersion, data_key
from kevin_dash.data.paper_account import decision_feed
from kevin_pipeline.research.scorecard import (
    call_hit_rates, hit_key, live_key, run_trades, ticker_scorecard,
)

dash.register_page(__name__, path="/strategy", name="Strategy", title="kevin · strategy")

POLL_MS = 500


# --- pieces ----------------------------------------------------------------------------------


def _run_cards(run: data.RunView, compare_with: list[int] | None = None) -> list[Any]:
    m = run.metrics or {}
    bench = run.benchmark_symbol
    when = run.finished_at or run.created_at
    took = run.duration_seconds
    title = f"Run #{run.id}" + (f" compared with #{', #'.join(map(str, compare_with))}" if compare_with else "")
    head = html.Div(
        [
            html.Strong(title),
            html.Span(
                f" · {run.status} · {run.trigger}"
                + (f" · sweep {run.sweep_id}" if run.sweep_id else "")
                + (f" · {when:%Y-%m-%d %H:%M} UTC" if when else "")
                + (f" · took {took:.1f} s" if took is not None else "")
                + (f" · period {m.get('start_date')} → {m.get('end_date')} ({m.get('sessions')} sessions)" if m.get("start_date") else ""),
                className="kd-card-sub",
            ),
        ],
        id="strategy-run-title",
    )
    if run.status != "succeeded" or not m:
        return [head, ui.message(f"This run {run.status}: {run.error or 'no metrics stored'}", ok=False)]
    total, bret = m.get("total_return_pct"), m.get("benchmark_total_return_pct")
    cards = html.Div(
        [
            ui.card("Total return", ui.pct(total), f"{bench} {ui.pct(bret)}", value_class=ui.tone(total)),
            ui.card("Alpha vs " + bench, ui.pct(m.get("alpha_vs_benchmark_pct")).replace("%", " pts"),
                    f"Jensen {ui.pct(m.get('jensen_alpha_annual_pct'))}/yr", value_class=ui.tone(m.get("alpha_vs_benchmark_pct"))),
            ui.card("Beta", ui.num(m.get("beta")), f"vs {bench}, daily returns"),
            ui.card("Sharpe", ui.num(m.get("sharpe")), f"Sortino {ui.num(m.get('sortino'))}"),
            ui.card("Max drawdown", ui.pct(m.get("max_drawdown_pct")),
                    f"{m.get('max_drawdown_peak_date') or '—'} → {m.get('max_drawdown_trough_date') or '—'}",
                    value_class=ui.tone(m.get("max_drawdown_pct"))),
            ui.card("Win rate", ui.pct(m.get("win_rate_pct"), signed=False), f"profit factor {ui.num(m.get('profit_factor'))}"),
            ui.card("Trades", f"{m.get('trade_count', 0)}", f"{m.get('open_trade_count', 0)} open at the end"),
            ui.card("Final equity", ui.money(m.get("final_equity")), _base_text(m, run.params)),
        ],
        className="kd-cards",
    )
    params = html.Details(
        [html.Summary("Params: " + data.params_summary(run.params)), html.Pre(json.dumps(run.params, indent=1, sort_keys=True))],
        className="kd-params",
    )
    return [head, cards, params]


def _base_text(m: dict[str, Any], params: dict[str, Any]) -> str:
    """What the returns are measured from: the starting capital (runs stored before returns were
    measured from it began at the first session's close, and say so rather than pass for it)."""
    initial, starting = m.get("initial_equity"), params.get("starting_equity_usd")
    if initial is not None and starting is not None and abs(float(initial) - float(starting)) < 0.005:
        return f"from {ui.money(float(starting))} starting capital"
    return f"from {ui.money(initial)} at the first close (older run)"


def _scorecard_grid(rows: list[dict[str, Any]]) -> dag.AgGrid:
    """The scorecard grid on `_scorecard_rows` (kept as grid rows: no frame built again per load)."""
    cols = [
        {"field": "symbol", "pinned": "left", "width": 95},
        {"field": "live_status", "headerName": "live", "cellRenderer": "KevinBadge", "width": 140,
         "headerTooltip": "OPEN / TRADED / WOULD-TRADE (dry run) / SKIPPED: the paper account's latest state for the symbol"},
        {"field": "mentions", "type": "numericColumn", "width": 105},
        {"field": "last_action", "headerName": "last call", "width": 100},
        {"field": "last_conviction", "headerName": "conviction", "type": "numericColumn", "valueFormatter": ui.fmt(".2f"), "width": 115},
        {"field": "last_date", "headerName": "call date", "width": 115},
        {"field": "hit_rate_pct", "headerName": "hit rate %", "type": "numericColumn", "valueFormatter": ui.fmt(".1f"),
         "headerTooltip": "Share of buy calls whose open-to-open return over the hold beat SPY (see kevin_pipeline/research/scorecard.py)", "width": 115},
        {"field": "evaluated", "headerName": "scored", "type": "numericColumn", "width": 95,
         "headerTooltip": "buy calls whose hold is over"},
        {"field": "pending", "headerName": "running", "type": "numericColumn", "width": 100,
         "headerTooltip": "buy calls whose hold has not ended in the price data"},
        {"field": "no_bars", "headerName": "no bars", "type": "numericColumn", "width": 100,
         "headerTooltip": "buy calls on a symbol without price bars (not tradable, not scored)"},
        {"field": "bt_trades", "headerName": "bt trades", "type": "numericColumn", "width": 105},
        {"field": "bt_pnl_usd", "headerName": "bt P&L $", "type": "numericColumn", "valueFormatter": ui.fmt(",.2f"),
         "cellClassRules": {"kd-pos": "params.value > 0", "kd-neg": "params.value < 0"}, "width": 115},
        {"field": "live_reason", "headerName": "live reason", "flex": 1, "minWidth": 220, "tooltipField": "live_reason"},
    ]
    return ui.grid("strategy-scorecard", cols, rows, **ui.BIG_PAGE, tooltipShowDelay=300,
                   animateRows=False)


def _runs_grid(frame: pd.DataFrame) -> dag.AgGrid:
    cols = [
        {"field": "id", "headerName": "run", "width": 110, "type": "numericColumn"},
        {"field": "time", "headerName": "time (UTC)", "width": 150},
        {"field": "trigger", "width": 100},
        {"field": "status", "cellRenderer": "KevinBadge", "width": 120},
        {"field": "params", "flex": 1, "minWidth": 260, "tooltipField": "params"},
        {"field": "period", "width": 200},
        {"field": "total_return_pct", "headerName": "return %", "type": "numericColumn", "valueFormatter": ui.fmt("+.2f"), "width": 110},
        {"field": "alpha_pct", "headerName": "alpha pts", "type": "numericColumn", "valueFormatter": ui.fmt("+.2f"), "width": 110},
        {"field": "sharpe", "type": "numericColumn", "valueFormatter": ui.fmt(".2f"), "width": 100},
        {"field": "trades", "type": "numericColumn", "width": 100},
        {"field": "sweep_id", "headerName": "sweep", "width": 140},
        {"field": "error", "width": 200, "tooltipField": "error"},
    ]
    return ui.grid(
        "strategy-runs", cols, ui.records(frame, "id"), **ui.PAGED, tooltipShowDelay=300,
        rowSelection={"mode": "multiRow", "enableClickSelection": True, "headerCheckbox": False},
    )


def _field(label: str, component: Any, wide: bool = False) -> html.Div:
    return html.Div([html.Label(label, htmlFor=component.id), component], className="kd-field kd-field-wide" if wide else "kd-field")


def _run_form(settings: Any, bar_lo: Any, bar_hi: Any) -> html.Section:
    reason = actions.write_disabled_reason(settings, None)
    return ui.section(
        "Run backtest",
        html.Div(
            [
                _field("Conviction floor", dcc.Input(id="strategy-form-conviction", type="number", min=0, max=0.99, step="any",
                                                   value=float(settings.min_conviction))),
                _field("Hold (weeks horizon), sessions", dcc.Input(id="strategy-form-hold", type="number", min=1, step=1,
                                                                  value=int(settings.hold_sessions_weeks))),
                _field("Stop-loss %", dcc.Input(id="strategy-form-stop", type="number", min=0.1, max=99, step="any",
                                                value=float(settings.stop_loss_pct) * 100)),
                _field("Take-profit %", dcc.Input(id="strategy-form-tp", type="number", min=0.1, step="any",
                                                  value=float(settings.take_profit_pct) * 100)),
                _field("Slippage (bps)", dcc.Input(id="strategy-form-slippage", type="number", min=0, max=1000, step="any",
                                                   value=float(settings.slippage_bps))),
                _field(
                    "Date range (publish dates, optional)",
                    dcc.DatePickerRange(
                        id="strategy-form-dates", min_date_allowed=bar_lo, max_date_allowed=bar_hi,
                        initial_visible_month=bar_hi, display_format="YYYY-MM-DD", clearable=True,
                        start_date_placeholder_text="first call", end_date_placeholder_text="last bar",
                    ),
                    wide=True,
                ),
                html.Div(
                    html.Button("Run backtest", id="strategy-run-submit", n_clicks=0, disabled=True, className="kd-btn kd-btn-primary"),
                    className="kd-field",
                ),
            ],
            className="kd-form",
        ),
        html.Div(reason, id="strategy-write-hint", className="kd-write-hint"),
        html.Div(id="strategy-run-msg"),
        html.Div(html.Progress(id="strategy-progress", value=0, max=100, className="kd-progress"),
                 id="strategy-progress-wrap", className="kd-progress-wrap", hidden=True),
        dcc.Store(id="strategy-job"),
        dcc.Interval(id="strategy-poll", interval=POLL_MS, disabled=True),
        section_id="strategy-form-section",
        note="Starts a backtest on the database's mentions and bars with these overrides; the page stays usable.",
    )


def _sweep_figure(session: Any, sweep_id: str) -> Any:
    """A sweep's heatmap, kept by the runs it shows (stored runs never change)."""
    points = data.sweep_points(session, sweep_id)
    return current().figures.get(("sweep", sweep_id, tuple(points["run_id"])),
                                 lambda: figures.as_sent(figures.sweep_heatmap(points)))


def _sweep_section(session: Any, sweeps: pd.DataFrame) -> html.Section | None:
    if sweeps.empty:
        return None
    options = [{"label": f"{r.sweep_id} ({r.runs} runs)", "value": r.sweep_id} for r in sweeps.itertuples()]
    return ui.section(
        "Sweep results",
        dcc.Dropdown(id="strategy-sweep-id", options=options, value=options[0]["value"], clearable=False, style={"maxWidth": "420px"}),
        ui.graph("strategy-sweep", _sweep_figure(session, options[0]["value"])),
        section_id="strategy-sweep-section",
        note="Sharpe by conviction floor × hold sessions (weeks horizon); a cell holding several runs shows the best.",
    )


def _shown(session: Any, run_ids: list[int] | None) -> tuple[data.RunView | None, list[data.RunView]]:
    """The run the cards describe, and the runs drawn on the chart (1, or 2 to compare)."""
    runs = [r for r in (data.get_run(session, i) for i in (run_ids or [])[:2]) if r is not None]
    if not runs:  # the page's first load: the chart is kept (`equity_chart`), so no curves unless it is drawn
        latest = data.latest_run(session, curves=False)
        return latest, [latest] if latest else []
    runs.sort(key=lambda r: r.id, reverse=True)
    return runs[0], runs


def _run_chart(session: Any, run_ids: list[int] | None) -> tuple[data.RunView | None, list[Any], Any]:
    """The run shown (None: no run yet), its cards and the equity chart (of the runs compared)."""
    main, drawn = _shown(session, run_ids)
    if main is None:
        return None, [ui.guidance("No backtest yet", f"Nothing has been backtested: {ui.GUIDANCE_COMMANDS}.")], \
            figures.empty_figure("No backtest run yet")
    compare = [r.id for r in drawn[1:]]
    return main, _run_cards(main, compare), equity_chart(session, main, drawn)


def equity_chart(session: Any, main: data.RunView, drawn: list[data.RunView]) -> dict[str, Any]:
    """The equity chart of the runs drawn, kept by the dashboard as the plain dict Dash sends (a
    stored run never changes; see figures.as_sent). Runs read without their curves (`_shown`) are
    read again with them only when the chart is drawn, not found kept."""
    def draw() -> dict[str, Any]:
        runs = [data.get_run(session, r.id) or r if r.equity.empty else r for r in drawn]
        first = next(r for r in runs if r.id == main.id)
        return figures.as_sent(_equity_figure(first, runs, _trades(session, first)))

    return current().figures.get(tuple((r.id, r.finished_at) for r in drawn), draw)


def _run_view(
    session: Any, run_ids: list[int] | None, settings: Any, channel_id: int | None = None
) -> tuple[list[Any], Any, list[dict[str, Any]]]:
    main, cards, fig = _run_chart(session, run_ids)
    return cards, fig, _scorecard_rows(session, main, settings, channel_id)


def _trades(session: Any, run: data.RunView) -> pd.DataFrame:
    """A stored run's trades, kept by the dashboard (a stored run never changes)."""
    return current().trades.get((run.id, run.finished_at), lambda: run_trades(session, run.id))


def _scorecard_rows(
    session: Any, run: data.RunView | None, settings: Any, channel_id: int | None, version: DataVersion | None = None
) -> list[dict[str, Any]]:
    """The scorecard of `run` (None: no run yet), of one channel's calls when `channel_id` is given;
    kept by what it is computed from (the calls and bars, the run, the holds, the channel and the
    live account's decisions and lots), so a page load reads five keys instead of every call.
    `version`: the data version when the caller has read it already (it counts every bar)."""
    params = settings.strategy_params()
    if run is not None:
        try:
            params = run.strategy_params()
        except ValueError:  # params stored by an older version (pydantic's ValidationError): score with today's settings
            pass
    version = version or data_key(session)
    trades = _trades(session, run) if run is not None else None

    def compute() -> list[dict[str, Any]]:
        card = ticker_scorecard(session, run.id if run else None, params, channel_id,
                                hits=_hits(session, params, channel_id, version), trades=trades)
        return ui.records(card, "symbol")

    run_key = (run.id, run.finished_at) if run is not None else None
    return current().scorecards.get((version, run_key, hit_key(params), channel_id, live_key(session)), compute)


def _equity_figure(main: data.RunView, drawn: list[data.RunView], trades: pd.DataFrame) -> Any:
    """The chart of one run (with its trades) or of runs compared; a stored run never changes, so
    the dashboard keeps it by the runs drawn."""
    if len(drawn) > 1:
        return figures.equity_figure({f"run #{r.id}": r.equity for r in drawn}, main.benchmark, benchmark_label=main.benchmark_symbol)
    return figures.equity_figure({f"run #{main.id}": main.equity}, main.benchmark, benchmark_label=main.benchmark_symbol,
                                 trades=trades)


def _hits(session: Any, params: Any, channel_id: int | None, version: Any) -> pd.DataFrame:
    """The scorecard's hit rates, computed once per (calls and bars `version`, benchmark and holds,
    channel)."""
    return current().hits.get(
        (version, hit_key(params), channel_id), lambda: call_hit_rates(session, params, channel_id=channel_id)
    )


# --- layout ----------------------------------------------------------------------------------


def layout(**_: Any) -> html.Div:
    """The title, the latest run's cards and chart; the rest of the page comes once the chart is
    drawn (`_below`)."""
    ctx = current()
    title = html.Div([html.H1("Strategy"), html.Span("backtests of the calls vs the benchmark", className="kd-sub")], className="kd-page-title")
    try:
        with ctx.runtime.sessions() as s:
            ov = overview(s)
            if ov.empty:
                return html.Div([title, _empty_guidance()], id="strategy-page")
            _, cards, fig = _run_chart(s, None)
    except Exception as exc:  # noqa: BLE001 - a panel shows the error instead of breaking the page
        return html.Div([title, ui.error_notice("the strategy page", exc)], id="strategy-page")

    children: list[Any] = [title]
    if ov.sample_mentions:
        children.append(html.Div(f"{ov.sample_mentions} of {ov.mentions} mentions come from the bundled ILLUSTRATIVE SAMPLE "
                                 "(not real calls).", className="kd-banner"))
    children += [
        # strategy-selected (the runs ticked in the history below) sits with the cards and chart it
        # redraws: a store arriving with the rest of the page would redraw them on arrival
        ui.section("Latest backtest", html.Div(cards, id="strategy-cards"), ui.graph("strategy-equity", fig),
                   dcc.Store(id="strategy-selected", data=[]), section_id="strategy-run-section",
                   note="Tick one run in the history to show it, two to compare them. ▲ entries, ▼ exits (green: profit)."),
        ui.below("strategy-below", "strategy-drawn"),
    ]
    return html.Div(children, id="strategy-page")


ui.after_chart("strategy-equity", "strategy-drawn")


def warm() -> bool:
    """Fill what the page's first load reads (`kevin_dash.warmup`): the latest run's chart, its
    scorecard of all channels (hit rates, trades) and the newest sweep's heatmap."""
    ctx = current()
    with ctx.runtime.sessions() as s:
        if overview(s).empty:
            return False
        main, _, _ = _run_chart(s, None)
        _scorecard_rows(s, main, ctx.settings, None)
        _sweep_section(s, data.sweeps(s))
    return True


@callback(Output("strategy-below", "children"), Input("strategy-drawn", "data"), prevent_initial_call=True)
def _below(drawn: Any) -> Any:
    """The scorecard, the decision feed, the run history, the sweeps and the form, under the chart."""
    if not drawn:
        return no_update
    ctx = current()
    settings = ctx.settings
    try:
        with ctx.runtime.sessions() as s:
            ov = overview(s)
            main = data.latest_run(s, curves=False)
            version = data_key(s)
            scorecard = _scorecard_rows(s, main, settings, None, version)
            channels = data.channel_options(s)
            feed = decision_feed(s)
            history = data.run_history(s)
            sweep = _sweep_section(s, data.sweeps(s))
            bar_lo, bar_hi = version.first_bar, version.last_bar
    except Exception as exc:  # noqa: BLE001 - a panel shows the error instead of breaking the page
        return ui.error_notice("the strategy page", exc)
    children: list[Any] = [
        ui.section(
            "Ticker scorecard",
            _field("Channel", dcc.Dropdown(id="strategy-channel", options=channels, value=None, placeholder="all channels",
                                           style={"maxWidth": "420px"})),
            html.Div(_scorecard_grid(scorecard)),
            section_id="strategy-scorecard-section",
            note="Hit rate = share of buy calls whose open-to-open return over the planned hold beat SPY over the same sessions "
                 "(stops and caps ignored; calls still running are not scored). bt = the shown backtest run. "
                 "A channel shows only its calls, and the run's trades those calls opened.",
        ),
        ui.section("Decision feed", ui.feed_grid("strategy-feed", feed), section_id="strategy-feed-section",
                   note="The latest calls (of the channel chosen above) and what the live path decided for each."),
        ui.section("Backtest runs", _runs_grid(history), section_id="strategy-runs-section"),
    ]
    if sweep is not None:
        children.append(sweep)
    if ov.mentions and ov.price_bars:
        children.append(_run_form(settings, bar_lo, bar_hi))
    else:
        hint = html.Span(["Import mentions and price bars first (", html.Code("make demo"), " loads the bundled sample)."])
        children.append(ui.guidance("Run backtest", hint))
    return children


def _empty_guidance() -> html.Div:
    return ui.guidance(
        "Nothing to show yet",
        "This database has no backtest runs, mentions or prices.",
        html.Span(["To fill it, ", html.Code("kevin backtest"), " (after ", html.Code("kevin import-mentions"),
                   " and loading prices) or ", html.Code("make demo"), " for the bundled sample; then reload this page."]),
        guidance_id="strategy-guidance",
    )


# --- callbacks -------------------------------------------------------------------------------


@callback(
    Output("strategy-run-submit", "disabled"),
    Output("strategy-write-hint", "children"),
    Input("shell-token", "value"),
    State("strategy-job", "data"),
)
def _token_state(token: str | None, job: dict[str, Any] | None) -> tuple[bool, str]:
    reason = actions.write_disabled_reason(current().settings, token)
    running = bool(job and job.get("id") and not job.get("finished"))
    return bool(reason) or running, reason or ""


@callback(
    Output("strategy-selected", "data"),
    Input("strategy-runs", "selectedRows"),
    State("strategy-selected", "data"),
    prevent_initial_call=True,
)
def _select_runs(rows: list[dict[str, Any]] | None, shown: list[int] | None) -> Any:
    """The runs ticked; unchanged (the history grid arriving under the chart with nothing ticked)
    leaves the chart as it is instead of drawing the same run again."""
    ids = [int(r["id"]) for r in (rows or []) if r and r.get("id") is not None]
    return no_update if ids == (shown or []) else ids


@callback(
    Output("strategy-cards", "children"),
    Output("strategy-equity", "figure"),
    Output("strategy-scorecard", "rowData"),
    Input("strategy-selected", "data"),
    State("strategy-channel", "value"),
    prevent_initial_call=True,
)
def _show_runs(run_ids: list[int] | None, channel_id: int | None) -> tuple[Any, Any, Any]:
    ctx = current()
    try:
        with ctx.runtime.sessions() as s:
            return _run_view(s, run_ids, ctx.settings, channel_id)
    except Exception as exc:  # noqa: BLE001 - a panel shows the error instead of breaking the page
        return [ui.error_notice("the backtest run", exc)], figures.empty_figure("Could not load the run"), no_update


@callback(
    Output("strategy-scorecard", "rowData", allow_duplicate=True),
    Output("strategy-feed", "rowData"),
    Input("strategy-channel", "value"),
    State("strategy-selected", "data"),
    prevent_initial_call=True,
)
def _filter_channel(channel_id: int | None, run_ids: list[int] | None) -> tuple[Any, Any]:
    ctx = current()
    try:
        with ctx.runtime.sessions() as s:
            main, _ = _shown(s, run_ids)
            return (_scorecard_rows(s, main, ctx.settings, channel_id),
                    ui.records(decision_feed(s, channel_id=channel_id), "mention_id"))
    except Exception:  # noqa: BLE001 - keep the shown rows; the next page load reports the error
        return no_update, no_update


@callback(
    Output("strategy-job", "data"),
    Output("strategy-poll", "disabled"),
    Output("strategy-run-msg", "children"),
    Output("strategy-run-submit", "disabled", allow_duplicate=True),
    Input("strategy-run-submit", "n_clicks"),
    State("shell-token", "value"),
    State("strategy-form-conviction", "value"),
    State("strategy-form-hold", "value"),
    State("strategy-form-stop", "value"),
    State("strategy-form-tp", "value"),
    State("strategy-form-slippage", "value"),
    State("strategy-form-dates", "start_date"),
    State("strategy-form-dates", "end_date"),
    prevent_initial_call=True,
)
def _submit(n_clicks: int | None, token: str | None, conv: Any, hold: Any, stop: Any, tp: Any, slip: Any, start: Any, end: Any) -> tuple[Any, ...]:
    if not n_clicks:
        return no_update, no_update, no_update, no_update
    ctx = current()
    form = actions.BacktestForm(conv, hold, stop, tp, slip, start, end)
    result = actions.start_backtest(ctx.runtime, ctx.jobs, token, form)
    if not result.ok:
        return no_update, True, ui.message(result.message, ok=False), no_update
    return {"id": result.job_id, "finished": False}, False, ui.message(result.message), True


@callback(
    Output("strategy-progress", "value"),
    Output("strategy-progress-wrap", "hidden"),
    Output("strategy-run-msg", "children", allow_duplicate=True),
    Output("strategy-poll", "disabled", allow_duplicate=True),
    Output("strategy-job", "data", allow_duplicate=True),
    Output("strategy-runs", "rowData"),
    Output("strategy-selected", "data", allow_duplicate=True),
    Output("strategy-run-submit", "disabled", allow_duplicate=True),
    Input("strategy-poll", "n_intervals"),
    State("strategy-job", "data"),
    prevent_initial_call=True,
)
def _poll(_n: int | None, job: dict[str, Any] | None) -> tuple[Any, ...]:
    ctx = current()
    if not job or not job.get("id"):
        return 0, True, no_update, True, no_update, no_update, no_update, no_update
    status = ctx.jobs.status(str(job["id"]))
    if status is None:
        return 0, True, ui.message("The backtest job is gone (the dashboard restarted?).", ok=False), True, None, no_update, no_update, False
    if not status.finished:
        text = f"Backtest {status.state}: {status.done} / {status.total or '?'} sessions"
        return status.percent, False, ui.message(text), False, no_update, no_update, no_update, True
    try:
        with ctx.runtime.sessions() as s:
            rows = ui.records(data.run_history(s), "id")
    except Exception as exc:  # noqa: BLE001 - a panel shows the error instead of breaking the page
        return 100, True, ui.error_notice("the run history", exc), True, {**job, "finished": True}, no_update, no_update, False
    finished = {**job, "finished": True, "run_id": status.run_id}
    if status.state == "succeeded":
        msg = ui.message(f"Backtest finished: run #{status.run_id} is shown above.")
        return 100, True, msg, True, finished, rows, [status.run_id], False
    msg = ui.message(f"Backtest failed (run #{status.run_id}): {status.error}", ok=False)
    return 0, True, msg, True, finished, rows, no_update, False


@callback(
    Output("strategy-sweep", "figure"),
    Input("strategy-sweep-id", "value"),
    prevent_initial_call=True,
)
def _show_sweep(sweep_id: str | None) -> Any:
    if not sweep_id:
        return figures.empty_figure("Pick a sweep")
    try:
        with current().runtime.sessions() as s:
            return _sweep_figure(s, sweep_id)
    except Exception:  # noqa: BLE001 - a panel shows the error instead of breaking the page
        return figures.empty_figure("Could not load the sweep (see the server log)")
