"""A channel's public RSS (Atom) feed: its newest uploads (about 15) with exact publish times.

    https://www.youtube.com/feeds/videos.xml?channel_id=UC…

Parsed with `feedparser`. Each entry gives the video id (`yt:videoId`), the channel id
(`yt:channelId`), the title, the watch URL, `media:description`, and `published` with its UTC
offset, which is kept as an instant (converted to UTC; the offset is not a guess to redo). The
feed has no duration. Needs the channel's ``UC…`` id: a channel known only by its handle cannot
be read here (see `db.videos.add_channel`).

Bad answers are reasons, never crashes: a timeout, an HTTP error status, an HTML page (YouTube's
consent or error pages come back as 200 text/html), anything feedparser cannot read as a feed.
An entry without a video id or time, or of another channel, is rejected by name; the rest flow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser
from pydantic import ValidationError

from kevin_pipeline.domain.youtube import VideoInfo
from kevin_pipeline.videos.http import HttpGet, urllib_get
from kevin_pipeline.videos.source import SourceBatch, VideoSourceError, reason_of

FEED_URL = "https://www.youtube.com/feeds/videos.xml?channel_id={channel_id}"
DEFAULT_TIMEOUT = 10.0


def feed_url(youtube_channel_id: str) -> str:
    return FEED_URL.format(channel_id=youtube_channel_id)


def _looks_like_html(content_type: str, body: bytes) -> bool:
    head = body[:512].lstrip().lower()
    return "html" in content_type.lower() or head.startswith((b"<!doctype html", b"<html"))


def _published(entry: Any) -> datetime:
    raw = entry.get("published") or entry.get("updated")
    if not raw:
        raise ValueError("no <published> time")
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        parsed_struct = entry.get("published_parsed") or entry.get("updated_parsed")
        if parsed_struct is None:
            raise ValueError(f"<published> {raw!r} is not a time") from None
        return datetime(*parsed_struct[:6], tzinfo=UTC)  # feedparser normalises to UTC
    if parsed.tzinfo is None:
        raise ValueError(f"<published> {raw!r} has no UTC offset")
    return parsed


def parse_feed(body: bytes, youtube_channel_id: str, *, content_type: str = "", where: str = "feed") -> SourceBatch:
    """The videos of a feed document (`where` names it in every reason)."""
    if _looks_like_html(content_type, body):
        raise VideoSourceError(f"{where}: returned an HTML page, not a feed (content type {content_type or 'none'})")
    parsed = feedparser.parse(body)
    if not parsed.get("version"):
        problem = parsed.get("bozo_exception")
        detail = f": {problem}" if problem else ""
        raise VideoSourceError(f"{where}: not an RSS/Atom feed{detail}")
    videos: list[VideoInfo] = []
    rejected: list[str] = []
    for number, entry in enumerate(parsed.entries, start=1):
        video_id = entry.get("yt_videoid")
        label = f"{where}: entry {number} ({video_id or 'no video id'})"
        channel = entry.get("yt_channelid")
        if channel and channel != youtube_channel_id:
            rejected.append(f"{label}: belongs to channel {channel}, not {youtube_channel_id}")
            continue
        try:
            videos.append(
                VideoInfo(
                    video_id=video_id or "",
                    youtube_channel_id=youtube_channel_id,
                    title=entry.get("title"),
                    published_at=_published(entry),
                    url=entry.get("link"),
                    description=entry.get("summary") or None,
                    source="feed",
                )
            )
        except (ValueError, ValidationError) as exc:
            rejected.append(f"{label}: {reason_of(exc)}")
    return SourceBatch(source=where, videos=videos, rejected=rejected)


@dataclass(frozen=True)
class FeedSource:
    """The `VideoSource` for one channel's feed."""

    youtube_channel_id: str
    get: HttpGet = urllib_get
    timeout: float = DEFAULT_TIMEOUT

    def read(self) -> SourceBatch:
        url = feed_url(self.youtube_channel_id)
        where = f"feed of {self.youtube_channel_id}"
        try:
            response = self.get(url, self.timeout)
        except TimeoutError:
            raise VideoSourceError(f"{where}: no answer within {self.timeout:g} s (timed out)") from None
        except OSError as exc:
            raise VideoSourceError(f"{where}: could not be fetched: {exc}") from None
        if not 200 <= response.status < 300:
            raise VideoSourceError(f"{where}: HTTP {response.status} from {url}")
        return parse_feed(response.body, self.youtube_channel_id, content_type=response.content_type, where=where)
