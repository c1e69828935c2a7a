"""Step 3, extraction: calls stored with the video's time and channel, the extractor and version,
the second; idempotent; share classes; a failing extractor does not stop the next video."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from kevin_pipeline.calls.collect import collect_videos
from kevin_pipeline.calls.extract import MAX_ATTEMPTS, extract_mentions
from kevin_pipeline.calls.transcribe import fetch_transcripts
from kevin_pipeline.db.models import Channel, Extraction, MentionRecord, Video
from kevin_pipeline.extraction.models import ExtractionError
from kevin_pipeline.extraction.offline import RulesExtractor
from tests.calls.conftest import NOW, PUBLISHED, VTT, info_json

BARS = {"NVDA", "GOOG", "SPY"}  # bundled-like: Google's C class only


def _with_transcripts(runtime, inbox, *ids: str) -> None:
    for video_id in ids:
        (inbox / f"{video_id}.info.json").write_text(info_json(video_id))
        (inbox / f"{video_id}.en.vtt").write_text(VTT)
    collect_videos(runtime, inbox, now=NOW)
    fetch_transcripts(runtime, inbox, now=NOW)


def _mentions(runtime) -> list[tuple]:
    with runtime.sessions() as s:
        rows = s.execute(
            select(MentionRecord, Channel.name).join(Channel, Channel.id == MentionRecord.channel_id)
            .order_by(MentionRecord.id)
        ).all()
        return [(m.video_id, m.symbol, m.action, m.time_horizon, m.extractor, m.extractor_version,
                 m.start_seconds, m.published_at, name, m.quote) for m, name in rows]


def test_calls_are_stored_with_the_video_time_channel_extractor_and_second(runtime, inbox):
    _with_transcripts(runtime, inbox, "vidA0000001")
    report = extract_mentions(runtime, RulesExtractor(), with_bars=BARS)
    assert (report.extractor, report.videos_read, report.new_mentions) == ("rules 1", ["vidA0000001"], 2)
    published = datetime.fromtimestamp(PUBLISHED, UTC)
    rows = _mentions(runtime)
    assert [r[:9] for r in rows] == [
        ("vidA0000001", "NVDA", "buy", "long_term", "rules", "1", 5.0, published, "Market Kevin"),
        ("vidA0000001", "GOOG", "buy", "weeks", "rules", "1", 12.5, published, "Market Kevin"),
    ]
    assert published != NOW  # the video's publish time, not the extraction clock


def test_a_share_class_without_bars_is_stored_as_its_sibling_and_says_so(runtime, inbox):
    _with_transcripts(runtime, inbox, "vidA0000001")
    report = extract_mentions(runtime, RulesExtractor(), with_bars=BARS)
    assert report.substituted == ["GOOGL -> GOOG (vidA0000001)"]
    assert _mentions(runtime)[1][9].endswith("[said GOOGL; stored as GOOG, the share class with bars]")


def test_without_bars_for_any_class_the_symbol_is_kept_as_said(runtime, inbox):
    _with_transcripts(runtime, inbox, "vidA0000001")
    report = extract_mentions(runtime, RulesExtractor(), with_bars={"SPY"})
    assert report.substituted == [] and [r[1] for r in _mentions(runtime)] == ["NVDA", "GOOGL"]


def test_extracting_again_adds_nothing(runtime, inbox):
    _with_transcripts(runtime, inbox, "vidA0000001")
    extract_mentions(runtime, RulesExtractor(), with_bars=BARS)
    again = extract_mentions(runtime, RulesExtractor(), with_bars=BARS)
    assert (again.videos_read, again.new_mentions) == ([], 0) and len(_mentions(runtime)) == 2


class Flaky:
    """Fails on one video (an LLM answer that is not JSON), reads the others with the rules."""

    name = "flaky"
    version = "0"

    def extract(self, transcript, title=None, description=None):
        if transcript.video_id == "vidA0000001":
            raise ExtractionError("llm_invalid_output", "the answer is not valid JSON")
        return [m.model_copy(update={"extractor": self.name, "extractor_version": self.version})
                for m in RulesExtractor().extract(transcript)]


def test_an_extractor_failing_on_one_transcript_is_a_reason_and_the_next_flows(runtime, inbox):
    _with_transcripts(runtime, inbox, "vidA0000001", "vidB0000001")
    report = extract_mentions(runtime, Flaky(), with_bars=BARS)
    assert report.failed == {"vidA0000001": "llm_invalid_output: the answer is not valid JSON"}
    assert report.videos_read == ["vidB0000001"] and report.new_mentions == 2
    assert {(r[0], r[4]) for r in _mentions(runtime)} == {("vidB0000001", "flaky")}


class Counting:
    """The rules, counting its reads per video, finding nothing in one of them (a vlog day)."""

    name = "counting"
    version = "1"

    def __init__(self, failing: set[str] = frozenset(), empty: set[str] = frozenset()) -> None:
        self.reads: dict[str, int] = {}
        self.failing, self.empty = failing, empty

    def extract(self, transcript, title=None, description=None):
        self.reads[transcript.video_id] = self.reads.get(transcript.video_id, 0) + 1
        if transcript.video_id in self.failing:
            raise ExtractionError("llm_unavailable", "connection refused")
        if transcript.video_id in self.empty:
            return []
        return [m.model_copy(update={"extractor": self.name, "extractor_version": self.version})
                for m in RulesExtractor().extract(transcript)]


def _extractions(runtime) -> list[tuple]:
    with runtime.sessions() as s:
        return [tuple(r) for r in s.execute(
            select(Video.video_id, Extraction.extractor, Extraction.calls, Extraction.error, Extraction.attempts)
            .join(Video, Video.id == Extraction.video_pk).order_by(Video.video_id)
        )]


def test_a_transcript_without_calls_is_read_once_per_extractor_version(runtime, inbox):
    _with_transcripts(runtime, inbox, "vidA0000001", "vidB0000001")
    extractor = Counting(empty={"vidB0000001"})
    for _ in range(3):
        extract_mentions(runtime, extractor, with_bars=BARS)
    assert extractor.reads == {"vidA0000001": 1, "vidB0000001": 1}
    assert _extractions(runtime) == [("vidA0000001", "counting", 2, None, 1), ("vidB0000001", "counting", 0, None, 1)]
    newer = Counting(empty={"vidB0000001"})
    newer.version = "2"  # a new version reads every transcript again
    extract_mentions(runtime, newer, with_bars=BARS)
    assert newer.reads == {"vidA0000001": 1, "vidB0000001": 1}


def test_a_failing_read_is_retried_up_to_the_limit_with_its_reason_recorded(runtime, inbox):
    _with_transcripts(runtime, inbox, "vidA0000001")
    extractor = Counting(failing={"vidA0000001"})
    for _ in range(MAX_ATTEMPTS + 2):
        extract_mentions(runtime, extractor, with_bars=BARS)
    assert extractor.reads == {"vidA0000001": MAX_ATTEMPTS}
    assert _extractions(runtime) == [("vidA0000001", "counting", 0, "llm_unavailable: connection refused", MAX_ATTEMPTS)]
    extractor.failing = set()  # the provider is back: a new version is the way to read it again
    assert extract_mentions(runtime, extractor, with_bars=BARS).videos_read == []
