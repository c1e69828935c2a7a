"""Storing what the sources read: channel ownership, feed polling per channel, the manual add."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from kevin_pipeline.db.models import Video
from kevin_pipeline.db.videos import add_channel, remove_channel
from kevin_pipeline.domain.youtube import ChannelRef
from kevin_pipeline.videos.collect import add_video_from_url, poll_feeds
from kevin_pipeline.videos.feed import feed_url
from kevin_pipeline.videos.http import HttpResponse
from kevin_pipeline.videos.source import VideoSourceError
from tests.videos.conftest import UC, UC2, RecordedGet, feed_bytes

UTC = timezone.utc
NOW = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
ATOM = "application/atom+xml; charset=UTF-8"


def _videos(runtime) -> list[tuple[str, str, datetime, str]]:
    with runtime.sessions() as s:
        rows = s.execute(select(Video.video_id, Video.source, Video.published_at, Video.transcript_status)
                         .order_by(Video.published_at)).all()
    return [tuple(r) for r in rows]


def _follow(runtime, *refs: ChannelRef) -> None:
    with runtime.transaction() as s:
        for n, ref in enumerate(refs):
            add_channel(s, ref, name=f"channel {n}", now=NOW)


def test_polling_stores_new_uploads_once_and_one_bad_feed_does_not_stop_the_others(runtime):
    _follow(runtime, ChannelRef(youtube_channel_id=UC), ChannelRef(youtube_channel_id=UC2), ChannelRef(handle="@handleonly"))
    get = RecordedGet({
        feed_url(UC): HttpResponse(200, ATOM, feed_bytes(f"channel_{UC}.xml")),
        feed_url(UC2): TimeoutError("timed out"),
    })
    poll = poll_feeds(runtime, now=NOW, get=get, timeout=3.0)
    assert sorted(poll.created) == ["Ab1Cd2Ef3Gh", "Lm0pQr9StUv", "Xq3d7ZbN2aA"]
    assert poll.failed == {
        "channel 1": f"feed of {UC2}: no answer within 3 s (timed out)",
        "channel 2": "no channel id yet (added by handle): the feed needs the UC… id",
    }
    assert [v[0] for v in _videos(runtime)] == ["Ab1Cd2Ef3Gh", "Lm0pQr9StUv", "Xq3d7ZbN2aA"]
    assert {v[1] for v in _videos(runtime)} == {"feed"} and {v[3] for v in _videos(runtime)} == {"waiting"}

    again = poll_feeds(runtime, now=NOW + timedelta(hours=1), get=get)
    assert again.created == [] and len(_videos(runtime)) == 3  # idempotent


def test_a_feed_answering_html_is_recorded_and_stores_nothing(runtime):
    _follow(runtime, ChannelRef(youtube_channel_id=UC))
    get = RecordedGet({feed_url(UC): HttpResponse(200, "text/html", feed_bytes("consent_page.html"))})
    poll = poll_feeds(runtime, now=NOW, get=get)
    assert poll.failed == {"channel 0": f"feed of {UC}: returned an HTML page, not a feed (content type text/html)"}
    assert _videos(runtime) == []


def test_a_removed_channel_is_not_polled(runtime):
    _follow(runtime, ChannelRef(youtube_channel_id=UC))
    with runtime.transaction() as s:
        remove_channel(s, ChannelRef(youtube_channel_id=UC))
    get = RecordedGet({})
    assert (poll_feeds(runtime, now=NOW, get=get).failed, get.calls) == ({}, [])


@pytest.mark.parametrize(
    "url", ["https://www.youtube.com/watch?v=Xq3d7ZbN2aA", "https://youtu.be/Xq3d7ZbN2aA", "https://www.youtube.com/shorts/Xq3d7ZbN2aA"]
)
def test_a_manual_add_stores_the_video_with_the_given_instant(runtime, url):
    _follow(runtime, ChannelRef(youtube_channel_id=UC))
    at = datetime(2026, 3, 2, 9, 31, 7, tzinfo=timezone(timedelta(hours=-5)))
    with runtime.transaction() as s:
        added = add_video_from_url(s, url, published_at=at, channel=None, now=NOW, title="By hand")
    assert added.created == ["Xq3d7ZbN2aA"]
    assert _videos(runtime) == [("Xq3d7ZbN2aA", "manual", datetime(2026, 3, 2, 14, 31, 7, tzinfo=UTC), "waiting")]


def test_a_manual_add_needs_a_known_channel_a_video_url_and_an_offset(runtime):
    _follow(runtime, ChannelRef(youtube_channel_id=UC), ChannelRef(youtube_channel_id=UC2))
    at = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    url = "https://youtu.be/Xq3d7ZbN2aA"
    with runtime.transaction() as s:
        with pytest.raises(VideoSourceError, match="say which channel it is from \\(kevin follows 2 channels\\)"):
            add_video_from_url(s, url, published_at=at, channel=None, now=NOW)
        with pytest.raises(VideoSourceError, match="unknown channel @nobody: add it with `kevin channels add"):
            add_video_from_url(s, url, published_at=at, channel=ChannelRef(handle="@nobody"), now=NOW)
        with pytest.raises(VideoSourceError, match="not a YouTube video"):
            add_video_from_url(s, "https://example.com/x", published_at=at, channel="channel 0", now=NOW)
        with pytest.raises(VideoSourceError, match="published_at: Value error, published_at must carry a UTC offset"):
            add_video_from_url(s, url, published_at=datetime(2026, 3, 2, 14, 0), channel="channel 0", now=NOW)
        added = add_video_from_url(s, url, published_at=at, channel="channel 1", now=NOW)
    assert added.created == ["Xq3d7ZbN2aA"]
