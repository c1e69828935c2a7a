"""First open of a fresh SQLite database by several processes at once (issue 10 item 12).

`dagster asset materialize` with the multiprocess executor starts one process per step, and each
opens the app database and runs the migrations at start. On a brand-new file they race to switch
it to WAL and to create the schema; every one of them must succeed, every time.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import inspect

from kevin_pipeline.db.engine import make_engine
from kevin_pipeline.db.migrate import current_revision, head_revision
from kevin_pipeline.db.models import Base
from kevin_pipeline.ingest.importer import sample_mentions_path

PROCESSES = int(os.environ.get("KEVIN_RACE_PROCESSES", "12"))  # more make the race likelier
ROUNDS = int(os.environ.get("KEVIN_RACE_ROUNDS", "4"))


def _open(url: str, barrier, results) -> None:  # type: ignore[no-untyped-def]
    from kevin_pipeline.runtime import open_runtime
    from kevin_pipeline.settings import load_settings

    settings = load_settings(state_dir=Path(url.removeprefix("sqlite:///")).parent, database_url=url)
    barrier.wait()  # everyone opens at the same instant
    try:
        runtime = open_runtime(settings)
        with runtime.transaction() as session:  # a first write, as an asset's first step does
            session.execute(Base.metadata.tables["trading_state"].select()).all()
        runtime.close()
        results.put("ok")
    except Exception as exc:  # the test reports what went wrong in each process
        results.put(f"{type(exc).__name__}: {exc}")


def test_many_processes_opening_a_fresh_sqlite_file_all_succeed(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")  # fresh interpreters, like the executor's
    for round_ in range(ROUNDS):
        db = tmp_path / f"r{round_}" / "kevin.db"
        db.parent.mkdir()
        url = f"sqlite:///{db}"
        barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
        procs = [ctx.Process(target=_open, args=(url, barrier, results)) for _ in range(PROCESSES)]
        for p in procs:
            p.start()
        outcomes = [results.get(timeout=600) for _ in procs]  # spawning under load is slow
        for p in procs:
            p.join(timeout=60)
        assert outcomes == ["ok"] * PROCESSES, f"round {round_}: {outcomes}"
        engine = make_engine(url)
        try:
            assert current_revision(engine) == head_revision()
            assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
            with engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        finally:
            engine.dispose()


@pytest.mark.skipif(not os.environ.get("KEVIN_SLOW_TESTS"), reason="about 40-90 s: set KEVIN_SLOW_TESTS=1")
def test_dagster_materialize_on_a_fresh_state_dir_succeeds(tmp_path: Path) -> None:
    """The command from the issue, on a fresh DAGSTER_HOME and app database (multiprocess executor)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(Path(__file__).resolve().parents[2] / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEVIN_")}
    env |= {"DAGSTER_HOME": str(home), "KEVIN_STATE_DIR": str(tmp_path / "state")}
    # A user's first run: calls dropped into the inbox (an empty one imports nothing, and the
    # bundled sample only ever goes into the demo's database).
    inbox = tmp_path / "state" / "inbox"
    inbox.mkdir(parents=True)
    shutil.copy(sample_mentions_path(), inbox / "my_calls.csv")
    started = time.monotonic()
    r = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "asset", "materialize", "-m", "kevin_pipeline.definitions",
         "--select", "mentions,aggregated_signals,price_bars,backtest_run"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert r.returncode == 0 and "database is locked" not in r.stdout + r.stderr, (r.stderr or r.stdout)[-3000:]
    assert "RUN_SUCCESS" in r.stdout + r.stderr, f"after {time.monotonic() - started:.0f} s"
