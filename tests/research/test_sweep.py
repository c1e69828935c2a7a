"""Parameter sweeps: grid parsing, combinations, parallel == sequential == a plain backtest."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from kevin_pipeline.research.synthetic import synthetic_universe
from kevin_pipeline.db.models import BacktestRun
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.domain.prices import PriceBook
from kevin_pipeline.research.backtest import BacktestInputError, BacktestInputs, execute
from kevin_pipeline.research.sweep import (
    SweepError,
    follow_vs_inverse,
    grid_combinations,
    grid_size,
    new_sweep_id,
    parse_grid,
    ranked_table,
    run_sweep,
    store_sweep,
    varied_fields,
)


@pytest.fixture(scope="module")
def inputs() -> BacktestInputs:
    u = synthetic_universe(12, 150, 300, seed=7)
    return BacktestInputs(mentions=u.mentions, bars=u.bars, source="bench")


# --- grid ------------------------------------------------------------------------------------


def test_parse_grid_reads_lists_and_normalises_names():
    grid = parse_grid(["min_conviction=0.6, 0.7", "KEVIN_STOP_LOSS_PCT=0.05,0.08,0.1"])
    assert grid == {"min_conviction": ["0.6", "0.7"], "stop_loss_pct": ["0.05", "0.08", "0.1"]}
    assert grid_size(grid) == 6


@pytest.mark.parametrize(
    "spec,message",
    [
        ("min_convictoin=0.6", "unknown parameter 'min_convictoin'"),
        ("min_conviction", "expected name=v1,v2"),
        ("=0.6", "expected name=v1,v2"),
        ("min_conviction=", "empty value"),
        ("min_conviction=0.6,,0.7", "empty value"),
        ("min_conviction=0.6,0.6", "repeated value"),
    ],
)
def test_parse_grid_errors_name_the_problem(spec, message):
    with pytest.raises(SweepError, match=message):
        parse_grid([spec])


def test_parse_grid_refuses_a_parameter_given_twice():
    with pytest.raises(SweepError, match="given twice"):
        parse_grid(["min_conviction=0.6", "min_conviction=0.7"])


def test_every_combination_is_validated_before_anything_runs():
    grid = parse_grid(["min_conviction=0.6,1.5", "hold_sessions_weeks=5,10"])
    with pytest.raises(SweepError, match=r"min_conviction=1\.5.*min_conviction"):
        grid_combinations(StrategyParams(), grid)
    with pytest.raises(SweepError, match="hold_sessions_weeks=ten"):
        grid_combinations(StrategyParams(), parse_grid(["hold_sessions_weeks=5,ten"]))
    # A combination only invalid together (min > max trade size) is caught too.
    with pytest.raises(SweepError, match="min_trade_usd"):
        grid_combinations(StrategyParams(), parse_grid(["min_trade_usd=500,6000"]))


def test_grid_combinations_is_the_cartesian_product_over_the_base():
    base = StrategyParams(slippage_bps=Decimal("0"))
    combos = grid_combinations(base, parse_grid(["min_conviction=0.6,0.7,0.8", "hold_sessions_weeks=5,10"]))
    assert len(combos) == 6
    assert {(c.min_conviction, c.hold_sessions_weeks) for c in combos} == {
        (Decimal(m), h) for m in ("0.6", "0.7", "0.8") for h in (5, 10)
    }
    assert all(type(c) is StrategyParams and c.slippage_bps == 0 for c in combos)
    assert varied_fields(combos) == ["min_conviction", "hold_sessions_weeks"]
    assert grid_combinations(base, {}) == [base]


# --- running ---------------------------------------------------------------------------------


def test_a_one_combination_sweep_equals_a_plain_backtest(inputs):
    params = StrategyParams(min_conviction=Decimal("0.55"))
    (result,) = run_sweep(inputs, [params], workers=2, keep_outcomes=True)
    plain = execute(inputs, params)
    assert result.ok and result.metrics is not None
    assert result.metrics == plain.metrics
    assert result.trade_count == len(plain.result.trades) > 0
    assert result.outcome is not None and result.outcome.result.trades == plain.result.trades
    assert result.overrides == {}


def test_two_workers_and_one_worker_give_identical_results_in_combo_order(inputs):
    combos = grid_combinations(
        StrategyParams(), parse_grid(["min_conviction=0.5,0.7", "stop_loss_pct=0.05,0.12"])
    )
    book = PriceBook.from_frame(inputs.bars)
    seen = []
    parallel = run_sweep(inputs, combos, workers=2, prices=book, progress=lambda d, t: seen.append((d, t)))
    sequential = run_sweep(inputs, combos, workers=1, prices=book)
    assert seen[-1] == (4, 4) and len(seen) == 4
    assert [r.params for r in parallel] == combos == [r.params for r in sequential]
    assert [r.metrics for r in parallel] == [r.metrics for r in sequential]
    assert [r.trade_count for r in parallel] == [r.trade_count for r in sequential]
    assert all(r.outcome is None for r in parallel)  # not kept unless asked
    assert parallel[0].overrides == {"min_conviction": Decimal("0.5"), "stop_loss_pct": Decimal("0.05")}
    # The knobs matter: not every combination scores the same.
    assert len({r.metrics.total_return_pct for r in parallel}) > 1


def test_an_in_process_sweep_hands_the_garbage_collector_back_as_it_found_it(inputs):
    """The sweep keeps the collector paused between its runs; the caller's process (a dashboard, a
    notebook) must get it back enabled and with nothing left frozen."""
    import gc

    combos = grid_combinations(StrategyParams(), parse_grid(["min_conviction=0.5,0.7"]))
    assert gc.isenabled() and gc.get_freeze_count() == 0
    results = run_sweep(inputs, combos, workers=1)
    assert all(r.ok for r in results)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.disable()
    try:
        run_sweep(inputs, combos, workers=1)
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()


def test_a_sweep_collects_garbage_once_every_few_runs_not_after_each(inputs, monkeypatch):
    """Runs leave no reference cycles, so a collection after each one would find nothing; the
    sweep still collects every COLLECT_EVERY runs, so a cycle cannot pile up over a long sweep."""
    import gc

    from kevin_pipeline.research import sweep

    collections: list[int] = []
    monkeypatch.setattr(sweep.gc, "collect", lambda *a: collections.append(1) or 0)
    monkeypatch.setattr(sweep, "COLLECT_EVERY", 3)
    monkeypatch.setattr(sweep, "_runs_since_collect", 0)
    combos = grid_combinations(StrategyParams(), parse_grid(["min_conviction=0.5,0.55,0.6,0.65,0.7,0.75,0.8"]))
    results = run_sweep(inputs, combos, workers=1)
    assert all(r.ok for r in results) and len(results) == 7
    assert len(collections) == 2  # before the 3rd and the 6th run
    assert gc.isenabled()


def test_a_failing_combination_is_reported_not_fatal(inputs):
    combos = [StrategyParams(), StrategyParams(benchmark_symbol="QQQ")]
    results = run_sweep(inputs, combos, workers=1)
    assert results[0].ok and not results[1].ok
    assert "no bars for the benchmark QQQ" in results[1].error
    assert "failed" in ranked_table(results)


def test_no_mentions_is_an_input_error(inputs):
    with pytest.raises(BacktestInputError):
        run_sweep(BacktestInputs(mentions=[], bars=inputs.bars), [StrategyParams()])


# --- output ----------------------------------------------------------------------------------


def test_ranked_table_sorts_best_first_and_shows_the_varied_params(inputs):
    combos = grid_combinations(StrategyParams(), parse_grid(["min_conviction=0.5,0.6,0.8"]))
    results = run_sweep(inputs, combos, workers=1)
    table = ranked_table(results, sort_by="total_return_pct")
    lines = table.splitlines()
    assert "return %" in lines[0] and "Sharpe" in lines[0] and "min_conviction" in lines[0]
    best = max(results, key=lambda r: r.metrics.total_return_pct)
    assert f"{best.metrics.total_return_pct:,.2f}" in lines[2]
    assert len(lines) == 2 + 3
    assert ranked_table(results, sort_by="return") == table
    with pytest.raises(SweepError, match="cannot sort"):
        ranked_table(results, sort_by="luck")


def test_a_direction_grid_ranks_follow_and_inverse_side_by_side(inputs):
    combos = grid_combinations(StrategyParams(), parse_grid(["direction=follow,inverse", "min_conviction=0.6,0.8"]))
    assert varied_fields(combos) == ["direction", "min_conviction"]
    results = run_sweep(inputs, combos, workers=2)
    lines = ranked_table(results, sort_by="total_return_pct").splitlines()
    assert lines[0].split()[-2:] == ["direction", "min_conviction"]
    assert sorted(line.split()[-2] for line in lines[2:]) == ["follow", "follow", "inverse", "inverse"]
    # each row is that combination's own run
    by_combo = {(str(r.params.direction), r.params.min_conviction): r for r in results}
    assert by_combo[("inverse", Decimal("0.6"))].metrics == execute(inputs, combos[2]).metrics
    assert by_combo[("inverse", Decimal("0.6"))].metrics != by_combo[("follow", Decimal("0.6"))].metrics


def test_follow_vs_inverse_runs_both_directions_of_the_same_knobs(inputs):
    base = StrategyParams(direction="inverse", stop_loss_pct=Decimal("0.05"))
    follow, inverse = follow_vs_inverse(inputs, base)
    assert (follow.params.direction, inverse.params.direction) == ("follow", "inverse")
    assert follow.params.stop_loss_pct == inverse.params.stop_loss_pct == Decimal("0.05")
    assert follow.metrics == execute(inputs, StrategyParams(stop_loss_pct=Decimal("0.05"))).metrics
    assert inverse.metrics == execute(inputs, base).metrics
    assert follow.metrics.total_return_pct != inverse.metrics.total_return_pct
    assert follow.overrides == {"direction": "follow"} and inverse.overrides == {"direction": "inverse"}


def test_store_sweep_saves_full_and_light_runs(inputs, session):
    combos = grid_combinations(StrategyParams(), parse_grid(["min_conviction=0.6,0.8"]))
    light = run_sweep(inputs, combos, workers=1)
    full = run_sweep(inputs, combos[:1], workers=1, keep_outcomes=True)
    sweep_id = new_sweep_id()
    ids = store_sweep(session, [*light, *full], sweep_id)
    runs = session.scalars(select(BacktestRun).where(BacktestRun.sweep_id == sweep_id).order_by(BacktestRun.id)).all()
    assert [r.id for r in runs] == ids and len(ids) == 3
    assert all(r.trigger == "sweep" and r.status == "succeeded" and r.metrics for r in runs)
    assert runs[0].params["min_conviction"] == "0.6" and runs[1].params["min_conviction"] == "0.8"
    assert runs[0].metrics["trade_count"] == light[0].metrics.trade_count
    assert runs[0].decisions is None and runs[0].trades == []  # light: params and metrics only
    assert runs[2].decisions and len(runs[2].trades) == full[0].trade_count  # full, via save_run


def test_two_spellings_of_one_value_are_refused():
    with pytest.raises(SweepError, match="repeats a combination"):
        grid_combinations(StrategyParams(), parse_grid(["min_conviction=0.6,0.60"]))
