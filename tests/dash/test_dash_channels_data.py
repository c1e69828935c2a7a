"""/channels' data (`kevin_dash.data.channels`) and figures (`kevin_dash.figures_channels`), with
numbers worked out by hand on prices that make every return exact (`tests/skill_prices.py`: SPY and
BBB never move, AAA rises 1 % a session), and on the bundled sample.

Channel "alpha": 31 buys of AAA on 31 sessions -> every call beats SPY by 1.01^h - 1 over h
sessions: mean = that exactly, CI = [that, that], verdict skilled. Channel "beta": 30 sells of AAA
and one buy of BBB (on a sell's day) -> mean = -30/31 (1.01^h - 1), every day's cluster below 0:
anti-skilled. The event study sums close-to-close daily abnormal returns from day -10: a buy of AAA
is at 0.01 x (day + 11), so 11 % on the entry day and 71 % on day 60.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.utils
import pytest
from dash_builders import add_mention
from dash_harness import DashHarness, make_kevin_runtime, text_of
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from kevin_dash import figures_channels
from kevin_dash.data import channels as data
from kevin_pipeline.db.models import Channel, MentionRecord, PriceBar, Video
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.ingest.importer import import_mentions_file, sample_mentions_path
from kevin_pipeline.market_data.bundled import bundled_symbols, load_bundled_bars
from kevin_pipeline.market_data.cache import store_bars
from kevin_pipeline.research.backtest import execute, load_inputs
from tests.skill_prices import SESSIONS, published_into, steady_bars

PARAMS = StrategyParams()
ENTRIES = list(range(12, 43))  # 31 entry sessions: day -11 exists before each, day +60 after each


def ar(h: int) -> float:
    return 1.01**h - 1


def seed_channels(s: Session) -> None:
    store_bars(s, steady_bars(), source="fixture")
    for n, i in enumerate(ENTRIES):
        add_mention(s, "AAA", "buy", published_into(SESSIONS[i]), conviction=("0.50", "0.70", "0.90")[n % 3],
                    channel="alpha")
    for i in ENTRIES[:30]:
        add_mention(s, "AAA", "sell", published_into(SESSIONS[i]), channel="beta")
    add_mention(s, "BBB", "buy", published_into(SESSIONS[ENTRIES[0]]), channel="beta")
    s.flush()


@pytest.fixture
def channels(session: Session) -> data.ChannelsData:
    seed_channels(session)
    return data.channels_data(session, PARAMS)


# --- the video link --------------------------------------------------------------------------


def test_a_call_links_to_its_moment_in_the_video() -> None:
    assert data.video_link("dQw4w9WgXcQ", 83.9) == "https://youtu.be/dQw4w9WgXcQ?t=83"
    assert data.video_link("dQw4w9WgXcQ", 0) == "https://youtu.be/dQw4w9WgXcQ?t=0"
    assert data.video_link("dQw4w9WgXcQ", None) == "https://youtu.be/dQw4w9WgXcQ"  # no transcript time: the video
    assert data.video_link("dQw4w9WgXcQ", float("nan")) == "https://youtu.be/dQw4w9WgXcQ"
    assert data.video_link("v-AAA-202401021600-buy", 12) is None  # a file's own label, not a YouTube id
    assert data.video_link(None, 12) is None and data.video_link("", None) is None


# --- the tables ------------------------------------------------------------------------------


def test_the_channel_table_states_the_hand_computed_means_intervals_and_verdicts(channels: data.ChannelsData) -> None:
    assert channels.channel_names == ["alpha", "beta"]  # 31 calls each: by name
    table = data.channel_table(channels).set_index("channel")
    alpha, beta = table.loc["alpha"], table.loc["beta"]
    assert (alpha["calls"], alpha["scored"], beta["calls"], beta["scored"]) == (31, 31, 31, 31)
    for h in (1, 5, 20, 60):
        a = f"{ar(h) * 100:+.2f}%"
        assert (alpha[f"mean_{h}"], alpha[f"ci_{h}"]) == (a, f"[{a}, {a}]")
        assert beta[f"mean_{h}"] == f"{-30 / 31 * ar(h) * 100:+.2f}%"
        assert beta[f"ci_{h}"].endswith("%]") and float(beta[f"ci_{h}"].split(",")[1].strip(" %]")) < 0
    assert (alpha["mean_20"], alpha["ci_20"]) == ("+22.02%", "[+22.02%, +22.02%]")
    assert (alpha["hit"], alpha["verdict"], beta["hit"], beta["verdict"]) == ("100%", "skilled", "0%", "anti-skilled")
    assert alpha["t"] == "n/a"  # no spread, no t
    assert "'too few calls' under 30 scored calls" in alpha["rule"]


def test_tickers_and_calls_of_a_channel(channels: data.ChannelsData) -> None:
    tickers = channels.tickers("beta")
    assert list(tickers["symbol"]) == ["AAA", "BBB"] and list(tickers["calls"]) == [30, 1]
    assert tickers.loc[0, "mean_20"] == pytest.approx(-ar(20))
    assert tickers.loc[1, "mean_20"] == pytest.approx(0.0)
    assert data.ci_text(float("nan"), None) == "n/a" and data.ci_text(-0.0073, 0.0239) == "[-0.73%, +2.39%]"

    calls = channels.calls_of("alpha", "AAA")
    assert len(calls) == 31 and set(calls["channel"]) == {"alpha"} and set(calls["action"]) == {"buy"}
    assert calls["ar_1"].tolist() == pytest.approx([0.01] * 31) and calls["ar_60"].tolist() == pytest.approx([ar(60)] * 31)
    assert calls["entry_date"].iloc[0] == f"{SESSIONS[ENTRIES[-1]]:%Y-%m-%d}"  # newest call first
    assert calls["quote"].iloc[0] == "buy AAA fixture quote"
    assert calls["link"].isna().all()  # the fixture's video ids are labels, not YouTube ids
    assert channels.calls_of("alpha", "BBB").empty


def test_a_youtube_video_gets_its_link_and_the_bundled_sample_none(session: Session) -> None:
    store_bars(session, steady_bars(), source="fixture")
    add_mention(session, "AAA", "buy", published_into(SESSIONS[20]), video_id="dQw4w9WgXcQ", channel="yt")
    add_mention(session, "AAA", "buy", published_into(SESSIONS[21]), video_id="sample-0001", source="sample_mentions.csv",
                channel="yt")
    calls = data.channels_data(session, PARAMS).calls_of("yt").set_index("entry_date")
    link = calls.loc[f"{SESSIONS[20]:%Y-%m-%d}", "link"]
    assert link == "https://youtu.be/dQw4w9WgXcQ" or link.startswith("https://youtu.be/dQw4w9WgXcQ?t=")
    assert pd.isna(calls.loc[f"{SESSIONS[21]:%Y-%m-%d}", "link"])  # 'sample-0001' has a YouTube id's shape


# --- the figures -----------------------------------------------------------------------------


def test_the_event_study_figure_draws_the_mean_path_inside_its_band(channels: data.ChannelsData) -> None:
    fig = figures_channels.event_study_figure(channels.event("alpha"))
    upper, lower, mean = fig.data
    assert [t.name for t in fig.data] == ["95% band (upper)", "95% band", "mean CAR"]
    assert list(mean.x) == list(range(-10, 61))
    by_day = dict(zip(mean.x, mean.y))
    assert by_day[-10] == pytest.approx(1.0) and by_day[0] == pytest.approx(11.0) and by_day[60] == pytest.approx(71.0)
    assert list(upper.y) == pytest.approx(list(mean.y)) and list(lower.y) == pytest.approx(list(mean.y))  # no spread
    assert lower.fill == "tonexty"

    beta = dict(zip(*[figures_channels.event_study_figure(channels.event("beta")).data[2][k] for k in ("x", "y")]))
    assert beta[0] == pytest.approx(-30 / 31 * 11.0)


def test_the_conviction_figure_has_one_line_per_bucket_with_its_calls(channels: data.ChannelsData) -> None:
    fig = figures_channels.conviction_figure(channels.event_by_conviction("alpha"))
    # 31 calls at 0.50, 0.70, 0.90 in turn: 11, 10 and 10 a bucket, every path the same
    assert [t.name for t in fig.data] == ["conviction <0.6 (11 calls)", "conviction 0.6-0.8 (10 calls)",
                                          "conviction >=0.8 (10 calls)"]
    for trace in fig.data:
        assert dict(zip(trace.x, trace.y))[0] == pytest.approx(11.0)


def test_the_figures_say_so_when_there_is_nothing_to_draw() -> None:
    empty = pd.DataFrame(columns=["channel", "day", "n", "mean_car", "ci_low", "ci_high"])
    for fig in (figures_channels.event_study_figure(empty),
                figures_channels.conviction_figure(empty.assign(conviction_bucket=[]))):
        assert list(fig.data) == [] and "No scored calls" in fig.layout.annotations[0].text


# --- the cache -------------------------------------------------------------------------------


def test_the_cache_recomputes_only_when_a_call_or_a_bar_arrives(session: Session) -> None:
    seed_channels(session)
    cache = data.SkillCache()
    first = cache.get(session, PARAMS)
    assert cache.get(session, PARAMS) is first and cache.computed == 1
    add_mention(session, "AAA", "buy", published_into(SESSIONS[50]), channel="alpha")
    assert cache.get(session, PARAMS).report.channels.set_index("channel").loc["alpha", "calls"] == 32
    assert cache.computed == 2
    store_bars(session, steady_bars(("CCC",)), source="fixture")  # more bars, same newest date
    cache.get(session, PARAMS)
    assert cache.computed == 3
    cache.get(session, PARAMS.model_copy(update={"slippage_bps": Decimal("9")}))  # other strategy settings
    assert cache.computed == 4


# --- follow vs inverse -----------------------------------------------------------------------


def test_follow_and_inverse_backtest_each_channel_on_its_own_calls(session: Session) -> None:
    seed_channels(session)
    got = data.follow_inverse_returns(session, PARAMS)
    assert set(got) == {"alpha", "beta"}
    inputs = load_inputs(session, PARAMS)
    for channel in ("alpha", "beta"):
        ids = set(session.scalars(select(MentionRecord.id).join(Video, MentionRecord.video_pk == Video.id)
                                  .join(Channel, Video.channel_id == Channel.id).where(Channel.name == channel)))
        only = type(inputs)(mentions=[m for m in inputs.mentions if m.id in ids], bars=inputs.bars)
        for direction in data.DIRECTIONS:
            metrics = execute(only, PARAMS.model_validate({**PARAMS.model_dump(), "direction": direction})).metrics
            assert metrics is not None
            assert got[channel][direction] == pytest.approx(metrics.total_return_pct)
    # each channel alone: alpha only buys the riser AAA; beta's sells open nothing when followed
    assert got["alpha"]["follow"] != got["beta"]["follow"]
    # inverted, beta's 30 sells of AAA are long entries: the channel is worth fading
    assert got["beta"]["inverse"] > got["beta"]["follow"]


# --- the bundled sample ----------------------------------------------------------------------


def test_the_bundled_sample_channel(tmp_path: Path) -> None:
    kapp = make_kevin_runtime(tmp_path)
    try:
        import_mentions_file(kapp, sample_mentions_path())
        with kapp.transaction() as s:
            store_bars(s, load_bundled_bars(list(bundled_symbols()), date(2013, 1, 2), date(2022, 12, 28)), source="bundled")
        with kapp.sessions() as s:
            d = data.channels_data(s, PARAMS)
    finally:
        kapp.close()
    [name] = d.channel_names
    assert name == "SAMPLE (illustrative, not real calls)"
    row = data.channel_table(d).iloc[0]
    assert (row["calls"], row["scored"], row["verdict"]) == (117, 111, "no evidence")
    assert (row["mean_20"], row["ci_20"]) == ("+0.81%", "[-0.73%, +2.39%]") and row["hit"] == "51%" and row["t"] == "0.96"
    assert len(d.calls) == 117 and d.calls["link"].isna().all()  # sample ids are not videos
    mean = figures_channels.event_study_figure(d.event(name)).data[2]
    assert list(mean.y) == pytest.approx(list(d.event(name)["mean_car"] * 100))
    buckets = figures_channels.conviction_figure(d.event_by_conviction(name)).data
    assert [t.name for t in buckets] == ["conviction <0.6 (24 calls)", "conviction 0.6-0.8 (51 calls)",
                                         "conviction >=0.8 (36 calls)"]


# --- the page's callbacks (over HTTP, as the browser calls them) -----------------------------


def plotly_values(values: Any) -> list[Any]:
    """A trace's array as sent to the browser: a list, or Plotly's base64 typed array."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


