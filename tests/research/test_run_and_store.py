"""`research.backtest.run_and_store`: the one "inputs -> run -> store" path of the CLI, the
`backtest_run` asset and the dashboard's job, and its one failure policy: a run asked to be stored
leaves exactly one row (succeeded with its trades, or failed with the error), never half a run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kevin_pipeline.runtime import Runtime, open_runtime
from kevin_pipeline.db.models import BacktestRun, BacktestTrade
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.research import backtest as bt
from kevin_pipeline.settings import Settings
from tests.research.test_backtest_returns import BARS, MENTIONS


@pytest.fixture
def runtime(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    kapp = open_runtime(Settings(state_dir=tmp_path / "state", database_url=db_url))
    try:
        yield kapp
    finally:
        kapp.close()


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "calls.csv").write_text(MENTIONS)
    (tmp_path / "bars.csv").write_text(BARS)
    return tmp_path / "calls.csv", tmp_path / "bars.csv"


def _runs(runtime: Runtime) -> list[tuple[str, str, str | None, int]]:
    with runtime.sessions() as s:
        return [
            (r.status, r.trigger, r.error, s.scalar(select(func.count()).where(BacktestTrade.run_id == r.id)))
            for r in s.scalars(select(BacktestRun).order_by(BacktestRun.id))
        ]


def test_a_stored_run_is_one_succeeded_row_with_its_trades(runtime: Runtime, files: tuple[Path, Path]) -> None:
    mentions, bars = files
    seen: list[int] = []
    outcome = bt.run_and_store(runtime, StrategyParams(), trigger="dash", mentions_file=mentions, bars_file=bars,
                               on_inputs=lambda inputs: seen.append(len(inputs.mentions)))
    assert seen == [1] and outcome.run_id is not None
    assert _runs(runtime) == [("succeeded", "dash", None, 1)]
    assert outcome.metrics is not None and round(outcome.metrics.total_return_pct, 5) == 0.14355


def test_not_storing_stores_nothing_even_on_failure(runtime: Runtime, files: tuple[Path, Path]) -> None:
    mentions, bars = files
    assert bt.run_and_store(runtime, StrategyParams(), trigger="cli", store=False,
                            mentions_file=mentions, bars_file=bars).run_id is None
    with pytest.raises(bt.BacktestInputError) as err:
        bt.run_and_store(runtime, StrategyParams(), trigger="cli", store=False)
    assert err.value.run_id is None and _runs(runtime) == []


def test_an_input_error_is_typed_and_stored_as_one_failed_run(runtime: Runtime, files: tuple[Path, Path]) -> None:
    mentions, _ = files
    with pytest.raises(bt.BacktestInputError, match="no bars for the benchmark SPY") as err:
        bt.run_and_store(runtime, StrategyParams(), trigger="dagster", mentions_file=mentions)
    assert err.value.run_id is not None
    assert _runs(runtime) == [("failed", "dagster", str(err.value), 0)]
    # an unreadable file is an input error too, stored the same way
    with pytest.raises(bt.BacktestInputError, match="bars file not found"):
        bt.run_and_store(runtime, StrategyParams(), trigger="cli", mentions_file=mentions,
                         bars_file=mentions.parent / "nope.csv")
    assert [r[:2] for r in _runs(runtime)] == [("failed", "dagster"), ("failed", "cli")]


def test_an_unexpected_error_mid_run_is_wrapped_and_stored_as_failed(runtime: Runtime, files: tuple[Path, Path]) -> None:
    mentions, bars = files

    def progress(done: int, total: int) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(bt.BacktestRunError, match="RuntimeError: disk full") as err:
        bt.run_and_store(runtime, StrategyParams(), trigger="dash", mentions_file=mentions, bars_file=bars,
                         progress=progress)
    assert isinstance(err.value.__cause__, RuntimeError) and err.value.run_id is not None
    assert _runs(runtime) == [("failed", "dash", "RuntimeError: disk full", 0)]


def test_a_run_the_database_refuses_leaves_nothing_half_stored(runtime: Runtime, files: tuple[Path, Path]) -> None:
    """The trigger's CHECK constraint refuses the run row after its trades were built: neither the
    run nor any trade stays, and the failed row is refused too (run_id None), the error raised."""
    mentions, bars = files
    with pytest.raises(bt.BacktestRunError, match="IntegrityError") as err:
        bt.run_and_store(runtime, StrategyParams(), trigger="nobody", mentions_file=mentions, bars_file=bars)
    assert err.value.run_id is None
    assert _runs(runtime) == []
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(BacktestTrade)) == 0
