"""Is every call that is old enough scored, or does it say why not?

A call whose longest horizon ended by the newest bar must have a number at every horizon, or a
reason for the hole ("no bar for NVDA on 2020-03-09"). A call that is old enough and yet `open`, or
`unscored` without a reason, or missing from the scores altogether, means the scoring lost it:
the `call_scores` asset check fails on those (and lists the first few).

"Old enough" counts sessions as `call_scoring` does: the entry session is the first NYSE session
that opens after the publish time, and the call is old enough when the session `sessions - 1`
after it is on or before the newest bar's session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from kevin_pipeline.domain.calendar import NyseCalendar, nyse_calendar
from kevin_pipeline.domain.call_scoring import DIRECTION, STATUS_SCORED, STATUS_UNSCORED, calendar_dates

COVERAGE_SESSIONS = 60


@dataclass(frozen=True)
class Coverage:
    old_calls: int  # buy/sell/avoid calls whose `sessions` horizon ended by the newest bar
    scored: int  # of those, scored at every horizon up to `sessions`
    explained: int  # of those, unscored somewhere with a reason (and scored elsewhere)
    unexplained: list[str]  # one line per call that is neither, in publish order

    @property
    def ok(self) -> bool:
        return not self.unexplained


def score_coverage(
    calls: pd.DataFrame,
    scores: pd.DataFrame,
    newest: date,
    *,
    sessions: int = COVERAGE_SESSIONS,
    calendar: NyseCalendar | None = None,
) -> Coverage:
    """`calls`: mention_id, symbol, action, published_at (aware) -- every stored call, holds too;
    `scores`: `call_scoring.score_calls`' long frame (mention_id, horizon, status, reason).
    Rows of `scores` at horizons above `sessions` are not looked at."""
    cal = calendar or nyse_calendar()
    calls = calls[calls["action"].astype(str).str.lower().isin(list(DIRECTION))]
    if calls.empty:
        return Coverage(0, 0, 0, [])
    published = pd.to_datetime(calls["published_at"], utc=True)
    entry = np.asarray(cal.next_open_indices(published.dt.as_unit("ns").astype("int64").to_numpy()))
    last = int(np.searchsorted(calendar_dates(cal), np.datetime64(newest, "D"), side="right")) - 1
    old = calls.assign(published_at=published)[entry + (sessions - 1) <= last]
    old = old.sort_values(["published_at", "mention_id"], kind="stable")

    rows = scores[scores["horizon"] <= sessions]
    status = rows["status"]
    with_reason = rows["reason"].fillna("").astype(str).str.strip() != ""
    fine = (status == STATUS_SCORED) | ((status == STATUS_UNSCORED) & with_reason)
    per_call = pd.DataFrame({"mention_id": rows["mention_id"], "scored": status == STATUS_SCORED, "fine": fine})
    per_call = per_call.groupby("mention_id").agg(scored=("scored", "all"), fine=("fine", "all"))
    bad_rows = rows[~fine]

    scored = explained = 0
    unexplained: list[str] = []
    for call in old.itertuples(index=False):
        label = f"mention {call.mention_id} ({call.symbol} {call.action}, {call.published_at:%Y-%m-%d %H:%M}Z)"
        if call.mention_id not in per_call.index:
            unexplained.append(f"{label}: no score at all")
        elif per_call.at[call.mention_id, "scored"]:
            scored += 1
        elif per_call.at[call.mention_id, "fine"]:
            explained += 1
        else:
            first = bad_rows[bad_rows["mention_id"] == call.mention_id].sort_values("horizon").iloc[0]
            unexplained.append(f"{label}: {first['status']} at {first['horizon']} sessions without a reason")
    return Coverage(len(old), scored, explained, unexplained)
