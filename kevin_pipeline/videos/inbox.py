"""yt-dlp metadata files dropped in the inbox: a channel's history in one go.

Reads `*.info.json` and `*.info.jsonl` from the drop folder (the mention import leaves them alone)
with the shared inbox mechanics (`ingest.inbox.drain`). A file whose every video was stored goes to
`processed/`. A file that cannot be read (not JSON, empty) goes to `rejected/` with
`<file>.reason` beside it; so does a file with some bad videos (a line without an id, an unknown
channel): its good videos are stored, the reason lists the others, and moving the fixed file back
is safe (storing is idempotent). Nothing already stored is touched; the next file still flows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from kevin_pipeline.ingest.inbox import REJECTED, VIDEO_METADATA_SUFFIXES, drain, pending_files
from kevin_pipeline.runtime import Runtime
from kevin_pipeline.videos.collect import Collected, store_videos
from kevin_pipeline.videos.info_json import InfoJsonFile
from kevin_pipeline.videos.source import VideoSourceError

_LISTED = 20  # bad videos named in a reason file; the count says how many more


@dataclass
class VideoInboxReport:
    drop_dir: Path
    collected: list[Collected] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)  # file name -> why it went to rejected/
    seen: int = 0

    @property
    def created(self) -> list[str]:
        return [v for c in self.collected for v in c.created]


def is_video_metadata(path: Path) -> bool:
    return path.name.lower().endswith(VIDEO_METADATA_SUFFIXES)


def _left_out(collected: Collected) -> str | None:
    if not collected.rejected:
        return None
    shown = "; ".join(collected.rejected[:_LISTED])
    more = f"; and {len(collected.rejected) - _LISTED} more" if len(collected.rejected) > _LISTED else ""
    stored = collected.seen - len(collected.rejected)
    return f"{stored} of {collected.seen} videos stored; not stored: {shown}{more}"


def import_video_metadata(runtime: Runtime, drop_dir: Path, *, now: datetime | None = None) -> VideoInboxReport:
    """Store the videos of every pending metadata file (`now`: the clock, default the real one)."""
    drop_dir.mkdir(parents=True, exist_ok=True)
    clock = now or datetime.now(UTC)

    def handle(path: Path) -> Collected:
        batch = InfoJsonFile(path).read()  # read before the transaction: no lock held while parsing
        with runtime.transaction() as session:
            return store_videos(session, batch, now=clock)

    drained = drain(
        runtime,
        drop_dir,
        pending_files(drop_dir, accept=is_video_metadata),
        handle,
        refused=(VideoSourceError,),
        leftover=_left_out,
        where=REJECTED,
    )
    return VideoInboxReport(drop_dir=drop_dir, collected=drained.done, rejected=drained.failed, seen=drained.seen)
