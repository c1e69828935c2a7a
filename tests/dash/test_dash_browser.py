"""Every page in headless Chromium against a served app: the demo database plus live-account rows.

Needs Debian's `chromium` at /usr/bin/chromium (`apt-get install -y chromium`) and the `playwright`
Python package (its bundled driver only; never `playwright install`). Missing either FAILS these
tests: a dashboard nobody opened in a browser is not tested.

Each test serves its own copy of a database prepared once per session (the demo pipeline, then
positions, snapshots, decisions and a halted risk state), so write actions in one test cannot leak
into another. Every request leaving 127.0.0.1 is blocked and reported: the app must work offline.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from dash_builders import add_mention, add_sweep, live_account, utc
from dash_harness import TOKEN, bundle_version, make_kevin_runtime
from sqlalchemy import func, select
from werkzeug.serving import make_server

from kevin_dash.app import ASSETS_DIR, PLOTLY_BUNDLE, create_app
from kevin_dash.data import channels as channels_data
from kevin_pipeline.runtime import Runtime
from kevin_pipeline.db.models import BacktestRun, ManualCloseRequest, TradingState

CHROMIUM = Path(os.environ.get("KEVIN_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
SHOTS = Path(os.environ.get("KEVIN_DASH_SCREENSHOTS", "/tmp"))
TIMEOUT_MS = 45_000  # generous: CI shares 2 cores with the PostgreSQL server and the browser


# --- infrastructure ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: the dashboard browser tests need Debian's chromium "
            "(apt-get update && apt-get install -y chromium), or KEVIN_TEST_CHROMIUM=/path/to/chromium",
            pytrace=False,
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the dashboard browser tests need the `playwright` Python package (pip install playwright)", pytrace=False)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with the demo run (bundled sample + real bars) and live paper-account rows."""
    from kevin_pipeline.demo import run_demo

    state = tmp_path_factory.mktemp("dash-demo")
    db = state / "kevin.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KEVIN_STATE_DIR", str(state))
        mp.setenv("KEVIN_DATABASE_URL", f"sqlite:///{db}")
        assert run_demo(database_url=f"sqlite:///{db}") == 0
    kapp = make_kevin_runtime(state)
    with kapp.transaction() as s:
        live_account(s)
        add_sweep(s, "sweep-demo", {("0.60", 5): 0.4, ("0.60", 10): 0.7, ("0.70", 5): -0.2, ("0.70", 10): 0.9})
    with kapp.engine.connect() as conn:  # fold the WAL into the file so a plain copy is complete
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    kapp.close()
    return db


@dataclass
class Served:
    kapp: Runtime
    url: str
    blocked: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)  # asserted empty only where a test says so

    def count(self, model: type) -> int:
        with self.kapp.sessions() as s:
            return int(s.execute(select(func.count()).select_from(model)).scalar_one())

    def page(self, browser: Any, path: str) -> Any:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        page.on("pageerror", lambda exc: self.blocked.append(f"page error: {exc}"))
        page.on("console", lambda m: self.console_errors.append(f"{path}: {m.text}") if m.type == "error" else None)

        def route(r: Any) -> None:
            if r.request.url.startswith(self.url):
                r.continue_()
            else:
                self.blocked.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.goto(self.url + path)
        return page


def _serve(kapp: Runtime) -> Iterator[Served]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    dash_app = create_app(kapp)
    server = make_server("127.0.0.1", 0, dash_app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="kevin-dash-test", daemon=True)
    thread.start()
    served = Served(kapp, f"http://127.0.0.1:{server.server_port}")
    try:
        yield served
    finally:
        server.shutdown()
        thread.join(5)
        dash_app.server.extensions["kevin_dash"].jobs.shutdown()
        kapp.close()
    assert not served.blocked, f"requests outside the app or page errors: {served.blocked}"


@pytest.fixture
def demo(demo_db: Path, tmp_path: Path) -> Iterator[Served]:
    shutil.copy(demo_db, tmp_path / "kevin.db")
    yield from _serve(make_kevin_runtime(tmp_path))


SECOND_CHANNEL = "Second opinion"


@pytest.fixture
def demo_two_channels(demo_db: Path, tmp_path: Path) -> Iterator[Served]:
    """The demo database plus a second channel: five AAPL buys a week apart in March 2021."""
    shutil.copy(demo_db, tmp_path / "kevin.db")
    kapp = make_kevin_runtime(tmp_path)
    with kapp.transaction() as s:
        for k in range(5):
            add_mention(s, "AAPL", "buy", utc(2021, 3, 1 + 7 * k, 15), channel=SECOND_CHANNEL)
    yield from _serve(kapp)


