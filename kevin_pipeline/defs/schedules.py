"""`exit_scan_schedule`: the exit scan at 09:35 New York time on every NYSE session.

The cron fires on weekdays; holidays are skipped with a SkipReason (NYSE calendar). The session
date is the run key, so a session is scanned by at most one scheduled run.
"""

from datetime import UTC, datetime

import dagster as dg

from kevin_pipeline.defs.jobs import exit_scan_job
from kevin_pipeline.domain.calendar import NY, nyse_calendar


@dg.schedule(
    name="exit_scan_schedule",
    cron_schedule="35 9 * * 1-5",
    execution_timezone="America/New_York",
    job=exit_scan_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Exit scan at 09:35 ET on NYSE sessions (time exits, manual closes, reconciliation, snapshot).",
)
def exit_scan_schedule(context: dg.ScheduleEvaluationContext):
    at = context.scheduled_execution_time or datetime.now(UTC)
    session = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(NY).date()
    if not nyse_calendar().is_session(session):
        return dg.SkipReason(f"{session} is not an NYSE session")
    return dg.RunRequest(run_key=session.isoformat(), tags={"kevin/session": session.isoformat()})