def test_the_channel_filter_redraws_from_the_cached_report(harness: DashHarness) -> None:
    with harness.kapp.transaction() as s:
        seed_channels(s)
    harness.client.get("/channels")
    for _ in range(2):
        out = harness.call({"channels-channel.value": "beta"})["response"]
    event = out["channels-event"]["figure"]["data"][2]
    assert dict(zip(plotly_values(event["x"]), plotly_values(event["y"])))[0] == pytest.approx(-30 / 31 * 11.0)
    assert [r["symbol"] for r in out["channels-tickers"]["rowData"]] == ["AAA", "BBB"]
    assert out["channels-calls"]["children"].startswith("Click a ticker")
    calls = harness.call({"channels-tickers.cellClicked": {"rowId": "AAA", "colId": "calls"}},
                         state={"channels-channel.value": "beta"})["response"]["channels-calls"]["children"]
    assert "AAA: 30 calls" in text_of(calls) and text_of(calls).count("channels-call-") == 30
    assert harness.dash_app.server.extensions["kevin_dash"].skill.computed == 1  # one report for all three


def test_calls_without_benchmark_bars_get_guidance_not_an_error(harness: DashHarness) -> None:
    with harness.kapp.transaction() as s:
        add_mention(s, "AAA", "buy", published_into(SESSIONS[20]), channel="alpha")
        store_bars(s, steady_bars(("AAA",)), source="fixture")  # no SPY
    with harness.dash_app.server.test_request_context("/channels"):
        from kevin_dash.pages import channels as page  # registered by create_app: importable now

        shown = json.dumps(page.layout(), cls=plotly.utils.PlotlyJSONEncoder)
    assert "Cannot score the calls yet" in shown and "no bars for the benchmark SPY" in shown
    assert "channels-guidance" in shown and "kd-error" not in shown


