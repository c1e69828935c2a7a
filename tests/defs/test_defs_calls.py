"""The videos-to-calls stage in Dagster: the three assets, their checks, new_videos_sensor, and the
whole chain in process: a video and its captions land in the inbox -> new_videos_sensor ->
video_calls_job -> mentions (extractor recorded) -> new_mentions_sensor -> trade_on_mentions ->
an order at the simulated broker, with no manual step in between."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import dagster as dg
from sqlalchemy import select

from kevin_pipeline.db.models import MentionRecord, SimOrder
from kevin_pipeline.db.videos import add_channel, find_channel, upsert_video
from kevin_pipeline.defs import sensors
from kevin_pipeline.defs.calls import CALL_ASSETS, video_calls_job
from kevin_pipeline.defs.checks import extracted_symbols_have_bars, videos_have_transcript_or_reason
from kevin_pipeline.defs.jobs import TRADE_OP, trade_on_mentions
from kevin_pipeline.defs.resources import KevinRuntimeResource
from kevin_pipeline.defs.sensors import new_mentions_sensor, new_videos_sensor
from kevin_pipeline.domain.youtube import ChannelRef, VideoInfo

UC = "UCabcdefghijklmnopqrstuv"
PUBLISHED = datetime(2022, 3, 1, 15, 0, tzinfo=UTC)  # a session inside the seeded bars
VTT = """WEBVTT

00:00:05.000 --> 00:00:12.500
I'm buying Nvidia here, it's a strong buy for the long term.

