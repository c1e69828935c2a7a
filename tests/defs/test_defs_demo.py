"""materialize_demo: the whole graph on its own database, trading only its simulated account."""

from __future__ import annotations

from kevin_pipeline.defs.demo import format_demo, materialize_demo


def test_demo_goes_from_caption_files_to_orders_on_its_own_database(tmp_path, monkeypatch):
    # The user's production settings must not leak into the demo.
    monkeypatch.setenv("KEVIN_DATABASE_URL", "postgresql+psycopg2://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("KEVIN_BROKER", "alpaca")
    monkeypatch.setenv("KEVIN_MENTIONS_DROP_DIR", str(tmp_path / "users_inbox"))
    monkeypatch.setenv("KEVIN_VIDEO_FEEDS", "on")  # the demo never reads a feed: its channel is made up
    monkeypatch.setenv("KEVIN_TRANSCRIPTS_FETCH", "on")
    monkeypatch.setenv("KEVIN_EXTRACTOR", "llm")

    def no_network(*args, **kwargs):
        raise AssertionError(f"the demo touched the network: {args}")

    monkeypatch.setattr("urllib.request.urlopen", no_network)
    result = materialize_demo(tmp_path / "demo")

    assert result.database.startswith("sqlite:///") and str(tmp_path / "demo") in result.database
    assert all(run["success"] for run in result.runs)
    assert all(c["passed"] for c in result.checks)
    # 10 illustrative videos -> 24 calls read by the offline rules, each decided at its video's time
    assert result.mentions_new == 24 and result.mentions_total == 24
    assert len(result.videos) == 10 and result.videos["calls"].str.len().gt(0).all()
    assert result.videos["decided"].sum() == 24 and result.videos["orders"].sum() > 0
    first = result.videos.iloc[0]
    assert (first["video_id"], first["calls"]) == ("sample00001", "buy GOOG, buy META, sell NFLX")
    assert len(result.decisions) == 24 and "emitted" in set(result.decisions["status"])
    # a call on a video is decided 5 s after the video's publish time, never at the extraction time
    assert {str(t)[:4] for t in result.decisions["published_at"]} >= {"2013", "2022"}
    assert result.metrics is not None and result.metrics.trade_count > 0
    assert not result.positions.empty  # a fill shows
    assert result.account["equity"] > 0 and not result.scorecard.empty
    assert not (tmp_path / "users_inbox").exists()
    assert sorted(p.name for p in (tmp_path / "demo" / "inbox" / "processed").iterdir())[:2] == [
        "sample00001.en.vtt", "sample00001.info.json",
    ]
    text = format_demo(result)
    for heading in ("From videos to orders", "Backtest run", "Ticker scorecard", "Decisions on the videos' calls",
                    "Paper account"):
        assert heading in text
