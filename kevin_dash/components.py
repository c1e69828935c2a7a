"""Small layout pieces shared by the pages: cards, notices, number formats, grid defaults."""

from __future__ import annotations

import logging
from typing import Any

import dash
import dash_ag_grid as dag
from dash import Input, Output, State, dcc, html

log = logging.getLogger(__name__)

GUIDANCE_COMMANDS = "run `kevin backtest` or `make demo`"

GRAPH_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}


# --- numbers ---------------------------------------------------------------------------------


def money(v: float | None, signed: bool = False) -> str:
    if v is None:
        return "—"
    return f"{'+' if signed and v > 0 else ''}{'-' if v < 0 else ''}${abs(v):,.2f}"


def pct(v: float | None, signed: bool = True, digits: int = 2) -> str:
    if v is None:
        return "—"
    return f"{'+' if signed and v > 0 else ''}{v:.{digits}f}%"


def num(v: float | None, digits: int = 2) -> str:
    return "—" if v is None else f"{v:,.{digits}f}"


def tone(v: float | None) -> str:
    if v is None or v == 0:
        return ""
    return "kd-pos" if v > 0 else "kd-neg"


# --- blocks ----------------------------------------------------------------------------------


def card(label: str, value: str, sub: str | None = None, *, value_class: str = "", card_id: str | None = None) -> html.Div:
    kids: list[Any] = [html.Div(label, className="kd-card-label"), html.Div(value, className=f"kd-card-value {value_class}")]
    if sub:
        kids.append(html.Div(sub, className="kd-card-sub"))
    extra = {"id": card_id} if card_id else {}
    return html.Div(kids, className="kd-card", **extra)


def section(title: str, *children: Any, section_id: str | None = None, note: Any = None) -> html.Section:
    head: list[Any] = [html.H2(title)]
    if note is not None:
        head.append(html.Div(note, className="kd-section-note"))
    extra = {"id": section_id} if section_id else {}
    return html.Section([html.Div(head, className="kd-section-head"), *children], className="kd-section", **extra)


def guidance(title: str, *lines: Any, guidance_id: str | None = None) -> html.Div:
    extra = {"id": guidance_id} if guidance_id else {}
    return html.Div([html.H3(title), *[html.P(line) for line in lines]], className="kd-guidance", **extra)


def error_notice(what: str, exc: BaseException) -> html.Div:
    """A readable error in place of a panel; the traceback goes to the log, never to the page."""
    log.exception("dashboard: %s failed", what)
    first_line = (str(exc).strip().splitlines() or [""])[0][:300]
    return html.Div(
        [
            html.H3(f"Could not load {what}"),
            html.P(f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__),
            html.P(["Check that the database is reachable and migrated (", html.Code("kevin db upgrade"), "); details are in the server log."]),
        ],
        className="kd-error",
    )


def message(text: str | None, ok: bool = True) -> html.Div | str:
    if not text:
        return ""
    return html.Div(text, className="kd-msg kd-msg-ok" if ok else "kd-msg kd-msg-bad")


def badge(text: str, title: str | None = None) -> html.Span:
    slug = "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")
    return html.Span(text, className=f"kd-badge kd-badge-{slug}", title=title or "")


def graph(graph_id: str, figure: Any) -> dcc.Graph:
    return dcc.Graph(id=graph_id, figure=figure, config=GRAPH_CONFIG, className="kd-graph")


# --- AG Grid ---------------------------------------------------------------------------------


def records(frame: Any, key: str) -> list[dict[str, Any]]:
    """Grid rows with a string `row_id` taken from `key` (AG Grid wants string row ids)."""
    return [{**r, "row_id": str(r[key])} for r in frame.to_dict("records")]


def fmt(js_format: str) -> dict[str, str]:
    """A d3-format value formatter that leaves missing values blank."""
    return {"function": f"params.value == null ? '' : d3.format('{js_format}')(params.value)"}


