"""The code location loads and validates; instance configs are valid; resource modules stay resolvable."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kevin_pipeline.definitions import defs

ROOT = Path(__file__).resolve().parents[2]


def test_definitions_expose_the_product_names():
    repo = defs.get_repository_def()
    assert {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()} == {
        "channel_videos", "transcripts", "extracted_mentions",
        "mentions", "aggregated_signals", "price_bars", "backtest_run", "ticker_scorecard", "paper_account",
        "sweep_results", "call_scores", "channel_skill",
    }
    checks = {k.to_user_string() for k in repo.asset_graph.asset_check_keys}
    assert "call_scores:call_scores_old_calls_explained" in checks
    assert {"trade_on_mentions", "exit_scan_job"} <= {j.name for j in repo.get_all_jobs()}
    sensor = repo.get_sensor_def("new_mentions_sensor")
    assert sensor.job_name == "trade_on_mentions" and sensor.minimum_interval_seconds <= 10
    videos = repo.get_sensor_def("new_videos_sensor")
    assert videos.job_name == "video_calls_job" and videos.minimum_interval_seconds <= 10
    assert repo.get_schedule_def("exit_scan_schedule").job_name == "exit_scan_job"


def test_dagster_definitions_validate_exits_zero(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEVIN_", "ALPACA_"))}
    env.update(DAGSTER_HOME=str(home), KEVIN_STATE_DIR=str(tmp_path / "state"))
    dagster = Path(sys.executable).parent / "dagster"
    proc = subprocess.run(
        [str(dagster), "definitions", "validate", "-m", "kevin_pipeline.definitions"],
        check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (tmp_path / "state").exists()  # loading the definitions opens no database


@pytest.mark.parametrize("name", ["dagster.yaml", "dagster_prod.yaml"])
def test_instance_config_files_are_valid(name, monkeypatch):
    from dagster._core.instance.config import dagster_instance_config

    monkeypatch.setenv("DAGSTER_PG_URL", "postgresql+psycopg2://dagster:pw@127.0.0.1:5432/dagster")
    config, _ = dagster_instance_config(str(ROOT), name)
    assert config["telemetry"] == {"enabled": False}
    if name == "dagster_prod.yaml":
        assert config["storage"] == {"postgres": {"postgres_url": {"env": "DAGSTER_PG_URL"}}}


def test_defs_modules_keep_real_annotations():
    # Dagster resolves resource and config annotations at runtime; a __future__ import breaks that.
    for path in [ROOT / "kevin_pipeline" / "definitions.py", *(ROOT / "kevin_pipeline" / "defs").glob("*.py")]:
        assert not re.search(r"^from __future__ import annotations", path.read_text(), re.MULTILINE), path
