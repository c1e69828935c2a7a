"""yt-dlp metadata (`.info.json`, `--dump-json` lines): fields, times, and bad videos named by line."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from kevin_pipeline.videos.info_json import InfoJsonFile, parse_info
from kevin_pipeline.videos.source import VideoSourceError
from tests.videos.conftest import UC

UTC = timezone.utc
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "info_json" / "Xq3d7ZbN2aA.info.json"


def _line(video_id: str, **kw) -> str:
    return json.dumps({"id": video_id, "title": f"t {video_id}", "channel_id": UC, "timestamp": 1772461867, **kw})


def test_a_recorded_info_json_gives_every_field():
    batch = InfoJsonFile(FIXTURE).read()
    assert batch.rejected == [] and len(batch.videos) == 1
    v = batch.videos[0]
    assert (v.video_id, v.youtube_channel_id, v.channel_handle) == ("Xq3d7ZbN2aA", UC, "@MarketKevin")
    assert v.published_at == datetime(2026, 3, 2, 14, 31, 7, tzinfo=UTC)  # `timestamp`, not the date
    assert (v.duration_seconds, v.url, v.source) == (1127, "https://www.youtube.com/watch?v=Xq3d7ZbN2aA", "info_json")
    assert v.title == "I'm Buying NVDA & Trimming TSLA Before Earnings"
    assert v.description.startswith("Why I added to Nvidia")


def test_a_date_without_a_time_is_the_end_of_that_utc_day_never_earlier():
    v = parse_info({"id": "Xq3d7ZbN2aA", "upload_date": "20260302", "channel_id": UC})
    assert v.published_at == datetime(2026, 3, 2, 23, 59, 59, tzinfo=UTC)
    assert v.url == "https://www.youtube.com/watch?v=Xq3d7ZbN2aA"  # built when webpage_url is missing
    assert parse_info({"id": "Xq3d7ZbN2aA", "release_timestamp": 0, "upload_date": "20260302"}).published_at == (
        datetime(1970, 1, 1, tzinfo=UTC)
    )


def test_dump_json_lines_store_the_good_and_name_each_bad_line_with_its_field(tmp_path):
    path = tmp_path / "channel.info.jsonl"
    path.write_text(
        "\n".join([
            _line("aaaaaaaaaaa", duration=61.6),
            "{broken",
            json.dumps({"title": "no id"}),
            _line("bbbbbbbbbbb", duration="long"),
            _line("ccccccccccc", timestamp=None, upload_date="2026-03-02"),
            _line("ddddddddddd", timestamp=None),
            "",
            _line("short"),
            _line("eeeeeeeeeee"),
        ]) + "\n"
    )
    batch = InfoJsonFile(path).read()
    assert [(v.video_id, v.duration_seconds) for v in batch.videos] == [("aaaaaaaaaaa", 62), ("eeeeeeeeeee", None)]
    assert batch.rejected == [
        "line 2: not JSON: Expecting property name enclosed in double quotes at column 2",
        "line 3: id: missing",
        "line 4: duration: 'long' is not a number of seconds",
        "line 5: upload_date: '2026-03-02' is not YYYYMMDD",
        "line 6: no publish time: none of timestamp, release_timestamp, upload_date",
        "line 8: video_id: String should match pattern '[A-Za-z0-9_-]{11}'",
    ]


def test_a_playlist_info_json_is_read_through_its_entries(tmp_path):
    path = tmp_path / "channel.info.json"
    path.write_text(json.dumps({"_type": "playlist", "id": UC, "entries": [
        json.loads(_line("aaaaaaaaaaa")), json.loads(_line("bbbbbbbbbbb")), "not a video"]}))
    batch = InfoJsonFile(path).read()
    assert [v.video_id for v in batch.videos] == ["aaaaaaaaaaa", "bbbbbbbbbbb"]
    assert batch.rejected == ["entry 3: expected a JSON object, got str"]


@pytest.mark.parametrize(
    "name, text, reason",
    [
        ("x.info.json", "{\"id\": ", "x.info.json: not JSON: Expecting value at line 1 column 8"),
        ("x.info.jsonl", "\n\n", "x.info.jsonl: empty: no video lines"),
        ("x.info.json", json.dumps({"_type": "playlist", "entries": None}), "a playlist without a list of entries"),
    ],
)
def test_a_file_that_cannot_be_read_at_all_is_one_clear_reason(tmp_path, name, text, reason):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(VideoSourceError, match=reason.replace("(", r"\(")):
        InfoJsonFile(path).read()
