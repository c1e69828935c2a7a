"""Read-only queries for /channels (`pages/channels.py`): is each channel skilled?

The numbers come from `kevin_pipeline.research.skill.skill_report`, the one research path behind
`kevin skill` and the `channel_skill` asset; this module only reads it for the page. A report costs
about a second on the bundled sample (a seeded bootstrap per channel, ticker and day), so
`SkillCache` keeps the last one, keyed on what the report is computed from (`data_key`: the newest
mention id and the newest bar date, with the row counts so a deletion or back-fill counts too); the
page's callbacks then only filter frames.

The follow vs inverse backtest return per channel is `research.sweep.follow_vs_inverse` on that
channel's calls alone (the strategy's `direction` setting), computed with the report and kept with it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, NamedTuple

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kevin_dash.data.overview import SAMPLE_SOURCE
from kevin_pipeline.db.models import MentionRecord, PriceBar
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.domain.prices import PriceBook
from kevin_pipeline.research.backtest import BacktestInputError, load_inputs
from kevin_pipeline.research.sweep import follow_vs_inverse
from kevin_pipeline.research.skill import SkillReport, load_calls, skill_report

YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
DIRECTIONS = ("follow", "inverse")

DataKey = tuple[Any, ...]  # SkillCache's key: the data version, the params, the report options


def video_link(video_id: str | None, start_seconds: float | None) -> str | None:
    """The call's moment in its video, `https://youtu.be/ID?t=SECONDS` (the whole video when the
    call has no transcript time); None when the id is not a YouTube video id (a sample or an
    imported file's own label), so the page never shows a link that leads nowhere."""
    if not video_id or not YOUTUBE_ID.match(video_id):
        return None
    if start_seconds is None or pd.isna(start_seconds):
        return f"https://youtu.be/{video_id}"
    return f"https://youtu.be/{video_id}?t={max(0, int(start_seconds))}"


def has_start_seconds() -> bool:
    """Whether the mentions table has the transcript time of each call (migration 0003)."""
    return hasattr(MentionRecord, "start_seconds")


class DataVersion(NamedTuple):
    """What a skill report (or the scorecard's hit rates) is computed from, in five numbers: a new
    or deleted call, a new bar day or a back-filled bar changes it. The bars' first and last date
    come with it (the backtest form's date limits) from the same scan."""

    last_mention_id: int | None
    mentions: int
    first_bar: date | None
    last_bar: date | None
    bars: int


def data_key(session: Session) -> DataVersion:
    """Every page load reads it (the channels layout before its first chart), so one aggregate per
    statement: alone, min and max are lookups in an index (ix_price_bars_date, migration 0006) and
    count(*) counts the smallest index's pages without reading a row; asked in one statement SQLite
    reads every row (70 -> 4 ms on the bench's 631,260 bars)."""
    def one(aggregate: Any, table: Any) -> Any:
        return session.execute(select(aggregate).select_from(table)).scalar_one()

    return DataVersion(one(func.max(MentionRecord.id), MentionRecord), one(func.count(), MentionRecord),
                       one(func.min(PriceBar.date), PriceBar), one(func.max(PriceBar.date), PriceBar), one(func.count(), PriceBar))


# --- the page's data -------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelsData:
    report: SkillReport
    calls: pd.DataFrame  # one row per scored call (`CALLS_COLUMNS`)
    backtests: dict[str, dict[str, float | None]]  # channel -> direction -> total return % ({} when n/a)
    # What the page drew from this report (a channel's charts and grid rows), kept as long as the
    # report is: a report never changes, so neither does anything drawn from it.
    drawn: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def memo(self, key: Any, compute: Callable[[], Any]) -> Any:
        if key not in self.drawn:
            self.drawn[key] = compute()
        return self.drawn[key]

    @property
    def channel_names(self) -> list[str]:
        """Channels, most calls first (the page opens on the first)."""
        if self.report.channels.empty:
            return []
        ordered = self.report.channels.sort_values(["calls", "channel"], ascending=[False, True])
        return [str(c) for c in ordered["channel"]]

    def tickers(self, channel: str) -> pd.DataFrame:
        t = self.report.tickers
        return t[t["channel"] == channel].reset_index(drop=True) if not t.empty else t

    def event(self, channel: str) -> pd.DataFrame:
        e = self.report.event
        return e[e["channel"] == channel].reset_index(drop=True) if not e.empty else e

    def event_by_conviction(self, channel: str) -> pd.DataFrame:
        e = self.report.event_by_conviction
        return e[e["channel"] == channel].reset_index(drop=True) if not e.empty else e

    def calls_of(self, channel: str, symbol: str | None = None) -> pd.DataFrame:
        c = self.calls[self.calls["channel"] == channel]
        if symbol is not None:
            c = c[c["symbol"] == symbol]
        return c.reset_index(drop=True)


def pct_text(value: Any) -> str:
    """A fraction as a signed percentage ('+1.23%'), 'n/a' when missing."""
    return "n/a" if value is None or pd.isna(value) else f"{float(value) * 100:+.2f}%"


def ci_text(low: Any, high: Any) -> str:
    """A 95 % interval as '[-0.73%, +2.39%]', 'n/a' when there is none (no scored call)."""
    if (low is None or pd.isna(low)) and (high is None or pd.isna(high)):
        return "n/a"
    return f"[{pct_text(low)}, {pct_text(high)}]"


def channel_table(data: ChannelsData) -> pd.DataFrame:
    """One row per channel as the page shows it: calls, scored at the verdict horizon, the mean
    abnormal return at each horizon (`mean_H`) with its 95 % interval (`ci_H`), hit rate and t at the verdict
    horizon, the verdict (its rule in `rule`), and the follow / inverse backtest returns."""
    report, h = data.report, data.report.verdict_horizon
    columns = ["channel", "calls", "scored", *(f"mean_{k}" for k in report.horizons),
               *(f"ci_{k}" for k in report.horizons), "hit", "t",
               "verdict", "rule", "follow", "inverse"]
    rows = []
    for r in report.channels.to_dict("records"):
        backtest = data.backtests.get(str(r["channel"]), {})
        rows.append({
            "channel": r["channel"], "calls": int(r["calls"]), "scored": int(r[f"n_scored_{h}"]),
            **{f"mean_{k}": pct_text(r[f"mean_{k}"]) for k in report.horizons},
            **{f"ci_{k}": ci_text(r[f"ci_low_{k}"], r[f"ci_high_{k}"]) for k in report.horizons},
            "hit": "n/a" if pd.isna(r[f"hit_rate_{h}"]) else f"{r[f'hit_rate_{h}'] * 100:.0f}%",
            "t": "n/a" if pd.isna(r[f"t_{h}"]) else f"{r[f't_{h}']:.2f}",
            "verdict": r["verdict"], "rule": r["rule"],
            **{d: "n/a" if backtest.get(d) is None else f"{backtest[d]:+.2f}%" for d in DIRECTIONS},
        })
    return pd.DataFrame(rows, columns=columns)


CALLS_COLUMNS_HEAD = ["mention_id", "channel", "symbol", "action", "conviction", "published", "entry_date"]


def call_rows(session: Session, report: SkillReport) -> pd.DataFrame:
    """One row per call: its channel, symbol, action, publish and entry dates, the abnormal return
    at each horizon (`ar_H`, NaN while open or unscored), the quote and the link to the video."""
    horizons = list(report.horizons)
    columns = [*CALLS_COLUMNS_HEAD, *(f"ar_{h}" for h in horizons), "quote", "link"]
    scores = report.scores
    if scores.empty:
        return pd.DataFrame(columns=columns)
    first = scores[scores["horizon"] == horizons[0]].set_index("mention_id")
    returns = scores.pivot_table(index="mention_id", columns="horizon", values="abnormal_return", aggfunc="first")
    frame = pd.DataFrame({
        "mention_id": first.index.astype(int),
        "channel": first["channel"].to_numpy(),
        "symbol": first["symbol"].to_numpy(),
        "action": first["action"].to_numpy(),
        "conviction": first["conviction"].to_numpy(dtype=float),
        "published": pd.to_datetime(first["published_at"], utc=True).dt.strftime("%Y-%m-%d %H:%M").to_numpy(),
        "entry_date": pd.to_datetime(first["entry_date"]).dt.strftime("%Y-%m-%d").to_numpy(),
    })
    for h in horizons:
        frame[f"ar_{h}"] = returns.reindex(index=first.index, columns=[h]).iloc[:, 0].to_numpy(dtype=float) \
            if h in returns.columns else float("nan")
    extra = _mention_extras(session, [int(i) for i in frame["mention_id"]])
    none = (None, None, None)
    frame["quote"] = [extra.get(i, none)[0] for i in frame["mention_id"]]
    frame["link"] = [video_link(*extra.get(i, none)[1:]) for i in frame["mention_id"]]
    return frame[columns].sort_values(["published", "mention_id"], ascending=[False, True]).reset_index(drop=True)


def _mention_extras(session: Session, ids: list[int]) -> dict[int, tuple[str | None, str | None, float | None]]:
    """mention id -> (quote, video id to link, start_seconds). The bundled sample's video ids are
    labels, not videos: they get no link. start_seconds only once the column exists."""
    start = getattr(MentionRecord, "start_seconds", None) if has_start_seconds() else None
    cols = [MentionRecord.id, MentionRecord.quote, MentionRecord.video_id, MentionRecord.source]
    cols += [start] if start is not None else []
    out: dict[int, tuple[str | None, str | None, float | None]] = {}
    for chunk in range(0, len(ids), 500):  # bounded IN lists
        for row in session.execute(select(*cols).where(MentionRecord.id.in_(ids[chunk : chunk + 500]))):
            seconds = None if start is None or row[4] is None else float(row[4])
            out[int(row[0])] = (row[1], None if row[3] == SAMPLE_SOURCE else row[2], seconds)
    return out


def follow_inverse_returns(session: Session, params: StrategyParams) -> dict[str, dict[str, float | None]]:
    """Per channel, the backtest's total return (%) following its calls and trading them inverted
    (`direction`), on that channel's mentions alone."""
    calls = load_calls(session)
    base = load_inputs(session, params)
    book = PriceBook.from_frame(base.bars)  # once for every channel and both directions
    out: dict[str, dict[str, float | None]] = {}
    for channel, ids in calls.groupby("channel")["mention_id"]:
        keep = set(int(i) for i in ids)
        inputs = replace(base, mentions=[m for m in base.mentions if m.id in keep])
        try:
            pair = follow_vs_inverse(inputs, params, prices=book)
        except BacktestInputError:  # no calls of this channel to trade
            out[str(channel)] = {direction: None for direction in DIRECTIONS}
            continue
        out[str(channel)] = {
            direction: None if r.metrics is None else float(r.metrics.total_return_pct)
            for direction, r in zip(DIRECTIONS, pair)
        }
    return out


def channels_data(session: Session, params: StrategyParams, **report_options: Any) -> ChannelsData:
    """Everything /channels shows, computed afresh (`SkillCache.get` keeps it between requests)."""
    report = skill_report(session, **report_options)
    return ChannelsData(report, call_rows(session, report), follow_inverse_returns(session, params))


@dataclass
class SkillCache:
    """The last `ChannelsData` of one dashboard, recomputed only when `data_key` changes.

    One per Dash app (`DashContext.skill`): two dashboards in one process never share it. The lock
    makes concurrent first requests compute once rather than race."""

    compute: Callable[..., ChannelsData] = channels_data
    _key: DataKey | None = None
    _value: ChannelsData | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    computed: int = 0  # how many times it computed (the tests read it)

    def get(self, session: Session, params: StrategyParams, **report_options: Any) -> ChannelsData:
        key = (data_key(session), params.model_dump_json(), tuple(sorted(report_options.items())))
        with self._lock:
            if self._value is None or key != self._key:
                self._value = self.compute(session, params, **report_options)
                self._key = key
                self.computed += 1
            return self._value