@pytest.fixture
def empty(tmp_path: Path) -> Iterator[Served]:
    yield from _serve(make_kevin_runtime(tmp_path, token=None))


def plot_traces(page: Any, graph_id: str) -> list[dict[str, Any]]:
    """name and point count of each trace drawn in a dcc.Graph."""
    page.wait_for_selector(f"#{graph_id} .js-plotly-plot .main-svg")
    return page.evaluate(
        """id => Array.from(document.querySelector('#' + id + ' .js-plotly-plot').data,
                 t => ({name: t.name, points: (t.x || t.z || []).length}))""",
        graph_id,
    )


def drawn_values(page: Any, graph_id: str, trace: int, axis: str) -> list[Any]:
    """One array of a drawn trace, as plotted (Plotly decodes the typed arrays the server sends)."""
    return page.evaluate(
        "([id, i, k]) => Array.from(document.querySelector('#' + id + ' .js-plotly-plot')._fullData[i][k])",
        [graph_id, trace, axis],
    )


def grid_rows(page: Any, grid_id: str) -> list[str]:
    """Row ids an AG Grid shows, in display order (the DOM order of rows is not the display order)."""
    page.wait_for_selector(f"#{grid_id} .ag-center-cols-container .ag-row")
    return page.evaluate(
        """id => Array.from(document.querySelectorAll('#' + id + ' .ag-center-cols-container .ag-row'))
                 .sort((a, b) => Number(a.getAttribute('row-index')) - Number(b.getAttribute('row-index')))
                 .map(r => r.getAttribute('row-id'))""",
        grid_id,
    )


def enter_token(page: Any, token: str = TOKEN) -> None:
    page.fill("#shell-token", token)
    # the token field drives a callback (which buttons are enabled): let it land before clicking
    page.wait_for_load_state("networkidle")


# --- pages -----------------------------------------------------------------------------------


def test_strategy_page_shows_the_latest_run_scorecard_and_history(chromium: Any, demo: Served) -> None:
    page = demo.page(chromium, "/")
    page.wait_for_url("**/strategy")
    traces = plot_traces(page, "strategy-equity")
    names = [t["name"] for t in traces]
    assert names[:4] == ["run #1", "SPY buy & hold", "entries", "exits"], names
    # ten years of sessions (2,500+) drawn with at most 2,000 points (figures.downsample); the demo's 60 trades
    assert 1000 < traces[0]["points"] <= 2000 and traces[2]["points"] == 60
    assert "Run #1" in page.inner_text("#strategy-cards")
    assert "TOTAL RETURN" in page.inner_text("#strategy-cards").upper()

    symbols = grid_rows(page, "strategy-scorecard")
    assert {"AAPL", "NVDA", "META", "NFLX", "GOOG", "AMZN"} <= set(symbols)
    badges = page.eval_on_selector_all("#strategy-scorecard .kd-badge", "els => els.map(e => e.textContent)")
    assert {"OPEN", "TRADED", "WOULD-TRADE", "SKIPPED"} <= set(badges), badges
    assert grid_rows(page, "strategy-runs") == ["5", "4", "3", "2", "1"]  # four sweep runs after the demo's
    (heat,) = page.evaluate("() => document.querySelector('#strategy-sweep .js-plotly-plot').data.map(t => t.z)")
    assert heat == [[0.4, 0.7], [-0.2, 0.9]]
    # no token typed: the form explains itself instead of acting
    assert page.is_disabled("#strategy-run-submit")
    assert "Enter the dashboard token" in page.inner_text("#strategy-write-hint")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "kevin_dash_strategy.png"), full_page=True)
    page.close()


