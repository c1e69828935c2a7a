"""The dashboard at a channel's scale, as behaviour: the caches are filled at start-up in the
background (not by the first person to open a page), a page's grids come after its chart, the
scorecard is computed once per data and recomputed when the live account moves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dash_builders import add_decision, add_mention, add_position, add_run, add_snapshot, utc
from dash_harness import DashHarness, make_kevin_runtime, text_of
from test_dash_channels_data import grid_props, seed_channels

from kevin_dash import warmup
from kevin_dash.app import create_app
from kevin_dash.context import DashContext
from kevin_pipeline.db.models import Position


def seed(s: Any) -> None:
    seed_channels(s)  # two channels' calls of AAA and BBB on bars with SPY
    aaa = add_mention(s, "AAA", "buy", utc(2024, 3, 1, 15), channel="alpha")
    add_decision(s, aaa, "dry_run", "buy 1000.00 (dry run)", size="1000")
    add_run(s, [("2024-01-02", 100_000.0), ("2024-01-03", 101_000.0)], [("2024-01-02", 100_000.0), ("2024-01-03", 100_500.0)],
            metrics={"total_return_pct": 1.0, "trade_count": 0})
    add_snapshot(s, utc(2024, 1, 2, 21), "100000", "40000")
    add_snapshot(s, utc(2024, 1, 3, 21), "101000", "40000")


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[Any]:
    kapp = make_kevin_runtime(tmp_path)
    with kapp.transaction() as s:
        seed(s)
    yield kapp
    kapp.close()


def context(h: DashHarness) -> DashContext:
    return h.dash_app.server.extensions["kevin_dash"]


def test_the_caches_are_filled_at_start_up_and_the_first_page_load_computes_nothing(seeded: Any) -> None:
    h = DashHarness(seeded, create_app(seeded))
    try:
        ctx = context(h)
        assert ctx.warmup is not None
        ctx.warmup.join(timeout=120)
        assert not ctx.warmup.is_alive()
        filled = (ctx.skill.computed, ctx.scorecards.computed, ctx.hits.computed, ctx.figures.computed)
        assert ctx.skill.computed == 1 and ctx.scorecards.computed == 1 and ctx.hits.computed == 1
        assert ctx.figures.computed >= 2  # the run's equity chart and the account's
        for path, below in (("/strategy", "strategy"), ("/paper-account", "paper"), ("/channels", "channels")):
            layout = h.call({"_pages_location.pathname": path, "_pages_location.search": ""})
            assert "kd-error" not in text_of(layout)
            state = {"channels-channel.value": "alpha"} if below == "channels" else None
            h.call({f"{below}-drawn.data": True}, state=state)
        assert (ctx.skill.computed, ctx.scorecards.computed, ctx.hits.computed, ctx.figures.computed) == filled
    finally:
        h.close()


def test_an_empty_database_warms_nothing(harness: DashHarness) -> None:
    ctx = context(harness)
    assert ctx.warmup is not None
    ctx.warmup.join(timeout=30)
    assert warmup.warm_pages(harness.dash_app) == []
    assert (ctx.skill.computed, ctx.scorecards.computed, ctx.figures.computed) == (0, 0, 0)


def test_an_app_built_without_warm_up_computes_on_the_first_page_load(seeded: Any) -> None:
    h = DashHarness(seeded, create_app(seeded, warm=False))
    try:
        ctx = context(h)
        assert ctx.warmup is None and ctx.scorecards.computed == 0
        h.call({"_pages_location.pathname": "/strategy", "_pages_location.search": ""})
        h.call({"strategy-drawn.data": True})
        assert ctx.scorecards.computed == 1
    finally:
        h.close()


def test_the_strategy_layout_sends_the_chart_and_the_grids_come_after_it(seeded: Any) -> None:
    h = DashHarness(seeded, create_app(seeded, warm=False))
    try:
        layout = h.call({"_pages_location.pathname": "/strategy", "_pages_location.search": ""})
        assert '"strategy-equity"' in text_of(layout) and '"strategy-drawn"' in text_of(layout)
        assert grid_props(layout, "strategy-scorecard") is None and grid_props(layout, "strategy-feed") is None
        below = h.call({"strategy-drawn.data": True})
        card = grid_props(below, "strategy-scorecard")
        assert [r["symbol"] for r in card["rowData"]] == ["AAA", "BBB"]
        assert card["dashGridOptions"]["pagination"] is True and card["dashGridOptions"]["paginationPageSize"] == 25
        assert grid_props(below, "strategy-feed") is not None and grid_props(below, "strategy-runs") is not None
        assert not h.call({"strategy-drawn.data": None}).get("response")  # nothing drawn yet: nothing sent
    finally:
        h.close()


def test_the_scorecard_is_kept_until_the_live_account_moves(seeded: Any) -> None:
    h = DashHarness(seeded, create_app(seeded, warm=False))
    try:
        ctx = context(h)

        def badge(symbol: str) -> str:
            rows = grid_props(h.call({"strategy-drawn.data": True}), "strategy-scorecard")["rowData"]
            return next(r["live_status"] for r in rows if r["symbol"] == symbol)

        assert badge("AAA") == "WOULD-TRADE" and badge("AAA") == "WOULD-TRADE"
        assert ctx.scorecards.computed == 1
        with seeded.transaction() as s:  # a lot opens: the badge must say so at once
            lot = add_position(s, "AAA", 10, "50.00", utc(2024, 3, 4, 15))
        assert badge("AAA") == "OPEN" and ctx.scorecards.computed == 2
        with seeded.transaction() as s:  # the lot closes: no new row anywhere, still a new scorecard
            s.get(Position, lot.id).status = "closed"
        assert badge("AAA") == "WOULD-TRADE" and ctx.scorecards.computed == 3  # its latest decision again
        assert ctx.hits.computed == 1  # the calls and bars did not change: the hit rates were kept
    finally:
        h.close()


def test_the_run_history_arriving_with_nothing_ticked_does_not_redraw_the_chart(seeded: Any) -> None:
    h = DashHarness(seeded, create_app(seeded, warm=False))
    try:
        untouched = h.call({"strategy-runs.selectedRows": []}, state={"strategy-selected.data": []})
        assert not untouched.get("response")
        ticked = h.call({"strategy-runs.selectedRows": [{"id": 1}]}, state={"strategy-selected.data": []})
        assert ticked["response"]["strategy-selected"]["data"] == [1]
    finally:
        h.close()


def test_the_rest_of_the_strategy_page_counts_the_bars_once(seeded: Any) -> None:
    """The data version counts every price bar (630,000 rows on a channel's scale): the request that
    sends the grids reads it once and hands it on, not once per part of the page."""
    from sqlalchemy import event

    h = DashHarness(seeded, create_app(seeded, warm=False))
    counted: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "min(price_bars.date)" in statement.lower():  # the data version's scan
            counted.append(statement)

    event.listen(seeded.engine, "before_cursor_execute", seen)
    try:
        h.call({"_pages_location.pathname": "/strategy", "_pages_location.search": ""})
        counted.clear()
        below = h.call({"strategy-drawn.data": True})
        assert grid_props(below, "strategy-scorecard") is not None
        assert len(counted) == 1
    finally:
        event.remove(seeded.engine, "before_cursor_execute", seen)
        h.close()
