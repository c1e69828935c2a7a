"""Reading and writing mentions (the storage side of the mention import).

`store_mentions` is idempotent: re-importing a file adds nothing. A mention is identified by its
natural key (video_id, symbol, action, time_horizon); the first one stored wins. It works in
set-sized statements — existing keys are looked up per chunk of video ids, inserts are multi-row
`INSERT .. ON CONFLICT DO NOTHING` — so a 10,000-row file is a handful of round trips, and a
concurrent import of the same file cannot fail on the unique constraint (the loser counts the
rows as duplicates). Same SQL shape on SQLite (>= 3.24) and PostgreSQL.

The caller owns the transaction: these functions flush, never commit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kevin_pipeline.db.models import DEFAULT_CHANNEL_NAME, Channel, MentionRecord, Video
from kevin_pipeline.domain.mention_rows import MentionRow
from kevin_pipeline.domain.models import Action, Horizon, Mention

log = logging.getLogger(__name__)

# Bound parameters per statement stay well under SQLite's limit (32,766; 999 before 3.32).
LOOKUP_CHUNK = 500
INSERT_CHUNK = 500

T = TypeVar("T")


@dataclass(frozen=True)
class StoreResult:
    imported: int
    skipped_duplicate: int
    videos_created: int = 0
    # video ids whose rows disagreed about published_at (with the DB or within the file): the
    # first stored time was kept, and the mentions carry that time.
    published_at_conflicts: tuple[str, ...] = field(default=())


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _insert(session: Session, table: Table) -> Any:
    """INSERT supporting ON CONFLICT for the session's dialect."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"store_mentions supports sqlite and postgresql, not {name}")


def _ensure_channels(session: Session, names: set[str]) -> dict[str, int]:
    if not names:
        return {}
    table = Channel.__table__
    now = datetime.now(timezone.utc)
    ordered = sorted(names)
    for chunk in _chunks(ordered, INSERT_CHUNK):
        stmt = _insert(session, table).on_conflict_do_nothing(index_elements=["name"])
        session.execute(stmt, [{"name": n, "added_at": now, "active": True} for n in chunk])
    ids: dict[str, int] = {}
    for chunk in _chunks(ordered, LOOKUP_CHUNK):
        for cid, name in session.execute(
            select(Channel.id, Channel.name).where(Channel.name.in_(chunk))
        ):
            ids[name] = cid
    return ids


def _existing_videos(
    session: Session, video_ids: Sequence[str]
) -> dict[str, tuple[int, datetime, int | None]]:
    """video id -> (primary key, published_at, channel id)."""
    found: dict[str, tuple[int, datetime, int | None]] = {}
    for chunk in _chunks(video_ids, LOOKUP_CHUNK):
        for pk, vid, published_at, channel_id in session.execute(
            select(Video.id, Video.video_id, Video.published_at, Video.channel_id).where(
                Video.video_id.in_(chunk)
            )
        ):
            found[vid] = (pk, published_at, channel_id)
    return found


def _existing_keys(session: Session, video_ids: Sequence[str]) -> set[tuple[str, str, str, str]]:
    keys: set[tuple[str, str, str, str]] = set()
    cols = (
        MentionRecord.video_id,
        MentionRecord.symbol,
        MentionRecord.action,
        MentionRecord.time_horizon,
    )
    for chunk in _chunks(video_ids, LOOKUP_CHUNK):
        for row in session.execute(select(*cols).where(MentionRecord.video_id.in_(chunk))):
            keys.add((row[0], row[1], row[2], row[3]))
    return keys