def test_the_verdict_rule_is_sent_once_for_the_tickers_grid_not_on_every_row(harness: DashHarness) -> None:
    with harness.kapp.transaction() as s:
        seed_channels(s)
    harness.client.get("/channels")
    out = harness.call({"channels-channel.value": "alpha"})["response"]
    rows = out["channels-tickers"]["rowData"]
    assert rows and all("rule" not in r for r in rows)
    # the grid itself comes under the charts once they are drawn
    below = harness.call({"channels-drawn.data": True}, state={"channels-channel.value": "alpha"})["response"]
    props = grid_props(below, "channels-tickers")
    rule = harness.dash_app.server.extensions["kevin_dash"].skill._value.report.rule
    verdict = next(c for c in props["columnDefs"] if c["field"] == "verdict")
    assert verdict["headerTooltip"] == rule and json.loads(verdict["tooltipValueGetter"]["function"]) == rule
    assert [r["symbol"] for r in props["rowData"]] == ["AAA"] and props["dashGridOptions"]["pagination"] is True
    assert json.dumps(props).count(rule[:60]) == 2  # the column's two tooltips, none in the rows


def grid_props(node: Any, grid_id: str) -> Any:
    """The props of the component `grid_id` in a callback response or layout (JSON)."""
    if isinstance(node, dict):
        if node.get("props", {}).get("id") == grid_id:
            return node["props"]
        return next((g for g in (grid_props(v, grid_id) for v in node.values()) if g), None)
    if isinstance(node, list):
        return next((g for g in (grid_props(v, grid_id) for v in node) if g), None)
    return None


