"""/paper-account — the live paper account: equity, positions (with Close), history, risk, decisions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dash
import dash_ag_grid as dag
import pandas as pd
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from kevin_dash import actions, figures
from kevin_dash import components as ui
from kevin_dash.context import current
from kevin_dash.data import paper_account as data
from kevin_dash.data.overview import overview
from kevin_pipeline.domain.calendar import ny_date

dash.register_page(__name__, path="/paper-account", name="Paper account", title="kevin · paper account")


# --- pieces ----------------------------------------------------------------------------------


def _summary_cards(summary: data.AccountSummary | None, db_empty: bool = False) -> Any:
    if summary is None:
        if db_empty:
            return None  # the page-level guidance already says what to do
        return ui.guidance(
            "No paper-account snapshots yet",
            "The live path records the account each time the order path runs; with the kill switch off every decision "
            "is a dry run and the account does not move.",
            html.Span(["Meanwhile, backtests show what the rules would have done: run ", html.Code("kevin backtest"),
                       " or ", html.Code("make demo"), "."]),
            guidance_id="paper-guidance",
        )
    s = summary
    bench = s.benchmark_return_pct
    return html.Div(
        [
            ui.card("Equity", ui.money(s.equity), f"as of {s.taken_at:%Y-%m-%d %H:%M} UTC ({s.source})"),
            ui.card("Cash", ui.money(s.cash), f"positions {ui.money(s.positions_value)}"),
            ui.card("Day P&L", ui.money(s.day_pnl, signed=True), value_class=ui.tone(s.day_pnl)),
            ui.card("Total P&L", ui.money(s.total_pnl, signed=True), f"{ui.pct(s.total_pnl_pct)} vs {ui.money(s.starting_equity)} start",
                    value_class=ui.tone(s.total_pnl)),
            ui.card(f"{s.benchmark_symbol} same period", ui.pct(bench), s.benchmark_note, value_class=ui.tone(bench)),
        ],
        className="kd-cards",
        id="paper-summary",
    )


def _positions_table(frame: pd.DataFrame, write_ok: bool) -> Any:
    if frame.empty:
        return html.Div("No open positions.", className="kd-empty", id="paper-positions-empty")
    head = ["Symbol", "Qty", "Entry", "Mark", "P&L $", "P&L %", "Planned exit", "Stop", "Take-profit", "Source mention", ""]
    rows = []
    for p in frame.itertuples(index=False):
        if p.close_requested:
            action: Any = ui.badge("PENDING", "a manual close is queued for this lot")
        else:
            action = html.Button(
                "Close", id={"type": "paper-close", "index": int(p.id)}, n_clicks=0, disabled=not write_ok,
                className="kd-btn kd-btn-danger", title=f"Close {p.symbol} lot #{p.id}",
            )
        rows.append(
            html.Tr(
                [
                    html.Td(html.Strong(p.symbol)),
                    html.Td(f"{p.qty:g}", className="kd-num"),
                    html.Td([f"{p.entry_price:,.2f}", html.Div(p.entry_date, className="kd-card-sub")], className="kd-num"),
                    html.Td([ui.num(p.mark), html.Div(p.mark_date or "no bars", className="kd-card-sub")], className="kd-num"),
                    html.Td(ui.money(p.pnl_usd, signed=True), className=f"kd-num {ui.tone(p.pnl_usd)}"),
                    html.Td(ui.pct(p.pnl_pct), className=f"kd-num {ui.tone(p.pnl_pct)}"),
                    html.Td(p.planned_exit or "—"),
                    html.Td(ui.num(p.stop), className="kd-num"),
                    html.Td(ui.num(p.take_profit), className="kd-num"),
                    html.Td([p.mention or "—", html.Q(p.quote, className="kd-quote") if p.quote else None]),
                    html.Td(action),
                ],
                id=f"paper-position-{int(p.id)}",
            )
        )
    table = html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)], className="kd-table", id="paper-positions-table")
    return html.Div(table, className="kd-table-wrap")


def _foreign_table(frame: pd.DataFrame) -> Any:
    """Shares in the broker account that kevin did not buy: shown apart, with no Close button."""
    if frame.empty:
        return html.Div("None: every share in the broker account is kevin's.", className="kd-empty", id="paper-foreign-empty")
    head = ["Symbol", "Not kevin's (qty)", "Broker position", "kevin's", "Price", "Value"]
    rows = [
        html.Tr([
            html.Td(html.Strong(f.symbol)),
            html.Td(f"{f.qty:g}", className="kd-num"),
            html.Td(f"{f.broker_qty:g}", className="kd-num"),
            html.Td(f"{f.kevin_qty:g}", className="kd-num"),
            html.Td(ui.num(f.price), className="kd-num"),
            html.Td(ui.money(f.value), className="kd-num"),
        ], id=f"paper-foreign-{f.symbol}")
        for f in frame.itertuples(index=False)
    ]
    table = html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)], className="kd-table",
                       id="paper-foreign-table")
    return html.Div(table, className="kd-table-wrap")


def _history_grid(frame: pd.DataFrame) -> dag.AgGrid:
    cols = [
        {"field": "symbol", "width": 100},
        {"field": "qty", "type": "numericColumn", "width": 90},
        {"field": "entry_date", "headerName": "entry", "width": 120},
        {"field": "entry_price", "headerName": "entry $", "type": "numericColumn", "valueFormatter": ui.fmt(",.2f"), "width": 110},
        {"field": "exit_date", "headerName": "exit", "width": 120},
        {"field": "exit_price", "headerName": "exit $", "type": "numericColumn", "valueFormatter": ui.fmt(",.2f"), "width": 110},
        {"field": "pnl_usd", "headerName": "P&L $", "type": "numericColumn", "valueFormatter": ui.fmt("+,.2f"),
         "cellClassRules": {"kd-pos": "params.value > 0", "kd-neg": "params.value < 0"}, "width": 120},
        {"field": "pnl_pct", "headerName": "P&L %", "type": "numericColumn", "valueFormatter": ui.fmt("+.2f"),
         "cellClassRules": {"kd-pos": "params.value > 0", "kd-neg": "params.value < 0"}, "width": 110},
        {"field": "exit_reason", "headerName": "exit reason", "flex": 1, "minWidth": 130},
    ]
    return ui.grid("paper-history", cols, ui.records(frame, "id"), **ui.PAGED)


def _risk_row(label: str, *content: Any) -> html.Div:
    return html.Div([html.Span(label, className="kd-risk-label"), html.Div(list(content), className="kd-risk-content")], className="kd-risk-row")


def _risk_panel(risk: data.RiskView, write_ok: bool, now: datetime) -> list[Any]:
    sw = risk.switches  # trading.controls: the switch exactly as the order path reads it
    switch = _risk_row(
        "Kill switch",
        ui.badge(sw.mode.upper(), "on: everything · exits-only: no new buys · off: nothing goes to the broker"),
        html.Span(
            f" KEVIN_ENABLE_TRADING={'true' if sw.env_enabled else 'false'} (environment) · runtime switch "
            f"{sw.runtime_mode} · {sw.meaning}",
            id="paper-kill-state",
        ),
        html.Div(
            [
                html.Button(label, id=f"paper-kill-{target}", n_clicks=0, className="kd-btn",
                            disabled=not write_ok or sw.runtime_mode == target,
                            title=f"Set the runtime switch to {target}")
                for target, label in (("on", "On"), ("exits-only", "Exits only"), ("off", "Off"))
            ],
            className="kd-risk-action",
        ),
    )
    trades_frac = risk.trades_today / risk.trade_cap if risk.trade_cap else 0
    alloc_frac = risk.alloc_today / risk.alloc_cap if risk.alloc_cap else 0
    caps = [
        _risk_row("Trades today", html.Meter(value=min(trades_frac, 1), min=0, max=1, className="kd-meter"),
                  html.Span(f" {risk.trades_today} / {risk.trade_cap} ({risk.today}, New York)", id="paper-trades-today")),
        _risk_row("Allocated today", html.Meter(value=min(alloc_frac, 1), min=0, max=1, className="kd-meter"),
                  html.Span(f" {ui.money(risk.alloc_today)} / {ui.money(risk.alloc_cap)}", id="paper-alloc-today")),
    ]
    if sw.halted:
        since = f" since {risk.halted_at:%Y-%m-%d %H:%M} UTC" if risk.halted_at else ""
        state = [ui.badge("HALTED"), html.Span(f" {sw.halt_reason or 'drawdown halt'}{since}: new buys blocked until a person resumes.")]
    elif sw.paused(now):
        state = [ui.badge("PAUSED"), html.Span(f" buys paused until {sw.paused_until:%Y-%m-%d %H:%M} UTC: {sw.pause_reason or 'loss circuit'}")]
    elif sw.paused_until is not None:
        state = [html.Span(f"pause expired at {sw.paused_until:%Y-%m-%d %H:%M} UTC ({sw.pause_reason or 'loss circuit'})")]
    else:
        state = [html.Span("not paused, not halted")]
    pause = _risk_row(
        "Pause / halt",
        html.Span(state, id="paper-halt-state"),
        html.Div(
            html.Button("Resume", id="paper-resume", n_clicks=0, disabled=not (write_ok and sw.can_resume), className="kd-btn",
                        title="Clear the drawdown halt and the loss-circuit pause"),
            className="kd-risk-action",
        ),
    )
    return [switch, *caps, pause]


def _risk(write_ok: bool, now: datetime) -> list[Any]:
    try:
        with current().runtime.sessions() as s:
            return _risk_panel(data.risk_view(s, current().settings, now), write_ok, now)
    except Exception as exc:  # noqa: BLE001 - a panel shows the error instead of breaking the page
        return [ui.error_notice("the risk state", exc)]


def _render_panels(token: str | None) -> tuple[Any, Any, str]:
    """(risk panel, positions panel, write hint) for the current token presence."""
    reason = actions.write_disabled_reason(current().settings, token)
    write_ok = reason is None
    try:
        with current().runtime.sessions() as s:
            positions = _positions_table(data.open_positions(s), write_ok)
    except Exception as exc:  # noqa: BLE001 - a panel shows the error instead of breaking the page
        positions = ui.error_notice("the open positions", exc)
    return _risk(write_ok, datetime.now(UTC)), positions, reason or ""


# --- layout ----------------------------------------------------------------------------------


def layout(**_: Any) -> html.Div:
    """The summary cards, the equity chart, the risk panel and the open positions; the trade
    history, the decision feed and the foreign positions come once the chart is drawn (`_below`)."""
    c = current()
    settings = c.settings
    title = html.Div([html.H1("Paper account"), html.Span(f"broker: {settings.broker}", className="kd-sub")], className="kd-page-title")
    try:
        with c.runtime.sessions() as s:
            ov = overview(s)
            summary, figure = _equity_view(s)
    except Exception as exc:  # noqa: BLE001 - a panel shows the error instead of breaking the page
        return html.Div([title, ui.error_notice("the paper account", exc)], id="paper-page")
    # The open positions (a row of components per position) come with the token callback's first
    # call, which the page makes anyway: not in the layout, whose size the first chart waits for.
    reason = actions.write_disabled_reason(settings, None) or ""
    risk = _risk(False, datetime.now(UTC))

    children: list[Any] = [title]
    if ov.empty:
        children.append(
            ui.guidance(
                "Nothing to show yet",
                "This database has no mentions, prices, backtests or paper-account activity.",
                html.Span(["Run ", html.Code("kevin backtest"), " or ", html.Code("make demo"), " to fill it, then reload this page."]),
                guidance_id="paper-empty-guidance",
            )
        )
    children += [
        html.Div(_summary_cards(summary, ov.empty), id="paper-cards"),
        html.Div(
            [
                ui.section("Equity", ui.graph("paper-equity", figure), section_id="paper-equity-section"),
                ui.section(
                    "Risk",
                    html.Div(risk, id="paper-risk"),
                    html.Div(reason, id="paper-write-hint", className="kd-write-hint"),
                    html.Div(id="paper-action-msg"),
                    section_id="paper-risk-section",
                ),
            ],
            className="kd-grid-2",
        ),
        ui.section(
            "Open positions",
            html.Div(html.Div("Loading…", className=f"kd-empty {ui.BELOW_PENDING}"), id="paper-positions"),
            dcc.ConfirmDialog(id="paper-close-confirm", message=""),
            dcc.Store(id="paper-close-target"),
            section_id="paper-positions-section",
            note="Mark = latest close in price_bars. Close queues a manual close request; the order path executes it.",
        ),
        ui.below("paper-below", "paper-drawn"),
    ]
    return html.Div(children, id="paper-page")


def _equity_view(session: Any) -> tuple[data.AccountSummary | None, Any]:
    """The summary cards' numbers and the equity chart (a plain dict, as Dash sends it), kept by the
    dashboard until a new snapshot or benchmark bar (`data.account_key`): five years of snapshots
    cost a third of a second to read, sum up and draw."""
    c = current()
    settings = c.settings

    def compute() -> tuple[data.AccountSummary | None, Any]:
        curve = data.account_curve(session)
        summary = data.account_summary(session, settings, curve)
        bench = (
            data.at_session_close(
                data.closes_between(session, settings.benchmark_symbol, ny_date(summary.since), ny_date(summary.taken_at))
            )
            if summary else None
        )
        figure = figures.account_figure(curve, bench, starting_equity=float(settings.starting_equity_usd),
                                        benchmark_label=settings.benchmark_symbol)
        return summary, figures.as_sent(figure)

    return c.figures.get(("paper equity", data.account_key(session, settings.benchmark_symbol)), compute)


ui.after_chart("paper-equity", "paper-drawn")


def warm() -> bool:
    """Fill the summary and the equity chart (`kevin_dash.warmup`), once there are snapshots."""
    with current().runtime.sessions() as s:
        if not data.has_snapshots(s):
            return False
        _equity_view(s)
    return True


@callback(Output("paper-below", "children"), Input("paper-drawn", "data"), prevent_initial_call=True)
def _below(drawn: Any) -> Any:
    if not drawn:
        return no_update
    try:
        with current().runtime.sessions() as s:
            history = data.closed_positions(s)
            foreign = data.foreign_positions(s)
            feed = data.decision_feed(s)
    except Exception as exc:  # noqa: BLE001 - a panel shows the error instead of breaking the page
        return ui.error_notice("the paper account", exc)
    return [
        ui.section(
            "Not kevin's: other positions in the broker account",
            _foreign_table(foreign),
            section_id="paper-foreign-section",
            note="Shares kevin did not buy (no kevin order opened them), from the latest account snapshot. kevin never "
                 "sells, sizes or counts them; its equity above excludes them.",
        ),
        ui.section("Trade history", _history_grid(history), section_id="paper-history-section", note="Closed positions, newest first."),
        ui.section("Decision feed", ui.feed_grid("paper-feed", feed), section_id="paper-feed-section",
                   note="The latest mentions and what the live path decided for each, with its reason."),
    ]


# --- callbacks -------------------------------------------------------------------------------


@callback(
    Output("paper-risk", "children"),
    Output("paper-positions", "children"),
    Output("paper-write-hint", "children"),
    Input("shell-token", "value"),
)
def _token_state(token: str | None) -> tuple[Any, Any, str]:
    return _render_panels(token)


@callback(
    Output("paper-close-target", "data"),
    Output("paper-close-confirm", "displayed"),
    Output("paper-close-confirm", "message"),
    Input({"type": "paper-close", "index": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def _ask_close(_clicks: list[int | None]) -> tuple[Any, Any, Any]:
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not (ctx.triggered and ctx.triggered[0].get("value")):
        return no_update, no_update, no_update  # buttons re-rendered, nobody clicked
    position_id = int(trigger["index"])
    with current().runtime.sessions() as s:
        lots = data.open_positions(s)
    lot = lots[lots["id"] == position_id]
    if lot.empty:
        return None, False, ""
    p = lot.iloc[0]
    text = (
        f"Close {p['symbol']} lot #{position_id} ({p['qty']:g} shares, entered {p['entry_date']} at {p['entry_price']:,.2f})?\n\n"
        "This queues a manual close request; the order path sells at its next pass."
    )
    return {"position_id": position_id}, True, text


@callback(
    Output("paper-action-msg", "children"),
    Output("paper-positions", "children", allow_duplicate=True),
    Input("paper-close-confirm", "submit_n_clicks"),
    State("paper-close-target", "data"),
    State("shell-token", "value"),
    prevent_initial_call=True,
)
def _confirm_close(submitted: int | None, target: dict[str, Any] | None, token: str | None) -> tuple[Any, Any]:
    if not submitted:
        return no_update, no_update
    position_id = (target or {}).get("position_id")
    result = actions.close_position(current().runtime, token, position_id)
    _, positions, _ = _render_panels(token)
    return ui.message(result.message, ok=result.ok), positions


@callback(
    Output("paper-action-msg", "children", allow_duplicate=True),
    Output("paper-risk", "children", allow_duplicate=True),
    Input("paper-kill-on", "n_clicks"),
    Input("paper-kill-exits-only", "n_clicks"),
    Input("paper-kill-off", "n_clicks"),
    Input("paper-resume", "n_clicks"),
    State("shell-token", "value"),
    prevent_initial_call=True,
)
def _risk_action(on: int | None, exits_only: int | None, off: int | None, resume: int | None, token: str | None) -> tuple[Any, Any]:
    """The risk panel's buttons: set the runtime kill switch, or resume after a pause or halt."""
    clicked = str(ctx.triggered_id or "")
    clicks = {"paper-kill-on": on, "paper-kill-exits-only": exits_only, "paper-kill-off": off, "paper-resume": resume}
    if not clicks.get(clicked):
        return no_update, no_update  # buttons re-rendered, nobody clicked
    if clicked == "paper-resume":
        result = actions.resume_trading(current().runtime, token)
    else:
        result = actions.set_kill_switch(current().runtime, token, clicked.removeprefix("paper-kill-"))
    risk, _, _ = _render_panels(token)
    return ui.message(result.message, ok=result.ok), risk
