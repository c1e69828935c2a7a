"""yt-dlp metadata dropped in the inbox: processed/, or rejected/ with a .reason; nothing stored is
lost, the next good file still flows, and the mention import leaves these files alone."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select

from kevin_pipeline.db.models import Channel, Video
from kevin_pipeline.db.videos import add_channel
from kevin_pipeline.domain.youtube import ChannelRef
from kevin_pipeline.ingest.inbox import import_inbox
from kevin_pipeline.videos.inbox import import_video_metadata
from tests.videos.conftest import UC, UC2

UTC = timezone.utc
NOW = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "info_json" / "Xq3d7ZbN2aA.info.json"


def _line(video_id: str, channel: str = UC) -> str:
    return json.dumps({"id": video_id, "title": video_id, "channel_id": channel, "timestamp": 1772461867})


def _stored(runtime) -> list[str]:
    with runtime.sessions() as s:
        return list(s.scalars(select(Video.video_id).order_by(Video.video_id)))


def test_good_files_are_processed_bad_ones_rejected_with_a_reason_and_the_next_still_flows(runtime, tmp_path):
    with runtime.transaction() as s:
        add_channel(s, ChannelRef(youtube_channel_id=UC), name="Market Kevin", now=NOW)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(FIXTURE, inbox / "a_Xq3d7ZbN2aA.info.json")
    (inbox / "b_malformed.info.json").write_text('{"id": "Lm0pQr9StUv", "title": ')
    (inbox / "c_mixed.info.jsonl").write_text(
        "\n".join([_line("Lm0pQr9StUv"), _line("Ab1Cd2Ef3Gh", channel=UC2), '{"title": "no id"}']) + "\n"
    )
    (inbox / "d_good.info.jsonl").write_text(_line("Good0000001") + "\n")
    (inbox / "e_calls.csv").write_text("not for this reader")
    (inbox / "f_copying.info.json.part").write_text("{")

    report = import_video_metadata(runtime, inbox, now=NOW)

    assert report.seen == 4
    assert sorted(report.created) == ["Good0000001", "Lm0pQr9StUv", "Xq3d7ZbN2aA"]
    assert _stored(runtime) == ["Good0000001", "Lm0pQr9StUv", "Xq3d7ZbN2aA"]
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == ["a_Xq3d7ZbN2aA.info.json", "d_good.info.jsonl"]
    rejected = inbox / "rejected"
    assert sorted(p.name for p in rejected.iterdir()) == [
        "b_malformed.info.json", "b_malformed.info.json.reason", "c_mixed.info.jsonl", "c_mixed.info.jsonl.reason"
    ]
    malformed = (rejected / "b_malformed.info.json.reason").read_text()
    assert malformed.startswith("b_malformed.info.json: not imported: b_malformed.info.json: not JSON: Expecting value")
    mixed = (rejected / "c_mixed.info.jsonl.reason").read_text()
    assert mixed.startswith(
        "c_mixed.info.jsonl: 1 of 3 videos stored; not stored: line 3: id: missing; "
        f"c_mixed.info.jsonl: video Ab1Cd2Ef3Gh: unknown channel {UC2}: add it with `kevin channels add"
    )
    assert f"move it back into {inbox}" in mixed
    assert set(report.rejected) == {"b_malformed.info.json", "c_mixed.info.jsonl"}
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == ["e_calls.csv", "f_copying.info.json.part"]

    # the fixed file moved back after adding the channel: the rest flows, nothing is doubled
    with runtime.transaction() as s:
        add_channel(s, ChannelRef(youtube_channel_id=UC2), name="Other", now=NOW)
    shutil.move(rejected / "c_mixed.info.jsonl", inbox / "c_mixed.info.jsonl")
    again = import_video_metadata(runtime, inbox, now=NOW)
    assert again.created == ["Ab1Cd2Ef3Gh"]
    assert _stored(runtime) == ["Ab1Cd2Ef3Gh", "Good0000001", "Lm0pQr9StUv", "Xq3d7ZbN2aA"]


def test_metadata_naming_a_handle_only_channel_fills_in_its_id(runtime, tmp_path):
    with runtime.transaction() as s:
        add_channel(s, ChannelRef(handle="@marketkevin"), name=None, now=NOW)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(FIXTURE, inbox / FIXTURE.name)
    report = import_video_metadata(runtime, inbox, now=NOW)
    assert report.created == ["Xq3d7ZbN2aA"] and report.rejected == {}
    with runtime.sessions() as s:
        assert s.execute(select(Channel.youtube_channel_id, Channel.handle)).one() == (UC, "@marketkevin")


def test_the_mention_import_leaves_metadata_files_for_the_video_inbox(runtime, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(FIXTURE, inbox / FIXTURE.name)
    (inbox / "lines.info.jsonl").write_text(_line("Good0000001") + "\n")
    report = import_inbox(runtime, inbox)
    assert (report.seen, report.failed) == (0, {})
    assert sorted(p.name for p in inbox.iterdir()) == [FIXTURE.name, "lines.info.jsonl"]
