"""Channels, videos and transcripts in storage: adding by id or handle, idempotent video upserts,
transcript backoff with an injected clock (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from kevin_pipeline.db.models import Channel, Transcript, Video
from kevin_pipeline.db.videos import (
    HANDLE_ONLY_NOTE,
    ChannelError,
    UnknownVideo,
    add_channel,
    list_channels,
    load_transcript,
    mark_transcript_failed,
    record_transcript_miss,
    remove_channel,
    resolve_channel,
    save_transcript,
    upsert_video,
    videos_due_for_transcript,
)
from kevin_pipeline.domain.youtube import ChannelRef, TranscriptRetry, TranscriptSegment, VideoInfo

UTC = timezone.utc
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
UC = "UCabcdefghijklmnopqrstuv"
UC2 = "UCzyxwvutsrqponmlkjihgfe"


def _info(video_id: str = "dQw4w9WgXcQ", **kw) -> VideoInfo:
    values = dict(
        video_id=video_id,
        youtube_channel_id=UC,
        title="Buying more NVDA",
        published_at=datetime(2026, 3, 2, 9, 30, tzinfo=timezone(timedelta(hours=-5))),
        source="feed",
    )
    values.update(kw)
    return VideoInfo(**values)


def _channel(session) -> Channel:
    return add_channel(session, ChannelRef(youtube_channel_id=UC), name="Meet Kevin", now=NOW).channel


def test_a_channel_added_by_id_is_complete_and_adding_it_again_changes_nothing(session):
    first = add_channel(session, ChannelRef(youtube_channel_id=UC), name="Meet Kevin", now=NOW)
    again = add_channel(session, ChannelRef(youtube_channel_id=UC), name=None, now=NOW + timedelta(days=1))
    assert (first.created, first.note, again.created) == (True, None, False)
    assert again.channel.id == first.channel.id
    c = session.get(Channel, first.channel.id)
    assert (c.youtube_channel_id, c.handle, c.name, c.added_at, c.active) == (UC, None, "Meet Kevin", NOW, True)


def test_a_handle_is_stored_with_a_clear_note_and_a_later_id_completes_the_same_channel(session):
    by_handle = add_channel(session, ChannelRef(handle="@MeetKevin"), name="Meet Kevin", now=NOW)
    assert by_handle.created and by_handle.note == HANDLE_ONLY_NOTE
    assert "channel id (UC…)" in by_handle.note
    assert by_handle.channel.youtube_channel_id is None and by_handle.channel.name == "Meet Kevin"

    completed = add_channel(session, ChannelRef(youtube_channel_id=UC), name="Meet Kevin", now=NOW)
    assert (completed.created, completed.note, completed.channel.id) == (False, None, by_handle.channel.id)
    assert (completed.channel.youtube_channel_id, completed.channel.handle) == (UC, "@MeetKevin")
    assert session.scalar(select(func.count()).select_from(Channel)) == 1


def test_a_handle_without_a_name_is_named_after_the_handle_and_found_case_insensitively(session):
    added = add_channel(session, ChannelRef(handle="@MeetKevin"), name=None, now=NOW)
    again = add_channel(session, ChannelRef(handle="@meetkevin"), name=None, now=NOW)
    assert added.channel.name == "@MeetKevin" and again.channel.id == added.channel.id and not again.created


def test_a_name_held_by_another_channel_is_refused_naming_both(session):
    _channel(session)
    with pytest.raises(ChannelError, match="'Meet Kevin' is channel UCabc.*not UCzyx"):
        add_channel(session, ChannelRef(youtube_channel_id=UC2), name="Meet Kevin", now=NOW)
    add_channel(session, ChannelRef(youtube_channel_id=UC2), name="Other", now=NOW)
    with pytest.raises(ChannelError, match="already named 'Meet Kevin'"):
        add_channel(session, ChannelRef(youtube_channel_id=UC2), name="Meet Kevin", now=NOW)


def test_a_removed_channel_is_deactivated_keeps_its_videos_and_comes_back_when_added(session):
    channel = _channel(session)
    upsert_video(session, channel, _info(), now=NOW)
    remove_channel(session, ChannelRef(youtube_channel_id=UC))
    assert list_channels(session) == []
    assert [c.name for c in list_channels(session, include_inactive=True)] == ["Meet Kevin"]
    assert session.scalar(select(func.count()).select_from(Video)) == 1
    assert videos_due_for_transcript(session, now=NOW) == []  # no fetching for an inactive channel
    add_channel(session, ChannelRef(youtube_channel_id=UC), name=None, now=NOW)
    assert [c.name for c in list_channels(session)] == ["Meet Kevin"]
    with pytest.raises(ChannelError, match="unknown channel @nobody"):
        remove_channel(session, ChannelRef(handle="@nobody"))


def test_metadata_with_id_and_handle_fills_in_a_handle_only_channel(session):
    handle_only = add_channel(session, ChannelRef(handle="@MeetKevin"), name=None, now=NOW).channel
    assert resolve_channel(session, UC, "@meetkevin") is handle_only
    assert handle_only.youtube_channel_id == UC
    assert resolve_channel(session, UC2, "@someoneelse") is None


def test_upserting_a_video_is_idempotent_keeps_the_instant_and_fills_only_empty_fields(session):
    channel = _channel(session)
    assert upsert_video(session, channel, _info(), now=NOW) is True
    later = _info(
        title="A new title", duration_seconds=754, source="info_json",
        published_at=datetime(2026, 3, 3, tzinfo=UTC),
    )
    assert upsert_video(session, channel, later, now=NOW + timedelta(hours=1)) is False
    v = session.scalar(select(Video))
    assert v.published_at == datetime(2026, 3, 2, 14, 30, tzinfo=UTC)  # 09:30-05:00, the first seen
    assert (v.title, v.duration_seconds, v.source, v.channel_id) == ("Buying more NVDA", 754, "feed", channel.id)
    assert (v.transcript_status, v.transcript_attempts, v.next_attempt_at) == ("waiting", 0, NOW)


def test_misses_double_the_wait_then_fail_with_the_reason(session):
    upsert_video(session, _channel(session), _info(), now=NOW)
    retry = TranscriptRetry(first_wait=timedelta(minutes=30), max_attempts=4)
    clock = NOW
    waits = []
    for _ in range(3):
        v = record_transcript_miss(session, "dQw4w9WgXcQ", "captions not published yet", now=clock, retry=retry)
        assert (v.transcript_status, v.transcript_reason) == ("waiting", "captions not published yet")
        waits.append(v.next_attempt_at - clock)
        assert videos_due_for_transcript(session, now=v.next_attempt_at - timedelta(seconds=1)) == []
        assert [x.video_id for x in videos_due_for_transcript(session, now=v.next_attempt_at)] == ["dQw4w9WgXcQ"]
        clock = v.next_attempt_at
    assert waits == [timedelta(minutes=30), timedelta(hours=1), timedelta(hours=2)]
    v = record_transcript_miss(session, "dQw4w9WgXcQ", "captions not published yet", now=clock, retry=retry)
    assert (v.transcript_status, v.transcript_attempts, v.next_attempt_at) == ("failed", 4, None)
    assert v.transcript_reason == "gave up after 4 attempts: captions not published yet"
    assert videos_due_for_transcript(session, now=clock + timedelta(days=365)) == []


def test_a_permanent_failure_stops_retries_at_once(session):
    upsert_video(session, _channel(session), _info(), now=NOW)
    v = mark_transcript_failed(session, "dQw4w9WgXcQ", "transcripts are disabled for this video")
    assert (v.transcript_status, v.transcript_reason, v.next_attempt_at) == (
        "failed", "transcripts are disabled for this video", None
    )


def test_due_videos_come_oldest_first_and_mention_file_videos_are_never_due(session):
    channel = _channel(session)
    upsert_video(session, channel, _info("bbbbbbbbbbb", published_at=datetime(2026, 3, 2, tzinfo=UTC)), now=NOW)
    upsert_video(session, channel, _info("aaaaaaaaaaa", published_at=datetime(2026, 3, 1, tzinfo=UTC)), now=NOW)
    upsert_video(session, channel, _info("ccccccccccc"), now=NOW + timedelta(hours=1))  # due later
    session.add(Video(video_id="csv-video", published_at=NOW, transcript_status="none"))
    session.flush()
    assert [v.video_id for v in videos_due_for_transcript(session, now=NOW)] == ["aaaaaaaaaaa", "bbbbbbbbbbb"]
    assert [v.video_id for v in videos_due_for_transcript(session, now=NOW, limit=1)] == ["aaaaaaaaaaa"]


def test_a_saved_transcript_marks_the_video_fetched_and_a_second_save_replaces_it(session):
    upsert_video(session, _channel(session), _info(), now=NOW)
    record_transcript_miss(session, "dQw4w9WgXcQ", "not yet", now=NOW)
    segments = [TranscriptSegment(start_seconds=0.0, text="hi"), TranscriptSegment(start_seconds=12.5, text="NVDA")]
    save_transcript(session, "dQw4w9WgXcQ", language="en", source="vtt", segments=segments, fetched_at=NOW)
    save_transcript(session, "dQw4w9WgXcQ", language="en", source="youtube_transcript_api",
                    segments=segments[1:], fetched_at=NOW + timedelta(hours=1))
    session.expire_all()
    rows = session.scalars(select(Transcript)).all()
    assert [(t.language, t.source, t.segments, t.fetched_at) for t in rows] == [
        ("en", "youtube_transcript_api", [{"start_seconds": 12.5, "text": "NVDA"}], NOW + timedelta(hours=1))
    ]
    v = session.scalar(select(Video))
    assert (v.transcript_status, v.transcript_reason, v.next_attempt_at) == ("fetched", None, None)
    assert load_transcript(session, "dQw4w9WgXcQ") == segments[1:]
    assert load_transcript(session, "dQw4w9WgXcQ", "de") is None
    assert videos_due_for_transcript(session, now=NOW + timedelta(days=9)) == []


def test_a_transcript_for_an_unknown_video_is_refused_by_name(session):
    with pytest.raises(UnknownVideo, match="'nope' is not stored"):
        save_transcript(session, "nope", language="en", source="vtt", segments=[], fetched_at=NOW)


def test_segments_from_the_transcript_parsers_are_stored_as_they_are(session):
    from kevin_pipeline.transcripts.models import Segment

    upsert_video(session, _channel(session), _info(), now=NOW)
    save_transcript(session, "dQw4w9WgXcQ", language=None, source="txt",
                    segments=[Segment(start_seconds=None, text="plain"), Segment(start_seconds=3.0, text="timed")],
                    fetched_at=NOW)
    assert load_transcript(session, "dQw4w9WgXcQ", "und") == [
        TranscriptSegment(start_seconds=None, text="plain"), TranscriptSegment(start_seconds=3.0, text="timed")
    ]
