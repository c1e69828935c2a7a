"""Every asset materializes in process on a temp database, and each does what its name says."""

from __future__ import annotations

import dagster as dg
from defs_helpers import SMALL_CSV
from sqlalchemy import select

from kevin_pipeline.db.models import AccountSnapshot, BacktestRun, PriceBar
from kevin_pipeline.defs.assets import (
    ALL_ASSETS,
    aggregated_signals,
    backtest_run,
    mentions,
    paper_account,
    price_bars,
    ticker_scorecard,
)
from kevin_pipeline.defs.calls import CALL_ASSETS
from kevin_pipeline.defs.checks import ALL_CHECKS


def _meta(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.materialization.asset_key.to_user_string() == asset]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_every_asset_materializes_with_its_checks(kevin):
    kevin.write_file("calls.csv", SMALL_CSV, folder=kevin.drop_dir)
    result = dg.materialize([*CALL_ASSETS, *ALL_ASSETS, *ALL_CHECKS], resources=kevin.resources)
    assert result.success
    done = {e.materialization.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert done == {"channel_videos", "transcripts", "extracted_mentions", "mentions", "aggregated_signals", "price_bars", "backtest_run", "ticker_scorecard", "paper_account"}
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert len(checks) == len(ALL_CHECKS) and all(checks.values()), checks


def test_mentions_imports_the_drop_folder_moves_files_and_reports_rejected_rows(kevin):
    bad_row = "v9,2022-03-08T15:00:00Z,NVDA,buy,1.70,weeks,too sure\n"
    kevin.write_file("calls.csv", SMALL_CSV + bad_row, folder=kevin.drop_dir)
    meta = _meta(dg.materialize([mentions], resources=kevin.resources), "mentions")
    assert (meta["count_new"], meta["count_total"], meta["rejected_rows"]) == (5, 5, 1)
    assert "conviction" in meta["rejected"]
    assert not (kevin.drop_dir / "calls.csv").exists()
    assert (kevin.drop_dir / "processed" / "calls.csv").exists()


def test_mentions_sends_an_unreadable_file_to_failed_and_imports_nothing_twice(kevin):
    kevin.write_file("broken.json", "{not json", folder=kevin.drop_dir)
    kevin.seed_mentions()
    meta = _meta(dg.materialize([mentions], resources=kevin.resources), "mentions")
    assert (meta["count_new"], meta["count_total"]) == (0, 5)
    assert (kevin.drop_dir / "failed" / "broken.json").exists()
    assert "broken.json" in meta["failed_files"]


def test_mentions_never_imports_the_bundled_sample_into_a_real_database(kevin, instance):
    # An empty (non-demo) database with an empty drop folder, on SQLite and PostgreSQL: the made-up
    # sample calls must not appear where the sensor would trade them.
    result = dg.materialize([mentions], resources=kevin.resources, instance=instance)
    meta = _meta(result, "mentions")
    assert (meta["count_new"], meta["count_total"]) == (0, 0)
    assert kevin.mention_count() == 0
    assert meta["inbox"].startswith("empty: no files to import")
    assert meta["source"] == "drop folder"
    logged = [e.user_message for e in instance.all_logs(result.run_id)]
    assert any(f"the drop folder {kevin.drop_dir} is empty: no files to import" in m for m in logged), logged


def test_demo_drops_the_sample_into_its_own_inbox(tmp_path, monkeypatch):
    # The demo still gets the sample: a copy of the sample videos in its own inbox, read by the same assets.
    from kevin_pipeline.defs.demo import materialize_demo

    monkeypatch.setenv("KEVIN_MENTIONS_DROP_DIR", str(tmp_path / "users_inbox"))
    result = materialize_demo(tmp_path / "demo", newest=0)
    assert result.mentions_new == result.mentions_total == 24 and result.decisions.empty  # newest=0: none traded
    assert (tmp_path / "demo" / "inbox" / "processed" / "sample00010.en.vtt").exists()
    assert not (tmp_path / "users_inbox").exists()


def test_aggregated_signals_boost_repeated_calls_of_pending_mentions(kevin):
    kevin.seed_mentions(SMALL_CSV + "v6,2022-03-01T20:00:00Z,NVDA,buy,0.70,weeks,again\n")
    result = dg.materialize([aggregated_signals], resources=kevin.resources)
    frame = result.asset_value("aggregated_signals").set_index("video_id")
    assert len(frame) == 6
    assert frame.loc["v6", "effective_conviction"] == 0.75  # one other NVDA call in the 48 h window
    assert frame.loc["v1", "effective_conviction"] == 0.80  # a later call never counts
    assert bool(frame.loc["v4", "buy_signal"]) and not bool(frame.loc["v3", "buy_signal"])


def test_aggregated_signals_mark_the_calls_kevin_would_buy_under_inverse(kevin):
    kevin.seed_mentions()
    overrides = {**kevin.kevin_runtime.settings_overrides, "direction": "inverse"}
    base = kevin.kevin_runtime
    inverse = type(base)(database_url=base.database_url, state_dir=base.state_dir, settings_overrides=overrides)
    result = dg.materialize([aggregated_signals], resources={**kevin.resources, "kevin_runtime": inverse})
    frame = result.asset_value("aggregated_signals").set_index("video_id")
    inverse.close()
    # the NVDA sell at 0.70 becomes a buy; the buys become avoids
    assert [v for v in frame.index if frame.loc[v, "buy_signal"]] == ["v5"]


def test_price_bars_caches_every_mentioned_symbol_and_the_benchmark(kevin):
    kevin.seed_mentions()
    meta = _meta(dg.materialize([price_bars], resources=kevin.resources), "price_bars")
    with kevin.runtime.sessions() as s:
        symbols = set(s.scalars(select(PriceBar.symbol).distinct()))
    assert symbols == {"NVDA", "AMZN", "AAPL", "SPY"}
    assert meta["source"] == "bundled" and meta["bars"] > 0


def test_backtest_run_stores_a_dagster_run_and_run_config_overrides_parameters(kevin):
    kevin.seed_mentions()
    kevin.seed_bars()
    default = _meta(dg.materialize([backtest_run], resources=kevin.resources), "backtest_run")
    strict = _meta(
        dg.materialize([backtest_run], resources=kevin.resources,
                       run_config={"ops": {"backtest_run": {"config": {"min_conviction": 0.85}}}}),
        "backtest_run",
    )
    with kevin.runtime.sessions() as s:
        runs = {r.id: r for r in s.scalars(select(BacktestRun))}
    assert {r.trigger for r in runs.values()} == {"dagster"}
    assert runs[strict["run_id"]].params["min_conviction"] == "0.85"
    assert default["trade_count"] == 3 and strict["trade_count"] == 1  # only AAPL (0.90) clears 0.85
    assert "AAPL" in strict["top_trades"]


def test_ticker_scorecard_reads_the_latest_dagster_backtest(kevin):
    kevin.seed_mentions()
    kevin.seed_bars()
    run_id = _meta(dg.materialize([backtest_run], resources=kevin.resources), "backtest_run")["run_id"]
    result = dg.materialize([ticker_scorecard], resources=kevin.resources)
    card = result.asset_value("ticker_scorecard").set_index("symbol")
    assert _meta(result, "ticker_scorecard")["backtest_run_id"] == run_id
    assert card.loc["NVDA", "mentions"] == 3 and card.loc["AAPL", "bt_trades"] == 1


def test_paper_account_snapshots_the_simulated_broker(kevin):
    result = dg.materialize([paper_account], resources=kevin.resources,
                            run_config={"ops": {"paper_account": {"config": {"now": "2022-03-01T21:00:00Z"}}}})
    meta = _meta(result, "paper_account")
    assert (meta["equity_usd"], meta["cash_usd"], meta["positions_count"]) == (100000.0, 100000.0, 0)
    assert meta["broker"] == "simulated" and "trading OFF" in meta["trading"]
    with kevin.runtime.sessions() as s:
        assert len(list(s.scalars(select(AccountSnapshot)))) == 1
