"""Parameter sweeps: the same mentions and bars, backtested once per combination of knobs.

    grid = parse_grid(["min_conviction=0.6,0.7,0.8", "stop_loss_pct=0.05,0.08"])
    combos = grid_combinations(settings.strategy_params(), grid)      # 6 StrategyParams, all valid
    results = run_sweep(inputs, combos, workers=2)
    with runtime.transaction() as s:
        store_sweep(s, results, new_sweep_id())
    print(ranked_table(results, sort_by="sharpe"))

Every combination is validated (a StrategyParams is built for it) before anything runs, so a bad
value fails in a second, not after an hour of backtests.

Parallelism: a `ProcessPoolExecutor` on the fork start method. The PriceBook (Decimal bars, the
expensive part of the inputs) is built ONCE in the parent and handed to the workers through the
pool initializer, which stores it in a module-level global. Under fork the initializer's arguments
are inherited with the process image, never pickled; each task then ships only a StrategyParams
and returns a small `_WorkerResult`. workers=1 runs in-process with the same code path.

The mentions are handed over as one `MentionTape` (sorted, with their entry sessions and
aggregation windows worked out once in the parent), so no backtest of the sweep redoes that
parameter-independent work. Each worker freezes the garbage collector's view of what it inherited
(`gc.freeze`): the inputs are hundreds of thousands of long-lived objects that a full collection
would otherwise re-scan several times per backtest, for nothing.
"""

from __future__ import annotations

import dataclasses
import gc
import itertools
import multiprocessing
import os
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session
from tabulate import tabulate

from kevin_pipeline.db.models import BacktestRun
from kevin_pipeline.domain.backtest import BacktestResult, MentionTape
from kevin_pipeline.domain.calendar import nyse_calendar
from kevin_pipeline.domain.direction import Direction
from kevin_pipeline.domain.metrics import Metrics
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.domain.prices import PriceBook
from kevin_pipeline.research.backtest import (
    BacktestInputError,
    BacktestInputs,
    BacktestOutcome,
    execute,
    params_record,
    save_run,
)

ProgressFn = Callable[[int, int], None]


class SweepError(ValueError):
    """The grid cannot be swept (bad syntax, unknown parameter, or a value StrategyParams refuses)."""


# --- the grid --------------------------------------------------------------------------------


def parse_grid(specs: Sequence[str]) -> dict[str, list[str]]:
    """`["name=v1,v2,...", ...]` -> `{name: [v1, v2, ...]}`, names checked against StrategyParams.

    Names are case-insensitive and may carry the `KEVIN_` prefix (as `--set` accepts). Values stay
    strings here; `grid_combinations` lets pydantic convert and validate them.
    """
    grid: dict[str, list[str]] = {}
    known = StrategyParams.model_fields
    for spec in specs:
        name, sep, raw = spec.partition("=")
        name = name.strip().lower().removeprefix("kevin_")
        if not sep or not name:
            raise SweepError(f"grid {spec!r}: expected name=v1,v2,...")
        if name not in known:
            raise SweepError(
                f"grid {spec!r}: unknown parameter {name!r} (known: {', '.join(sorted(known))})"
            )
        if name in grid:
            raise SweepError(f"grid: parameter {name!r} is given twice")
        values = [v.strip() for v in raw.split(",")]
        if not raw.strip() or any(v == "" for v in values):
            raise SweepError(f"grid {spec!r}: empty value in the list for {name!r}")
        if len(set(values)) != len(values):
            raise SweepError(f"grid {spec!r}: repeated value in the list for {name!r}")
        grid[name] = values
    return grid


def grid_size(grid: dict[str, list[str]]) -> int:
    n = 1
    for values in grid.values():
        n *= len(values)
    return n


def grid_combinations(base: StrategyParams, grid: dict[str, list[str]]) -> list[StrategyParams]:
    """The cartesian product of the grid over `base`, each validated as a StrategyParams.

    `base` may be a `Settings` (a StrategyParams subclass): only the StrategyParams fields are
    taken, so no setting outside the strategy (and no secret) ends up in a stored run. Raises
    SweepError naming the first invalid combination and every problem with it. An empty grid gives
    `[base]` as a plain StrategyParams.
    """
    base_values = {name: getattr(base, name) for name in StrategyParams.model_fields}
    names = list(grid)
    combos: list[StrategyParams] = []
    for values in itertools.product(*(grid[n] for n in names)):
        overrides = dict(zip(names, values))
        try:
            combos.append(StrategyParams.model_validate({**base_values, **overrides}))
        except ValidationError as exc:
            shown = ", ".join(f"{k}={v}" for k, v in overrides.items())
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'params'}: {e['msg']}" for e in exc.errors()
            )
            raise SweepError(f"invalid combination ({shown}): {problems}") from None
    seen: dict[StrategyParams, int] = {}
    for i, combo in enumerate(combos):
        if combo in seen:
            b = combo
            raise SweepError(
                "the grid repeats a combination (two spellings of one value, e.g. 0.6 and 0.60?): "
                + ", ".join(f"{n}={getattr(b, n)}" for n in names)
            )
        seen[combo] = i
    return combos


