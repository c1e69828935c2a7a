"""What a page or callback needs at request time: the kevin Runtime, the backtest job registry and
the caches (the /channels skill report, /strategy's hit rates, run trades and equity charts).

One `DashContext` per Dash app, kept in the Flask server's `extensions`, so two dashboards in one
process (the tests serve a demo database and an empty one side by side) never share a database.
Pages and callbacks run inside a Flask request and call `current()`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import flask

from kevin_dash.data.cache import KeyedCache
from kevin_dash.data.channels import SkillCache
from kevin_dash.jobs import BacktestJobs
from kevin_pipeline.runtime import Runtime
from kevin_pipeline.settings import Settings

EXTENSION_KEY = "kevin_dash"


@dataclass
class DashContext:
    runtime: Runtime
    jobs: BacktestJobs
    skill: SkillCache = field(default_factory=SkillCache)  # /channels' last skill report
    hits: KeyedCache = field(default_factory=KeyedCache)  # /strategy's scorecard hit rates, by data and hold
    trades: KeyedCache = field(default_factory=KeyedCache)  # a stored run's trades, by run
    figures: KeyedCache = field(default_factory=KeyedCache)  # charts as sent: runs drawn, sweeps, the account
    scorecards: KeyedCache = field(default_factory=KeyedCache)  # /strategy's scorecard rows (see _scorecard_rows)
    warmup: threading.Thread | None = None  # filling the caches at start-up (kevin_dash.warmup)

    @property
    def settings(self) -> Settings:
        return self.runtime.settings


def attach(server: flask.Flask, ctx: DashContext) -> None:
    server.extensions[EXTENSION_KEY] = ctx


def current() -> DashContext:
    """The context of the Dash app serving the current request."""
    return flask.current_app.extensions[EXTENSION_KEY]
