"""`parameter_sweep`'s executor comes from KEVIN_SWEEP_EXECUTOR: processes here, a pod per chunk on Kubernetes."""

from __future__ import annotations

import subprocess
import sys

import dagster as dg
import pytest

from kevin_pipeline.defs.sweep import SWEEP_JOB, build_parameter_sweep, sweep_executor
from kevin_pipeline.settings import SettingsError, load_settings


def test_the_setting_defaults_to_multiprocess_and_names_itself_when_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEVIN_SWEEP_EXECUTOR", raising=False)
    assert load_settings().sweep_executor == "multiprocess"
    monkeypatch.setenv("KEVIN_SWEEP_EXECUTOR", " K8S ")
    assert load_settings().sweep_executor == "k8s"
    monkeypatch.setenv("KEVIN_SWEEP_EXECUTOR", "celery")
    with pytest.raises(SettingsError, match="KEVIN_SWEEP_EXECUTOR"):
        load_settings()


def test_multiprocess_runs_the_chunks_as_processes_here() -> None:
    job = build_parameter_sweep("multiprocess")
    assert job.name == SWEEP_JOB
    assert job.executor_def is dg.multiprocess_executor


def test_k8s_runs_each_chunk_as_a_kubernetes_job() -> None:
    from dagster_k8s import k8s_job_executor

    job = build_parameter_sweep("k8s")
    assert job.executor_def is k8s_job_executor
    assert job.executor_def.name == "k8s"


def test_k8s_without_dagster_k8s_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dagster_k8s", None)  # as if the extra were not installed
    with pytest.raises(SettingsError, match=r"KEVIN_SWEEP_EXECUTOR=k8s needs dagster-k8s: pip install 'kevin\[k8s\]'"):
        sweep_executor("k8s")
    assert sweep_executor("multiprocess") is dg.multiprocess_executor  # the local path needs no extra


@pytest.mark.parametrize(("value", "executor"), [("multiprocess", "multiprocess"), ("k8s", "k8s")])
def test_the_code_location_builds_the_job_with_the_configured_executor(value: str, executor: str) -> None:
    """As the code server loads it (a fresh interpreter reading the environment)."""
    probe = ("from kevin_pipeline.definitions import defs; "
             f"print(defs.resolve_job_def({SWEEP_JOB!r}).executor_def.name)")
    done = subprocess.run([sys.executable, "-c", probe], env={**_env(), "KEVIN_SWEEP_EXECUTOR": value},
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == executor


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.upper().startswith(("KEVIN_", "ALPACA_"))}