def varied_fields(combos: Sequence[StrategyParams]) -> list[str]:
    """The StrategyParams fields whose value differs between the combinations, in field order."""
    if len(combos) < 2:
        return []
    first = combos[0]
    return [
        name
        for name in StrategyParams.model_fields
        if any(getattr(c, name) != getattr(first, name) for c in combos[1:])
    ]


def _overrides(params: StrategyParams, names: Sequence[str]) -> dict[str, Any]:
    return {n: getattr(params, n) for n in names}


# --- results ---------------------------------------------------------------------------------


@dataclass
class SweepResult:
    """One combination's outcome. `overrides` holds the fields varied across the sweep.

    `engine_seconds` is wall time of the engine and metrics (as `execute` measures it), `cpu_seconds`
    the worker's CPU time for the combination: on a busy machine the first grows, the second not.
    `trade_count` counts every trade of the run, including those still open at the end (the
    metrics' `trade_count` counts closed ones only). `outcome` is kept only with
    `run_sweep(..., keep_outcomes=True)`: a full outcome holds every decision of the run.
    """

    index: int
    params: StrategyParams
    overrides: dict[str, Any]
    metrics: Metrics | None
    trade_count: int
    engine_seconds: float
    cpu_seconds: float = 0.0
    outcome: BacktestOutcome | None = None
    error: str | None = None
    run_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class _WorkerResult:
    index: int
    metrics: Metrics | None
    trade_count: int
    engine_seconds: float
    cpu_seconds: float = 0.0
    result: BacktestResult | None = None
    error: str | None = None


@dataclass
class _Shared:
    inputs: BacktestInputs
    book: PriceBook
    start: date | None
    end: date | None
    keep: bool
    extra: dict[str, Any] = field(default_factory=dict)


# Set in each worker by `_init_worker` (and in the parent for workers=1). Module-level on purpose:
# the pool initializer runs once per worker process and tasks then find the inputs here.
_SHARED: _Shared | None = None


def _init_worker(shared: _Shared) -> None:
    global _SHARED
    _SHARED = shared


def _init_pool_worker(shared: _Shared) -> None:
    _init_worker(shared)
    gc.freeze()  # what the worker inherited lives as long as it does: keep it out of collections
    # Collections happen between runs only (`_run_one`): a run keeps the collector paused, and the
    # one it would trigger when the run ends scans the whole result still in hand, for nothing.
    gc.disable()


# A run leaves no reference cycles behind (its objects go with their last reference), so a
# collection between every two runs finds nothing and costs about 2 % of a run. One every
# COLLECT_EVERY runs still bounds what a cycle (an error's traceback) could hold on to.
COLLECT_EVERY = 16
_runs_since_collect = 0


def _collect_now_and_then() -> None:
    global _runs_since_collect
    _runs_since_collect += 1
    if _runs_since_collect >= COLLECT_EVERY:
        _runs_since_collect = 0
        gc.collect()  # a short scan: what the worker inherited is frozen


def _run_one(index: int, params: StrategyParams) -> _WorkerResult:
    shared = _SHARED
    if shared is None:  # pragma: no cover - a pool without the initializer
        raise RuntimeError("sweep worker has no shared inputs")
    started, cpu = time.perf_counter(), time.process_time()
    if not gc.isenabled():
        _collect_now_and_then()
    try:
        outcome = execute(shared.inputs, params, start=shared.start, end=shared.end, prices=shared.book, audit=shared.keep)
    except Exception as exc:  # one bad combination must not sink the whole sweep
        return _WorkerResult(
            index, None, 0, time.perf_counter() - started, time.process_time() - cpu, error=f"{type(exc).__name__}: {exc}"
        )
    return _WorkerResult(
        index=index,
        metrics=outcome.metrics,
        trade_count=len(outcome.result.trades),
        engine_seconds=outcome.engine_seconds,
        cpu_seconds=time.process_time() - cpu,
        result=outcome.result if shared.keep else None,
    )


