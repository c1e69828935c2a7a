"""Step 1: new videos, from the inbox's yt-dlp metadata files and, when enabled, the feeds.

The feeds are read only with KEVIN_VIDEO_FEEDS=on (default off: nothing touches the network unless
asked). A bad metadata file goes to `inbox/rejected/` with a `.reason`; one channel's feed timing
out or answering HTML is a reason recorded against that channel; the others still flow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from kevin_pipeline.runtime import Runtime
from kevin_pipeline.videos.collect import FeedPoll, poll_feeds
from kevin_pipeline.videos.http import HttpGet, urllib_get
from kevin_pipeline.videos.inbox import VideoInboxReport, import_video_metadata


@dataclass
class VideosCollected:
    inbox: VideoInboxReport
    feeds: FeedPoll | None = None  # None: feeds off
    new_videos: list[str] = field(default_factory=list)

    @property
    def reasons(self) -> dict[str, str]:
        """Everything not stored, by file or channel: what the run shows."""
        out = {f"file {name}": why for name, why in self.inbox.rejected.items()}
        if self.feeds is not None:
            out.update({f"feed of {name}": why for name, why in self.feeds.failed.items()})
            out.update({c.source: "; ".join(c.rejected) for c in self.feeds.collected if c.rejected})
        return out


def collect_videos(
    runtime: Runtime, drop_dir: Path, *, now: datetime, get: HttpGet = urllib_get, feeds: bool | None = None
) -> VideosCollected:
    """Store the videos of the inbox's metadata files, then (feeds on) of every active channel's
    feed. `feeds`: None follows KEVIN_VIDEO_FEEDS; `get`: the HTTP getter (tests pass recordings)."""
    inbox = import_video_metadata(runtime, drop_dir, now=now)
    use_feeds = runtime.settings.video_feeds if feeds is None else feeds
    poll = poll_feeds(runtime, now=now, get=get) if use_feeds else None
    created = inbox.created + (poll.created if poll is not None else [])
    return VideosCollected(inbox=inbox, feeds=poll, new_videos=list(dict.fromkeys(created)))