def test_paper_account_shows_equity_positions_history_risk_and_decisions(chromium: Any, demo: Served) -> None:
    page = demo.page(chromium, "/paper-account")
    traces = plot_traces(page, "paper-equity")
    assert [t["name"] for t in traces] == ["equity", "cash", "SPY (same start)"]
    assert traces[0]["points"] == 6
    cards = page.inner_text("#paper-cards")
    assert "$101,250.00" in cards and "+$1,250.00" in cards and "SPY SAME PERIOD" in cards.upper()
    page.wait_for_selector("#paper-positions-table")  # with the token callback's first call, after the chart
    rows = page.eval_on_selector_all("#paper-positions-table tbody tr", "els => els.map(e => e.innerText)")
    assert len(rows) == 2 and "AAPL" in rows[0] and "AAPL into the new year" in rows[0]
    # the user's own TSLA: its own section, labelled not kevin's, with no Close button
    assert "Not kevin's" in page.inner_text("#paper-foreign-section")
    foreign = page.eval_on_selector_all("#paper-foreign-table tbody tr", "els => els.map(e => e.innerText)")
    assert len(foreign) == 1 and "TSLA" in foreign[0] and "$492.72" in foreign[0]
    assert page.query_selector("#paper-foreign-table button") is None
    assert sorted(grid_rows(page, "paper-history")) == sorted(["3", "4"])
    assert len(grid_rows(page, "paper-feed")) == 10  # first page of the feed
    risk = page.inner_text("#paper-risk")
    assert "HALTED" in risk and "2 / 5" in risk and "$7,000.00 / $15,000.00" in risk
    # without the token every write button is disabled and the reason is on the page
    assert all(page.is_disabled(f"#paper-kill-{m}") for m in ("on", "exits-only", "off")) and page.is_disabled("#paper-resume")
    assert all(page.is_disabled(f"#paper-position-{i} button") for i in (1, 2))
    assert "Enter the dashboard token" in page.inner_text("#paper-write-hint")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "kevin_dash_paper_account.png"), full_page=True)
    page.close()


