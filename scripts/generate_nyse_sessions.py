#!/usr/bin/env python
"""Regenerate kevin_pipeline/domain/nyse_sessions.py from the installed exchange-calendars.

Run it after upgrading exchange-calendars (until then kevin builds its calendar with
exchange-calendars itself, correct but ~0.2 s slower per process, and
tests/domain/test_nyse_calendar.py fails to remind you):

    .venv/bin/python scripts/generate_nyse_sessions.py

It writes the table, then rebuilds the calendar from it and checks that every session, open and
close equals exchange-calendars' own to the nanosecond (exit 1 if not).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np

from kevin_pipeline.domain import calendar

TARGET = Path(calendar.__file__).with_name("nyse_sessions.py")


def main() -> int:
    TARGET.write_text(calendar.sessions_table_source(), encoding="utf-8")
    importlib.invalidate_caches()
    from kevin_pipeline.domain import nyse_sessions

    importlib.reload(nyse_sessions)
    rebuilt, expected = calendar.table_sessions(), calendar.exchange_calendars_sessions()
    for name, a, b in zip(("sessions", "opens", "closes"), rebuilt, expected, strict=True):
        if not np.array_equal(a, b):
            print(f"error: the table's {name} differ from exchange-calendars'", file=sys.stderr)
            return 1
    print(f"wrote {TARGET} (exchange-calendars {nyse_sessions.EXCHANGE_CALENDARS_VERSION}, "
          f"{len(rebuilt[0])} sessions {nyse_sessions.START}..{nyse_sessions.END})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