def _version_and_vm_steps(tmp_path: Path, bars: int) -> tuple[data.DataVersion, int]:
    """The data version of a SQLite database holding `bars` bars (and two calls), and the SQLite VM
    instructions reading it took (a progress handler called on every one)."""
    kapp = make_kevin_runtime(tmp_path)
    day0, now = date(2020, 1, 1), datetime(2024, 1, 1, tzinfo=UTC)
    with kapp.transaction() as s:
        s.execute(insert(PriceBar), [
            {"symbol": f"S{i % 50:03d}", "date": day0 + timedelta(days=i // 50), "open": 1.0, "high": 1.0, "low": 1.0,
             "close": 1.0, "volume": 1.0, "source": "fixture", "fetched_at": now} for i in range(bars)])
        for symbol in ("AAA", "BBB"):
            add_mention(s, symbol, "buy", now)
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    with kapp.sessions() as s:
        raw = s.connection().connection.driver_connection
        raw.set_progress_handler(count, 1)
        version = data.data_key(s)
        raw.set_progress_handler(None, 1)
    kapp.close()
    return version, steps


def test_the_data_version_reads_no_bar_row(tmp_path: Path) -> None:
    """Every /channels and /strategy load reads the data version before its first chart: its cost
    must not grow with the bars (the bench's 631,260 took 70 ms when one statement read every row)."""
    small, small_steps = _version_and_vm_steps(tmp_path / "small", 50)
    big, big_steps = _version_and_vm_steps(tmp_path / "big", 20_000)
    assert big == data.DataVersion(2, 2, date(2020, 1, 1), date(2020, 1, 1) + timedelta(days=399), 20_000)
    assert small.bars == 50 and small.last_bar == date(2020, 1, 1)
    assert big_steps < small_steps + 500, (small_steps, big_steps)  # one statement: > 100,000 more