def test_close_asks_for_confirmation_then_queues_a_manual_close(chromium: Any, demo: Served) -> None:
    page = demo.page(chromium, "/paper-account")
    page.wait_for_selector("#paper-positions-table")
    enter_token(page)
    close = page.locator("#paper-position-1 button")
    page.wait_for_function("() => !document.querySelector('#paper-position-1 button').disabled")
    dialogs: list[str] = []

    page.once("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    close.click()
    page.wait_for_timeout(500)
    assert dialogs and "Close AAPL lot #1" in dialogs[0]
    assert demo.count(ManualCloseRequest) == 0  # cancelled: nothing queued

    page.once("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    close.click()
    page.wait_for_selector("#paper-action-msg .kd-msg-ok")
    # KEVIN_ENABLE_TRADING is false in this demo, which forces the switch off: the close is queued
    # for the first exit scan that allows exits (tests/dash/test_dash_actions.py covers "sent at once")
    assert "Close requested for AAPL" in page.inner_text("#paper-action-msg")
    assert "trading is OFF" in page.inner_text("#paper-action-msg")
    assert len(dialogs) == 2
    with demo.kapp.sessions() as s:
        req = s.scalars(select(ManualCloseRequest)).one()
    assert (req.symbol, req.position_id, req.status, req.requested_by) == ("AAPL", 1, "pending", "dashboard")
    page.close()


def test_kill_switch_and_resume_with_the_token(chromium: Any, demo: Served) -> None:
    page = demo.page(chromium, "/paper-account")
    page.wait_for_selector("#paper-kill-on")
    enter_token(page, "wrong-token")
    page.wait_for_function("() => !document.querySelector('#paper-kill-on').disabled")
    page.click("#paper-kill-on")
    page.wait_for_selector("#paper-action-msg .kd-msg-bad")
    assert "Refused" in page.inner_text("#paper-action-msg")

    enter_token(page)
    page.wait_for_function("() => !document.querySelector('#paper-kill-on').disabled")
    with demo.kapp.sessions() as s:
        assert s.get(TradingState, 1).trading_mode == "off"  # type: ignore[union-attr]
    assert document_disabled(page, "#paper-kill-off")  # the mode in force is not offered again
    page.click("#paper-kill-exits-only")
    page.wait_for_function("() => document.querySelector('#paper-kill-exits-only').disabled")
    assert "Runtime trading switch is now EXITS-ONLY" in page.inner_text("#paper-action-msg")
    assert "runtime switch exits-only" in page.inner_text("#paper-kill-state")
    page.click("#paper-kill-on")
    page.wait_for_function("() => document.querySelector('#paper-kill-on').disabled")
    assert "Runtime trading switch is now ON" in page.inner_text("#paper-action-msg")
    page.click("#paper-resume")
    page.wait_for_function("() => document.querySelector('#paper-action-msg').innerText.includes('Resumed')")
    with demo.kapp.sessions() as s:
        state = s.get(TradingState, 1)
        assert state is not None and state.trading_mode == "on" and state.halted is False
    assert "not paused, not halted" in page.inner_text("#paper-risk")
    page.close()


def document_disabled(page: Any, selector: str) -> bool:
    return bool(page.evaluate(f"() => document.querySelector('{selector}').disabled"))


def tick_run(page: Any, rid: str) -> None:
    """Tick a run's checkbox. A tick makes a callback re-render the grid, and a click that lands
    during that re-render is lost: wait for the page to settle and retry until the box is ticked."""
    box = f"#strategy-runs .ag-center-cols-container .ag-row[row-id='{rid}'] input[type=checkbox]"
    for _ in range(10):
        page.wait_for_load_state("networkidle")
        try:
            page.locator(box).first.check(timeout=3_000)
        except Exception:  # noqa: BLE001 - playwright's "did not change its state" during a re-render
            page.wait_for_timeout(300)
            continue
        if page.locator(box).first.is_checked():
            return
    raise AssertionError(f"could not tick run {rid} in the runs grid")


def test_run_backtest_form_adds_a_run_shows_it_and_two_runs_compare(chromium: Any, demo: Served) -> None:
    page = demo.page(chromium, "/strategy")
    page.wait_for_selector("#strategy-run-submit")
    enter_token(page)
    page.wait_for_function("() => !document.querySelector('#strategy-run-submit').disabled")
    page.fill("#strategy-form-conviction", "0.7")
    page.fill("#strategy-form-hold", "15")
    page.click("#strategy-run-submit")
    page.wait_for_function("() => document.querySelector('#strategy-run-msg').innerText.includes('Backtest finished')", timeout=30_000)
    assert "run #6" in page.inner_text("#strategy-run-msg")  # demo run 1, sweep runs 2-5
    with demo.kapp.sessions() as s:
        run = s.get(BacktestRun, 6)
        assert run is not None and run.trigger == "dash" and run.status == "succeeded"
        assert run.params["hold_sessions_weeks"] == 15 and run.params["min_conviction"] in ("0.7", "0.70")
    page.wait_for_function("() => document.querySelector('#strategy-run-title').innerText.includes('Run #6')")
    assert next(t["name"] for t in plot_traces(page, "strategy-equity")) == "run #6"
    assert grid_rows(page, "strategy-runs")[:2] == ["6", "5"]

    # tick two runs: one chart, two equity curves
    for rid in ("6", "1"):
        tick_run(page, rid)
    page.wait_for_function("() => document.querySelector('#strategy-run-title').innerText.includes('compared with #1')")
    names = [t["name"] for t in plot_traces(page, "strategy-equity")]
    assert names[:3] == ["run #6", "run #1", "SPY buy & hold"], names
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "kevin_dash_compare.png"), full_page=True)

    # a click on a row shows that run alone (a sweep run: metrics, no stored curve)
    page.click("#strategy-runs .ag-center-cols-container .ag-row[row-id='5'] [col-id='trigger']")
    page.wait_for_function("() => document.querySelector('#strategy-run-title').innerText.startsWith('Run #5 ')")
    assert "sweep sweep-demo" in page.inner_text("#strategy-run-title")
    assert plot_traces(page, "strategy-equity") == []  # nothing to draw, and no error either
    assert "No equity curve" in page.inner_text("#strategy-equity")
    page.close()


def test_a_fresh_database_shows_guidance_and_read_only_controls(chromium: Any, empty: Served) -> None:
    page = empty.page(chromium, "/strategy")
    page.wait_for_selector("#strategy-guidance")
    text = page.inner_text("body")
    assert "kevin backtest" in text and "make demo" in text
    assert "Traceback" not in text and "Error" not in text
    assert page.is_disabled("#shell-token")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "kevin_dash_empty_strategy.png"), full_page=True)

    page.click("#shell-nav-paper")
    page.wait_for_selector("#paper-empty-guidance")
    page.wait_for_selector("#paper-positions-empty")  # with the token callback's first call
    text = page.inner_text("body")
    assert "make demo" in text and "Traceback" not in text
    assert page.is_disabled("#paper-kill-on")
    assert "KEVIN_DASH_TOKEN is not set" in page.inner_text("#paper-write-hint")
    assert "No open positions" in text
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "kevin_dash_empty_paper_account.png"), full_page=True)

    page.click("#shell-nav-channels")
    page.wait_for_selector("#channels-guidance")
    text = page.inner_text("body")
    assert "No calls yet" in text and "make demo" in text and "Traceback" not in text
    page.close()


