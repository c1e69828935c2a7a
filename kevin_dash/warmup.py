"""Fill the dashboard's caches when it starts, so the first person to open a page does not pay for them.

At a channel's scale the /channels skill report takes 20-40 s and /strategy's hit rates a few
seconds; until the data changes every later page load reads them from the caches
(`kevin_dash.context`). `start(dash_app)` runs each page module's `warm()` in a daemon thread, inside
the app's Flask context (the pages read their caches through `context.current()`), newest work first:
the same functions a page load calls, so what is warmed is exactly what a page asks for.

Under gunicorn the app is built in the worker (`kevin_dash.app:server`, no `--preload`), so the thread
runs in the process that serves. An empty database warms nothing. A failure is logged and left to
the page, which reports it when it is opened.
"""

from __future__ import annotations

import logging
import sys
import threading
import time

import dash

log = logging.getLogger(__name__)

ORDER = ("/strategy", "/paper-account", "/channels")  # the home page first, the slowest last


def warm_pages(dash_app: dash.Dash) -> list[str]:
    """Run every registered page's `warm()` (in the app's context); returns the pages warmed."""
    done = []
    with dash_app.server.app_context():
        pages = sorted(dash.page_registry.values(), key=lambda p: ORDER.index(p["path"]) if p["path"] in ORDER else len(ORDER))
        for page in pages:
            warm = getattr(sys.modules.get(page["module"]), "warm", None)
            if warm is None:
                continue
            started = time.perf_counter()
            try:
                if warm():
                    done.append(page["path"])
                    log.info("dashboard: %s warmed in %.1f s", page["path"], time.perf_counter() - started)
            except Exception:  # noqa: BLE001 - the page reports it when opened; the other pages still warm
                log.warning("dashboard: warming %s failed (the page will try again when opened)", page["path"],
                            exc_info=True)
    return done


def start(dash_app: dash.Dash) -> threading.Thread:
    thread = threading.Thread(target=warm_pages, args=(dash_app,), name="kevin-dash-warmup", daemon=True)
    thread.start()
    return thread
