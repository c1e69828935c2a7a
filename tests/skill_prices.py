"""Prices for the channel-skill tests that make every number exact: SPY (and any symbol but AAA)
never moves, AAA rises exactly 1 % a session, each open being the previous close. A buy of AAA beats
SPY by 1.01^h - 1 over h sessions from its entry open; a sell is wrong by as much."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from kevin_pipeline.domain.calendar import nyse_calendar

CAL = nyse_calendar()
SESSIONS = CAL.sessions_between(date(2024, 1, 2), date(2024, 12, 31))[:120]


def steady_bars(symbols: tuple[str, ...] = ("SPY", "AAA", "BBB")) -> pd.DataFrame:
    n = len(SESSIONS)
    frames = []
    for sym in symbols:
        close = 100 * 1.01 ** np.arange(1, n + 1) if sym == "AAA" else np.full(n, 100.0)
        open_ = np.concatenate([[100.0], close[:-1]])
        frames.append(pd.DataFrame({"symbol": sym, "date": pd.to_datetime(SESSIONS), "open": open_,
                                    "high": np.maximum(open_, close), "low": np.minimum(open_, close),
                                    "close": close, "volume": 1.0}))
    return pd.concat(frames, ignore_index=True)


def published_into(entry: date) -> datetime:
    """A publish time an hour after the close before the session `entry`: the call enters its open."""
    return CAL.session_close(CAL.sessions_later(entry, -1)) + timedelta(hours=1)
