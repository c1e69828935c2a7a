from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from kevin_pipeline.domain.calendar import ny_date
from tests.helpers.market import CAL, et


def test_call_before_the_open_fills_that_days_open():
    assert CAL.next_open_after(et(2024, 3, 5, 8, 0)) == date(2024, 3, 5)


def test_call_after_the_close_fills_next_session():
    assert CAL.next_open_after(et(2024, 3, 5, 18, 0)) == date(2024, 3, 6)


def test_call_at_the_open_instant_misses_it():
    assert CAL.next_open_after(et(2024, 3, 5, 9, 30)) == date(2024, 3, 6)


def test_friday_evening_call_fills_monday():
    assert CAL.next_open_after(et(2024, 3, 8, 19, 0)) == date(2024, 3, 11)


def test_call_before_a_holiday_skips_it():
    # Wednesday 2024-07-03 evening -> July 4th closed -> Friday 5th
    assert CAL.next_open_after(et(2024, 7, 3, 17, 0)) == date(2024, 7, 5)
    assert not CAL.is_session(date(2024, 7, 4))


def test_hold_counts_sessions_not_calendar_days():
    # 3 sessions after Wed 2024-07-03 spans the holiday and the weekend: Fri 5, Mon 8, Tue 9
    assert CAL.sessions_later(date(2024, 7, 3), 3) == date(2024, 7, 9)


def test_early_close_is_respected_for_marks():
    close = CAL.session_close(date(2024, 11, 29))  # day after Thanksgiving: 13:00 ET
    assert close == et(2024, 11, 29, 13, 0)
    assert CAL.last_closed_session(et(2024, 11, 29, 13, 0)) == date(2024, 11, 29)
    assert CAL.last_closed_session(et(2024, 11, 29, 12, 59)) == date(2024, 11, 27)


def test_session_containing_only_during_trading_hours():
    assert CAL.session_containing(et(2024, 3, 5, 10, 0)) == date(2024, 3, 5)
    assert CAL.session_containing(et(2024, 3, 5, 16, 0)) is None


def test_ny_date_of_a_utc_instant():
    assert ny_date(datetime(2024, 3, 6, 2, 0, tzinfo=timezone.utc)) == date(2024, 3, 5)


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        CAL.next_open_after(datetime(2024, 3, 5, 8, 0))


def test_non_session_lookup_names_the_date():
    with pytest.raises(ValueError, match="2024-07-04"):
        CAL.sessions_later(date(2024, 7, 4), 1)
