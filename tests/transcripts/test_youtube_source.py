"""The youtube-transcript-api adapter, driven by a hand-written fake of the library's client:
every failure is a recorded reason, never a crash, and no test touches the network."""

from __future__ import annotations

from typing import Any

import pytest
import youtube_transcript_api as yta
from youtube_transcript_api._transcripts import TranscriptList

from kevin_pipeline.transcripts.models import TranscriptUnavailable
from kevin_pipeline.transcripts.youtube import SOURCE_NAME, YouTubeTranscriptSource


class FakeApi:
    """Stands in for `YouTubeTranscriptApi()`: returns a fixed result or raises a fixed error."""

    calls: list[tuple[str, list[str]]] = []

    def __init__(self, result: Any) -> None:
        self.result = result

    def fetch(self, video_id: str, languages: list[str]) -> Any:
        FakeApi.calls.append((video_id, languages))
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def _source(result: Any, languages: tuple[str, ...] = ("en",)) -> YouTubeTranscriptSource:
    return YouTubeTranscriptSource(languages, client_factory=lambda: FakeApi(result))


def _fetched(
    language_code: str = "en", texts: tuple[tuple[float, str], ...] = ((0.0, "hi"),)
) -> yta.FetchedTranscript:
    return yta.FetchedTranscript(
        snippets=[yta.FetchedTranscriptSnippet(text=t, start=s, duration=2.0) for s, t in texts],
        video_id="vid12345678",
        language="English (auto-generated)",
        language_code=language_code,
        is_generated=True,
    )


def test_a_transcript_keeps_each_snippets_start_and_asks_for_the_languages() -> None:
    FakeApi.calls.clear()
    source = _source(
        _fetched("en", ((0.0, "welcome back"), (12.4, "I'm  buying\nNvidia"), (14.0, "  "))), ("en", "en-US")
    )
    t = source.fetch("vid12345678")
    assert FakeApi.calls == [("vid12345678", ["en", "en-US"])]
    assert (t.video_id, t.language, t.source) == ("vid12345678", "en", SOURCE_NAME)
    assert [(s.start_seconds, s.text) for s in t.segments] == [
        (0.0, "welcome back"),
        (12.4, "I'm buying Nvidia"),
    ]


def _no_transcript() -> Exception:
    return yta.NoTranscriptFound("vid12345678", ["en"], TranscriptList("vid12345678", {}, {}, []))


@pytest.mark.parametrize(
    ("error", "reason", "retry"),
    [
        (yta.TranscriptsDisabled("vid12345678"), "transcripts_disabled", False),
        (_no_transcript(), "no_transcript", True),
        (yta.VideoUnavailable("vid12345678"), "video_unavailable", False),
        (yta.VideoUnplayable("vid12345678", "Private video", []), "video_unavailable", False),
        (yta.RequestBlocked("vid12345678"), "blocked", True),
        (yta.YouTubeRequestFailed("vid12345678", Exception("503 Service Unavailable")), "fetch_failed", True),
        (ConnectionError("connection reset"), "fetch_failed", True),
    ],
)
def test_every_library_failure_is_a_reason(error: Exception, reason: str, retry: bool) -> None:
    with pytest.raises(TranscriptUnavailable) as info:
        _source(error).fetch("vid12345678")
    assert (info.value.video_id, info.value.reason, info.value.retry) == ("vid12345678", reason, retry)
    assert info.value.detail and "github.com" not in info.value.detail  # the cause, not the boilerplate
    assert len(info.value.detail) <= 300


def test_a_transcript_in_another_language_is_refused_with_a_reason() -> None:
    with pytest.raises(TranscriptUnavailable) as info:
        _source(_fetched("de")).fetch("vid12345678")
    assert info.value.reason == "wrong_language"
    assert info.value.detail == "asked for en, got 'de'"


def test_an_empty_transcript_is_a_reason_to_wait() -> None:
    with pytest.raises(TranscriptUnavailable) as info:
        _source(_fetched("en", ((0.0, " "),))).fetch("vid12345678")
    assert (info.value.reason, info.value.retry) == ("empty_transcript", True)
