"""`new_mentions_sensor`: one `trade_on_mentions` run per batch of new mentions.

Cursor = the last mention id already requested (a string). Each tick reads the undecided mentions
with a higher id, in id order, and yields one RunRequest per batch of up to BATCH ids with the
stable run key `mentions-<first id>-<last id>`: Dagster launches at most one run per key, so a
mention is never requested twice even if a tick is retried. The body only reads; decisions and
orders happen inside the run. Nothing new: a SkipReason.

Latency: the sensor daemon runs its loop every 5 s (fixed in Dagster) and skips a sensor whose
minimum interval has not yet elapsed; a minimum of 5 s would therefore often wait for the next
loop (10 s). MIN_INTERVAL = 1 lets every loop evaluate the sensor. The queued run then starts in
its own process (dagster.yaml checks the queue every second).

Stragglers. A mention behind the cursor can stay undecided: its run failed (the key is spent),
or a lower id committed after a higher one (concurrent importers on PostgreSQL). Every tick also
looks for undecided mentions at or below the cursor imported more than STRAGGLER_AGE ago and
requests a run for them keyed `retry-<first>-<last>-<10-minute bucket>`: at most one retry per
batch every ten minutes, and never lost (the order path decides each mention exactly once, so a
retry that races the original run changes nothing).
After replacing the app database (ids start again at 1), reset the sensor's cursor in the UI, or
use a fresh DAGSTER_HOME: old run keys would otherwise match the new ids.
"""

from datetime import datetime, timedelta, timezone

import dagster as dg
from sqlalchemy import select

from kevin_pipeline.db.models import DecisionRecord, MentionRecord
from kevin_pipeline.defs.jobs import trade_on_mentions, trade_run_config
from kevin_pipeline.defs.resources import KevinRuntimeResource
from kevin_pipeline.trading.order_path import undecided_mention_ids

BATCH = 500
MIN_INTERVAL = 1  # every 5 s daemon loop evaluates it (see above)
STRAGGLER_AGE = timedelta(minutes=2)
RETRY_BUCKET_SECONDS = 600


def batches(ids: list[int], size: int) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


@dg.sensor(
    name="new_mentions_sensor",
    job=trade_on_mentions,
    minimum_interval_seconds=MIN_INTERVAL,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests one trade_on_mentions run per batch of new mentions (cursor: last mention id).",
)
def new_mentions_sensor(context: dg.SensorEvaluationContext, kevin_runtime: KevinRuntimeResource):
    after = int(context.cursor) if context.cursor else 0
    now = datetime.now(timezone.utc)
    with kevin_runtime.runtime.sessions() as session:
        ids = sorted(i for i in undecided_mention_ids(session) if i > after)
        stragglers = list(session.scalars(
            select(MentionRecord.id)
            .outerjoin(DecisionRecord, DecisionRecord.mention_id == MentionRecord.id)
            .where(DecisionRecord.id.is_(None), MentionRecord.id <= after,
                   MentionRecord.imported_at < now - STRAGGLER_AGE)
            .order_by(MentionRecord.id)
        ))
    if not ids and not stragglers:
        return dg.SkipReason(f"no undecided mention after id {after}")
    requests = [_request("mentions", batch) for batch in batches(ids, BATCH)]
    bucket = int(now.timestamp()) // RETRY_BUCKET_SECONDS
    requests += [_request("retry", batch, suffix=f"-{bucket}") for batch in batches(stragglers, BATCH)]
    return dg.SensorResult(run_requests=requests, cursor=str(ids[-1]) if ids else context.cursor)


def _request(kind: str, batch: list[int], suffix: str = "") -> dg.RunRequest:
    return dg.RunRequest(
        run_key=f"{kind}-{batch[0]}-{batch[-1]}{suffix}",
        run_config=trade_run_config(batch),
        tags={"kevin/mentions": f"{batch[0]}-{batch[-1]}", "kevin/mention_count": str(len(batch))},
    )
