"""materialize_demo: the whole graph on its own database, trading only its simulated account."""

from __future__ import annotations

from kevin_pipeline.defs.demo import format_demo, materialize_demo


def test_demo_materializes_the_graph_and_trades_the_newest_mentions(tmp_path, monkeypatch):
    # The user's production settings must not leak into the demo.
    monkeypatch.setenv("KEVIN_DATABASE_URL", "postgresql+psycopg2://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("KEVIN_BROKER", "alpaca")
    monkeypatch.setenv("KEVIN_MENTIONS_DROP_DIR", str(tmp_path / "users_inbox"))
    result = materialize_demo(tmp_path / "demo")

    assert result.database.startswith("sqlite:///") and str(tmp_path / "demo") in result.database
    assert all(run["success"] for run in result.runs)
    assert result.metrics is not None and result.metrics.trade_count > 0
    assert len(result.decisions) == 10 and "emitted" in set(result.decisions["status"])
    assert not result.positions.empty  # a fill shows
    assert result.account["equity"] > 0 and not result.scorecard.empty
    assert not (tmp_path / "users_inbox").exists()
    text = format_demo(result)
    for heading in ("Backtest run", "Ticker scorecard", "Decisions on the newest mentions", "Paper account"):
        assert heading in text
