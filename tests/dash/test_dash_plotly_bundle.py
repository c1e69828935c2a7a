"""The dashboard's Plotly is the vendored partial bundle kevin_dash/assets/plotly/ (npm's
plotly.js-cartesian-dist-min): it is what the pages load, it is the plotly.js the installed plotly
ships, and it registers every trace type the dashboard's figures use. plotly.js draws a trace of a
type it does not know as a plain scatter, with no error, so a new trace type must fail here first.
(tests/dash/test_dash_browser.py checks the same in Chromium, on every page's drawn charts.)"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import plotly.graph_objects as go
from dash_harness import DashHarness, bundle_header, bundle_version
from plotly.basedatatypes import BaseTraceType
from plotly.offline import get_plotlyjs_version

from kevin_dash.app import ASSETS_DIR, PACKAGE_DIR, PLOTLY_BUNDLE, PLOTLY_DIR

GRAPH_OBJECTS_ALIASES = {"go", "graph_objects"}


def bundle_trace_types() -> set[str]:
    """The trace modules the bundle registers (each a `moduleType:"trace",name:"..."` object)."""
    return set(re.findall(r'moduleType:"trace",name:"(\w+)"', PLOTLY_BUNDLE.read_text(encoding="utf-8")))


def dashboard_trace_types() -> dict[str, set[str]]:
    """Trace type -> the kevin_dash files that build it: every `go.<Trace>(...)` in the package."""
    found: dict[str, set[str]] = {}
    for source in sorted(PACKAGE_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in GRAPH_OBJECTS_ALIASES:
                cls = getattr(go, node.attr, None)
                if isinstance(cls, type) and issubclass(cls, BaseTraceType):
                    found.setdefault(cls().type, set()).add(source.name)
    return found


def test_the_bundle_is_the_plotly_js_the_installed_plotly_ships_with_its_mit_licence() -> None:
    assert bundle_version() == get_plotlyjs_version(), (
        f"kevin_dash/assets/plotly/ holds plotly.js {bundle_version()}, plotly ships {get_plotlyjs_version()}: run `make plotly-bundle`")
    assert "Licensed under the MIT license" in bundle_header()
    assert (PLOTLY_DIR / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    assert PLOTLY_BUNDLE.stat().st_size < 2_000_000  # a partial bundle, not plotly.min.js (4.8 MB)


def test_every_trace_type_the_dashboard_builds_is_in_the_bundle() -> None:
    used = dashboard_trace_types()
    assert {"scatter", "heatmap"} <= set(used), used  # the scan sees the figures it must see
    registered = bundle_trace_types()
    assert "scattergl" not in registered and "scatter" in registered  # the scan of the bundle works
    missing = {t: sorted(files) for t, files in used.items() if t not in registered}
    assert not missing, f"trace types the bundle lacks (a wider npm plotly.js-*-dist-min in `make plotly-bundle`): {missing}"


def test_the_dashboard_builds_figures_only_with_graph_objects() -> None:
    """plotly.express hides its trace types from the scan above: the dashboard does not use it."""
    users = [p.name for p in PACKAGE_DIR.rglob("*.py") if re.search(r"plotly\.express|plotly import express", p.read_text(encoding="utf-8"))]
    assert users == []


def test_pages_load_the_bundle_and_not_plotlys_own(harness: DashHarness) -> None:
    html = harness.client.get("/strategy").get_data(as_text=True)
    bundle = "/assets/" + PLOTLY_BUNDLE.relative_to(ASSETS_DIR).as_posix()
    assert f'src="{bundle}?m=' in html
    assert "package_data/plotly.min.js" not in html
    # before the renderer starts, so `window.Plotly` is there when the first dcc.Graph mounts
    assert html.index(bundle) < html.index("dash_renderer")