00:00:12.500 --> 00:00:20.000
And I bought more Google this morning, adding for the next few weeks.
"""


def _follow(kevin) -> None:
    with kevin.runtime.transaction() as s:
        add_channel(s, ChannelRef(youtube_channel_id=UC), name="Market Kevin", now=PUBLISHED)


def _drop_video(kevin, video_id: str = "vidA0000001", captions: str = VTT) -> None:
    kevin.drop_dir.mkdir(parents=True, exist_ok=True)
    info = {"id": video_id, "title": "I'm buying NVDA", "channel_id": UC, "timestamp": int(PUBLISHED.timestamp())}
    (kevin.drop_dir / f"{video_id}.info.json").write_text(json.dumps(info))
    (kevin.drop_dir / f"{video_id}.en.vtt").write_text(captions)


def _evaluate(sensor, kevin, cursor, instance=None):
    with dg.build_sensor_context(cursor=cursor, instance=instance, resources={"kevin_runtime": kevin.kevin_runtime}) as ctx:
        return sensor(ctx)


def _video_calls_job(kevin):
    return dg.Definitions(assets=CALL_ASSETS, jobs=[video_calls_job], resources=kevin.resources).resolve_job_def(
        "video_calls_job"
    )


def test_the_assets_report_counts_and_feed_mentions(kevin):
    _follow(kevin)
    _drop_video(kevin)
    (kevin.drop_dir / "vidB0000001.de.vtt").write_text(VTT)  # a video not stored yet: waits
    result = dg.materialize(CALL_ASSETS, resources=kevin.resources)
    meta = {e.materialization.asset_key.to_user_string(): e.materialization.metadata
            for e in result.get_asset_materialization_events()}
    assert meta["channel_videos"]["new_videos"].value == 1
    assert (meta["transcripts"]["fetched"].value, meta["transcripts"]["waiting"].value) == (1, 0)
    assert meta["extracted_mentions"]["extractor"].value == "rules 1"
    assert meta["extracted_mentions"]["new_mentions"].value == 2
    assert "GOOGL -> GOOG (vidA0000001)" in meta["extracted_mentions"]["share_class_substitutions"].value
    again = dg.materialize(CALL_ASSETS, resources=kevin.resources)  # nothing new the second time
    meta2 = {e.materialization.asset_key.to_user_string(): e.materialization.metadata
             for e in again.get_asset_materialization_events()}
    assert meta2["extracted_mentions"]["new_mentions"].value == 0 and kevin.mention_count() == 2


def test_the_graph_reads_channel_videos_transcripts_extracted_mentions_mentions():
    from kevin_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    parents = {key.to_user_string(): {p.to_user_string() for p in graph.get(key).parent_keys}
               for key in graph.get_all_asset_keys()}
    assert parents["transcripts"] == {"channel_videos"}
    assert parents["extracted_mentions"] == {"transcripts"}
    assert "extracted_mentions" in parents["mentions"]


def test_check_fails_for_an_old_video_without_a_transcript_or_reason(kevin):
    _follow(kevin)
    assert videos_have_transcript_or_reason(kevin_runtime=kevin.kevin_runtime).passed  # no videos yet
    with kevin.runtime.transaction() as s:
        owner = find_channel(s, ChannelRef(youtube_channel_id=UC))
        upsert_video(s, owner, VideoInfo(video_id="old00000001", published_at=PUBLISHED, source="manual"),
                     now=PUBLISHED)
    failing = videos_have_transcript_or_reason(kevin_runtime=kevin.kevin_runtime)
    assert not failing.passed and "old00000001" in failing.description
    dg.materialize(CALL_ASSETS, resources=kevin.resources)  # records the reason (fetching off)
    assert videos_have_transcript_or_reason(kevin_runtime=kevin.kevin_runtime).passed


def test_check_flags_an_extracted_symbol_without_bars(kevin):
    _follow(kevin)
    _drop_video(kevin, captions=VTT.replace("Nvidia", "Palantir"))
    dg.materialize(CALL_ASSETS, resources=kevin.resources)
    flagged = extracted_symbols_have_bars(kevin_runtime=kevin.kevin_runtime, price_source=kevin.resources["price_source"])
    assert not flagged.passed and flagged.severity == dg.AssetCheckSeverity.WARN
    assert flagged.description == "flagged, no bars: PLTR"


def test_sensor_requests_one_run_per_new_file_set_and_skips_files_already_seen(kevin):
    _follow(kevin)
    assert isinstance(_evaluate(new_videos_sensor, kevin, None), dg.SkipReason)
    _drop_video(kevin)
    first = _evaluate(new_videos_sensor, kevin, None)
    assert len(first.run_requests) == 1 and first.run_requests[0].run_key.startswith("videos-files-")
    assert first.run_requests[0].run_key == _evaluate(new_videos_sensor, kevin, None).run_requests[0].run_key
    assert isinstance(_evaluate(new_videos_sensor, kevin, first.cursor), dg.SkipReason)
    (kevin.drop_dir / "vidB0000001.en.vtt").write_text(VTT)
    assert len(_evaluate(new_videos_sensor, kevin, first.cursor).run_requests) == 1


def test_sensor_polls_the_feeds_on_their_interval_only_when_they_are_on(kevin, monkeypatch, tmp_path):
    on = KevinRuntimeResource(
        database_url=kevin.kevin_runtime.database_url, state_dir=str(tmp_path / "state"),
        settings_overrides={"mentions_drop_dir": str(tmp_path / "inbox"), "video_feeds": "on",
                            "feed_poll_minutes": "15"},
    )
    clock = [datetime(2026, 3, 2, 16, 0, tzinfo=UTC)]
    monkeypatch.setattr(sensors, "_now", lambda: clock[0])

    def evaluate(cursor):
        with dg.build_sensor_context(cursor=cursor, resources={"kevin_runtime": on}) as ctx:
            return new_videos_sensor(ctx)

    try:
        first = evaluate(None)
        assert [r.run_key for r in first.run_requests] == [f"videos-poll-{int(clock[0].timestamp()) // 900}"]
        clock[0] += timedelta(minutes=5)
        assert isinstance(evaluate(first.cursor), dg.SkipReason)
        clock[0] += timedelta(minutes=11)
        assert len(evaluate(first.cursor).run_requests) == 1
    finally:
        on.close()
    assert isinstance(_evaluate(new_videos_sensor, kevin, None), dg.SkipReason)  # feeds off: no poll


def test_a_new_video_flows_to_an_order_at_the_simulated_broker_with_no_manual_step(trading_kevin, instance, capsys):
    kevin = trading_kevin
    kevin.seed_bars(symbols=("NVDA", "GOOG", "SPY"))
    _follow(kevin)
    job = _video_calls_job(kevin)

    started = time.perf_counter()
    _drop_video(kevin)  # the video's metadata and its transcript appear in the inbox
    videos = _evaluate(new_videos_sensor, kevin, None, instance)
    assert len(videos.run_requests) == 1
    run = job.execute_in_process(instance=instance, tags=videos.run_requests[0].tags)
    assert run.success
    with kevin.runtime.sessions() as s:
        stored = s.execute(select(MentionRecord.id, MentionRecord.symbol, MentionRecord.extractor,
                                  MentionRecord.published_at).order_by(MentionRecord.id)).all()
    assert [(sym, ext, at) for _id, sym, ext, at in stored] == [("NVDA", "rules", PUBLISHED), ("GOOG", "rules", PUBLISHED)]

    trades = _evaluate(new_mentions_sensor, kevin, None, instance)
    [request] = trades.run_requests
    config = request.run_config["ops"][TRADE_OP]["config"]
    assert config["mention_ids"] == [i for i, *_ in stored]
    # the clock the demo and the jobs tests use: decided 5 s after the video's publish time
    config["now"] = (PUBLISHED + timedelta(seconds=5)).isoformat()
    assert trade_on_mentions.execute_in_process(run_config=request.run_config, resources=kevin.resources,
                                                instance=instance).success
    with kevin.runtime.sessions() as s:
        orders = s.execute(select(SimOrder.symbol, SimOrder.side)).all()
    latency = time.perf_counter() - started
    assert ("NVDA", "buy") in {(sym, str(side).lower()) for sym, side in orders}
    with capsys.disabled():
        print(f"\nlatency, video transcript in the inbox -> order at the simulated broker (in process): {latency:.2f} s")
    assert latency < 60
