"""The transcript shape every source produces, and the two ways a source can fail.

A segment keeps the second it starts at, so a call extracted from it can link to that moment in
the video (``https://youtu.be/ID?t=SECONDS``); plain text has no times (``start_seconds`` None).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from kevin_pipeline.domain.youtube import TranscriptSegment


# One segment type for every source and for storage (db.videos stores and loads this very type).
Segment = TranscriptSegment


class Transcript(BaseModel):
    model_config = ConfigDict(frozen=True)

    video_id: str | None = None
    language: str | None = None  # a language code ("en") when the source says; None when unknown
    source: str  # where it came from: "vtt", "srt", "json3", "txt", "youtube-transcript-api"
    segments: tuple[Segment, ...] = ()

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments)


class TranscriptFileError(Exception):
    """A caption file that cannot be read as a transcript. The message names the file and what is
    wrong with it (the line or cue when known), for the inbox's ``.reason`` file."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class TranscriptUnavailable(Exception):
    """A video whose transcript could not be had (yet, or ever): a recorded reason, never a crash.

    ``reason`` is a short code the store and the retry policy key on; ``retry`` says whether asking
    again later may help (a transient network failure) or not (captions disabled)."""

    def __init__(self, video_id: str, reason: str, detail: str, *, retry: bool = False) -> None:
        self.video_id = video_id
        self.reason = reason
        self.detail = detail
        self.retry = retry
        super().__init__(f"{video_id}: {reason}: {detail}")
