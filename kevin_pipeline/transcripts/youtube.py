"""YouTube's own captions through `youtube-transcript-api` (v1.x), behind a small port.

`TranscriptSource` is the port the pipeline calls; `YouTubeTranscriptSource` is the production
adapter. Every way the library can fail becomes `TranscriptUnavailable` with a reason code, so the
caller records it and retries or gives up; nothing from the library escapes as a crash:

- ``transcripts_disabled``: the uploader turned captions off (no retry),
- ``no_transcript``: none in the requested languages, e.g. only a German one (retry: YouTube's
  automatic captions often appear some hours after the upload),
- ``wrong_language``: the library returned a language that was not asked for (no retry),
- ``video_unavailable``: private, deleted, age-restricted or unplayable (no retry),
- ``blocked``: YouTube refused the request (IP block, PO token); retry later,
- ``fetch_failed``: any other failure of the request (retry).

The library is reached through a factory (the `YouTubeTranscriptApi` class by default), so tests
hand in a fake with the same `fetch(video_id, languages=[...])` and no network is ever touched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import youtube_transcript_api as yta

from kevin_pipeline.transcripts.models import Segment, Transcript, TranscriptUnavailable

__all__ = ["SOURCE_NAME", "TranscriptSource", "YouTubeTranscriptSource"]

SOURCE_NAME = "youtube-transcript-api"

# (library exception, reason code, retry?) — the most specific first.
_FAILURES: tuple[tuple[type[Exception], str, bool], ...] = (
    (yta.TranscriptsDisabled, "transcripts_disabled", False),
    (yta.NoTranscriptFound, "no_transcript", True),
    (yta.RequestBlocked, "blocked", True),
    (yta.PoTokenRequired, "blocked", True),
    (yta.VideoUnavailable, "video_unavailable", False),
    (yta.VideoUnplayable, "video_unavailable", False),
    (yta.AgeRestricted, "video_unavailable", False),
    (yta.InvalidVideoId, "video_unavailable", False),
    (yta.CouldNotRetrieveTranscript, "fetch_failed", True),
)


class TranscriptSource(Protocol):
    """Where the pipeline gets a video's transcript from."""

    def fetch(self, video_id: str) -> Transcript:
        """The transcript, or `TranscriptUnavailable` with a reason."""
        ...


class YouTubeTranscriptSource:
    """Captions from YouTube in the first of `languages` that exists."""

    def __init__(
        self,
        languages: Sequence[str] = ("en",),
        client_factory: Callable[[], Any] = yta.YouTubeTranscriptApi,
    ) -> None:
        if not languages:
            raise ValueError("languages: give at least one language code")
        self.languages = tuple(languages)
        self._client_factory = client_factory

    def fetch(self, video_id: str) -> Transcript:
        try:
            fetched = self._client_factory().fetch(video_id, languages=list(self.languages))
        except Exception as exc:  # noqa: BLE001 - every failure is a recorded reason, see the module doc
            raise _unavailable(video_id, exc) from exc
        code = getattr(fetched, "language_code", None)
        if code not in self.languages:
            raise TranscriptUnavailable(
                video_id,
                "wrong_language",
                f"asked for {', '.join(self.languages)}, got {code!r}",
            )
        segments = tuple(
            Segment(start_seconds=float(s.start), text=" ".join(s.text.split()))
            for s in fetched.snippets
            if s.text and s.text.strip()
        )
        if not segments:
            raise TranscriptUnavailable(
                video_id, "empty_transcript", "the transcript has no text", retry=True
            )
        return Transcript(video_id=video_id, language=code, source=SOURCE_NAME, segments=segments)


def _unavailable(video_id: str, exc: Exception) -> TranscriptUnavailable:
    for kind, reason, retry in _FAILURES:
        if isinstance(exc, kind):
            return TranscriptUnavailable(video_id, reason, _first_line(exc), retry=retry)
    return TranscriptUnavailable(
        video_id, "fetch_failed", f"{type(exc).__name__}: {_first_line(exc)}", retry=True
    )


def _first_line(exc: Exception) -> str:
    """The library's messages run to a paragraph with a GitHub referral; keep the cause only."""
    cause = getattr(exc, "cause", None)
    text = cause if isinstance(cause, str) and cause.strip() else str(exc)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else type(exc).__name__
