"""The dashboard at a channel's scale: server time of every Dash callback and time to the first chart.

The dashboard (`kevin_dash.app.create_app`) is served on 127.0.0.1 on a free port in a thread, on the
bench database (`bench.dash_scale`). A Flask before/after-request pair times every
`POST /_dash-update-component`, keyed by the callback's output id (a page's layout is the
`_pages_content.children` callback). Debian's Chromium (through Playwright, never a downloaded
browser) loads each page N times, each in a fresh browser context (a first visit: every script
fetched and compiled again, 4 MB of JavaScript of which 1.5 MB is the partial Plotly), then N
times in one context (a returning visitor, whose browser keeps the scripts); "first chart" is
navigation start -> the first `.js-plotly-plot .main-svg` laid out, read in the page as
`performance.now()`. Two floors are measured beside the pages (`floor_app`).

The app fills its caches (the /channels skill report, the scorecard, the charts) in a background
thread from start-up (`kevin_dash.warmup`); the bench prints how long that took and loads the pages
after it, as a person would who opens a dashboard that has been up a minute. The first load of each
page is still printed on its own line (the browser's first visit, the page's callbacks' first run),
and p50/p95 are over the loads after it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import flask
from werkzeug.serving import make_server

from kevin_dash.components import BELOW_PENDING
from kevin_pipeline.runtime import Runtime

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PAGES = ("/strategy", "/paper-account", "/channels")
CHART = ".js-plotly-plot .main-svg"
FIRST_CHART_JS = """() => {
    for (const e of document.querySelectorAll('.js-plotly-plot .main-svg')) {
        const r = e.getBoundingClientRect();
        if (r.width > 0 && r.height > 0) return performance.now();
    }
    return false;
}"""
TIMEOUT_MS = 120_000
QUIET_S = 0.5  # no request open this long: the page's callbacks are done


def callback_key(body: bytes) -> str:
    """The callback's first output as 'id.prop' (the page's layout: 'layout'), from the request body."""
    try:
        output = str(json.loads(body or b"{}").get("output", "?"))
    except ValueError:
        return "?"
    first = output.strip(".").split("...")[0].split("@")[0]  # '@hash': an allow_duplicate output
    return "layout" if first == "_pages_content.children" else first


@dataclass
class CallbackTimer:
    """Server seconds per Dash callback request, by output key, since the last `reset`."""

    samples: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, server: flask.Flask) -> None:
        @server.before_request
        def _start() -> None:
            if flask.request.path.endswith("/_dash-update-component"):
                flask.g.bench_started = time.perf_counter()

        @server.after_request
        def _stop(response: flask.Response) -> flask.Response:
            started = flask.g.pop("bench_started", None)
            if started is not None:
                key = callback_key(flask.request.get_data())
                with self.lock:
                    self.samples[key].append(time.perf_counter() - started)
            return response

    def reset(self) -> dict[str, list[float]]:
        with self.lock:
            taken, self.samples = dict(self.samples), defaultdict(list)
        return taken


@contextmanager
def serving(runtime: Runtime, timer: CallbackTimer, out: Callable[[str], None] = print) -> Iterator[str]:
    """The dashboard on 127.0.0.1 (a free port) in a thread, its caches warmed; yields its base URL."""
    from kevin_dash.app import create_app

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    dash_app = create_app(runtime)
    started = time.perf_counter()
    timer.attach(dash_app.server)
    http = make_server("127.0.0.1", 0, dash_app.server, threaded=True)
    thread = threading.Thread(target=http.serve_forever, name="bench-dash", daemon=True)
    thread.start()
    warming = dash_app.server.extensions["kevin_dash"].warmup
    if warming is not None:
        warming.join()
        out(f"    caches warmed in {time.perf_counter() - started:.1f} s (a background thread from start-up)")
    try:
        yield f"http://127.0.0.1:{http.server_port}"
    finally:
        http.shutdown()
        thread.join(timeout=10)
        dash_app.server.extensions["kevin_dash"].jobs.shutdown()


@dataclass
class PageTimes:
    path: str
    first_chart: list[float]  # seconds, one per load, each in a fresh browser context (a first visit)
    callbacks: list[dict[str, list[float]]]  # per load: output key -> server seconds
    # seconds per load of a returning visitor: one browser context, its HTTP and code caches kept
    # (the context's own first load, a first visit, is left out)
    returning: list[float] = field(default_factory=list)


VIEWPORT = {"width": 1400, "height": 1000}


def load_page(browser: Any, url: str, timer: CallbackTimer) -> tuple[float, dict[str, list[float]]]:
    """One page load (`browser`: a Browser, each page in a fresh context, or one BrowserContext):
    seconds to the first visible chart, and the callbacks it caused (waited for until the rest of
    the page, sent after the chart, has landed and no request is open)."""
    timer.reset()
    page = browser.new_page(viewport=VIEWPORT) if hasattr(browser, "new_context") else browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    pending: set[Any] = set()
    page.on("request", lambda r: pending.add(r))
    for done in ("requestfinished", "requestfailed"):
        page.on(done, lambda r: pending.discard(r))
    try:
        page.goto(url, wait_until="commit")
        ms = page.wait_for_function(FIRST_CHART_JS, polling="raf").json_value()
        page.wait_for_function(f"() => !document.querySelector('.{BELOW_PENDING}')")
        quiet_since = None
        while quiet_since is None or time.perf_counter() - quiet_since < QUIET_S:
            page.wait_for_timeout(50)
            quiet_since = None if pending else (quiet_since or time.perf_counter())
    finally:
        page.close()
    return float(ms) / 1000.0, timer.reset()


def returning_visits(browser: Any, url: str, timer: CallbackTimer, loads: int) -> list[float]:
    """Seconds to the first chart over `loads` loads in one browser context, less its first."""
    visitor = browser.new_context(viewport=VIEWPORT)
    try:
        return [load_page(visitor, url, timer)[0] for _ in range(loads)][1:]
    finally:
        visitor.close()


FLOOR = "floor"  # PageTimes.path of the baseline below, on the dashboard's Plotly
FLOOR_FULL_PLOTLY = "floor, full plotly.js"  # the same page on Dash's own full plotly.js


def floor_app(full_plotly: bool = False) -> Any:
    """The smallest Dash page with one chart (two points): what a first chart costs in this browser
    on this machine before a page adds anything. Printed beside the pages, so a loaded machine shows
    as a high floor.

    By default on the dashboard's Plotly, the vendored partial bundle `kevin_dash.app.PLOTLY_BUNDLE`
    (plotly.js-cartesian-dist-min, 1.5 MB, loaded with the page), and the same Dash and component
    bundles (this process imported the dashboard's component libraries, so Dash serves them here
    too). `full_plotly`: without it, so dcc.Graph fetches Dash's own full plotly.min.js (4.8 MB) when
    the graph mounts, as the dashboard did before: what the partial bundle saves."""
    import dash
    from dash import dcc, html

    from kevin_dash.app import PLOTLY_DIR

    assets: dict[str, Any] = {"include_assets_files": False} if full_plotly else {"assets_folder": str(PLOTLY_DIR)}
    app = dash.Dash("kevin_bench_floor", serve_locally=True, **assets)
    app.layout = html.Div(dcc.Graph(figure={"data": [{"type": "scatter", "x": [1, 2], "y": [1, 2]}]}))
    return app


@contextmanager
def _served(app: Any) -> Iterator[str]:
    http = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=http.serve_forever, name="bench-dash-floor", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_port}/"
    finally:
        http.shutdown()
        thread.join(timeout=10)


def measure_pages(runtime: Runtime, loads: int, out: Callable[[str], None], pages: tuple[str, ...] = PAGES) -> list[PageTimes]:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} not found: the dashboard bench needs Debian's chromium (apt-get install -y chromium)")
    timer = CallbackTimer()
    results = []
    with serving(runtime, timer, out) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            for path in pages:
                times = PageTimes(path, [], [])
                for i in range(loads):
                    chart, callbacks = load_page(browser, base + path, timer)
                    times.first_chart.append(chart)
                    times.callbacks.append(callbacks)
                    if i == 0:
                        out(f"    {path}: first load {chart:.2f} s to the first chart")
                times.returning = returning_visits(browser, base + path, timer, loads)
                results.append(times)
            for name, full_plotly in ((FLOOR, False), (FLOOR_FULL_PLOTLY, True)):
                with _served(floor_app(full_plotly)) as floor:
                    times = PageTimes(name, [], [])
                    for _ in range(loads):
                        chart, _ = load_page(browser, floor, timer)
                        times.first_chart.append(chart)
                    times.returning = returning_visits(browser, floor, timer, loads)
                    results.append(times)
        finally:
            browser.close()
    return results