def test_channels_page_shows_the_verdict_both_charts_and_follows_the_channel_filter(
    chromium: Any, demo_two_channels: Served
) -> None:
    served = demo_two_channels
    with served.kapp.sessions() as s:  # the numbers the page must show, from the same research path
        expected = channels_data.channels_data(s, served.kapp.settings.strategy_params())
    page = served.page(chromium, "/strategy")
    page.click("#shell-nav-channels")
    page.wait_for_url("**/channels")
    event = plot_traces(page, "channels-event")
    assert [t["name"] for t in event] == ["95% band (upper)", "95% band", "mean CAR"]
    assert len(drawn_values(page, "channels-event", 2, "x")) == 71  # days -10 .. +60
    assert [t["name"] for t in plot_traces(page, "channels-conviction")] == [
        "conviction <0.6 (24 calls)", "conviction 0.6-0.8 (51 calls)", "conviction >=0.8 (36 calls)"]
    sample = page.inner_text("#channels-row-0")
    assert "SAMPLE (illustrative, not real calls)" in sample and "117" in sample and "111" in sample
    assert "+0.81%" in sample and "[-0.73%, +2.39%]" in sample and "no evidence" in sample
    assert "Verdict on the 20-session" in page.get_attribute("#channels-row-0 .kd-badge", "title")
    assert "too few calls" in page.inner_text("#channels-row-1") and SECOND_CHANNEL in page.inner_text("#channels-row-1")
    assert "n/a until" not in page.inner_text("#channels-backtest-note")
    assert {"AAPL", "NVDA", "META", "NFLX"} <= set(grid_rows(page, "channels-tickers"))
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "kevin_dash_channels.png"), full_page=True)

    page.click("#channels-channel")
    page.get_by_role("option", name=SECOND_CHANNEL).click()
    page.wait_for_function(
        "() => document.querySelectorAll('#channels-tickers .ag-center-cols-container .ag-row').length === 1")
    assert grid_rows(page, "channels-tickers") == ["AAPL"]
    mean = drawn_values(page, "channels-event", 2, "y")
    want = list(expected.event(SECOND_CHANNEL)["mean_car"] * 100)
    assert mean == pytest.approx(want, nan_ok=True) and len(want) == 71
    page.click("#channels-tickers .ag-center-cols-container .ag-row[row-id='AAPL'] [col-id='calls']")
    page.wait_for_selector("#channels-calls-table")
    assert "AAPL: 5 calls" in page.inner_text("#channels-calls")
    assert len(page.query_selector_all("#channels-calls-table tbody tr")) == 5
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "kevin_dash_channels_second.png"), full_page=True)
    page.close()


# --- the vendored Plotly ---------------------------------------------------------------------

GRAPHS = {"/strategy": ("strategy-equity", "strategy-sweep"), "/paper-account": ("paper-equity",),
          "/channels": ("channels-event", "channels-conviction")}
FULL_PLOTLY = "/_dash-component-suites/plotly/package_data/plotly.min.js"  # dcc.Graph's fallback


def test_every_chart_is_drawn_by_the_vendored_partial_plotly_bundle(chromium: Any, demo: Served) -> None:
    """Every chart on every page drawn by kevin_dash/assets/plotly/ (never dcc's fetch of the full
    plotly.min.js), each trace's type one the bundle registers, with no error in the console."""
    bundle = "/assets/" + PLOTLY_BUNDLE.relative_to(ASSETS_DIR).as_posix()
    for path, graphs in GRAPHS.items():
        page = demo.page(chromium, path)
        for graph in graphs:
            page.wait_for_selector(f"#{graph} .js-plotly-plot .main-svg")
        drawn = page.evaluate("""ids => ({
            version: Plotly.version,
            registered: Object.keys(Plotly.PlotSchema.get().traces),
            types: ids.map(id => Array.from(document.querySelector('#' + id + ' .js-plotly-plot').data, t => t.type || 'scatter')),
            scripts: performance.getEntriesByType('resource').map(e => new URL(e.name).pathname),
        })""", list(graphs))
        assert bundle in drawn["scripts"] and FULL_PLOTLY not in drawn["scripts"], (path, drawn["scripts"])
        assert drawn["version"] == bundle_version(), path
        types = {t for graph in drawn["types"] for t in graph}
        assert types and types <= set(drawn["registered"]), (path, types, drawn["registered"])
        page.close()
    assert {"scatter", "heatmap"} <= set(drawn["registered"]) and "scattergl" not in drawn["registered"]
    assert not demo.console_errors, demo.console_errors
