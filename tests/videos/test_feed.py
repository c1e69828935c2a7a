"""The channel RSS feed source, on recorded feed documents: exact instants, reasons for bad answers."""

from __future__ import annotations

import socket
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kevin_pipeline.videos.feed import FeedSource, feed_url, parse_feed
from kevin_pipeline.videos.http import HttpResponse, urllib_get
from kevin_pipeline.videos.source import VideoSourceError
from tests.videos.conftest import UC, RecordedGet, feed_bytes

UTC = timezone.utc
ATOM = "application/atom+xml; charset=UTF-8"


def test_a_recorded_feed_gives_every_upload_with_its_exact_instant():
    get = RecordedGet({feed_url(UC): HttpResponse(200, ATOM, feed_bytes(f"channel_{UC}.xml"))})
    batch = FeedSource(UC, get=get, timeout=4.0).read()
    assert get.calls == [(f"https://www.youtube.com/feeds/videos.xml?channel_id={UC}", 4.0)]
    assert batch.rejected == []
    assert [(v.video_id, v.published_at) for v in batch.videos] == [
        ("Xq3d7ZbN2aA", datetime(2026, 3, 2, 14, 31, 7, tzinfo=UTC)),
        ("Lm0pQr9StUv", datetime(2026, 3, 2, 0, 5, tzinfo=UTC)),  # 19:05 at -05:00
        ("Ab1Cd2Ef3Gh", datetime(2026, 2, 27, 22, 15, 30, tzinfo=UTC)),
    ]
    first = batch.videos[0]
    assert first.title == "I'm Buying NVDA & Trimming TSLA Before Earnings"
    assert first.url == "https://www.youtube.com/watch?v=Xq3d7ZbN2aA"
    assert first.description.startswith("Why I added to Nvidia this morning")
    assert (first.youtube_channel_id, first.source, first.duration_seconds) == (UC, "feed", None)
    assert batch.videos[2].description is None  # an empty media:description is no description


def test_bad_entries_are_named_and_the_good_one_still_flows():
    batch = parse_feed(feed_bytes("mixed_entries.xml"), UC, where="feed of test")
    assert [(v.video_id, v.published_at) for v in batch.videos] == [
        ("Good0000001", datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    ]
    assert batch.rejected == [
        "feed of test: entry 2 (NoTime00001): no <published> time",
        "feed of test: entry 3 (Other000001): belongs to channel UCzyxwvutsrqponmlkjihgfe, not " + UC,
        "feed of test: entry 4 (bad): video_id: String should match pattern '[A-Za-z0-9_-]{11}'",
    ]


def test_an_html_page_instead_of_the_feed_is_a_clear_reason():
    get = RecordedGet({feed_url(UC): HttpResponse(200, "text/html; charset=utf-8", feed_bytes("consent_page.html"))})
    with pytest.raises(VideoSourceError, match=rf"feed of {UC}: returned an HTML page, not a feed \(content type text/html"):
        FeedSource(UC, get=get).read()
    # even when the server calls it XML
    with pytest.raises(VideoSourceError, match="returned an HTML page"):
        parse_feed(feed_bytes("consent_page.html"), UC, content_type="text/xml")


def test_a_document_that_is_not_a_feed_is_refused():
    with pytest.raises(VideoSourceError, match="feed: not an RSS/Atom feed"):
        parse_feed(b'{"error": "quota"}', UC, content_type="application/json")


def test_a_timeout_and_an_http_error_are_reasons_naming_the_channel():
    get = RecordedGet({feed_url(UC): TimeoutError("timed out")})
    with pytest.raises(VideoSourceError, match=rf"feed of {UC}: no answer within 2.5 s \(timed out\)"):
        FeedSource(UC, get=get, timeout=2.5).read()
    get = RecordedGet({feed_url(UC): HttpResponse(404, "text/plain", b"")})
    with pytest.raises(VideoSourceError, match=rf"feed of {UC}: HTTP 404 from https://www.youtube.com/feeds"):
        FeedSource(UC, get=get).read()
    get = RecordedGet({feed_url(UC): ConnectionRefusedError("connection refused")})
    with pytest.raises(VideoSourceError, match="could not be fetched: connection refused"):
        FeedSource(UC, get=get).read()


class _Slow(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/slow":
            time.sleep(2)
        body = feed_bytes(f"channel_{UC}.xml") if self.path == "/feed" else b"gone"
        self.send_response(200 if self.path != "/missing" else 404)
        self.send_header("Content-Type", ATOM)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_default_getter_answers_reports_statuses_and_times_out(local_server):
    """urllib_get against a server on this machine (no internet): body, 404 as an answer, timeout."""
    ok = urllib_get(local_server + "/feed", 5.0)
    assert (ok.status, ok.content_type, len(parse_feed(ok.body, UC).videos)) == (200, ATOM, 3)
    assert urllib_get(local_server + "/missing", 5.0).status == 404
    started = time.monotonic()
    with pytest.raises((TimeoutError, socket.timeout)):
        urllib_get(local_server + "/slow", 0.3)
    assert time.monotonic() - started < 1.5
