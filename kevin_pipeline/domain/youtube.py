"""YouTube identifiers and what a video source reports: pure parsing, no network.

A channel is named four ways: a channel URL (``https://www.youtube.com/channel/UC…``), a handle
URL (``https://www.youtube.com/@name``), ``@name``, or a bare ``UC…`` id. Only the id reaches the
public RSS feed; a handle cannot be turned into an id without asking YouTube, so `ChannelRef`
keeps whichever was given and storage says what is still missing.

A video is named by a watch URL, a ``youtu.be`` link, a shorts / live / embed URL, or its bare
11-character id.

`VideoInfo` is what every video source (RSS feed, yt-dlp metadata, a manual add) yields: one
shape, so storage has one way in. Its `published_at` is an aware instant (converted to UTC);
a naive time is refused rather than guessed, because a call's time is its video's publish time
and an hour's guess is lookahead in a backtest.

`TranscriptSegment` is one timed piece of a transcript, and `TranscriptRetry` the backoff schedule
for a video whose transcript has not appeared yet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

CHANNEL_ID_RE = re.compile(r"UC[A-Za-z0-9_-]{22}")
HANDLE_RE = re.compile(r"@[A-Za-z0-9._-]{3,30}")
VIDEO_ID_RE = re.compile(r"[A-Za-z0-9_-]{11}")
YOUTUBE_HOSTS = frozenset({"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com"})
SHORT_HOSTS = frozenset({"youtu.be", "www.youtu.be"})
VIDEO_PATH_PREFIXES = ("shorts", "live", "embed", "v")

VideoSourceName = Literal["feed", "info_json", "manual"]


class YouTubeRefError(ValueError):
    """A channel or video reference kevin cannot read; the message says what was expected."""


@dataclass(frozen=True)
class ChannelRef:
    """A channel as the user named it: exactly one of `youtube_channel_id` or `handle` is set."""

    youtube_channel_id: str | None = None
    handle: str | None = None

    def __str__(self) -> str:
        return self.youtube_channel_id or self.handle or "?"


def _split(text: str) -> tuple[str, list[str], str]:
    """(host, path parts, query) of a URL, tolerating a missing scheme."""
    raw = text if "://" in text else "https://" + text
    parts = urlsplit(raw)
    return (parts.hostname or "").lower(), [p for p in parts.path.split("/") if p], parts.query


def parse_channel_ref(text: str) -> ChannelRef:
    """`https://www.youtube.com/channel/UC…`, `https://www.youtube.com/@name`, `@name` or `UC…`."""
    value = text.strip()
    if CHANNEL_ID_RE.fullmatch(value):
        return ChannelRef(youtube_channel_id=value)
    if HANDLE_RE.fullmatch(value):
        return ChannelRef(handle=value)
    expected = (
        "expected a channel URL (https://www.youtube.com/channel/UC…), a handle URL "
        "(https://www.youtube.com/@name), @name, or a channel id (UC + 22 characters)"
    )
    if not value or "/" not in value:
        raise YouTubeRefError(f"{text!r} is not a YouTube channel: {expected}")
    host, path, _query = _split(value)
    if host in YOUTUBE_HOSTS and path:
        if path[0] == "channel" and len(path) >= 2 and CHANNEL_ID_RE.fullmatch(path[1]):
            return ChannelRef(youtube_channel_id=path[1])
        if HANDLE_RE.fullmatch(path[0]):
            return ChannelRef(handle=path[0])
    raise YouTubeRefError(f"{text!r} is not a YouTube channel: {expected}")


def channel_key(text: str) -> ChannelRef | str:
    """What a person typed to pick a stored channel: a URL, handle or id if it reads as one, else
    the channel's name (``Meet Kevin``). For `db.videos.find_channel` / `remove_channel`."""
    try:
        return parse_channel_ref(text)
    except YouTubeRefError:
        return text.strip()


def parse_video_ref(text: str) -> str:
    """The 11-character video id in a watch / youtu.be / shorts / live / embed URL, or a bare id."""
    value = text.strip()
    if VIDEO_ID_RE.fullmatch(value):
        return value
    host, path, query = _split(value)
    candidate: str | None = None
    if host in SHORT_HOSTS and path:
        candidate = path[0]
    elif host in YOUTUBE_HOSTS:
        if path == ["watch"]:
            candidate = (parse_qs(query).get("v") or [None])[0]
        elif len(path) >= 2 and path[0] in VIDEO_PATH_PREFIXES:
            candidate = path[1]
    if candidate and VIDEO_ID_RE.fullmatch(candidate):
        return candidate
    raise YouTubeRefError(
        f"{text!r} is not a YouTube video: expected https://www.youtube.com/watch?v=ID, "
        "https://youtu.be/ID, https://www.youtube.com/shorts/ID or an 11-character video id"
    )


def watch_url(video_id: str) -> str:
    return f"https://www.youtube.com/watch?v={video_id}"


class VideoInfo(BaseModel):
    """One video as a source reports it (before storage)."""

    model_config = ConfigDict(frozen=True)

    video_id: str = Field(pattern=VIDEO_ID_RE.pattern)
    youtube_channel_id: str | None = Field(default=None, pattern=CHANNEL_ID_RE.pattern)
    channel_handle: str | None = None  # yt-dlp's uploader_id "@name", when the source has it
    title: str | None = None
    published_at: datetime
    duration_seconds: int | None = Field(default=None, ge=0)
    url: str | None = None
    description: str | None = None
    source: VideoSourceName

    @field_validator("published_at")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("published_at must carry a UTC offset (a naive time would be a guess)")
        return value.astimezone(UTC)


class TranscriptSegment(BaseModel):
    """A timed piece of a transcript; stored as ``{"start_seconds": …, "text": …}`` (None: plain
    text, no time). Every transcript source produces it (`transcripts.models.Segment` is this type)."""

    model_config = ConfigDict(frozen=True)

    start_seconds: float | None = Field(default=None, ge=0)
    text: str


@dataclass(frozen=True)
class TranscriptRetry:
    """When to look again for a transcript that is not there yet.

    Captions often appear minutes to hours after upload, so the waits double: after the first
    miss wait `first_wait`, then 2×, 4×, … ; after `max_attempts` misses the video is marked
    `failed` with the last reason (a person can see why, and retry by hand).
    """

    first_wait: timedelta = timedelta(minutes=30)
    max_attempts: int = 8

    def next_attempt_at(self, attempts: int, now: datetime) -> datetime | None:
        """The time of the next try after `attempts` misses; None once the budget is spent."""
        if attempts >= self.max_attempts:
            return None
        return now + self.first_wait * (2 ** max(attempts - 1, 0))
