"""The Dash app: `create_app()` builds it on a kevin Runtime (database + settings); `serve()` runs it.

    from kevin_dash.app import create_app
    dash_app = create_app()            # opens the database from KEVIN_* settings
    dash_app.server                    # the Flask WSGI app (also `kevin_dash.app:server`, lazily)

Offline by construction: Dash serves its own JavaScript (`serve_locally=True`), our CSS and the
AG Grid cell renderer are in `kevin_dash/assets/`, and nothing points at a CDN.
Plotly is the partial bundle in `assets/plotly/` (plotly.js-cartesian-dist-min: scatter, heatmap,
bar, ... 1.5 MB; `make plotly-bundle` refreshes it): loaded with the page, it is the `window.Plotly`
dcc.Graph finds, so dcc never fetches plotly's full 4.8 MB bundle, whose compile was most of a first
visit's wait for its first chart. plotly.js draws a trace type outside it as a plain scatter, silently:
tests/dash/test_dash_plotly_bundle.py fails first.
Binds 127.0.0.1 by default (`KEVIN_DASH_HOST`, `KEVIN_DASH_PORT`); read-only pages need no token,
write actions need `KEVIN_DASH_TOKEN` (see `kevin_dash.actions`).
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Any

import dash
import flask
from dash import dcc, html

from kevin_dash import actions, warmup
from kevin_dash.context import DashContext, attach
from kevin_dash.jobs import BacktestJobs
from kevin_pipeline.runtime import Runtime, open_runtime

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
PAGES_DIR = PACKAGE_DIR / "pages"
ASSETS_DIR = PACKAGE_DIR / "assets"
PLOTLY_DIR = ASSETS_DIR / "plotly"  # the vendored plotly.js bundle and its licence
PLOTLY_BUNDLE = PLOTLY_DIR / "plotly-cartesian.min.js"
HOME_PATH = "/strategy"


def _shell(runtime: Runtime) -> html.Div:
    """The frame around every page: brand, navigation, the token field, then the page."""
    configured = actions.token_configured(runtime.settings)
    token = dcc.Input(
        id="shell-token",
        type="password",
        placeholder="dashboard token" if configured else "read-only (no token set)",
        disabled=not configured,
        autoComplete="off",
        debounce=False,
        className="kd-token-input",
        persistence=False,
    )
    return html.Div(
        [
            html.Header(
                [
                    html.Div([html.Span("kevin", className="kd-brand"), html.Span("calls → paper trades", className="kd-tagline")]),
                    html.Nav(
                        [
                            dcc.Link("Strategy", href="/strategy", className="kd-nav-link", id="shell-nav-strategy"),
                            dcc.Link("Paper account", href="/paper-account", className="kd-nav-link", id="shell-nav-paper"),
                            dcc.Link("Channels", href="/channels", className="kd-nav-link", id="shell-nav-channels"),
                        ],
                        className="kd-nav",
                    ),
                    html.Div(
                        [html.Label("Token", htmlFor="shell-token", className="kd-token-label"), token],
                        className="kd-token",
                        title="Write actions (close, kill switch, resume, run backtest) need KEVIN_DASH_TOKEN",
                    ),
                ],
                className="kd-header",
            ),
            html.Main(dash.page_container, className="kd-main"),
        ],
        className="kd-shell",
    )


def create_app(runtime: Runtime | None = None, *, warm: bool = True) -> dash.Dash:
    """A Dash app on `runtime` (default: `open_runtime()` from the KEVIN_* environment). `warm`: fill
    the pages' caches in a background thread now (`kevin_dash.warmup`), not on the first page load."""
    runtime = runtime or open_runtime()
    server = flask.Flask("kevin_dash")
    dash_app = dash.Dash(
        "kevin_dash",
        server=server,
        use_pages=True,
        pages_folder=str(PAGES_DIR),
        assets_folder=str(ASSETS_DIR),
        serve_locally=True,
        suppress_callback_exceptions=True,
        title="kevin",
        update_title=None,
        enable_mcp=False,
    )
    attach(server, DashContext(runtime=runtime, jobs=BacktestJobs(runtime)))
    dash_app.layout = _shell(runtime)

    @server.before_request
    def _home_redirect() -> Any:
        if flask.request.path == dash_app.config.requests_pathname_prefix:
            return flask.redirect(dash_app.get_relative_path(HOME_PATH), code=302)
        return None

    # Pages register their callbacks with `dash.callback` into a process-wide list that the NEXT
    # app to serve a request claims. Claim them now, so a second dashboard built in the same
    # process (the tests build several) gets its own copy instead of none.
    with server.test_request_context("/"):
        dash_app._setup_server()
    if warm:
        server.extensions["kevin_dash"].warmup = warmup.start(dash_app)
    return dash_app


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(host: str | None = None, port: int | None = None, *, runtime: Runtime | None = None, debug: bool = False) -> None:
    """Run the dashboard (Flask's threaded server) until interrupted: `kevin dash [--host H] [--port P]`."""
    owned = runtime is None  # opened here, so closed here
    runtime = runtime or open_runtime()
    host = host or runtime.settings.dash_host
    port = int(port or runtime.settings.dash_port)
    dash_app = create_app(runtime)
    if not _is_loopback(host):
        log.warning(
            "kevin dash listens on %s: anyone who can reach it can READ the dashboard (there is no login); "
            "write actions still need KEVIN_DASH_TOKEN", host,
        )
    if not actions.token_configured(runtime.settings):
        log.warning("KEVIN_DASH_TOKEN is not set: the dashboard is read-only")
    print(f"kevin dash: http://{host}:{port}{HOME_PATH}  (Ctrl-C stops it)", flush=True)
    try:
        dash_app.run(host=host, port=port, debug=debug, use_reloader=False)
    finally:
        dash_app.server.extensions["kevin_dash"].jobs.shutdown()
        if owned:
            runtime.close()


_lazy_server: flask.Flask | None = None


def __getattr__(name: str) -> Any:
    """`kevin_dash.app:server` for WSGI servers, built on first access (not at import)."""
    global _lazy_server
    if name == "server":
        if _lazy_server is None:
            _lazy_server = create_app().server
        return _lazy_server
    raise AttributeError(name)
