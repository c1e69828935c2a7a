"""`research.skill`: calls and bars from the database (each mention's channel is its video's),
scored and tabulated per channel and ticker, printed for the terminal and as JSON.

Prices are built so every number is known: SPY never moves and AAA rises exactly 1 % a session
(each open is the previous close), BBB never moves. So a buy of AAA beats SPY by exactly 1 % on
its first session and by 1.01^h - 1 over h sessions; a sell of AAA is wrong by as much.
"""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.orm import Session

from kevin_pipeline.db.store import store_mentions
from kevin_pipeline.domain.channel_skill import SKILLED, TOO_FEW
from kevin_pipeline.domain.mention_rows import MentionRow
from kevin_pipeline.domain.models import Action, Horizon
from kevin_pipeline.market_data.cache import store_bars
from kevin_pipeline.research.skill import NO_CHANNEL, SkillInputError, skill_json, skill_report, skill_text
from tests.skill_prices import SESSIONS, published_into
from tests.skill_prices import steady_bars as _bars

def _call(
    line: int, entry: int, symbol: str, action: Action, channel: str | None, conviction: str = "0.7"
) -> MentionRow:
    """A call published an hour after the close before SESSIONS[entry]: it enters that open."""
    return MentionRow(line=line, video_id=f"v{line}", published_at=published_into(SESSIONS[entry]), symbol=symbol, action=action,
                      conviction=Decimal(conviction), horizon=Horizon.WEEKS, channel=channel)


def _store(session: Session, bars: pd.DataFrame | None = None) -> None:
    rows = [_call(i, i, "AAA", Action.BUY, "Alpha", "0.9" if i % 2 else "0.5") for i in range(1, 36)]  # 35 buys
    rows.append(_call(36, 100, "AAA", Action.BUY, "Alpha"))  # 60 sessions from day 100: past the data
    rows += [_call(40 + i, 2 * i + 1, "AAA", Action.SELL, "Beta") for i in range(5)]
    rows.append(_call(50, 10, "BBB", Action.BUY, None))
    rows.append(_call(51, 11, "AAA", Action.HOLD, "Beta"))  # not a call
    store_mentions(session, rows, source="test")
    store_bars(session, _bars() if bars is None else bars, source="test")
    session.flush()


def test_channels_come_from_the_videos_and_the_numbers_are_the_hand_computed_ones(session: Session) -> None:
    _store(session)
    report = skill_report(session, n_boot=200)
    channels = report.channels.set_index("channel")
    assert list(channels.index) == [NO_CHANNEL, "Alpha", "Beta"]
    alpha, beta, none = channels.loc["Alpha"], channels.loc["Beta"], channels.loc[NO_CHANNEL]
    assert (alpha["calls"], beta["calls"], none["calls"]) == (36, 5, 1)  # the hold is not a call
    for h in (1, 5, 20):
        assert alpha[f"n_scored_{h}"] == 36
        assert alpha[f"mean_{h}"] == pytest.approx(1.01**h - 1)
        assert alpha[f"hit_rate_{h}"] == 1.0
        assert beta[f"mean_{h}"] == pytest.approx(-(1.01**h - 1))
        assert none[f"mean_{h}"] == 0.0
    assert (alpha["n_scored_60"], alpha["n_open_60"]) == (35, 1)
    # every call the same +22.02 %: the interval is that point, above 0, with 36 calls -> skilled
    assert alpha["ci_low_20"] == pytest.approx(1.01**20 - 1) and alpha["verdict"] == SKILLED
    assert np.isnan(alpha["t_20"])  # no spread at all: no t-statistic (not 1e16 from rounding)
    assert beta["verdict"] == TOO_FEW and none["verdict"] == TOO_FEW
    assert "20-session" in report.rule and alpha["rule"] == report.rule

    tickers = report.tickers.set_index(["channel", "symbol"])
    assert sorted(tickers.index) == [(NO_CHANNEL, "BBB"), ("Alpha", "AAA"), ("Beta", "AAA")]

    # the event study: Alpha's path gains 1 % a day from day -10 (its calls are early: day -10 is
    # before the data for the first ones, so those paths are left out there)
    event = report.event[report.event["channel"] == "Alpha"].set_index("day")
    assert event.loc[-10, "mean_car"] == pytest.approx(0.01)
    assert event.loc[0, "mean_car"] == pytest.approx(0.11)
    buckets = report.event_by_conviction
    assert set(buckets.loc[buckets["channel"] == "Alpha", "conviction_bucket"]) == {"<0.6", "0.6-0.8", ">=0.8"}


def test_the_terminal_table_and_the_json(session: Session) -> None:
    _store(session)
    report = skill_report(session, n_boot=200)
    text = skill_text(report)
    alpha_line = next(line for line in text.splitlines() if line.startswith("Alpha"))
    assert "+1.00%" in alpha_line and "+22.02%" in alpha_line and alpha_line.rstrip().endswith(SKILLED)
    assert "verdict rule: Verdict on the 20-session abnormal return" in text
    data = json.loads(json.dumps(skill_json(report, with_calls=True)))  # plain JSON all through
    assert data["verdict_horizon"] == 20 and data["benchmark"] == "SPY"
    alpha = next(c for c in data["channels"] if c["channel"] == "Alpha")
    assert alpha["verdict"] == SKILLED and alpha["mean_1"] == pytest.approx(0.01)
    assert alpha["mean_mm_1"] is None  # SPY never moves: no beta to fit
    assert {c["status"] for c in data["calls"]} == {"scored", "open"}
    assert "calls" not in skill_json(report)


def test_one_channel(session: Session) -> None:
    _store(session)
    assert skill_report(session, channel="Beta", n_boot=50).channels["channel"].tolist() == ["Beta"]
    assert skill_report(session, channel=NO_CHANNEL, n_boot=50).channels["channel"].tolist() == [NO_CHANNEL]


def test_holds_only_is_an_empty_report(session: Session) -> None:
    store_mentions(session, [_call(1, 5, "AAA", Action.HOLD, "Alpha")], source="test")
    store_bars(session, _bars(), source="test")
    session.flush()
    report = skill_report(session, n_boot=50)
    assert report.channels.empty and report.event.empty
    assert skill_text(report).startswith("no buy, sell or avoid calls to score")
    assert skill_json(report)["channels"] == []


def test_no_benchmark_bars_is_a_clear_error_and_no_calls_an_empty_report(session: Session) -> None:
    assert "no buy, sell or avoid calls to score" in skill_text(skill_report(session))
    _store(session, bars=_bars(("AAA", "BBB")))
    with pytest.raises(SkillInputError, match="no bars for the benchmark SPY"):
        skill_report(session)
