"""`parameter_sweep`: the grid fanned out in chunks on the multiprocess executor equals `kevin sweep`.

The job runs as a user runs it, `dagster job execute -m kevin_pipeline.definitions -j parameter_sweep`
in its own process with its own DAGSTER_HOME, so every chunk is a separate step process that opens
the database from the environment; the ranked table it gathers into `sweep_results` must be the
table `kevin sweep` prints for the same grid, character for character.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from defs_helpers import make_kevin
from sqlalchemy import select

from kevin_pipeline.cli import main as kevin_main
from kevin_pipeline.db.models import BacktestRun
from kevin_pipeline.defs.sweep import SWEEP_JOB, sweep_results
from kevin_pipeline.ingest.importer import import_mentions_file, sample_mentions_path
from kevin_pipeline.market_data.bundled import load_bundled_bars
from kevin_pipeline.market_data.cache import store_bars
from kevin_pipeline.research import sweep

GRID = ["min_conviction=0.6,0.7,0.8", "stop_loss_pct=0.05,0.08"]


def _run_config(**extra: object) -> dict:
    return {"ops": {"sweep_results": {"ops": {"plan_sweep": {"config": {"grid": GRID, "chunk_size": 2, **extra}}}}}}


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    url = f"sqlite:///{tmp_path / 'kevin.db'}"
    kevin = make_kevin(url, tmp_path)
    import_mentions_file(kevin.runtime, sample_mentions_path())
    with kevin.runtime.transaction() as s:
        store_bars(s, load_bundled_bars(None, None, None), source="bundled")
    kevin.kevin_runtime.close()
    env = {"KEVIN_DATABASE_URL": url, "KEVIN_STATE_DIR": str(tmp_path / "state"), "KEVIN_PRICE_SOURCE": "cache"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return url, env


def test_parameter_sweep_on_the_multiprocess_executor_ranks_like_kevin_sweep(seeded, tmp_path, capsys):
    url, env = seeded
    home = tmp_path / "dagster_home"
    home.mkdir()
    (tmp_path / "run.json").write_text(json.dumps(_run_config()))
    done = subprocess.run(
        [sys.executable, "-m", "dagster", "job", "execute", "-m", "kevin_pipeline.definitions", "-j", SWEEP_JOB,
         "-c", str(tmp_path / "run.json")],
        env={**os.environ, **env, "DAGSTER_HOME": str(home)}, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # three chunks of two, each its own step (process) under the multiprocess executor
    for n in range(3):
        assert f"run_sweep_chunk[chunk_{n:04d}]" in done.stderr
    assert "multiprocess" in done.stderr

    with dg.DagsterInstance.from_config(str(home)) as instance:
        [record] = instance.get_run_records()
        assert record.dagster_run.is_success
        event = instance.get_latest_materialization_event(dg.AssetKey("sweep_results"))
        assert event is not None
        metadata = event.asset_materialization.metadata
        assert metadata["combinations"].value == 6 and metadata["failed"].value == 0
        sweep_id = metadata["sweep_id"].value
    table = pickle.loads((home / "storage" / "sweep_results").read_bytes())

    assert kevin_main(["sweep", *sum((["--grid", g] for g in GRID), []), "--workers", "1", "--no-save"]) == 0
    printed = capsys.readouterr().out
    assert printed.strip() == table.strip()
    assert len(table.strip().splitlines()) == 2 + 6  # header, rule, six combinations

    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(select(BacktestRun.status, BacktestRun.params).where(BacktestRun.sweep_id == sweep_id)).all()
    engine.dispose()
    assert len(stored) == 6 and {s for s, _ in stored} == {"succeeded"}
    assert {(p["min_conviction"], p["stop_loss_pct"]) for _, p in stored} == {
        (c, s) for c in ("0.6", "0.7", "0.8") for s in ("0.05", "0.08")
    }


def test_a_bad_grid_fails_in_the_plan_step_before_any_backtest(seeded, tmp_path):
    result = dg.materialize(
        [sweep_results],
        run_config={"ops": {"sweep_results": {"ops": {"plan_sweep": {"config": {"grid": ["min_convictoin=0.6"]}}}}}},
        raise_on_error=False,
        resources=make_kevin(seeded[0], tmp_path).resources,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.step_key == "sweep_results.plan_sweep"
    assert "unknown parameter 'min_convictoin'" in str(failure.event_specific_data.error)


def test_chunks_merged_out_of_order_rank_like_one_sweep():
    from kevin_pipeline.research.synthetic import synthetic_universe
    from kevin_pipeline.research.backtest import BacktestInputs
    from kevin_pipeline.domain.params import StrategyParams

    u = synthetic_universe(8, 120, 200, seed=3)
    inputs = BacktestInputs(mentions=u.mentions, bars=u.bars, source="bench")
    combos = sweep.grid_combinations(StrategyParams(), sweep.parse_grid(GRID))
    whole = sweep.run_sweep(inputs, combos, workers=1)
    parts = [(c.offset, sweep.run_sweep(inputs, c.combos, workers=1)) for c in sweep.chunk_combinations(combos, 4)]
    merged = sweep.merge_chunks(list(reversed(parts)))
    assert [r.index for r in merged] == list(range(6))
    # the last chunk alone varies only stop_loss_pct; merged, its results name both varied fields
    assert set(merged[-1].overrides) == {"min_conviction", "stop_loss_pct"}
    assert sweep.ranked_table(merged) == sweep.ranked_table(whole)
