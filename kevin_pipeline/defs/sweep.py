"""`parameter_sweep`: a sweep as a Dagster job, fanned out in chunks, gathered into `sweep_results`.

    dagster job launch -j parameter_sweep --config-json '{"ops": {"sweep_results": {"ops":
        {"plan_sweep": {"config": {"grid": ["min_conviction=0.6,0.7", "stop_loss_pct=0.05,0.08"]}}}}}}'

The grid is the one `kevin sweep --grid` takes; `plan_sweep` validates every combination before
anything runs (a bad value fails in a second), then yields one dynamic output per chunk.
`run_sweep_chunk` backtests a chunk (one op per chunk: a process under the multiprocess executor, a
pod under the Kubernetes job executor -- KEVIN_SWEEP_EXECUTOR chooses; its progress in the UI), and
`rank_sweep` merges the
chunks in grid order, stores the runs like `kevin sweep` does and returns the ranked table, so the
same grid gives the same table from the terminal and from Dagster. The work itself is
`research.sweep`; this module only fans it out.
"""

from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from kevin_pipeline.defs.resources import KevinRuntimeResource
from kevin_pipeline.research import backtest as bt
from kevin_pipeline.research import sweep
from kevin_pipeline.settings import SettingsError, load_settings

SWEEP_JOB = "parameter_sweep"


class SweepConfig(dg.Config):
    grid: list[str]  # "name=v1,v2,..." per parameter, as `kevin sweep --grid`
    chunk_size: int = 10  # combinations per op (per process / pod)
    sort_by: str = "sharpe"
    store: bool = True  # store every combination as a backtest run (trigger "sweep")
    mentions_file: str | None = None  # default: the mentions in the database
    bars_file: str | None = None  # default: the price_bars cache


@dataclass(frozen=True)
class SweepPlan:
    """What every op of one sweep needs besides its chunk (picklable: it crosses processes)."""

    sort_by: str
    store: bool
    mentions_file: str | None
    bars_file: str | None
    combinations: int


def _load(runtime_resource: KevinRuntimeResource, plan: SweepPlan) -> bt.BacktestInputs:
    runtime = runtime_resource.runtime
    with runtime.transaction() as session:
        return bt.load_inputs(
            session, runtime.settings.strategy_params(),
            mentions_file=Path(plan.mentions_file) if plan.mentions_file else None,
            bars_file=Path(plan.bars_file) if plan.bars_file else None,
        )


@dg.op(out={"chunks": dg.DynamicOut(), "plan": dg.Out()})
def plan_sweep(context: dg.OpExecutionContext, config: SweepConfig, kevin_runtime: KevinRuntimeResource):
    settings = kevin_runtime.runtime.settings
    try:
        combos = sweep.grid_combinations(settings.strategy_params(), sweep.parse_grid(config.grid))
        sweep.ranked_table([], sort_by=config.sort_by)  # an unknown sort key fails now, not at the end
        chunks = sweep.chunk_combinations(combos, config.chunk_size)
    except sweep.SweepError as exc:
        raise dg.Failure(description=f"parameter_sweep: {exc}") from None
    plan = SweepPlan(config.sort_by, config.store, config.mentions_file, config.bars_file, len(combos))
    context.log.info(f"{len(combos)} combination(s) in {len(chunks)} chunk(s) of up to {config.chunk_size}")
    yield dg.Output(plan, output_name="plan")
    for number, chunk in enumerate(chunks):
        yield dg.DynamicOutput(chunk, output_name="chunks", mapping_key=f"chunk_{number:04d}")


@dg.op
def run_sweep_chunk(
    context: dg.OpExecutionContext, plan: SweepPlan, chunk: sweep.SweepChunk, kevin_runtime: KevinRuntimeResource
) -> tuple[int, list[sweep.SweepResult]]:
    try:
        inputs = _load(kevin_runtime, plan)
        book = bt.check_runnable(inputs, kevin_runtime.runtime.settings.strategy_params(), "sweep")
    except bt.BacktestInputError as exc:
        raise dg.Failure(description=f"parameter_sweep: {exc}") from None

    def progress(done: int, total: int) -> None:
        context.log.info(f"combinations {chunk.offset + 1}..{chunk.offset + total}: {done}/{total} done")

    results = sweep.run_sweep(inputs, chunk.combos, workers=1, progress=progress, prices=book)
    failed = sum(1 for r in results if not r.ok)
    if failed:
        context.log.warning(f"{failed} combination(s) of this chunk failed (see the ranked table)")
    return chunk.offset, results


@dg.op
def rank_sweep(
    context: dg.OpExecutionContext,
    plan: SweepPlan,
    chunks: list[tuple[int, list[sweep.SweepResult]]],
    kevin_runtime: KevinRuntimeResource,
) -> str:
    results = sweep.merge_chunks(chunks)
    table = sweep.ranked_table(results, sort_by=plan.sort_by)
    metadata: dict[str, dg.MetadataValue] = {
        "combinations": dg.MetadataValue.int(len(results)),
        "failed": dg.MetadataValue.int(sum(1 for r in results if not r.ok)),
        "ranked": dg.MetadataValue.md(f"```\n{sweep.ranked_table(results, sort_by=plan.sort_by, top=20)}\n```"),
    }
    if plan.store:
        sweep_id = sweep.new_sweep_id()
        with kevin_runtime.runtime.transaction() as session:
            sweep.store_sweep(session, results, sweep_id)
        metadata["sweep_id"] = dg.MetadataValue.text(sweep_id)
    context.add_output_metadata(metadata)
    return table


@dg.graph_asset(group_name="research", description="The ranked table of the last parameter sweep (text).")
def sweep_results():
    chunks, plan = plan_sweep()
    return rank_sweep(plan, chunks.map(lambda chunk: run_sweep_chunk(plan, chunk)).collect())


def sweep_executor(choice: str) -> dg.ExecutorDefinition:
    """The executor of `parameter_sweep` for KEVIN_SWEEP_EXECUTOR: `multiprocess` (a process per
    chunk on this machine) or `k8s` (a Kubernetes job, one pod per chunk, configured from the
    K8sRunLauncher's settings). dagster-k8s is imported only for k8s: it is the optional `k8s` extra."""
    if choice == "multiprocess":
        return dg.multiprocess_executor
    if choice == "k8s":
        try:
            from dagster_k8s import k8s_job_executor
        except ImportError:
            raise SettingsError("KEVIN_SWEEP_EXECUTOR=k8s needs dagster-k8s: pip install 'kevin[k8s]'") from None
        return k8s_job_executor
    raise SettingsError(f"KEVIN_SWEEP_EXECUTOR: unknown executor {choice!r} (multiprocess or k8s)")


def build_parameter_sweep(executor: str):  # noqa: ANN201 (dagster's unresolved asset job has no public type)
    """The `parameter_sweep` job on the executor named `executor` (see `sweep_executor`)."""
    return dg.define_asset_job(
        SWEEP_JOB,
        selection=[sweep_results],
        description="Backtest every combination of a grid, one op per chunk; ranked into sweep_results.",
        executor_def=sweep_executor(executor),
    )


parameter_sweep = build_parameter_sweep(load_settings().sweep_executor)
