"""Channel and video references as users paste them, and the VideoInfo every source yields."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from kevin_pipeline.domain.youtube import (
    ChannelRef,
    TranscriptRetry,
    VideoInfo,
    YouTubeRefError,
    channel_key,
    parse_channel_ref,
    parse_video_ref,
)

UC = "UCabcdefghijklmnopqrstuv"


@pytest.mark.parametrize(
    "text, expected",
    [
        (f"https://www.youtube.com/channel/{UC}", ChannelRef(youtube_channel_id=UC)),
        (f"https://youtube.com/channel/{UC}/videos", ChannelRef(youtube_channel_id=UC)),
        (f"youtube.com/channel/{UC}", ChannelRef(youtube_channel_id=UC)),
        (f"  {UC}\n", ChannelRef(youtube_channel_id=UC)),
        ("https://www.youtube.com/@MeetKevin", ChannelRef(handle="@MeetKevin")),
        ("https://m.youtube.com/@meet.kevin/videos", ChannelRef(handle="@meet.kevin")),
        ("@MeetKevin", ChannelRef(handle="@MeetKevin")),
    ],
)
def test_a_channel_is_read_from_every_form_a_user_pastes(text, expected):
    assert parse_channel_ref(text) == expected


@pytest.mark.parametrize(
    "text",
    ["MeetKevin", "UCshort", "https://vimeo.com/@x", "https://www.youtube.com/channel/notanid", "@a", ""],
)
def test_anything_else_is_refused_with_the_forms_expected(text):
    with pytest.raises(YouTubeRefError, match="not a YouTube channel: expected a channel URL"):
        parse_channel_ref(text)


@pytest.mark.parametrize(
    "text",
    [
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://www.youtube.com/watch?feature=share&v=dQw4w9WgXcQ&t=42s",
        "https://youtu.be/dQw4w9WgXcQ?t=42",
        "https://www.youtube.com/shorts/dQw4w9WgXcQ",
        "https://www.youtube.com/live/dQw4w9WgXcQ?si=x",
        "https://m.youtube.com/watch?v=dQw4w9WgXcQ",
        "youtu.be/dQw4w9WgXcQ",
        "dQw4w9WgXcQ",
    ],
)
def test_a_video_id_is_read_from_watch_short_and_shorts_urls(text):
    assert parse_video_ref(text) == "dQw4w9WgXcQ"


@pytest.mark.parametrize(
    "text", ["https://www.youtube.com/watch?v=short", "https://example.com/watch?v=dQw4w9WgXcQ",
             "https://www.youtube.com/@MeetKevin", "not a url"],
)
def test_a_non_video_url_is_refused(text):
    with pytest.raises(YouTubeRefError, match="not a YouTube video"):
        parse_video_ref(text)


def test_video_info_keeps_the_instant_in_utc_and_refuses_a_naive_time():
    info = VideoInfo(video_id="dQw4w9WgXcQ", published_at=datetime(2026, 3, 2, 9, 30, tzinfo=timezone(timedelta(hours=-5))),
                     source="manual")
    assert info.published_at == datetime(2026, 3, 2, 14, 30, tzinfo=timezone.utc)
    assert info.published_at.utcoffset() == timedelta(0)
    with pytest.raises(ValidationError, match="must carry a UTC offset"):
        VideoInfo(video_id="dQw4w9WgXcQ", published_at=datetime(2026, 3, 2, 9, 30), source="manual")


def test_the_retry_waits_double_and_end_after_the_budget():
    now = datetime(2026, 3, 2, tzinfo=timezone.utc)
    retry = TranscriptRetry(first_wait=timedelta(minutes=10), max_attempts=3)
    assert [retry.next_attempt_at(n, now) - now for n in (1, 2)] == [timedelta(minutes=10), timedelta(minutes=20)]
    assert retry.next_attempt_at(3, now) is None


def test_a_typed_channel_is_a_reference_when_it_reads_as_one_else_a_name():
    assert channel_key(" @MeetKevin ") == ChannelRef(handle="@MeetKevin")
    assert channel_key(f"https://www.youtube.com/channel/{UC}") == ChannelRef(youtube_channel_id=UC)
    assert channel_key(" Meet Kevin ") == "Meet Kevin"