DEFAULT_COL = {"sortable": True, "filter": True, "resizable": True, "floatingFilter": False, "minWidth": 80}

def paged(rows: int) -> dict[str, Any]:
    """AG Grid options for `rows` rows a page. A page builds only its own rows' cells: a grid of 500
    rows drawn whole (autoHeight draws every row) costs the browser seconds before a chart shows."""
    return {"pagination": True, "paginationPageSize": rows, "paginationPageSizeSelector": False}


PAGED = paged(10)
BIG_PAGE = paged(25)  # the grids that list every symbol (500 on a channel that talks daily)


def grid(grid_id: str, columns: list[dict[str, Any]], rows: list[dict[str, Any]], **options: Any) -> dag.AgGrid:
    """An AG Grid as every page shows one: `DEFAULT_COL` columns, rows from `records` (keyed by their
    `row_id`), as tall as its rows; `options` are AG Grid options (`**PAGED` for ten rows a page)."""
    return dag.AgGrid(
        id=grid_id,
        columnDefs=columns,
        rowData=rows,
        defaultColDef=DEFAULT_COL,
        dashGridOptions={"domLayout": "autoHeight", **options},
        getRowId="params.data.row_id",
        className="kd-grid",
        style={"height": None},
    )


def feed_grid(grid_id: str, frame: Any) -> dag.AgGrid:
    """The decision feed (`data.paper_account.decision_feed` rows): each call and what the live path
    decided for it; on /paper-account and, per channel, on /strategy."""
    cols = [
        {"field": "published", "headerName": "published (UTC)", "width": 150, "sort": "desc"},
        {"field": "symbol", "width": 95},
        {"field": "action", "headerName": "call", "width": 85},
        {"field": "conviction", "type": "numericColumn", "valueFormatter": fmt(".2f"), "width": 110},
        {"field": "horizon", "width": 110},
        {"field": "status", "headerName": "decision", "cellRenderer": "KevinBadge", "width": 150},
        {"field": "size_usd", "headerName": "size $", "type": "numericColumn", "valueFormatter": fmt(",.0f"), "width": 100},
        {"field": "reason", "flex": 1, "minWidth": 260, "tooltipField": "reason"},
        {"field": "quote", "flex": 1, "minWidth": 220, "tooltipField": "quote"},
    ]
    return grid(grid_id, cols, records(frame, "mention_id"), **PAGED, tooltipShowDelay=300)


# --- below the first chart -------------------------------------------------------------------

# Resolves once the graph's chart is laid out (or after 10 s, so a chart that fails to draw never
# keeps the rest of the page away); once only: a later redraw of the same chart leaves it be.
_DRAWN_JS = """(figure, done) => done ? window.dash_clientside.no_update : new Promise(resolve => {
    const start = performance.now();
    const tick = () => (document.querySelector('#%s .main-svg') || performance.now() - start > 10000)
        ? resolve(true) : setTimeout(tick, 25);
    tick();
})"""


def after_chart(graph_id: str, drawn_id: str) -> None:
    """Set `drawn_id`.data (a dcc.Store from `below`) to true once the chart of `graph_id` is drawn.

    A page sends its chart first and the grids and tables under it when this fires: the browser then
    spends its first second drawing the chart, not building grids nobody has scrolled to yet
    (the bench measured the grids ahead of the chart at 1-2 s of a 2-core machine)."""
    dash.clientside_callback(_DRAWN_JS % graph_id, Output(drawn_id, "data"), Input(graph_id, "figure"),
                             State(drawn_id, "data"))


def below(below_id: str, drawn_id: str) -> html.Div:
    """Where the rest of a page lands (its callback on `drawn_id`.data fills `below_id`.children)."""
    return html.Div([dcc.Store(id=drawn_id), html.Div(html.Div("Loading…", className=f"kd-empty {BELOW_PENDING}"), id=below_id)])


BELOW_PENDING = "kd-below-pending"  # the placeholder's class, until the rest of the page has come
