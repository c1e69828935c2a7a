"""/ — sends the browser to /strategy (the server answers a plain GET / with a 302 already;
this page covers navigation inside the running runtime)."""

from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

dash.register_page(__name__, path="/", name="Home", title="kevin")


def layout(**_: Any) -> html.Div:
    return html.Div(
        [dcc.Location(id="home-redirect", pathname="/strategy", refresh=True), dcc.Link("Go to the strategy page", href="/strategy")]
    )
