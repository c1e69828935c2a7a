"""Is each channel skilled? Reads the calls and bars from the app database, scores every call
(`domain.call_scoring`), and tabulates skill and the event study (`domain.channel_skill`).

The one research path behind `kevin skill`, the `channel_skill` / `call_scores` assets and the
dashboard's /channels page: `skill_report(session, ...)` returns every table, `skill_text` the
terminal's table and `skill_json` a JSON-able dict for `--json`. A mention's channel is its video's
channel (`videos.channel_id`); a video without one counts under `NO_CHANNEL`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from tabulate import tabulate

from kevin_pipeline.db.models import DEFAULT_CHANNEL_NAME, Channel, MentionRecord, Video
from kevin_pipeline.domain.calendar import NyseCalendar, nyse_calendar
from kevin_pipeline.domain.call_scoring import HORIZONS, PricePanel, abnormal_paths, prepare_calls, score_calls
from kevin_pipeline.domain.channel_skill import (
    MIN_SCORED, N_BOOT, SEED, VERDICT_HORIZON, conviction_bucket, event_study, skill_table, verdict_rule,
)
from kevin_pipeline.market_data.cache import load_cached_bars
from kevin_pipeline.research.backtest import clean_bars
from kevin_pipeline.research.scorecard import as_float

NO_CHANNEL = DEFAULT_CHANNEL_NAME  # "(no channel)": calls whose file named no channel
CALL_COLUMNS = ["mention_id", "channel", "video_id", "symbol", "action", "conviction", "published_at"]
PRE, POST = 10, 60


class SkillInputError(ValueError):
    """The calls cannot be scored (no bars for the benchmark, a bar off the calendar)."""


@dataclass
class SkillReport:
    scores: pd.DataFrame  # one row per call and horizon (call_scoring.score_calls)
    channels: pd.DataFrame  # skill_table per channel
    tickers: pd.DataFrame  # skill_table per channel and symbol
    event: pd.DataFrame  # event study per channel
    event_by_conviction: pd.DataFrame  # event study per channel and conviction bucket
    rule: str
    benchmark: str
    verdict_horizon: int
    horizons: tuple[int, ...]
    notes: list[str] = field(default_factory=list)


def load_calls(session: Session, channel: str | None = None) -> pd.DataFrame:
    """Every stored mention with its video's channel (`CALL_COLUMNS`), in publish order."""
    stmt = (
        select(MentionRecord.id, Channel.name, MentionRecord.video_id, MentionRecord.symbol, MentionRecord.action,
               MentionRecord.conviction, MentionRecord.published_at)
        .join(Video, MentionRecord.video_pk == Video.id)
        .outerjoin(Channel, Video.channel_id == Channel.id)
        .order_by(MentionRecord.published_at, MentionRecord.id)
    )
    if channel == NO_CHANNEL:
        stmt = stmt.where(or_(Video.channel_id.is_(None), Channel.name == NO_CHANNEL))
    elif channel is not None:
        stmt = stmt.where(Channel.name == channel)
    rows = [(i, c or NO_CHANNEL, v, s, a, as_float(cv), p) for i, c, v, s, a, cv, p in session.execute(stmt)]
    frame = pd.DataFrame(rows, columns=CALL_COLUMNS)
    frame["published_at"] = pd.to_datetime(frame["published_at"], utc=True)
    return frame


def skill_report(
    session: Session,
    *,
    benchmark: str = "SPY",
    channel: str | None = None,
    horizons: Sequence[int] = HORIZONS,
    verdict_horizon: int = VERDICT_HORIZON,
    n_boot: int = N_BOOT,
    seed: int = SEED,
    calendar: NyseCalendar | None = None,
    as_of: date | None = None,
) -> SkillReport:
    """Score the stored calls (of one channel, or all) on the cached bars and tabulate the skill."""
    cal = calendar or nyse_calendar()
    calls = load_calls(session, channel)
    bars, problems = clean_bars(load_cached_bars(session, set(calls["symbol"]) | {benchmark}))
    notes = [f"skipped malformed bar: {p}" for p in problems[:20]]
    rule = verdict_rule(verdict_horizon, MIN_SCORED, n_boot=n_boot)
    if bars.empty or benchmark not in set(bars["symbol"]):
        if calls.empty:
            return _empty_report(rule, benchmark, verdict_horizon, horizons, notes)
        raise SkillInputError(
            f"no bars for the benchmark {benchmark}: load them (kevin prices fetch, kevin prices import FILE)"
        )
    try:
        panel = PricePanel.from_frame(bars, cal, as_of)
        prepared = prepare_calls(calls, panel, cal)
        scores = score_calls(prepared, panel, benchmark=benchmark, horizons=horizons, calendar=cal)
        path_calls, paths = abnormal_paths(prepared, panel, benchmark=benchmark, pre=PRE, post=POST)
    except ValueError as exc:
        raise SkillInputError(str(exc)) from None
    path_calls = path_calls.assign(conviction_bucket=conviction_bucket(path_calls["conviction"]))
    stats = {"horizons": horizons, "verdict_horizon": verdict_horizon, "n_boot": n_boot, "seed": seed}
    events = {"pre": PRE, "n_boot": n_boot, "seed": seed}
    return SkillReport(
        scores=scores,
        channels=skill_table(scores, ("channel",), **stats),
        tickers=skill_table(scores, ("channel", "symbol"), **stats),
        event=event_study(path_calls, paths, by="channel", **events),
        event_by_conviction=event_study(path_calls, paths, by=["channel", "conviction_bucket"], **events),
        rule=rule,
        benchmark=benchmark,
        verdict_horizon=verdict_horizon,
        horizons=tuple(horizons),
        notes=notes,
    )


