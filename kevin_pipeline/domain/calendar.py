"""NYSE sessions on exchange-calendars, as plain lookups on sorted arrays.

Every rule that counts time in "sessions" (hold periods, the first session that opens after a
call, the mark-to-market close) goes through this one object, so the backtest and the live path
cannot count a holiday differently. Lookups are `searchsorted` on int64 nanoseconds because the
backtest asks them thousands of times.

exchange-calendars decides the sessions. Building its XNYS calendar costs every process about
0.2 s (holiday rules evaluated by pandas), so `domain.nyse_sessions` holds what it computes for
2000-2035 -- the weekdays that are not sessions and the opens and closes that are not 09:30 and
16:00 -- written by `scripts/generate_nyse_sessions.py`. That table is used only while the
installed exchange-calendars is the version it was generated with; with any other version the
calendar is built by exchange-calendars again, so a new release's holiday is never missed.
`tests/domain/test_nyse_calendar.py` checks that both builds agree to the nanosecond.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

NY = ZoneInfo("America/New_York")
CALENDAR_START = "2000-01-01"
CALENDAR_END = "2035-12-31"
EXCHANGE = "XNYS"


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


def instant_ns(t: datetime) -> int:
    """An aware instant as UTC nanoseconds (how the calendar's opens and closes are stored).

    A UTC datetime is counted directly (exact: datetimes hold whole microseconds), ten times faster
    than through pandas; any other zone goes through pandas, as `_ns` does.
    """
    if t.tzinfo is timezone.utc:
        return (t - _EPOCH) // _MICROSECOND * 1000
    return _ns(t)


def _ns(t: datetime) -> int:
    if t.tzinfo is None:
        raise ValueError(f"naive datetime {t!r}: kevin only works with timezone-aware UTC times")
    return pd.Timestamp(t).tz_convert("UTC").value


def ny_date(t: datetime) -> date:
    """The America/New_York calendar date of an instant (daily caps count per NY date)."""
    if t.tzinfo is None:
        raise ValueError(f"naive datetime {t!r}")
    return t.astimezone(NY).date()


def ny_dates_of_ns(instants_ns: Sequence[int]) -> list[date]:
    """`ny_date` of many instants given as UTC nanoseconds, converted together (a backtest's tape
    has thousands of calls: one zone conversion per call cost three times as much)."""
    if not len(instants_ns):
        return []
    stamps = pd.DatetimeIndex(np.asarray(instants_ns, dtype="datetime64[ns]"), tz="UTC").tz_convert(NY)
    return list(stamps.date)


# --- where the sessions come from ------------------------------------------------------------

# sessions (midnight-naive labels), opens, closes: each as int64 nanoseconds (UTC for the instants)
SessionArrays = tuple[np.ndarray, np.ndarray, np.ndarray]


def exchange_calendars_version() -> str:
    """The installed exchange-calendars' version (read from its metadata, without importing it)."""
    from importlib.metadata import version

    return version("exchange-calendars")


def exchange_calendars_sessions(start: str = CALENDAR_START, end: str = CALENDAR_END) -> SessionArrays:
    """XNYS from [start, end] as exchange-calendars builds it (the slow, authoritative way)."""
    import exchange_calendars as xcals

    cal = xcals.get_calendar(EXCHANGE, start=start, end=end)
    return (
        cal.sessions.as_unit("ns").asi8,
        cal.opens.values.astype("datetime64[ns]").astype(np.int64),
        cal.closes.values.astype("datetime64[ns]").astype(np.int64),
    )


def _wall_clock(sessions: pd.DatetimeIndex, regular: str, special: dict[str, str]) -> np.ndarray:
    """A New York wall-clock time ("HH:MM") on each session, `special` days excepted, as UTC ns."""
    times = pd.Series(pd.Timedelta(f"{regular}:00"), index=sessions)
    for day, hhmm in special.items():
        times[pd.Timestamp(day).as_unit("ns")] = pd.Timedelta(f"{hhmm}:00")
    local = sessions + pd.TimedeltaIndex(times.to_numpy())
    return local.tz_localize(NY).tz_convert("UTC").as_unit("ns").asi8


def table_sessions() -> SessionArrays:
    """The sessions of `domain.nyse_sessions`: every weekday in its range but the closed ones (and
    any weekend session), opening and closing at the regular times except on the listed days."""
    from kevin_pipeline.domain import nyse_sessions as table

    weekdays = pd.bdate_range(table.START, table.END).as_unit("ns")
    closed = pd.DatetimeIndex(table.CLOSED_WEEKDAYS.split()).as_unit("ns")
    extra = pd.DatetimeIndex(table.WEEKEND_SESSIONS.split()).as_unit("ns")
    sessions = weekdays.difference(closed).union(extra)
    opens = _wall_clock(sessions, table.OPEN, _day_times(table.SPECIAL_OPENS))
    closes = _wall_clock(sessions, table.CLOSE, _day_times(table.SPECIAL_CLOSES))
    return sessions.asi8, opens, closes


def _day_times(text: str) -> dict[str, str]:
    """"2000-07-03T13:00 ..." -> {"2000-07-03": "13:00", ...}"""
    return dict(item.split("T") for item in text.split())


def xnys_sessions(start: str = CALENDAR_START, end: str = CALENDAR_END) -> SessionArrays:
    """The bundled table when it was generated for this range by the installed exchange-calendars,
    else exchange-calendars itself."""
    from kevin_pipeline.domain import nyse_sessions as table

    if (start, end) == (table.START, table.END) and table.EXCHANGE_CALENDARS_VERSION == exchange_calendars_version():
        return table_sessions()
    return exchange_calendars_sessions(start, end)


class NyseCalendar:
    def __init__(self, start: str = CALENDAR_START, end: str = CALENDAR_END) -> None:
        sessions_ns, opens_ns, closes_ns = xnys_sessions(start, end)
        self._session_ns = sessions_ns  # midnight-naive session labels
        self._sessions: list[date] = [d.date() for d in pd.DatetimeIndex(sessions_ns.astype("datetime64[ns]"))]
        self._opens_ns = opens_ns
        self._closes_ns = closes_ns
        self._index = {d: i for i, d in enumerate(self._sessions)}
        # datetimes built on first use: a backtest stamps fills with a few thousand of them
        self._open_dt: dict[int, datetime] = {}
        self._close_dt: dict[int, datetime] = {}

    # -- sessions ---------------------------------------------------------------------------
    @property
    def first_session(self) -> date:
        return self._sessions[0]

    @property
    def last_session(self) -> date:
        return self._sessions[-1]

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    def is_session(self, d: date) -> bool:
        return d in self._index

    def session_index(self, d: date) -> int:
        try:
            return self._index[d]
        except KeyError:
            raise ValueError(f"{d} is not an NYSE session") from None

    def session_at(self, index: int) -> date:
        if not 0 <= index < len(self._sessions):
            raise ValueError(f"session index {index} outside the calendar ({self.first_session}..{self.last_session})")
        return self._sessions[index]

    def _checked(self, index: int) -> int:
        self.session_at(index)  # raises outside the calendar
        return index

    def sessions_later(self, d: date, n: int) -> date:
        """The session n sessions after session d (n=0 is d itself)."""
        return self.session_at(self.session_index(d) + n)

    def sessions_between(self, start: date, end: date) -> list[date]:
        """Sessions in [start, end], inclusive."""
        lo = int(np.searchsorted(self._session_ns, pd.Timestamp(start).value, side="left"))
        hi = int(np.searchsorted(self._session_ns, pd.Timestamp(end).value, side="right"))
        return self._sessions[lo:hi]

    def next_session_on_or_after(self, d: date) -> date:
        i = int(np.searchsorted(self._session_ns, pd.Timestamp(d).value, side="left"))
        return self.session_at(i)

    # -- instants ---------------------------------------------------------------------------
    def session_open(self, d: date) -> datetime:
        return self.open_at(self.session_index(d))

    def session_close(self, d: date) -> datetime:
        return self.close_at(self.session_index(d))

    def open_at(self, index: int) -> datetime:
        """The open of the session at `index` (as `session_open`, by index, cached)."""
        dt = self._open_dt.get(index)
        if dt is None:
            dt = self._open_dt[index] = _to_dt(self._opens_ns[self._checked(index)])
        return dt

    def close_at(self, index: int) -> datetime:
        """The close of the session at `index` (as `session_close`, by index, cached)."""
        dt = self._close_dt.get(index)
        if dt is None:
            dt = self._close_dt[index] = _to_dt(self._closes_ns[self._checked(index)])
        return dt

    def open_ns_at(self, index: int) -> int:
        """The open of the session at `index` in UTC nanoseconds, a plain int."""
        return int(self._opens_ns[self._checked(index)])

    def close_ns_at(self, index: int) -> int:
        return int(self._closes_ns[self._checked(index)])

    def counts_before(self, sorted_instants_ns: Sequence[int]) -> tuple[list[int], list[int]]:
        """Per session, how many of the instants (UTC ns, ascending) fall before its open, and
        before its close."""
        instants = np.asarray(sorted_instants_ns, dtype=np.int64)
        return (
            np.searchsorted(instants, self._opens_ns, side="left").tolist(),
            np.searchsorted(instants, self._closes_ns, side="left").tolist(),
        )

    def next_open_indices(self, instants_ns: Sequence[int]) -> list[int]:
        """`next_open_after` for many instants (UTC ns) at once, as session indices (one past the
        calendar's last session when no session opens after the instant)."""
        return np.searchsorted(self._opens_ns, np.asarray(instants_ns, dtype=np.int64), side="right").tolist()

    def next_open_after(self, t: datetime) -> date:
        """The first session whose open is strictly after t: where a call published at t fills.

        A call at 18:00 on a Friday fills Monday; one at 08:00 fills that day's open; one at
        exactly 09:30:00 ET misses that open (the order cannot be in before the auction).
        """
        i = int(np.searchsorted(self._opens_ns, _ns(t), side="right"))
        return self.session_at(i)

    def last_closed_session(self, t: datetime) -> date | None:
        """The last session whose close is at or before t (early closes included): the mark for t."""
        i = int(np.searchsorted(self._closes_ns, _ns(t), side="right")) - 1
        return self._sessions[i] if i >= 0 else None

    def session_containing(self, t: datetime) -> date | None:
        """The session open at instant t (open <= t < close), or None outside trading hours."""
        i = int(np.searchsorted(self._opens_ns, _ns(t), side="right")) - 1
        if i >= 0 and _ns(t) < self._closes_ns[i]:
            return self._sessions[i]
        return None


def _to_dt(ns: int | np.integer) -> datetime:
    """The UTC datetime of a nanosecond instant (to the microsecond, as `Timestamp.to_pydatetime`
    gives it; sessions open and close on whole minutes), without a Timestamp per session."""
    return _EPOCH + timedelta(microseconds=int(ns) // 1000)


@lru_cache(maxsize=1)
def nyse_calendar() -> NyseCalendar:
    """The shared calendar, built once per process (from the bundled table: ~20 ms; by
    exchange-calendars: ~0.2 s)."""
    return NyseCalendar()
