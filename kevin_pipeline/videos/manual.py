"""One video added by hand: its URL and its publish time (a URL alone does not say when).

The time must carry a UTC offset (`VideoInfo` refuses a naive one): the publish time is the time of
every call in the video, and a guessed time zone is hours of lookahead or of a stale call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from kevin_pipeline.domain.youtube import VideoInfo, YouTubeRefError, parse_video_ref, watch_url
from kevin_pipeline.videos.source import SourceBatch, VideoSourceError, reason_of


@dataclass(frozen=True)
class ManualVideo:
    """The `VideoSource` for one URL typed by a person."""

    url: str
    published_at: datetime
    title: str | None = None

    def read(self) -> SourceBatch:
        try:
            video_id = parse_video_ref(self.url)
            info = VideoInfo(
                video_id=video_id, title=self.title, published_at=self.published_at, url=watch_url(video_id),
                source="manual",
            )
        except (YouTubeRefError, ValidationError) as exc:
            raise VideoSourceError(reason_of(exc)) from None
        return SourceBatch(source=self.url, videos=[info])