def _pool_context() -> multiprocessing.context.BaseContext:
    # fork shares the parent's PriceBook copy-on-write; where fork is unavailable (Windows) the
    # default start method pickles the initializer's arguments once per worker, still not per task.
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def run_sweep(
    inputs: BacktestInputs,
    combos: Sequence[StrategyParams],
    workers: int = 2,
    progress: ProgressFn | None = None,
    *,
    start: date | None = None,
    end: date | None = None,
    keep_outcomes: bool = False,
    prices: PriceBook | None = None,
) -> list[SweepResult]:
    """Backtest every combination; results come back in the order of `combos`.

    `prices` reuses an already-built PriceBook (else it is built once from `inputs.bars`).
    `progress(done, total)` is called in the parent after each finished combination.
    A combination whose run raises is reported in its result's `error`, the others still run.
    """
    global _SHARED
    combos = list(combos)
    if not combos:
        return []
    if not inputs.mentions:
        raise BacktestInputError("no mentions to sweep over")
    if workers < 1:
        raise SweepError(f"workers must be >= 1 (got {workers})")
    book = prices if prices is not None else PriceBook.from_frame(inputs.bars)
    calendar = nyse_calendar()  # build the shared calendar before forking, so no worker rebuilds it
    tape = MentionTape(inputs.mentions, calendar)
    tape.session_bounds()
    for params in combos:  # the parameter-independent work once per setting, before forking
        tape.effective_convictions(params)
        tape.decided_without_the_account(params)
        if not keep_outcomes:  # light runs: which calls they can pass over
            tape.quiet_calls(params, book)
    grid = book.session_grid(calendar)  # and every traded symbol's row of the tick grid
    for sym in sorted({m.symbol for m in tape}):
        grid.row(sym)
    shared = _Shared(
        inputs=dataclasses.replace(inputs, mentions=tape), book=book, start=start, end=end, keep=keep_outcomes
    )
    total = len(combos)
    raw: list[_WorkerResult | None] = [None] * total

    if workers == 1 or total == 1:
        previous = _SHARED
        _init_worker(shared)
        freeze = gc.get_freeze_count() == 0
        collecting = gc.isenabled()
        if freeze:
            gc.freeze()
        gc.disable()  # as in a pool worker: collections between runs only
        try:
            for i, params in enumerate(combos):
                raw[i] = _run_one(i, params)
                if progress is not None:
                    progress(i + 1, total)
        finally:
            _SHARED = previous
            if freeze:
                gc.unfreeze()  # in-process: hand this process's objects back to the collector
            if collecting:
                gc.enable()
    else:
        with ProcessPoolExecutor(
            max_workers=min(workers, total),
            mp_context=_pool_context(),
            initializer=_init_pool_worker,
            initargs=(shared,),
        ) as pool:
            futures = [pool.submit(_run_one, i, params) for i, params in enumerate(combos)]
            try:
                done = 0
                for fut in as_completed(futures):
                    r = fut.result()
                    raw[r.index] = r
                    done += 1
                    if progress is not None:
                        progress(done, total)
            except BaseException:  # Ctrl-C or a dead worker: do not wait for the queued combinations
                pool.shutdown(wait=False, cancel_futures=True)
                raise

    names = varied_fields(combos)
    results: list[SweepResult] = []
    for i, (params, r) in enumerate(zip(combos, raw)):
        assert r is not None
        outcome = None
        if r.result is not None:
            outcome = BacktestOutcome(result=r.result, metrics=r.metrics, engine_seconds=r.engine_seconds, inputs=inputs)
        results.append(
            SweepResult(
                index=i,
                params=params,
                overrides=_overrides(params, names),
                metrics=r.metrics,
                trade_count=r.trade_count,
                engine_seconds=r.engine_seconds,
                cpu_seconds=r.cpu_seconds,
                outcome=outcome,
                error=r.error,
            )
        )
    return results


def follow_vs_inverse(
    inputs: BacktestInputs,
    params: StrategyParams,
    *,
    workers: int = 1,
    start: date | None = None,
    end: date | None = None,
    keep_outcomes: bool = False,
    prices: PriceBook | None = None,
) -> tuple[SweepResult, SweepResult]:
    """Following the channel and betting against it, on the same calls, bars and knobs: the
    (follow, inverse) results of a two-combination sweep over `direction` (`params`' own direction
    is ignored; a `Settings` gives only its strategy fields, as in any sweep). Is the channel worth
    following, or worth fading? This answers it side by side."""
    combos = grid_combinations(params, {"direction": [Direction.FOLLOW.value, Direction.INVERSE.value]})
    pair = run_sweep(inputs, combos, workers=workers, start=start, end=end, keep_outcomes=keep_outcomes, prices=prices)
    return pair[0], pair[1]


# --- chunks (the Dagster job fans a sweep out in these) ---------------------------------------


@dataclass(frozen=True)
class SweepChunk:
    """A slice of a sweep's combinations: `offset` is the grid index of its first one."""

    offset: int
    combos: tuple[StrategyParams, ...]


