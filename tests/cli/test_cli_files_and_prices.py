"""`kevin replay` that would prove nothing fails (issue 10 item 13); `kevin sweep --mentions/--bars`
and `kevin prices import FILE` (item 15). SQLite and PostgreSQL via the `db_url` fixture."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from kevin_pipeline.cli import main
from kevin_pipeline.db.engine import make_engine
from kevin_pipeline.db.models import BacktestRun, PriceBar
from kevin_pipeline.ingest.importer import sample_mentions_path
from tests.cli.conftest import BARS, CALLS, scalar


@pytest.fixture
def env(kevin_env, tmp_path):
    (tmp_path / "calls.csv").write_text(CALLS)
    return kevin_env


def kevin(*args: str) -> subprocess.CompletedProcess[str]:
    """The `kevin` command in its own process, as a user runs it (environment from `env`)."""
    return subprocess.run([sys.executable, "-m", "kevin_pipeline.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=300)


# --- item 13: a replay that proves nothing is not green ----------------------------------------


def test_replay_without_bars_fails_like_backtest(env, tmp_path):
    assert main(["import-mentions", str(tmp_path / "calls.csv")]) == 0
    r = kevin("replay")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "error: no bars for the benchmark SPY" in r.stderr and "0 differences" not in r.stdout
    b = kevin("backtest", "--no-save")
    assert b.returncode == 2 and "error: no bars for the benchmark SPY" in b.stderr


def test_replay_without_mentions_says_so_and_fails(env, tmp_path):
    assert main(["prices", "import", str(BARS)]) == 0
    r = kevin("replay", "--json")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "error: no mentions to replay" in r.stderr and r.stdout == ""


def test_replay_with_files_still_compares_and_unreadable_files_exit_two(env, tmp_path):
    r = kevin("replay", "--json", "--mentions", str(tmp_path / "calls.csv"), "--bars", str(BARS))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["differences"] == [] and doc["backtest_trades"] == doc["live_trades"] == 2
    missing = kevin("replay", "--bars", str(tmp_path / "nope.csv"))
    assert missing.returncode == 2 and "error: bars file not found" in missing.stderr
    assert "Traceback" not in missing.stderr


# --- item 15: sweep on files, prices import ----------------------------------------------------


def test_sweep_takes_mentions_and_bars_files(env, tmp_path, capsys):
    calls = str(tmp_path / "calls.csv")
    assert main(["sweep", "--grid", "min_conviction=0.6,0.85", "--workers", "1", "--mentions", calls,
                 "--bars", str(BARS)]) == 0
    out = capsys.readouterr().out
    assert "stored as sweep" in out
    assert scalar(env, select(func.count()).select_from(BacktestRun).where(BacktestRun.sweep_id.is_not(None))) == 2
    # the same files, one backtest: the sweep's 0.6 run has its numbers
    assert main(["backtest", "--json", "--no-save", "--mentions", calls, "--bars", str(BARS)]) == 0
    single = json.loads(capsys.readouterr().out)["metrics"]
    engine = make_engine(env)
    try:
        with engine.connect() as conn:
            stored = [r.metrics for r in conn.execute(select(BacktestRun).where(BacktestRun.sweep_id.is_not(None)))]
    finally:
        engine.dispose()
    assert single in stored
    # nothing in the database: without the files there is nothing to sweep
    assert main(["sweep", "--grid", "min_conviction=0.6,0.85", "--workers", "1"]) == 2
    assert "error: no mentions to sweep" in capsys.readouterr().err
    assert main(["sweep", "--grid", "min_conviction=0.6", "--mentions", calls]) == 2
    assert "error: no bars for the benchmark SPY" in capsys.readouterr().err


def test_sweep_over_direction_shows_follow_and_inverse_in_a_direction_column(env, capsys):
    assert main(["sweep", "--grid", "direction=follow,inverse", "--workers", "1",
                 "--mentions", str(sample_mentions_path()), "--bars", str(BARS)]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.lstrip().startswith("#"))
    assert lines[header].split()[-1] == "direction"
    assert sorted(line.split()[-1] for line in lines[header + 2 : header + 4]) == ["follow", "inverse"]
    stored = scalar(env, select(func.count()).select_from(BacktestRun).where(BacktestRun.sweep_id.is_not(None)))
    assert stored == 2


def test_prices_import_is_idempotent_and_skips_bad_rows_by_name(env, tmp_path, capsys):
    good = BARS.read_text().splitlines()
    path = tmp_path / "bars.csv"
    path.write_text("\n".join([
        *good,
        "ZZZ,2019-03-05,10,9,11,10,5",          # high < low
        "ZZZ,2019-03-06,10,12,9,-1,5",          # close <= 0
        "ZZZ,not-a-date,10,12,9,11,5",          # unreadable date
    ]) + "\n")
    n = len(good) - 1
    assert main(["prices", "import", str(path)]) == 1
    out, err = capsys.readouterr()
    assert f"{n + 3} rows read; {n} bars stored for 7 symbols ({n} new, 0 updated, 0 unchanged); 3 rows skipped" in out
    assert "ZZZ 2019-03-05: high < low" in err and "ZZZ 2019-03-06: close <= 0" in err
    assert f"row {n + 3} (ZZZ): date is missing or not a date" in err
    assert scalar(env, select(func.count()).select_from(PriceBar)) == n

    # again: nothing new, nothing doubled
    assert main(["prices", "import", str(path)]) == 1
    assert f"(0 new, 0 updated, {n} unchanged)" in capsys.readouterr().out
    assert scalar(env, select(func.count()).select_from(PriceBar)) == n

    # a corrected bar replaces the cached one
    fixed = tmp_path / "fix.csv"
    fixed.write_text("symbol,date,open,high,low,close\nSPY,2019-03-05,200,300,100,250\n")
    assert main(["prices", "import", str(fixed)]) == 0
    assert "(0 new, 1 updated, 0 unchanged)" in capsys.readouterr().out
    assert scalar(env, select(PriceBar.close).where(PriceBar.symbol == "SPY", PriceBar.date == "2019-03-05")) == 250
    assert scalar(env, select(func.count()).select_from(PriceBar)) == n

    assert main(["prices", "import", str(tmp_path / "missing.parquet")]) == 2
    assert "error: bars file not found" in capsys.readouterr().err


def test_backtest_from_the_cache_after_import_equals_backtest_from_the_file(env, tmp_path, capsys):
    calls = str(tmp_path / "calls.csv")
    parquet = tmp_path / "bars.parquet"
    import pandas as pd

    pd.read_csv(BARS).to_parquet(parquet)
    assert main(["backtest", "--json", "--no-save", "--mentions", calls, "--bars", str(parquet)]) == 0
    from_file = json.loads(capsys.readouterr().out)
    assert main(["prices", "import", str(parquet)]) == 0
    capsys.readouterr()
    assert main(["backtest", "--json", "--no-save", "--mentions", calls]) == 0
    from_cache = json.loads(capsys.readouterr().out)
    for doc in (from_file, from_cache):
        doc.pop("engine_seconds")
    assert from_cache == from_file and len(from_file["trades"]) == 2


def test_a_failed_backtest_is_stored_as_a_failed_cli_run_like_dagster_and_dash(env, tmp_path, capsys):
    """Issue 11 item 4: one failure policy. The CLI still says `error: ...` and exits 2, and now
    also leaves the failed run in the history, as the asset and the dashboard always did."""
    calls = str(tmp_path / "calls.csv")
    assert main(["backtest", "--mentions", calls, "--bars", str(tmp_path / "nope.csv")]) == 2
    assert "error: bars file not found" in capsys.readouterr().err
    assert main(["backtest", "--mentions", calls]) == 2
    assert "error: no bars for the benchmark SPY" in capsys.readouterr().err
    assert scalar(env, select(func.count()).select_from(BacktestRun).where(
        BacktestRun.status == "failed", BacktestRun.trigger == "cli")) == 2
    assert main(["backtest", "--no-save", "--mentions", calls]) == 2  # --no-save: nothing stored, ever
    assert scalar(env, select(func.count()).select_from(BacktestRun)) == 2
