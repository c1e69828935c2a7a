"""Storing channels, videos and transcripts (the storage side of "from videos to calls").

Channels. `add_channel` takes a parsed `ChannelRef`. With a ``UC…`` id the channel is complete:
its RSS feed can be read. With a handle only, it is stored anyway (``youtube_channel_id`` NULL)
and `ChannelAdded.note` says that the feed needs the id: a handle cannot be resolved offline.
The id is filled in later by `add_channel` with the id and the same name, or by the first yt-dlp
metadata file of one of its videos (it carries both ``channel_id`` and the ``@handle``), see
`resolve_channel`. `remove_channel` deactivates: the channel's videos and calls stay (they are
the record every backtest and decision refers to); adding it again reactivates it.

Videos. `upsert_video` is idempotent: a video is created once (status `waiting`, due now);
seeing it again only fills fields that were still empty, and never moves `published_at` (the
time every call in it carries).

Transcripts. `save_transcript` stores one per video and language (a second save replaces it) and
marks the video `fetched`. `record_transcript_miss` counts a miss and schedules the next try by
`TranscriptRetry` (waits doubling); when the budget is spent the video is `failed` with the
reason. `videos_due_for_transcript(now)` lists the `waiting` videos whose time has come, of
active channels. The clock is always a parameter.

The caller owns the transaction: these functions flush, never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from kevin_pipeline.db.models import Channel, MentionRecord, Transcript, Video
from kevin_pipeline.domain.youtube import ChannelRef, TranscriptRetry, TranscriptSegment, VideoInfo, channel_key

HANDLE_ONLY_NOTE = (
    "stored by handle only: YouTube's RSS feed needs the channel id (UC…), which a handle does not "
    "give offline. Add it again with its id (https://www.youtube.com/channel/UC…, same name), or "
    "drop a yt-dlp .info.json of one of its videos in the inbox: that fills the id in."
)


UNDETERMINED_LANGUAGE = "und"  # ISO 639-2 for "not known": a caption file that does not say


class ChannelError(ValueError):
    """A channel operation that cannot be done; the message names the channel and the conflict."""


class UnknownVideo(LookupError):
    pass


@dataclass(frozen=True)
class ChannelAdded:
    channel: Channel
    created: bool
    note: str | None = None  # set when the channel still lacks what the feed needs


def find_channel(session: Session, ref: ChannelRef | str) -> Channel | None:
    """By YouTube id, by handle (case-insensitive, as YouTube treats them), or by name."""
    if isinstance(ref, str):
        return session.scalar(select(Channel).where(Channel.name == ref))
    if ref.youtube_channel_id:
        return session.scalar(select(Channel).where(Channel.youtube_channel_id == ref.youtube_channel_id))
    if ref.handle:
        return session.scalar(select(Channel).where(func.lower(Channel.handle) == ref.handle.lower()))
    return None


def _name_taken(session: Session, name: str, other_than: Channel | None) -> None:
    holder = session.scalar(select(Channel).where(Channel.name == name))
    if holder is not None and holder is not other_than:
        raise ChannelError(f"another channel is already named {name!r} ({holder.youtube_channel_id or holder.handle})")


def add_channel(session: Session, ref: ChannelRef, *, name: str | None, now: datetime) -> ChannelAdded:
    """Add (or reactivate) a channel; see the module docstring for handles."""
    channel = find_channel(session, ref)
    if channel is None and name is not None:
        # A channel known by name (a mention file's `channel`, or added by handle): attach the id.
        named = find_channel(session, name)
        if named is not None:
            if ref.youtube_channel_id and named.youtube_channel_id not in (None, ref.youtube_channel_id):
                raise ChannelError(
                    f"{name!r} is channel {named.youtube_channel_id}, not {ref.youtube_channel_id}"
                )
            if ref.handle and named.handle and named.handle.lower() != ref.handle.lower():
                raise ChannelError(f"{name!r} has the handle {named.handle}, not {ref.handle}")
            channel = named
            channel.youtube_channel_id = channel.youtube_channel_id or ref.youtube_channel_id
            channel.handle = channel.handle or ref.handle
    created = channel is None
    if channel is None:
        display = name or str(ref)
        _name_taken(session, display, None)
        channel = Channel(
            youtube_channel_id=ref.youtube_channel_id, handle=ref.handle, name=display, added_at=now, active=True
        )
        session.add(channel)
    else:
        if name is not None and name != channel.name:
            _name_taken(session, name, channel)
            channel.name = name
        channel.active = True
    session.flush()
    return ChannelAdded(channel, created, None if channel.youtube_channel_id else HANDLE_ONLY_NOTE)


def list_channels(session: Session, *, include_inactive: bool = False) -> list[Channel]:
    stmt = select(Channel).order_by(Channel.name)
    if not include_inactive:
        stmt = stmt.where(Channel.active.is_(True))
    return list(session.scalars(stmt))


def remove_channel(session: Session, ref: ChannelRef | str) -> Channel:
    """Deactivate: no more feed reads or transcript fetches; videos and calls are kept."""
    channel = find_channel(session, ref)
    if channel is None:
        raise ChannelError(f"unknown channel {ref}: `channels list` shows the ones kevin follows")
    channel.active = False
    session.flush()
    return channel


def resolve_channel(session: Session, youtube_channel_id: str | None, handle: str | None) -> Channel | None:
    """The stored channel a video belongs to, by id, else by handle (then its id is filled in)."""
    if youtube_channel_id:
        channel = find_channel(session, ChannelRef(youtube_channel_id=youtube_channel_id))
        if channel is not None:
            return channel
    if handle:
        channel = find_channel(session, ChannelRef(handle=handle))
        if channel is not None and (channel.youtube_channel_id is None or not youtube_channel_id):
            if youtube_channel_id:
                channel.youtube_channel_id = youtube_channel_id
                session.flush()
            return channel
    return None


_FILLABLE = ("title", "duration_seconds", "url", "description")  # filled in when a later source has them


def upsert_video(session: Session, channel: Channel, info: VideoInfo, *, now: datetime) -> bool:
    """Store `info` under `channel`; True when the video is new. Re-seeing a video only fills
    empty fields (a feed has no duration, an info.json does): `published_at` never moves."""
    video = session.scalar(select(Video).where(Video.video_id == info.video_id))
    if video is None:
        fields = info.model_dump(include={"video_id", "published_at", "source", *_FILLABLE})
        session.add(
            Video(
                **fields, channel_id=channel.id, created_at=now,
                transcript_status="waiting", transcript_attempts=0, next_attempt_at=now,
            )
        )
        session.flush()
        return True
    for field in _FILLABLE:
        if getattr(video, field) is None and getattr(info, field) is not None:
            setattr(video, field, getattr(info, field))
    if video.channel_id is None:
        video.channel_id = channel.id
    session.flush()
    return False


def _video(session: Session, video_id: str) -> Video:
    video = session.scalar(select(Video).where(Video.video_id == video_id))
    if video is None:
        raise UnknownVideo(f"video {video_id!r} is not stored: add it (feed, info.json or a URL) first")
    return video


def save_transcript(
    session: Session,
    video_id: str,
    *,
    language: str | None,
    source: str,
    segments: Sequence[TranscriptSegment],
    fetched_at: datetime,
) -> Transcript:
    """Store the transcript of `video_id` in `language` (replacing an earlier one; None: `und`)
    and mark the video `fetched`."""
    video = _video(session, video_id)
    language = language or UNDETERMINED_LANGUAGE
    payload = [{"start_seconds": s.start_seconds, "text": s.text} for s in segments]
    transcript = session.scalar(
        select(Transcript).where(Transcript.video_pk == video.id, Transcript.language == language)
    )
    if transcript is None:
        transcript = Transcript(video_pk=video.id, language=language)
        session.add(transcript)
    transcript.source = source
    transcript.segments = payload
    transcript.fetched_at = fetched_at
    video.transcript_status = "fetched"
    video.transcript_reason = None
    video.next_attempt_at = None
    session.flush()
    return transcript


def load_transcript(session: Session, video_id: str, language: str | None = None) -> list[TranscriptSegment] | None:
    """The stored segments (of `language`, else the first saved), None when there are none."""
    stmt = select(Transcript).join(Video, Transcript.video_pk == Video.id).where(Video.video_id == video_id)
    if language is not None:
        stmt = stmt.where(Transcript.language == language)
    transcript = session.scalar(stmt.order_by(Transcript.id).limit(1))
    if transcript is None:
        return None
    return [TranscriptSegment.model_validate(s) for s in transcript.segments]


def record_transcript_miss(
    session: Session, video_id: str, reason: str, *, now: datetime, retry: TranscriptRetry = TranscriptRetry()
) -> Video:
    """One more failed look for a transcript: wait longer, or give up (`failed`) with `reason`."""
    video = _video(session, video_id)
    video.transcript_attempts += 1
    due = retry.next_attempt_at(video.transcript_attempts, now)
    if due is None:
        video.transcript_status = "failed"
        video.transcript_reason = f"gave up after {video.transcript_attempts} attempts: {reason}"
    else:
        video.transcript_status = "waiting"
        video.transcript_reason = reason
    video.next_attempt_at = due
    session.flush()
    return video


def mark_transcript_failed(session: Session, video_id: str, reason: str) -> Video:
    """Give up now (e.g. captions disabled): waiting longer cannot help."""
    video = _video(session, video_id)
    video.transcript_status = "failed"
    video.transcript_reason = reason
    video.next_attempt_at = None
    session.flush()
    return video


def videos_due_for_transcript(session: Session, *, now: datetime, limit: int | None = None) -> list[Video]:
    """`waiting` videos of active channels whose next attempt is due at `now`, oldest first."""
    stmt = (
        select(Video)
        .outerjoin(Channel, Video.channel_id == Channel.id)
        .where(
            Video.transcript_status == "waiting",
            or_(Video.next_attempt_at.is_(None), Video.next_attempt_at <= now),
            or_(Channel.id.is_(None), Channel.active.is_(True)),
        )
        .order_by(Video.published_at, Video.id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


# --- what the `kevin channels` / `kevin videos` commands and the `--channel` filters read -----------


def lookup_channel(session: Session, text: str) -> Channel | None:
    """The stored channel a person means by `text`: kevin's own id (as `channels list` prints
    it), a YouTube URL, ``UC…`` id or ``@handle``, else its name. Inactive channels are found too:
    their calls are still the record a backtest or a scorecard can be filtered to."""
    value = text.strip()
    if value.isdigit():
        return session.get(Channel, int(value))
    key = channel_key(value)
    return find_channel(session, key) or (find_channel(session, value) if not isinstance(key, str) else None)


def known_channels_text(session: Session) -> str:
    """``name (@handle), …`` of every stored channel, for an "unknown channel" error."""
    channels = list_channels(session, include_inactive=True)
    return ", ".join(f"{c.id} {c.name}" + (f" ({c.handle})" if c.handle else "") for c in channels) or "none"


@dataclass(frozen=True)
class ChannelSummary:
    channel: Channel
    videos: int
    calls: int


def channel_summaries(session: Session) -> list[ChannelSummary]:
    """Every stored channel (removed ones too: their calls stay) with its number of videos and calls."""
    videos = dict(session.execute(select(Video.channel_id, func.count()).group_by(Video.channel_id)).all())
    calls = dict(
        session.execute(select(MentionRecord.channel_id, func.count()).group_by(MentionRecord.channel_id)).all()
    )
    return [
        ChannelSummary(c, int(videos.get(c.id, 0)), int(calls.get(c.id, 0)))
        for c in list_channels(session, include_inactive=True)
    ]


def list_videos(
    session: Session, *, channel_id: int | None = None, status: str | None = None, limit: int | None = None
) -> list[Video]:
    """Stored videos, newest first; of one channel and/or one transcript status."""
    stmt = select(Video).order_by(Video.published_at.desc(), Video.id.desc())
    if channel_id is not None:
        stmt = stmt.where(Video.channel_id == channel_id)
    if status is not None:
        stmt = stmt.where(Video.transcript_status == status)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))
