"""A hand-built market for tests: real NYSE sessions, flat daily bars with chosen exceptions.

    from tests.helpers.market import CAL, SESSIONS, bars, et, prices

    prices(bars("NVDA", {date(2024, 3, 7): (100, 101, 91, 95)}))   # SPY flat at 400, NVDA flat at
                                                                     # 100 but a stop-touching 3-7

Spring 2024 by default: it holds a DST change (10 March), Good Friday (29 March) and enough sessions
for every hold length the rules use. Built once here so the backtest, the simulated broker and the
order path are tested on the same bars.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pandas as pd

from kevin_pipeline.domain.calendar import nyse_calendar

NY = ZoneInfo("America/New_York")
CAL = nyse_calendar()
SESSIONS: list[date] = CAL.sessions_between(date(2024, 3, 1), date(2024, 5, 31))

OHLC = tuple[float, float, float, float]


def et(*parts: int) -> datetime:
    """A New York wall-clock time, as the rules and the schedules read it: et(2024, 3, 5, 18)."""
    return datetime(*parts, tzinfo=NY)


def bars(symbol: str, overrides: Mapping[date, OHLC] | None = None, base: float = 100.0,
         sessions: Sequence[date] = SESSIONS) -> pd.DataFrame:
    """Daily bars of `symbol` on `sessions`: open = high = low = close = `base`, except the sessions
    in `overrides` (date -> (open, high, low, close)); volume 0."""
    rows = []
    for s in sessions:
        o, h, lo, c = (overrides or {}).get(s, (base, base, base, base))
        rows.append({"symbol": symbol, "date": pd.Timestamp(s), "open": o, "high": h, "low": lo, "close": c, "volume": 0})
    return pd.DataFrame(rows)


def prices(*frames: pd.DataFrame) -> pd.DataFrame:
    """`frames` plus the benchmark, SPY flat at 400, in one bars table."""
    return pd.concat([bars("SPY", base=400.0), *frames], ignore_index=True)