def chunk_combinations(combos: Sequence[StrategyParams], size: int) -> list[SweepChunk]:
    """Consecutive slices of at most `size` combinations, in grid order."""
    if size < 1:
        raise SweepError(f"chunk size must be >= 1 (got {size})")
    return [SweepChunk(i, tuple(combos[i : i + size])) for i in range(0, len(combos), size)]


def merge_chunks(chunks: Sequence[tuple[int, Sequence[SweepResult]]]) -> list[SweepResult]:
    """Results of chunks run apart, back as one sweep: grid indexes restored, and each result's
    `overrides` naming the fields varied across the WHOLE grid (one chunk may hold a single value
    of a field the grid varies), so the ranked table equals a sweep run in one piece."""
    ordered = [
        dataclasses.replace(r, index=offset + r.index)
        for offset, results in sorted(chunks, key=lambda c: c[0])
        for r in results
    ]
    names = varied_fields([r.params for r in ordered])
    return [dataclasses.replace(r, overrides=_overrides(r.params, names)) for r in ordered]


# --- storing ---------------------------------------------------------------------------------


def new_sweep_id(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    return f"sweep-{stamp}-{uuid.uuid4().hex[:8]}"


def store_sweep(session: Session, results: Sequence[SweepResult], sweep_id: str) -> list[int]:
    """Store each result as a backtest run (trigger "sweep", `sweep_id`); returns the run ids.

    A result that kept its outcome is stored in full through `research.backtest.save_run` (trades,
    decisions, curves). Otherwise a light run is stored: params and metrics only, which is what a
    sweep comparison needs (re-run the chosen combination as a plain backtest for the details).
    A failed combination is stored as a failed run with its error.
    """
    if not sweep_id or len(sweep_id) > 64:
        raise SweepError("sweep_id must be 1..64 characters")
    ids: list[int] = []
    for r in results:
        if r.outcome is not None and r.error is None:
            run_id = save_run(session, r.outcome, trigger="sweep", sweep_id=sweep_id)
        else:
            now = datetime.now(timezone.utc)
            run = BacktestRun(
                created_at=now,
                started_at=now,
                finished_at=now,
                status="failed" if r.error else "succeeded",
                trigger="sweep",
                sweep_id=sweep_id,
                params=params_record(r.params),
                metrics=r.metrics.model_dump(mode="json") if r.metrics else None,
                error=r.error,
            )
            session.add(run)
            session.flush()
            run_id = run.id
        r.run_id = run_id
        ids.append(run_id)
    return ids


# --- the table -------------------------------------------------------------------------------

SORT_KEYS = {
    "return": "total_return_pct",
    "total_return": "total_return_pct",
    "drawdown": "max_drawdown_pct",
    "max_dd": "max_drawdown_pct",
    "alpha": "alpha_vs_benchmark_pct",
}


def _sort_value(r: SweepResult, key: str) -> float | None:
    if key == "trades":
        return float(r.trade_count)
    if r.metrics is None:
        return None
    value = getattr(r.metrics, key)
    return float(value) if isinstance(value, (int, float, Decimal)) else None


def _num(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _param(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def ranked_table(results: Sequence[SweepResult], sort_by: str = "sharpe", top: int | None = None) -> str:
    """Results best first by `sort_by` (any numeric Metrics field, an alias such as "return",
    "alpha", "drawdown", or "trades"); higher is better, so the shallowest drawdown ranks first.
    Runs without that number and failed runs come last."""
    key = SORT_KEYS.get(sort_by, sort_by)
    if key != "trades" and key not in Metrics.model_fields:
        raise SweepError(f"cannot sort by {sort_by!r} (use a metric such as sharpe, total_return_pct, alpha)")
    names = list(results[0].overrides) if results else []
    ranked = sorted(
        results,
        key=lambda r: (r.error is not None, _sort_value(r, key) is None, -(_sort_value(r, key) or 0.0), r.index),
    )
    if top is not None:
        ranked = ranked[:top]
    rows = []
    for rank, r in enumerate(ranked, start=1):
        m = r.metrics
        rows.append(
            [
                rank,
                _num(m.total_return_pct) if m else "n/a",
                _num(m.sharpe) if m else "n/a",
                _num(m.max_drawdown_pct) if m else "n/a",
                _num(m.alpha_vs_benchmark_pct) if m else "n/a",
                r.trade_count if r.ok else "failed",
                *[_param(r.overrides.get(n)) for n in names],
            ]
        )
    headers = ["#", "return %", "Sharpe", "max DD %", "alpha pts", "trades", *names]
    return tabulate(rows, headers=headers, disable_numparse=True, stralign="right")
