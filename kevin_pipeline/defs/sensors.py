"""`new_mentions_sensor`: one `trade_on_mentions` run per batch of new mentions.
`new_videos_sensor`: one `video_calls_job` run when a video or caption file lands (see below).

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

import hashlib
import json
from datetime import datetime, timedelta, timezone

import dagster as dg
from sqlalchemy import select

from kevin_pipeline.calls.transcribe import is_caption_file
from kevin_pipeline.db.models import DecisionRecord, MentionRecord
from kevin_pipeline.db.videos import videos_due_for_transcript
from kevin_pipeline.defs.calls import video_calls_job
from kevin_pipeline.defs.jobs import trade_on_mentions, trade_run_config
from kevin_pipeline.defs.resources import KevinRuntimeResource
from kevin_pipeline.ingest.inbox import pending_files
from kevin_pipeline.trading.order_path import undecided_mention_ids
from kevin_pipeline.videos.inbox import is_video_metadata

BATCH = 500
MIN_INTERVAL = 1  # every 5 s daemon loop evaluates it (see above)
STRAGGLER_AGE = timedelta(minutes=2)
RETRY_BUCKET_SECONDS = 600


def batches(ids: list[int], size: int) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def _live_sensor(name: str, job: object, description: str):
    """A sensor that runs from the start, evaluated on every daemon loop (see MIN_INTERVAL)."""
    return dg.sensor(name=name, job=job, minimum_interval_seconds=MIN_INTERVAL,
                     default_status=dg.DefaultSensorStatus.RUNNING, description=description)


@_live_sensor("new_mentions_sensor", trade_on_mentions,
              "Requests one trade_on_mentions run per batch of new mentions (cursor: last mention id).")
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


# --- new videos -------------------------------------------------------------------------------
#
# Cursor (JSON): {"files": {name: mtime_ns} of the video/caption files pending at the last request,
# "polled_at": ISO time of the last feed poll or due-transcript run}. A tick requests one
# `video_calls_job` run when a pending file is not in the cursor (new, or rewritten: its mtime
# moved), keyed by a hash of those files; or, on the poll interval (KEVIN_FEED_POLL_MINUTES), when
# the feeds are on or a video's transcript retry is due, keyed by the interval's bucket. A caption
# file still waiting for its video's metadata is in the cursor: it does not launch a run every tick.


def _now() -> datetime:
    """The sensor's clock (tests replace it)."""
    return datetime.now(timezone.utc)


def _call_files(drop_dir) -> dict[str, int]:
    accept = lambda p: is_video_metadata(p) or is_caption_file(p)  # noqa: E731
    return {p.name: p.stat().st_mtime_ns for p in pending_files(drop_dir, accept=accept)}


def _poll_reason(kevin_runtime: KevinRuntimeResource, now: datetime, polled_at: str | None) -> str | None:
    runtime = kevin_runtime.runtime
    interval = timedelta(minutes=runtime.settings.feed_poll_minutes)
    if polled_at is not None and now - datetime.fromisoformat(polled_at) < interval:
        return None
    if runtime.settings.video_feeds:
        return "feed poll due"
    with runtime.sessions() as session:
        due = videos_due_for_transcript(session, now=now, limit=1)
    return f"transcript retry due ({due[0].video_id})" if due else None


@_live_sensor("new_videos_sensor", video_calls_job,
              "Requests a video_calls_job run when a video or caption file lands in the inbox, or a feed poll is due.")
def new_videos_sensor(context: dg.SensorEvaluationContext, kevin_runtime: KevinRuntimeResource):
    cursor = json.loads(context.cursor) if context.cursor else {}
    seen: dict[str, int] = cursor.get("files", {})
    now = _now()
    files = _call_files(kevin_runtime.runtime.settings.resolved_drop_dir)
    new = sorted(name for name, mtime in files.items() if seen.get(name) != mtime)
    poll = _poll_reason(kevin_runtime, now, cursor.get("polled_at"))
    if not new and poll is None:
        return dg.SkipReason("no new video or caption file, and no feed poll or transcript retry due")
    parts = []
    if new:
        digest = hashlib.sha1(json.dumps([[n, files[n]] for n in new]).encode()).hexdigest()[:16]
        parts.append(f"files-{digest}")
    if poll is not None:
        bucket = int(now.timestamp() // (kevin_runtime.runtime.settings.feed_poll_minutes * 60))
        parts.append(f"poll-{bucket}")
    request = dg.RunRequest(
        run_key="videos-" + "-".join(parts),
        tags={"kevin/new_files": str(len(new)), "kevin/poll": poll or "no"},
    )
    polled_at = now.isoformat() if poll is not None else cursor.get("polled_at")
    return dg.SensorResult(run_requests=[request], cursor=json.dumps({"files": files, "polled_at": polled_at}))
