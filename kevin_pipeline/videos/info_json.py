"""yt-dlp metadata: backfill a channel's whole history without the feed's 15-video window.

    yt-dlp --skip-download --write-info-json -o '%(id)s' URL   ->  ID.info.json  (one video)
    yt-dlp --dump-json URL > NAME.info.jsonl                    ->  one video per line

A playlist/channel `.info.json` (``"_type": "playlist"``) is read through its ``entries``.
Fields used: ``id``, ``title``, ``timestamp`` (epoch seconds, UTC) or ``release_timestamp``, else
``upload_date`` (``YYYYMMDD``), ``duration``, ``channel_id``, ``uploader_id`` (the ``@handle``),
``webpage_url``, ``description``.

A date without a time is placed at the END of that UTC day (23:59:59): the video may have gone up
at any time that day, and the latest possible time is the one that can never let a backtest
act on a call before it was made (the early guess would be lookahead).

Each bad video names the line and field (``line 3: duration: not a number``); the good ones flow.
A file that is not JSON at all raises `VideoSourceError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kevin_pipeline.domain.youtube import HANDLE_RE, VideoInfo, watch_url
from kevin_pipeline.videos.source import SourceBatch, VideoSourceError, reason_of

END_OF_DAY = time(23, 59, 59)


class InfoFieldError(ValueError):
    pass


def _published_at(info: dict[str, Any]) -> datetime:
    for key in ("timestamp", "release_timestamp"):
        value = info.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InfoFieldError(f"{key}: {value!r} is not epoch seconds")
            return datetime.fromtimestamp(value, UTC)
    raw = info.get("upload_date")
    if raw is None:
        raise InfoFieldError("no publish time: none of timestamp, release_timestamp, upload_date")
    try:
        day = datetime.strptime(str(raw), "%Y%m%d").date()
    except ValueError:
        raise InfoFieldError(f"upload_date: {raw!r} is not YYYYMMDD") from None
    return datetime.combine(day, END_OF_DAY, UTC)


def _duration(info: dict[str, Any]) -> int | None:
    value = info.get("duration")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise InfoFieldError(f"duration: {value!r} is not a number of seconds")
    return round(value)


def _handle(info: dict[str, Any]) -> str | None:
    for key in ("uploader_id", "channel_handle"):
        value = info.get(key)
        if isinstance(value, str) and HANDLE_RE.fullmatch(value):
            return value
    url = info.get("uploader_url")
    if isinstance(url, str) and "/@" in url:
        candidate = "@" + url.rsplit("/@", 1)[1].strip("/")
        if HANDLE_RE.fullmatch(candidate):
            return candidate
    return None


def parse_info(info: Any) -> VideoInfo:
    """One yt-dlp video dict -> VideoInfo; `InfoFieldError` / `ValidationError` name the field."""
    if not isinstance(info, dict):
        raise InfoFieldError(f"expected a JSON object, got {type(info).__name__}")
    video_id = info.get("id")
    if not isinstance(video_id, str) or not video_id:
        raise InfoFieldError("id: missing")
    return VideoInfo(
        video_id=video_id,
        youtube_channel_id=info.get("channel_id") or None,
        channel_handle=_handle(info),
        title=info.get("title"),
        published_at=_published_at(info),
        duration_seconds=_duration(info),
        url=info.get("webpage_url") or watch_url(video_id),
        description=info.get("description") or None,
        source="info_json",
    )


def _documents(path: Path) -> list[tuple[str, Any]]:
    """(where, JSON value) for each video document in the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise VideoSourceError(f"{path.name}: cannot be read: {exc}") from None
    if path.name.lower().endswith(".jsonl"):
        docs: list[tuple[str, Any]] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    docs.append((f"line {number}", json.loads(line)))
                except json.JSONDecodeError as exc:
                    docs.append((f"line {number}", InfoFieldError(f"not JSON: {exc.msg} at column {exc.colno}")))
        if not docs:
            raise VideoSourceError(f"{path.name}: empty: no video lines")
        return docs
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise VideoSourceError(f"{path.name}: not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if isinstance(doc, dict) and doc.get("_type") == "playlist":
        entries = doc.get("entries")
        if not isinstance(entries, list):
            raise VideoSourceError(f"{path.name}: a playlist without a list of entries")
        return [(f"entry {n}", e) for n, e in enumerate(entries, start=1)]
    return [("video", doc)]


@dataclass(frozen=True)
class InfoJsonFile:
    """The `VideoSource` for one yt-dlp metadata file."""

    path: Path

    def read(self) -> SourceBatch:
        videos: list[VideoInfo] = []
        rejected: list[str] = []
        for where, doc in _documents(self.path):
            try:
                if isinstance(doc, Exception):
                    raise doc
                videos.append(parse_info(doc))
            except (InfoFieldError, ValidationError) as exc:
                rejected.append(f"{where}: {reason_of(exc)}")
        return SourceBatch(source=self.path.name, videos=videos, rejected=rejected)