def _empty_report(
    rule: str, benchmark: str, verdict_horizon: int, horizons: Sequence[int], notes: list[str]
) -> SkillReport:
    empty = pd.DataFrame()
    return SkillReport(empty, empty, empty, empty, empty, rule, benchmark, verdict_horizon, tuple(horizons), notes)


# --- output ----------------------------------------------------------------------------------


def _pct(value: Any) -> str:
    number = as_float(value)
    return "n/a" if number is None else f"{number * 100:+.2f}%"


def skill_rows(report: SkillReport) -> pd.DataFrame:
    """The per-channel table as people read it (percentages, the CI as one cell): the terminal's
    table and the `channel_skill` asset's metadata."""
    h = report.verdict_horizon
    headers = ["channel", "calls", f"scored@{h}", *(f"mean {k}d" for k in report.horizons),
               f"95% CI {h}d", f"hit {h}d", f"t {h}d", "verdict"]
    rows = []
    for r in report.channels.to_dict("records"):
        hit = as_float(r[f"hit_rate_{h}"])
        t = as_float(r[f"t_{h}"])
        rows.append([
            r["channel"], r["calls"], r[f"n_scored_{h}"], *(_pct(r[f"mean_{k}"]) for k in report.horizons),
            f"[{_pct(r[f'ci_low_{h}'])}, {_pct(r[f'ci_high_{h}'])}]",
            "n/a" if hit is None else f"{hit * 100:.0f}%", "n/a" if t is None else f"{t:.2f}", r["verdict"],
        ])
    return pd.DataFrame(rows, columns=headers)


def skill_text(report: SkillReport) -> str:
    """The per-channel table for the terminal, with the verdict's rule under it."""
    if report.channels.empty:
        return "no buy, sell or avoid calls to score (import mentions first)\n\n" + report.rule
    lines = [tabulate(skill_rows(report), headers="keys", showindex=False), "",
             f"abnormal return = the call's return minus {report.benchmark}'s "
             "(sells and avoids reversed), from the first open after the video", "verdict rule: " + report.rule]
    return "\n".join([*lines, *report.notes])


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain JSON values: NaN -> None, dates -> ISO strings, numpy scalars -> Python."""
    out = []
    for row in frame.to_dict("records"):
        clean: dict[str, Any] = {}
        for key, value in row.items():
            if isinstance(value, pd.Timestamp):
                value = None if pd.isna(value) else value.isoformat()
            elif hasattr(value, "item"):
                value = value.item()
            if isinstance(value, float) and math.isnan(value):
                value = None
            elif value is pd.NaT:
                value = None
            clean[str(key)] = value
        out.append(clean)
    return out


def skill_json(report: SkillReport, *, with_calls: bool = False) -> dict[str, Any]:
    """What `kevin skill --json` prints (returns as fractions; `calls` only when asked)."""
    out: dict[str, Any] = {
        "benchmark": report.benchmark,
        "horizons": list(report.horizons),
        "verdict_horizon": report.verdict_horizon,
        "rule": report.rule,
        "channels": _records(report.channels.drop(columns=["rule"], errors="ignore")),
        "tickers": _records(report.tickers.drop(columns=["rule"], errors="ignore")),
        "event_study": _records(report.event),
        "event_study_by_conviction": _records(report.event_by_conviction),
        "notes": report.notes,
    }
    if with_calls:
        out["calls"] = _records(report.scores)
    return out
