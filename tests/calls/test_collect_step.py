"""Step 1, collect: the inbox's yt-dlp files always; the feeds only when KEVIN_VIDEO_FEEDS is on."""

from __future__ import annotations

import dataclasses

from kevin_pipeline.calls.collect import collect_videos
from kevin_pipeline.videos.feed import feed_url
from kevin_pipeline.videos.http import HttpResponse
from tests.calls.conftest import NOW, UC, info_json
from tests.videos.conftest import RecordedGet, feed_bytes

ATOM = "application/atom+xml; charset=UTF-8"


def test_feeds_are_off_by_default_and_the_inbox_files_still_flow(runtime, inbox):
    (inbox / "new1.info.json").write_text(info_json("new1video01"))
    get = RecordedGet({})  # any request would fail the test with a KeyError
    report = collect_videos(runtime, inbox, now=NOW, get=get)
    assert report.new_videos == ["new1video01"] and report.feeds is None and get.calls == []
    assert (inbox / "processed" / "new1.info.json").exists()


def test_feeds_on_stores_the_uploads_once(runtime, inbox):
    runtime = dataclasses.replace(runtime, settings=runtime.settings.model_copy(update={"video_feeds": True}))
    get = RecordedGet({feed_url(UC): HttpResponse(200, ATOM, feed_bytes(f"channel_{UC}.xml"))})
    first = collect_videos(runtime, inbox, now=NOW, get=get)
    assert sorted(first.new_videos) == ["Ab1Cd2Ef3Gh", "Lm0pQr9StUv", "Xq3d7ZbN2aA"]
    assert collect_videos(runtime, inbox, now=NOW, get=get).new_videos == []  # idempotent


def test_a_feed_timing_out_or_answering_html_is_a_reason_and_the_inbox_still_flows(runtime, inbox):
    (inbox / "new1.info.json").write_text(info_json("new1video01"))
    for answer, why in (
        (TimeoutError("timed out"), f"feed of {UC}: no answer within 10 s (timed out)"),
        (HttpResponse(200, "text/html", feed_bytes("consent_page.html")),
         f"feed of {UC}: returned an HTML page, not a feed (content type text/html)"),
    ):
        report = collect_videos(runtime, inbox, now=NOW, get=RecordedGet({feed_url(UC): answer}), feeds=True)
        assert report.reasons == {"feed of Market Kevin": why}
    assert report.new_videos == [] and (inbox / "processed" / "new1.info.json").exists()


def test_a_video_of_an_unknown_channel_is_rejected_with_the_reason(runtime, inbox):
    stranger = "UCzyxwvutsrqponmlkjihgfe"
    (inbox / "bad.info.json").write_text(info_json("strange0001", channel=stranger))
    (inbox / "good.info.json").write_text(info_json("good0000001"))
    report = collect_videos(runtime, inbox, now=NOW)
    assert report.new_videos == ["good0000001"]
    reason = (inbox / "rejected" / "bad.info.json.reason").read_text()
    assert f"video strange0001: unknown channel {stranger}: add it with `kevin channels add" in reason
    assert f"unknown channel {stranger}" in report.reasons["file bad.info.json"]