def store_mentions(session: Session, rows: Iterable[MentionRow], source: str) -> StoreResult:
    """Store validated rows; return how many were new and how many were duplicates.

    Duplicates are counted both within `rows` (the first occurrence wins) and against the
    database. Channels and videos are created as needed; a video already stored keeps its first
    `published_at` (a different time in a later row is logged and reported in
    `published_at_conflicts`), and every mention's `published_at` is its video's.
    """
    session.flush()  # pending ORM objects must be visible to the lookups below

    # 1. Deduplicate within the input, keeping the first row per natural key.
    unique: dict[tuple[str, str, str, str], MentionRow] = {}
    total = 0
    for row in rows:
        total += 1
        unique.setdefault(row.natural_key, row)
    within_file_dupes = total - len(unique)
    if not unique:
        return StoreResult(imported=0, skipped_duplicate=within_file_dupes)

    # 2. One representative row per video (its first row), noting time disagreements.
    first_row_of_video: dict[str, MentionRow] = {}
    conflicts: set[str] = set()
    for row in unique.values():
        first = first_row_of_video.setdefault(row.video_id, row)
        if first.published_at != row.published_at:
            conflicts.add(row.video_id)
    video_ids = list(first_row_of_video)

    # 3. Videos: look up, create the missing ones (race-safe), look up again for their ids.
    existing = _existing_videos(session, video_ids)
    for vid, (_pk, stored_at, _channel) in existing.items():
        if stored_at != first_row_of_video[vid].published_at:
            conflicts.add(vid)
    missing = [vid for vid in video_ids if vid not in existing]
    if missing:
        # A video whose rows name no channel belongs to the default channel (mentions need one).
        channel_ids = _ensure_channels(
            session, {first_row_of_video[v].channel or DEFAULT_CHANNEL_NAME for v in missing}
        )
        now = datetime.now(timezone.utc)
        for chunk in _chunks(missing, INSERT_CHUNK):
            payload = [
                {
                    "video_id": vid,
                    "channel_id": channel_ids[r.channel or DEFAULT_CHANNEL_NAME],
                    "title": r.video_title,
                    "published_at": r.published_at,
                    "created_at": now,
                    "source": "mention_file",
                    "transcript_status": "none",  # its calls came with it: no transcript to seek
                    "transcript_attempts": 0,
                }
                for vid in chunk
                for r in (first_row_of_video[vid],)
            ]
            stmt = _insert(session, Video.__table__).on_conflict_do_nothing(
                index_elements=["video_id"]
            )
            session.execute(stmt, payload)
        existing.update(_existing_videos(session, missing))
    videos_created = len(missing)

    if conflicts:
        log.warning(
            "%s: %d video(s) seen with a different published_at; kept the first stored time: %s",
            source,
            len(conflicts),
            ", ".join(sorted(conflicts)[:20]) + (" ..." if len(conflicts) > 20 else ""),
        )

    # 4. Mentions: skip keys already stored, insert the rest in file order.
    known = _existing_keys(session, video_ids)
    unassigned: int | None = None
    if any(channel is None for _pk, _at, channel in existing.values()):
        unassigned = _ensure_channels(session, {DEFAULT_CHANNEL_NAME})[DEFAULT_CHANNEL_NAME]
    imported_at = datetime.now(timezone.utc)
    payload = []
    for key, row in unique.items():
        if key in known:
            continue
        video_pk, published_at, channel_id = existing[row.video_id]
        payload.append(
            {
                "video_pk": video_pk,
                "video_id": row.video_id,
                "channel_id": channel_id if channel_id is not None else unassigned,
                "symbol": row.symbol,
                "action": row.action.value,
                "conviction": row.conviction,
                "time_horizon": row.horizon.value,
                "quote": row.quote,
                "published_at": published_at,
                "imported_at": imported_at,
                "source": source,
                "extractor": row.extractor,
                "extractor_version": row.extractor_version,
                "start_seconds": row.start_seconds,
            }
        )

    imported = 0
    for chunk in _chunks(payload, INSERT_CHUNK):
        stmt = (
            _insert(session, MentionRecord.__table__)
            .on_conflict_do_nothing(index_elements=["video_id", "symbol", "action", "time_horizon"])
            .returning(MentionRecord.__table__.c.id)
        )
        imported += len(session.execute(stmt, list(chunk)).all())

    return StoreResult(
        imported=imported,
        skipped_duplicate=total - imported,
        videos_created=videos_created,
        published_at_conflicts=tuple(sorted(conflicts)),
    )


def _to_domain(rec: MentionRecord) -> Mention:
    return Mention(
        id=rec.id,
        video_id=rec.video_id,
        symbol=rec.symbol,
        action=Action(rec.action),
        conviction=rec.conviction,
        horizon=Horizon(rec.time_horizon),
        published_at=rec.published_at,
        quote=rec.quote,
    )


def load_mentions(
    session: Session, after_id: int | None = None, limit: int | None = None, channel_id: int | None = None
) -> list[Mention]:
    """Stored mentions as domain objects, in id order (`after_id`: exclusive cursor; `channel_id`:
    only that channel's calls)."""
    stmt = select(MentionRecord).order_by(MentionRecord.id)
    if channel_id is not None:
        stmt = stmt.where(MentionRecord.channel_id == channel_id)
    if after_id is not None:
        stmt = stmt.where(MentionRecord.id > after_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [_to_domain(rec) for rec in session.scalars(stmt)]
