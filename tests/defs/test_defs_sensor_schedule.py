"""new_mentions_sensor (cursor, stable run keys, batches, no side effects) and exit_scan_schedule."""

from __future__ import annotations

import dagster as dg
from sqlalchemy import func, select

from kevin_pipeline.db.models import DecisionRecord
from kevin_pipeline.defs import sensors
from kevin_pipeline.defs.jobs import TRADE_OP
from kevin_pipeline.defs.schedules import exit_scan_schedule
from kevin_pipeline.defs.sensors import new_mentions_sensor
from tests.helpers.market import et


def evaluate(kevin, cursor: str | None):
    # a `with` block: the runtime resource has setup/teardown (it opens and closes the database)
    with dg.build_sensor_context(cursor=cursor, resources={"kevin_runtime": kevin.kevin_runtime}) as context:
        return new_mentions_sensor(context)


def test_sensor_requests_exactly_the_mentions_after_the_cursor(kevin):
    ids = kevin.seed_mentions()
    result = evaluate(kevin, str(ids[1]))
    assert [r.run_key for r in result.run_requests] == [f"mentions-{ids[2]}-{ids[4]}"]
    assert result.run_requests[0].run_config["ops"][TRADE_OP]["config"]["mention_ids"] == ids[2:]
    assert result.cursor == str(ids[4])


def test_sensor_run_keys_are_stable_across_evaluations(kevin):
    kevin.seed_mentions()
    first, second = evaluate(kevin, None), evaluate(kevin, None)
    assert [r.run_key for r in first.run_requests] == [r.run_key for r in second.run_requests]


def test_sensor_splits_a_backlog_into_batches(kevin, monkeypatch):
    monkeypatch.setattr(sensors, "BATCH", 2)
    ids = kevin.seed_mentions()
    result = evaluate(kevin, None)
    assert [r.run_key for r in result.run_requests] == [
        f"mentions-{ids[0]}-{ids[1]}", f"mentions-{ids[2]}-{ids[3]}", f"mentions-{ids[4]}-{ids[4]}",
    ]


def test_sensor_skips_when_nothing_is_new(kevin):
    ids = kevin.seed_mentions()
    assert isinstance(evaluate(kevin, str(ids[-1])), dg.SkipReason)


def test_sensor_skips_on_an_empty_database(kevin):
    assert isinstance(evaluate(kevin, None), dg.SkipReason)


def test_sensor_body_decides_nothing(kevin):
    kevin.seed_mentions()
    evaluate(kevin, None)
    with kevin.runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(DecisionRecord)) == 0


def schedule_at(*when) -> object:
    return exit_scan_schedule(dg.build_schedule_context(scheduled_execution_time=et(*when)))


def test_schedule_skips_a_holiday():
    assert isinstance(schedule_at(2024, 7, 4, 9, 35), dg.SkipReason)


def test_schedule_skips_a_weekend():
    assert isinstance(schedule_at(2024, 7, 6, 9, 35), dg.SkipReason)


def test_schedule_runs_on_a_session_keyed_by_its_date():
    request = schedule_at(2024, 7, 5, 9, 35)
    assert isinstance(request, dg.RunRequest) and request.run_key == "2024-07-05"


def test_schedule_is_0935_new_york_on_weekdays():
    assert exit_scan_schedule.cron_schedule == "35 9 * * 1-5"
    assert exit_scan_schedule.execution_timezone == "America/New_York"
    assert exit_scan_schedule.job_name == "exit_scan_job"


def test_sensor_retries_stragglers_behind_the_cursor_but_not_fresh_ones(kevin, monkeypatch):
    ids = kevin.seed_mentions()
    # everything up to the cursor was requested, but no run decided it (a failed run, say)
    fresh = evaluate(kevin, str(ids[-1]))
    assert isinstance(fresh, dg.SkipReason)  # just imported: its original run may still be on its way
    monkeypatch.setattr(sensors, "STRAGGLER_AGE", sensors.timedelta(seconds=-1))
    result = evaluate(kevin, str(ids[-1]))
    assert len(result.run_requests) == 1
    key = result.run_requests[0].run_key
    assert key.startswith(f"retry-{ids[0]}-{ids[-1]}-")
    assert result.run_requests[0].run_config["ops"][TRADE_OP]["config"]["mention_ids"] == ids
    assert evaluate(kevin, str(ids[-1])).run_requests[0].run_key == key  # stable within its bucket
