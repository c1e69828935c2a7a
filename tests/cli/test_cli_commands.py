"""The `kevin` command as a user runs it: exit codes, summaries, stored rows (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

from sqlalchemy import select

from kevin_pipeline.cli import main
from kevin_pipeline.db.engine import make_engine
from kevin_pipeline.db.models import BacktestRun, MentionRecord
from kevin_pipeline.ingest.importer import sample_mentions_path
from tests.cli.conftest import BARS, cache_bars, count, scalar

HEADER = "video_id,published_at,symbol,action,conviction,time_horizon,quote\n"


def test_import_stores_valid_rows_reports_bad_ones_and_is_idempotent(kevin_env, tmp_path, capsys):
    path = tmp_path / "calls.csv"
    path.write_text(
        HEADER
        + "v1,2024-03-05T18:00:00-05:00,nvda,buy,0.8,weeks,adding more\n"
        + "v1,2024-03-05T18:00:00-05:00,AAPL,strong buy,0.8,weeks,\n"
        + "v2,2024-03-06T10:00:00,AMD,buy,0.7,days,\n"
        + "v2,2024-03-06T10:00:00Z,AMD,buy,1.7,days,\n"
        + "v3,2024-03-07T10:00:00Z,TSLA,sell,0.5,,\n"
    )
    assert main(["import-mentions", str(path)]) == 1
    out, err = capsys.readouterr()
    assert "imported 2, skipped-duplicate 0, rejected 3" in out
    assert "line 3: action" in err and "line 4: published_at" in err and "line 5: conviction" in err
    assert count(kevin_env, MentionRecord) == 2

    assert main(["import-mentions", str(path)]) == 1
    assert "imported 0, skipped-duplicate 2, rejected 3" in capsys.readouterr().out
    assert count(kevin_env, MentionRecord) == 2


def test_clean_file_exits_zero_and_unreadable_file_exits_two(kevin_env, tmp_path, capsys):
    good = tmp_path / "good.jsonl"
    good.write_text('{"video_id":"v9","published_at":"2024-03-05T18:00:00Z","symbol":"NVDA","action":"buy","conviction":0.9,"time_horizon":"weeks"}\n')
    assert main(["import-mentions", str(good)]) == 0
    assert main(["import-mentions", str(tmp_path / "missing.csv")]) == 2
    assert "error:" in capsys.readouterr().err


def test_bad_setting_stops_with_the_variable_name(kevin_env, monkeypatch, capsys):
    monkeypatch.setenv("KEVIN_DAILY_TRADE_CAP", "lots")
    assert main(["backtest", "--no-save"]) == 2
    assert "KEVIN_DAILY_TRADE_CAP" in capsys.readouterr().err


def test_backtest_json_on_files_has_the_documented_shape(kevin_env, capsys):
    assert main(["backtest", "--mentions", str(sample_mentions_path()), "--bars", str(BARS), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"metrics", "trades", "decisions", "engine_seconds"} <= set(doc)
    assert doc["trades"], "the 2019 sample calls trade"
    trade_keys = {"symbol", "mention_id", "entry_date", "entry_price", "exit_date", "exit_price", "qty",
                  "pnl_usd", "pnl_pct", "sessions_held", "exit_reason"}
    assert all(trade_keys <= set(t) for t in doc["trades"])
    assert all({"mention_id", "symbol", "decision", "status", "reason"} <= set(d) for d in doc["decisions"])
    assert all(isinstance(t["mention_id"], str) and t["mention_id"].startswith("sample-") for t in doc["trades"])
    assert len(doc["decisions"]) == 150
    assert count(kevin_env, BacktestRun) == 1
    closed = [t for t in doc["trades"] if t["exit_date"]]
    assert doc["metrics"]["trade_count"] == len(closed)


def test_backtest_set_rejects_unknown_names(kevin_env, capsys):
    assert main(["backtest", "--set", "min_convicton=0.7"]) == 2
    assert "min_convicton" in capsys.readouterr().err


def test_backtest_set_direction_inverse_enters_on_sell_and_avoid_calls_and_stores_the_direction(kevin_env, capsys):
    args = ["backtest", "--mentions", str(sample_mentions_path()), "--bars", str(BARS), "--json"]
    runs = {}
    for direction in ("follow", "inverse"):
        assert main([*args, "--set", f"direction={direction}"]) == 0
        runs[direction] = json.loads(capsys.readouterr().out)
    for direction, entered_on in (("follow", {"buy"}), ("inverse", {"sell", "avoid"})):
        doc = runs[direction]
        action = {d["mention_id"]: d["action"] for d in doc["decisions"]}
        assert doc["trades"] and {action[t["mention_id"]] for t in doc["trades"]} <= entered_on
    inverted_buys = [d for d in runs["inverse"]["decisions"] if d["action"] == "buy"]
    assert inverted_buys and all(d["decision"] != "open_long" for d in inverted_buys)
    assert all(d["reason"].startswith("inverse: buy call taken as avoid") for d in inverted_buys
               if d["status"] != "skipped_non_tradable")  # those read "no price bars for ..."
    stored = scalar(kevin_env, select(BacktestRun.params).order_by(BacktestRun.id.desc()).limit(1))
    assert stored["direction"] == "inverse"
    assert main(["backtest", "--no-save", "--mentions", str(sample_mentions_path()), "--bars", str(BARS),
                 "--set", "direction=inverse"]) == 0
    assert "strategy (inverse: against the calls)" in capsys.readouterr().out


def test_backtest_set_direction_refuses_an_unknown_direction(kevin_env, capsys):
    assert main(["backtest", "--no-save", "--set", "direction=sideways"]) == 2
    assert "direction" in capsys.readouterr().err


def test_quick_demo_prints_decisions_and_metrics_vs_benchmark(kevin_env, tmp_path, capsys):
    assert main(["demo", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "imported 150, skipped-duplicate 0, rejected 0" in out
    assert "open_long" in out and "skipped_filter" in out
    assert "benchmark (SPY buy & hold)" in out and "total return" in out
    demo_db = f"sqlite:///{tmp_path / 'state' / 'demo' / 'kevin.db'}"
    assert count(demo_db, MentionRecord) == 150  # the demo's own database ...
    assert main(["db", "upgrade"]) == 0  # the user's own database, migrated but empty ...
    assert count(kevin_env, MentionRecord) == 0  # ... stays empty: the sample is not real calls
    assert main(["demo", "--quick"]) == 0  # a second demo adds nothing
    assert "imported 0, skipped-duplicate 150" in capsys.readouterr().out


def test_demo_runs_the_dagster_graph_in_its_own_database(kevin_env, tmp_path, capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    for section in ("From videos to orders", "Backtest run #1 vs the benchmark", "Ticker scorecard",
                    "Decisions on the videos' calls", "Paper account (simulated broker)", "make up-demo"):
        assert section in out
    # the 10 sample videos' captions -> 24 calls -> one trade run per video (+ the exit scans)
    assert "calls extracted from the videos' captions: 24 new, 24 in all" in out
    assert "32/32 job runs succeeded (10 trade_on_mentions, 22 exit_scan_job)" in out
    assert "sample00001  2013-03-18 15:55" in out and "buy GOOG, buy META, sell NFLX" in out
    assert (tmp_path / "state" / "demo" / "kevin.db").exists()
    engine = make_engine(kevin_env)
    try:
        from sqlalchemy import inspect

        assert "mentions" not in inspect(engine).get_table_names()  # the user's own database is left alone
    finally:
        engine.dispose()


def test_malformed_cached_bars_are_skipped_with_a_reason(kevin_env, capsys):
    import pandas as pd

    from kevin_pipeline.research.backtest import bars_from_file

    bars = bars_from_file(BARS)
    bad = (bars["symbol"] == "AAPL") & (bars["date"] == pd.Timestamp("2019-03-06"))
    bars.loc[bad, "low"] = bars.loc[bad, "high"] + 1  # high < low
    cache_bars(bars)
    assert main(["import-mentions", str(sample_mentions_path())]) == 0
    capsys.readouterr()
    assert main(["backtest", "--json", "--no-save"]) == 0
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert any("AAPL 2019-03-06" in n and "skipped malformed bar" in n for n in notes), notes
