"""Step 2, transcripts: the caption file named for the video wins; misses wait with a reason;
bad files go to rejected/ with a .reason and nothing stored is lost."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from sqlalchemy import select

from kevin_pipeline.calls.collect import collect_videos
from kevin_pipeline.calls.transcribe import FETCH_OFF, fetch_transcripts
from kevin_pipeline.db.models import Video
from kevin_pipeline.db.videos import load_transcript
from kevin_pipeline.transcripts.models import Segment, Transcript, TranscriptUnavailable
from tests.calls.conftest import NOW, VTT, info_json


class FakeCaptions:
    """A `TranscriptSource` answering from a dict: a Transcript, or a TranscriptUnavailable to raise."""

    def __init__(self, answers: dict) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def fetch(self, video_id: str) -> Transcript:
        self.asked.append(video_id)
        answer = self.answers[video_id]
        if isinstance(answer, Exception):
            raise answer
        return answer


def _store(runtime, inbox, *ids: str) -> None:
    for video_id in ids:
        (inbox / f"{video_id}.info.json").write_text(info_json(video_id))
    collect_videos(runtime, inbox, now=NOW)


def _status(runtime, video_id: str) -> tuple[str, str | None, int]:
    with runtime.sessions() as s:
        v = s.scalar(select(Video).where(Video.video_id == video_id))
        return v.transcript_status, v.transcript_reason, v.transcript_attempts


def test_a_caption_file_named_for_the_video_is_its_transcript_with_times(runtime, inbox):
    _store(runtime, inbox, "vidA0000001")
    (inbox / "vidA0000001.en.vtt").write_text(VTT)
    report = fetch_transcripts(runtime, inbox, now=NOW)
    assert report.fetched == {"vidA0000001": "vtt file"} and report.waiting == {}
    with runtime.sessions() as s:
        segments = load_transcript(s, "vidA0000001", "en")
    assert [s.start_seconds for s in segments] == [1.0, 5.0, 12.5]
    assert _status(runtime, "vidA0000001") == ("fetched", None, 0)
    assert (inbox / "processed" / "vidA0000001.en.vtt").exists()


def test_the_file_wins_over_the_network_and_the_network_fills_the_rest(runtime, inbox):
    _store(runtime, inbox, "vidA0000001", "vidB0000001")
    (inbox / "vidA0000001.srt").write_text("1\n00:00:01,000 --> 00:00:04,000\nI'm buying Nvidia.\n")
    youtube = FakeCaptions({"vidB0000001": Transcript(
        video_id="vidB0000001", language="en", source="youtube-transcript-api",
        segments=(Segment(start_seconds=3.0, text="Selling Tesla today."),),
    )})
    report = fetch_transcripts(runtime, inbox, now=NOW, source=youtube, fetch=True)
    assert report.fetched == {"vidA0000001": "srt file", "vidB0000001": "youtube-transcript-api"}
    assert youtube.asked == ["vidB0000001"]


def test_without_a_file_and_with_fetching_off_the_video_waits_with_the_reason(runtime, inbox):
    _store(runtime, inbox, "vidA0000001")
    youtube = FakeCaptions({})
    report = fetch_transcripts(runtime, inbox, now=NOW, source=youtube)  # KEVIN_TRANSCRIPTS_FETCH default: off
    assert report.waiting == {"vidA0000001": FETCH_OFF} and youtube.asked == []
    assert _status(runtime, "vidA0000001") == ("waiting", FETCH_OFF, 1)
    # not due again before the backoff: nothing more is recorded
    assert fetch_transcripts(runtime, inbox, now=NOW + timedelta(minutes=1)).waiting == {}
    # a caption file dropped later is used at once, backoff or not
    (inbox / "vidA0000001.vtt").write_text(VTT)
    assert fetch_transcripts(runtime, inbox, now=NOW + timedelta(minutes=2)).fetched == {"vidA0000001": "vtt file"}


def test_youtube_misses_wait_and_permanent_reasons_fail_the_video(runtime, inbox):
    _store(runtime, inbox, "vidA0000001", "vidB0000001")
    youtube = FakeCaptions({
        "vidA0000001": TranscriptUnavailable("vidA0000001", "no_transcript", "none in en yet", retry=True),
        "vidB0000001": TranscriptUnavailable("vidB0000001", "transcripts_disabled", "captions are off"),
    })
    report = fetch_transcripts(runtime, inbox, now=NOW, source=youtube, fetch=True)
    assert report.waiting == {"vidA0000001": "no_transcript: none in en yet"}
    assert report.failed == {"vidB0000001": "transcripts_disabled: captions are off"}
    assert _status(runtime, "vidB0000001") == ("failed", "transcripts_disabled: captions are off", 0)


def test_a_malformed_caption_file_is_rejected_and_the_next_good_file_still_flows(runtime, inbox):
    _store(runtime, inbox, "vidA0000001", "vidB0000001")
    (inbox / "vidA0000001.en.vtt").write_text("WEBVTT\n\n00:00:01.000 --> nonsense\nI'm buying Nvidia.\n")
    (inbox / "vidB0000001.en.vtt").write_text(VTT)
    report = fetch_transcripts(runtime, inbox, now=NOW)
    assert report.fetched == {"vidB0000001": "vtt file"}
    assert list(report.rejected_files) == ["vidA0000001.en.vtt"]
    reason = (inbox / "rejected" / "vidA0000001.en.vtt.reason").read_text()
    assert "vidA0000001.en.vtt" in reason and "malformed cue" in reason
    status, why, attempts = _status(runtime, "vidA0000001")
    assert (status, attempts) == ("waiting", 1) and "caption file vidA0000001.en.vtt" in why and "malformed cue" in why


def test_a_bad_file_never_undoes_a_stored_transcript(runtime, inbox):
    _store(runtime, inbox, "vidA0000001")
    (inbox / "vidA0000001.en.vtt").write_text(VTT)
    fetch_transcripts(runtime, inbox, now=NOW)
    (inbox / "vidA0000001.en.srt").write_text("1\nnot a time line\nhello\n")
    report = fetch_transcripts(runtime, inbox, now=NOW + timedelta(hours=1))
    assert list(report.rejected_files) == ["vidA0000001.en.srt"] and report.waiting == {}
    assert _status(runtime, "vidA0000001") == ("fetched", None, 0)
    with runtime.sessions() as s:
        assert len(load_transcript(s, "vidA0000001", "en")) == 3


def test_captions_in_another_language_are_a_recorded_reason(runtime, inbox):
    _store(runtime, inbox, "vidA0000001")
    (inbox / "vidA0000001.de.vtt").write_text(VTT.replace("I'm buying Nvidia", "Ich kaufe Nvidia"))
    report = fetch_transcripts(runtime, inbox, now=NOW)
    assert report.fetched == {} and list(report.rejected_files) == ["vidA0000001.de.vtt"]
    reason = (inbox / "rejected" / "vidA0000001.de.vtt.reason").read_text()
    assert "the captions are in 'de', not in en (KEVIN_TRANSCRIPT_LANGUAGES)" in reason
    assert "'de'" in _status(runtime, "vidA0000001")[1]
    # with German accepted, the same file is a transcript
    german = dataclasses.replace(runtime, settings=runtime.settings.model_copy(update={"transcript_languages": "en,de"}))
    (inbox / "rejected" / "vidA0000001.de.vtt").rename(inbox / "vidA0000001.de.vtt")
    assert fetch_transcripts(german, inbox, now=NOW).fetched == {"vidA0000001": "vtt file"}


def test_a_caption_file_waits_in_the_inbox_for_its_video(runtime, inbox):
    (inbox / "later000001.en.vtt").write_text(VTT)
    report = fetch_transcripts(runtime, inbox, now=NOW)
    assert report.unmatched_files == ["later000001.en.vtt"] and (inbox / "later000001.en.vtt").exists()
    _store(runtime, inbox, "later000001")
    assert fetch_transcripts(runtime, inbox, now=NOW).fetched == {"later000001": "vtt file"}
