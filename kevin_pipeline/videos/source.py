"""The port every video source implements: read, and say why when nothing could be read.

A source yields `VideoInfo` (domain.youtube), one shape for the feed, yt-dlp metadata and a
manual add, so storing is written once (`collect.store_videos`). Two kinds of bad input:
the whole read fails (a feed that times out or answers HTML, a file that is not JSON) ->
`VideoSourceError`, whose message is the recorded reason; or single items are bad (one line of a
`--dump-json` file without an id) -> `SourceBatch.rejected` names each, and the good items
still flow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from pydantic import ValidationError

from kevin_pipeline.domain.youtube import VideoInfo


class VideoSourceError(Exception):
    """Nothing could be read from a source; the message is the reason to record."""


@dataclass(frozen=True)
class SourceBatch:
    source: str  # what was read: a feed URL, a file name, a video URL
    videos: list[VideoInfo] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # "where: why" for each bad item


class VideoSource(Protocol):
    def read(self) -> SourceBatch:
        """The videos this source knows now; raises `VideoSourceError` when it cannot be read."""
        ...


def reason_of(exc: Exception) -> str:
    """One line naming the field and what is wrong with it (pydantic), else the message."""
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "value"
        return f"{field}: {err['msg']}"
    return str(exc)
