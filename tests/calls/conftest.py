"""Shared pieces for the videos-to-calls steps: a runtime with an inbox, a followed channel, recorded
files. No network: feeds come from tests/fixtures/feeds through a recorded getter, YouTube's
captions from a fake source."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kevin_pipeline.db.videos import add_channel
from kevin_pipeline.domain.youtube import ChannelRef
from kevin_pipeline.runtime import Runtime, open_runtime
from kevin_pipeline.settings import Settings

UC = "UCabcdefghijklmnopqrstuv"  # the channel of tests/fixtures/feeds and tests/fixtures/info_json
NOW = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
PUBLISHED = 1772461867  # 2026-03-02 14:31:07 UTC

VTT = """WEBVTT

00:00:01.000 --> 00:00:05.000
Welcome back everyone.

00:00:05.000 --> 00:00:12.500
I'm buying Nvidia here, it's a strong buy for the long term.

00:00:12.500 --> 00:00:20.000
And I bought more Google this morning, adding for the next few weeks.
"""


def info_json(video_id: str, channel: str = UC, timestamp: int = PUBLISHED) -> str:
    return json.dumps({"id": video_id, "title": f"video {video_id}", "channel_id": channel, "timestamp": timestamp})


@pytest.fixture
def runtime(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    opened = open_runtime(Settings(database_url=db_url, state_dir=tmp_path / "state"))
    with opened.transaction() as s:
        add_channel(s, ChannelRef(youtube_channel_id=UC), name="Market Kevin", now=NOW)
    yield opened
    opened.close()


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder
