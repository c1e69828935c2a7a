"""The `kevin` process itself: what it loads and touches, and how it sets up its interpreter.

`kevin backtest --mentions FILE --bars FILE --no-save` runs on the files alone: it imports none of
the machinery it does not use (Dagster, the dashboard, the broker and LLM clients, the database
layer, exchange-calendars' rule engine) and opens, creates or migrates no database.

Checked as behaviour -- which modules the process loaded, which files it wrote -- never as time.
Those cases run in a fresh interpreter (a subprocess), as the `kevin` command does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from kevin_pipeline.ingest.importer import sample_mentions_path

FIXTURES = Path(__file__).parent.parent / "fixtures"

# Top-level packages the backtest of two files must not import.
HEAVY = (
    "dagster", "dagster_webserver", "dash", "plotly", "flask", "alpaca", "pydantic_ai", "openai",
    "anthropic", "httpx", "requests", "yt_dlp", "youtube_transcript_api", "pytickersymbols",
    "sqlalchemy", "alembic", "psycopg2", "exchange_calendars",
)

RUN = """
import json, sys
from kevin_pipeline.cli import main
code = main(sys.argv[1:])
print(json.dumps({"exit": code, "modules": sorted(sys.modules)}))
"""


def run_in_fresh_interpreter(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEVIN_", "ALPACA_"))}
    env["KEVIN_STATE_DIR"] = str(tmp_path / "state")
    proc = subprocess.run([sys.executable, "-c", RUN, *args], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc, json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture
def bars_parquet(tmp_path: Path) -> Path:
    path = tmp_path / "bars.parquet"
    pd.read_csv(FIXTURES / "bars_2019.csv").to_parquet(path, index=False)
    return path


def loaded(modules: list[str], package: str) -> bool:
    return any(m == package or m.startswith(package + ".") for m in modules)


def test_a_backtest_of_two_files_without_saving_imports_no_heavy_module(tmp_path, bars_parquet):
    proc, run = run_in_fresh_interpreter(tmp_path, "backtest", "--mentions", str(sample_mentions_path()),
                                         "--bars", str(bars_parquet), "--no-save")
    assert run["exit"] == 0
    assert "total return" in proc.stdout and "not stored (--no-save)" in proc.stdout
    assert [p for p in HEAVY if loaded(run["modules"], p)] == []
    assert loaded(run["modules"], "kevin_pipeline.domain.backtest")  # it did run the engine


def test_a_backtest_of_two_files_without_saving_touches_no_database(tmp_path, bars_parquet):
    _, run = run_in_fresh_interpreter(tmp_path, "backtest", "--mentions", str(sample_mentions_path()),
                                      "--bars", str(bars_parquet), "--no-save", "--json")
    assert run["exit"] == 0
    assert not (tmp_path / "state").exists()  # no kevin.db created, nothing migrated


def test_a_stored_backtest_still_opens_the_database(tmp_path, bars_parquet):
    """The other side of the rule: without --no-save the run is stored, so the database is opened
    (created and migrated on a fresh state dir) as before."""
    proc, run = run_in_fresh_interpreter(tmp_path, "backtest", "--mentions", str(sample_mentions_path()),
                                         "--bars", str(bars_parquet))
    assert run["exit"] == 0 and "stored as backtest run #1" in proc.stdout
    assert loaded(run["modules"], "sqlalchemy")
    assert (tmp_path / "state" / "kevin.db").is_file()


def test_the_help_imports_no_heavy_module(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEVIN_", "ALPACA_"))}
    code = "import json, sys\nfrom kevin_pipeline.cli import build_parser\nbuild_parser()\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    modules = json.loads(proc.stdout)
    assert [p for p in (*HEAVY, "pandas", "numpy") if loaded(modules, p)] == []


def test_the_kevin_process_tunes_its_collector_and_a_caller_keeps_its_own(monkeypatch):
    import gc

    from kevin_pipeline import cli

    before = gc.get_threshold()
    try:
        with pytest.raises(SystemExit):
            cli.main(["--help"])  # a caller's argv: its interpreter is not kevin's to tune
        assert gc.get_threshold() == before
        monkeypatch.setattr(sys, "argv", ["kevin", "--help"])
        with pytest.raises(SystemExit):
            cli.main()  # the process's own command line
        assert gc.get_threshold() == (cli.GC_THRESHOLD, *before[1:])
    finally:
        gc.set_threshold(*before)
