"""Performance bench: `python -m kevin_pipeline.bench` (what `make bench` runs).

Builds a DETERMINISTIC synthetic universe (numpy, fixed seed): N symbols x M NYSE sessions of daily
bars plus the benchmark "SPY", and K mentions spread over the period; then times the backtest
engine, the whole `kevin backtest --bars FILE --mentions FILE` process and a parameter sweep, and
prints every figure against its target (issue 15's numbers: one backtest <= 0.25 s of engine time,
the `kevin backtest` process <= 2 s and <= 500 MB at its peak, <= 0.10 s of CPU per sweep
configuration, a 1,000-configuration sweep <= 60 s). The machine may be shared: CPU figures are the
ones to compare across runs, wall figures say how loaded it was.

The bench is a list of sections (`BENCHES`), each a function `(BenchContext) -> list[Figure]`
that prints as it goes; later sections (decision latency, load) are added by appending to it.
Sections share the universe and anything expensive through the context.

    python -m kevin_pipeline.bench                 # 500 symbols x 1,260 sessions, 10,000 mentions, 100 configs
    python -m kevin_pipeline.bench --quick         # a small universe, for a smoke run
    python -m kevin_pipeline.bench --configs 1000  # the full sweep target, measured instead of extrapolated
    python -m kevin_pipeline.bench --only backtest
    python -m kevin_pipeline.bench --only latency  # dagster dev + daemon: mention committed -> order at the broker
    python -m kevin_pipeline.bench --only dash     # the dashboard on 25,000 calls: callbacks and first chart in Chromium
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from kevin_pipeline.domain.calendar import NY, nyse_calendar
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.research.synthetic import BENCHMARK, SEED, Universe, synthetic_universe

# Targets from the performance issues (seconds unless named otherwise).
TARGET_BACKTEST_ENGINE_S = 0.25
TARGET_CLI_BACKTEST_S = 2.0  # the whole `kevin backtest --bars FILE --mentions FILE` process
TARGET_CLI_PEAK_MB = 500.0  # its peak resident memory
TARGET_SWEEP_CPU_PER_CONFIG_S = 0.10
TARGET_SWEEP_1000_S = 60.0
TARGET_ORDER_LATENCY_P95_S = 10.0  # mention committed -> order at the broker, daemon running
TARGET_DASH_CALLBACK_P95_S = 0.3  # server time of every dashboard callback, p95 over page loads
TARGET_DASH_FIRST_CHART_S = 1.5  # navigation start -> first chart visible in Chromium

# --- configuration and results ------------------------------------------------------------------


@dataclass(frozen=True)
class BenchConfig:
    symbols: int = 500
    sessions: int = 1260
    mentions: int = 10_000
    configs: int = 100
    workers: int = 2
    seed: int = SEED
    latency_mentions: int = 30
    dash_loads: int = 8

    @classmethod
    def quick(cls, **overrides: Any) -> "BenchConfig":
        return cls(**{"symbols": 50, "sessions": 252, "mentions": 1_000, "configs": 10, "latency_mentions": 10,
                      "dash_loads": 3, **overrides})


@dataclass
class Figure:
    """One measured number; `target` is an upper bound (lower is better) when given."""

    section: str
    name: str
    value: float
    unit: str = "s"
    target: float | None = None
    note: str = ""

    @property
    def ok(self) -> bool | None:
        return None if self.target is None else self.value <= self.target

    def line(self) -> str:
        value = f"{self.value:,.3f} {self.unit}" if self.unit == "s" else f"{self.value:,.0f}{' ' + self.unit if self.unit else ''}"
        text = f"  {self.name:<44} {value:>16}"
        if self.target is not None:
            text += f"   target <= {self.target:g} {self.unit}: {'OK' if self.ok else 'MISSED'}"
        if self.note:
            text += f"   ({self.note})"
        return text


@dataclass
class BenchContext:
    config: BenchConfig
    out: Callable[[str], None] = print
    figures: list[Figure] = field(default_factory=list)
    cache: dict[str, Any] = field(default_factory=dict)

    def report(self, fig: Figure) -> Figure:
        self.figures.append(fig)
        self.out(fig.line())
        return fig

    def universe(self) -> Universe:
        if "universe" not in self.cache:
            c = self.config
            self.cache["universe"] = synthetic_universe(c.symbols, c.sessions, c.mentions, seed=c.seed)
        return self.cache["universe"]

    def book(self) -> Any:
        from kevin_pipeline.domain.prices import PriceBook

        if "book" not in self.cache:
            self.cache["book"] = PriceBook.from_frame(self.universe().bars)
        return self.cache["book"]


def sweep_grid(n: int) -> dict[str, list[str]]:
    """A grid of about `n` configurations over min_conviction x hold_sessions_weeks x stop_loss_pct
    (x take_profit_pct beyond 1,000). 100 gives the 5 x 5 x 4 grid."""
    if n == 100:
        return {
            "min_conviction": ["0.5", "0.6", "0.7", "0.8", "0.9"],
            "hold_sessions_weeks": ["5", "10", "15", "20", "30"],
            "stop_loss_pct": ["0.05", "0.08", "0.12", "0.15"],
        }
    grid = {
        "min_conviction": [f"{0.45 + 0.05 * i:.2f}" for i in range(10)],
        "hold_sessions_weeks": [str(v) for v in (3, 5, 8, 10, 12, 15, 20, 25, 30, 40)],
        "stop_loss_pct": [f"{0.03 + 0.015 * i:.3f}" for i in range(10)],
    }
    if n > 1000:
        grid["take_profit_pct"] = [f"{0.10 + 0.05 * i:.2f}" for i in range(-(-n // 1000))]
    return grid


def pick_configs(combos: list[StrategyParams], n: int) -> list[StrategyParams]:
    """`n` combinations spread evenly over the grid (not just its first corner)."""
    if n >= len(combos):
        return combos
    idx = np.linspace(0, len(combos) - 1, n).round().astype(int)
    return [combos[i] for i in idx]


# --- sections ------------------------------------------------------------------------------------


def bench_universe(ctx: BenchContext) -> list[Figure]:
    started = time.perf_counter()
    u = ctx.universe()
    seconds = time.perf_counter() - started
    n_sym = u.bars["symbol"].nunique()
    return [
        ctx.report(Figure("universe", "bars (symbols x sessions, incl. SPY)", len(u.bars), "rows",
                          note=f"{n_sym} symbols x {len(u.sessions)} sessions {u.sessions[0]}..{u.sessions[-1]}")),
        ctx.report(Figure("universe", "mentions", len(u.mentions), "calls")),
        ctx.report(Figure("universe", "generate universe", seconds)),
    ]


def bench_backtest(ctx: BenchContext) -> list[Figure]:
    from kevin_pipeline.domain.backtest import run_backtest
    from kevin_pipeline.domain.prices import PriceBook
    from kevin_pipeline.research.backtest import score

    u = ctx.universe()
    nyse_calendar()
    started = time.perf_counter()
    book = PriceBook.from_frame(u.bars)
    build = time.perf_counter() - started
    ctx.cache["book"] = book
    params = StrategyParams()
    started, cpu = time.perf_counter(), time.process_time()
    result = run_backtest(u.mentions, book, params)
    engine = time.perf_counter() - started
    metrics = score(result)
    total = time.perf_counter() - started
    cpu = time.process_time() - cpu
    ctx.cache["one_backtest_seconds"] = total
    warm = time.process_time()
    score(run_backtest(u.mentions, book, params))  # the same run again: Decimal bars and tick rows already made
    warm = time.process_time() - warm
    closed = metrics.trade_count if metrics else 0
    return [
        ctx.report(Figure("backtest", "PriceBook build", build, note=f"{len(u.bars):,} bars -> Decimal")),
        ctx.report(Figure("backtest", "one backtest: engine + metrics (CPU)", cpu, target=TARGET_BACKTEST_ENGINE_S,
                          note=f"wall: run_backtest {engine:.3f} s + metrics {total - engine:.3f} s; "
                               f"the first run on a new PriceBook")),
        ctx.report(Figure("backtest", "the same backtest again (CPU)", warm,
                          note="bars already converted: what each run of a sweep costs, with its audit rows")),
        ctx.report(Figure("backtest", "trades", len(result.trades), "",
                          note=f"{closed} closed; return {metrics.total_return_pct:.2f} %" if metrics else "no metrics")),
    ]


def bench_sweep(ctx: BenchContext) -> list[Figure]:
    from kevin_pipeline.research.backtest import BacktestInputs
    from kevin_pipeline.research.sweep import grid_combinations, run_sweep

    c = ctx.config
    u = ctx.universe()
    book = ctx.book()
    combos = pick_configs(grid_combinations(StrategyParams(), sweep_grid(c.configs)), c.configs)
    inputs = BacktestInputs(mentions=u.mentions, bars=u.bars, source="bench")
    done = {"n": 0}

    def progress(n: int, total: int) -> None:
        done["n"] = n
        if n < total and n % max(1, total // 4) == 0:
            ctx.out(f"    ... {n}/{total} configurations ({time.perf_counter() - started:.1f} s)")

    started = time.perf_counter()
    results = run_sweep(inputs, combos, workers=c.workers, progress=progress, prices=book)
    wall = time.perf_counter() - started
    failed = [r for r in results if r.error]
    engine_sum = sum(r.engine_seconds for r in results)
    cpu_mean = sum(r.cpu_seconds for r in results) / len(results)
    per_1000 = wall / len(combos) * 1000
    figs = [
        ctx.report(Figure("sweep", f"sweep of {len(combos)} configurations", wall,
                          note=f"{c.workers} workers, {engine_sum / wall:.2f} engine-s per wall-s"
                               + (f", {len(failed)} FAILED: {failed[0].error}" if failed else ""))),
    ]
    if len(combos) == 1000:
        figs.append(ctx.report(Figure("sweep", "1,000-configuration sweep (measured)", wall, target=TARGET_SWEEP_1000_S)))
    else:
        figs.append(ctx.report(Figure("sweep", "1,000-configuration sweep (extrapolated)", per_1000,
                                      target=TARGET_SWEEP_1000_S, note=f"{wall / len(combos):.3f} s per configuration")))
    # Wall time suffers when other work shares the cores; CPU time per configuration does not.
    figs.append(ctx.report(Figure("sweep", "CPU per configuration (mean, in a worker)", cpu_mean,
                                  target=TARGET_SWEEP_CPU_PER_CONFIG_S,
                                  note=f"1,000 configs / {c.workers} workers on idle cores ~ {cpu_mean * 1000 / c.workers:,.0f} s")))
    return figs


def bench_cli(ctx: BenchContext) -> list[Figure]:
    """The whole `kevin backtest --bars FILE --mentions FILE --no-save` process on the universe
    written to a Parquet and a CSV file: start-up, imports, loading and validating both files, the
    run and the printed report. Its own CPU time and peak resident memory come from `os.wait4`."""
    import os
    import subprocess
    import tempfile
    from pathlib import Path

    u = ctx.universe()
    with tempfile.TemporaryDirectory() as tmp:
        bars_file, mentions_file = Path(tmp) / "bars.parquet", Path(tmp) / "mentions.csv"
        u.bars.to_parquet(bars_file, index=False)
        pd.DataFrame(
            {
                "video_id": [m.video_id for m in u.mentions],
                "published_at": [m.published_at.isoformat() for m in u.mentions],
                "symbol": [m.symbol for m in u.mentions],
                "action": [m.action.value for m in u.mentions],
                "conviction": [str(m.conviction) for m in u.mentions],
                "time_horizon": [m.horizon.value for m in u.mentions],
            }
        ).to_csv(mentions_file, index=False)
        argv = [sys.executable, "-m", "kevin_pipeline.cli", "backtest", "--bars", str(bars_file),
                "--mentions", str(mentions_file), "--no-save"]
        log = Path(tmp) / "out.txt"
        with log.open("wb") as sink:
            started = time.perf_counter()
            # run in the temporary directory: its state (a fresh SQLite database) goes to ./.kevin there
            child = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT, cwd=tmp)
            _, status, usage = os.wait4(child.pid, 0)
            wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        output = log.read_text(errors="replace")
    if child.returncode != 0:
        ctx.out("    ! " + "\n    ! ".join(output.strip().splitlines()[-10:]))
    engine = next((line.split()[1] for line in output.splitlines() if line.startswith("engine ")), "?")
    cpu = usage.ru_utime + usage.ru_stime
    peak_mb = usage.ru_maxrss / 1024  # kilobytes on Linux
    failed = f"FAILED (exit {child.returncode}); " if child.returncode else ""
    # CPU, not wall: the process is single-threaded, so on an idle machine the two agree, and on a
    # shared one only the CPU figure says anything about kevin
    return [
        ctx.report(Figure("cli", "kevin backtest --bars --mentions (process CPU)", cpu, target=TARGET_CLI_BACKTEST_S,
                          note=f"{failed}wall {wall:.2f} s; engine {engine} s; {len(u.mentions):,} mentions from CSV, bars from Parquet")),
        ctx.report(Figure("cli", "kevin backtest peak memory (max RSS)", peak_mb, unit="MB", target=TARGET_CLI_PEAK_MB)),
    ]


def bench_load(ctx: BenchContext) -> list[Figure]:
    """All mentions arrive at once and go through the order path in sensor-sized batches, on a
    fresh SQLite app database with the simulated broker: how many decisions per second, and is
    every mention decided exactly once?"""
    import tempfile
    from datetime import timedelta
    from pathlib import Path

    from sqlalchemy import func, select

    from kevin_pipeline.runtime import open_runtime
    from kevin_pipeline.db.models import DecisionRecord, MentionRecord
    from kevin_pipeline.db.store import store_mentions
    from kevin_pipeline.domain.mention_rows import MentionRow
    from kevin_pipeline.market_data.cache import store_bars
    from kevin_pipeline.settings import Settings
    from kevin_pipeline.trading import order_path
    from kevin_pipeline.trading.context import trading_context
    from kevin_pipeline.trading.controls import set_trading_enabled

    u = ctx.universe()
    n = len(u.mentions)
    with tempfile.TemporaryDirectory() as tmp:
        runtime = open_runtime(Settings(state_dir=Path(tmp), enable_trading=True))
        try:
            symbols = {m.symbol for m in u.mentions} | {BENCHMARK}
            with runtime.transaction() as s:
                set_trading_enabled(s, True)
                store_bars(s, u.bars[u.bars["symbol"].isin(symbols) & (u.bars["date"] >= pd.Timestamp(u.sessions[-30]))], "bench")
            now = max(m.published_at for m in u.mentions) + timedelta(seconds=5)
            rows = [MentionRow(line=i + 1, video_id=f"load{i}", published_at=now - timedelta(minutes=30), symbol=m.symbol,
                               action=m.action, conviction=m.conviction, horizon=m.horizon)
                    for i, m in enumerate(u.mentions)]
            with runtime.transaction() as s:
                store_mentions(s, rows, "bench")
            with runtime.sessions() as s:
                ids = list(s.scalars(select(MentionRecord.id).order_by(MentionRecord.id)))
            tctx = trading_context(runtime)
            started = time.perf_counter()
            for i in range(0, len(ids), 500):
                order_path.process_new_mentions(tctx, now, ids[i : i + 500])
                if i and i % 2000 == 0:
                    ctx.out(f"    ... {i:,}/{n:,} mentions ({time.perf_counter() - started:.1f} s)")
            wall = time.perf_counter() - started
            with runtime.sessions() as s:
                decided = s.scalar(select(func.count(func.distinct(DecisionRecord.mention_id))))
                total = s.scalar(select(func.count()).select_from(DecisionRecord))
        finally:
            runtime.close()
    return [
        ctx.report(Figure("load", f"{n:,} mentions at once through the order path", wall,
                          note=f"batches of 500; decided {decided:,} distinct / {total:,} rows")),
        ctx.report(Figure("load", "mentions decided per second", n / wall, unit="/s")),
    ]


def bench_latency(ctx: BenchContext) -> list[Figure]:
    """`dagster dev` (webserver + daemon) on a fresh app database and DAGSTER_HOME; mentions committed
    one every 2 s; latency = order accepted by the (simulated) broker - mention committed. Bounded
    (about 1.5 min start-up + 2 s a mention + 30 s); the dagster process group is always stopped.
    See kevin_pipeline/bench/latency.py."""
    import math

    from kevin_pipeline.bench.latency import percentile, run_latency_bench

    n = ctx.config.latency_mentions
    r = run_latency_bench(n, out=ctx.out)
    for line in r.diagnostics[:40]:
        ctx.out(f"    ! {line}")
    figs: list[Figure] = []
    if r.startup_s is not None:
        figs.append(ctx.report(Figure("latency", "dagster dev: webserver answering", r.startup_s)))
    if r.warmup is not None and math.isfinite(r.warmup.latency):
        figs.append(ctx.report(Figure("latency", "warm-up mention -> order (first run)", r.warmup.latency)))
    leftover = f"; {r.leftover_processes} dagster process(es) LEFT RUNNING" if r.leftover_processes else ""
    if r.failure or not r.samples:
        figs.append(ctx.report(Figure("latency", "mention committed -> order at broker, p95", math.inf,
                                      target=TARGET_ORDER_LATENCY_P95_S,
                                      note=f"FAILED: {r.failure or 'no mention measured'}{leftover}")))
        return figs
    lat = [s.latency for s in r.samples]
    to_run = [s.to_decision for s in r.samples if s.decided_at is not None]
    missing = len(r.missing)
    spread = f"{len(r.samples)} mentions, one every {r.interval_s:g} s"
    if missing:
        spread += f", {missing} WITHOUT AN ORDER (counted as inf)"
    figs += [
        ctx.report(Figure("latency", "mention committed -> order at broker, p50", percentile(lat, 50), note=spread)),
        ctx.report(Figure("latency", "mention committed -> order at broker, p95", percentile(lat, 95),
                          target=TARGET_ORDER_LATENCY_P95_S, note="nearest rank" + leftover)),
        ctx.report(Figure("latency", "mention committed -> order at broker, max", max(lat))),
    ]
    if to_run:
        figs.append(ctx.report(Figure("latency", "  of which commit -> run decides, p50", percentile(to_run, 50),
                                      note=f"sensor tick + queue + run start; p95 {percentile(to_run, 95):.2f} s")))
        figs.append(ctx.report(Figure("latency", "  of which decision -> broker accepted, p50",
                                      percentile([s.latency - s.to_decision for s in r.measured], 50))))
    figs.append(ctx.report(Figure("latency", "orders at the broker", len(r.measured), "",
                                  note=f"of {len(r.samples)} mentions")))
    return figs


def bench_dash(ctx: BenchContext) -> list[Figure]:
    """The dashboard on the bench database (25,000 calls over 5 years, 500 symbols, 3 channels, 20
    runs, a paper account; built once under the state dir, see bench/dash_scale.py): per page, the
    server time of every callback and navigation -> first chart in Chromium, over `dash_loads`
    loads, once the app's start-up warm-up has filled its caches (its duration is printed). The
    first load of each page is printed apart; p50/p95 are over the loads after it."""
    from kevin_pipeline.bench.dash_pages import FLOOR, FLOOR_FULL_PLOTLY, measure_pages
    from kevin_pipeline.bench import dash_scale as scale
    from kevin_pipeline.bench.latency import percentile
    from kevin_pipeline.settings import load_settings

    loads = max(2, ctx.config.dash_loads)
    ctx.out(f"  {scale.MENTIONS:,} mentions over {scale.SESSIONS:,} sessions, {scale.SYMBOLS} symbols, {len(scale.CHANNELS)} channels, "
            f"{len(scale.run_params())} runs; {loads} loads per page (the first cold)")
    runtime = scale.open_bench_runtime(scale.ensure_dash_db(load_settings().state_dir, ctx.out))
    try:
        pages = measure_pages(runtime, loads, ctx.out)
    finally:
        runtime.close()
    floors = {FLOOR: "floor: a bare Dash page with one chart on the dashboard's Plotly, first chart p95 (no page is faster)",
              FLOOR_FULL_PLOTLY: "floor on Dash's full plotly.js (the dashboard before its partial bundle), p95"}
    figs: list[Figure] = []
    for p in pages:
        warm = p.first_chart[1:]
        if p.path in floors:  # no target: what this browser and machine need for any Dash chart
            figs.append(ctx.report(Figure("dash", floors[p.path], percentile(warm, 95),
                                          note=f"p50 {percentile(warm, 50):.2f} s (first visits); returning visitor p50 "
                                               f"{percentile(p.returning, 50):.2f} s")))
            continue
        figs.append(ctx.report(Figure("dash", f"{p.path} first chart, p95", percentile(warm, 95), target=TARGET_DASH_FIRST_CHART_S,
                                      note=f"p50 {percentile(warm, 50):.2f} s over {len(warm)} loads, each a first visit "
                                           f"(fresh browser context); first load {p.first_chart[0]:.2f} s")))
        if p.returning:
            figs.append(ctx.report(Figure("dash", f"{p.path} first chart, returning visitor, p95", percentile(p.returning, 95),
                                          note=f"p50 {percentile(p.returning, 50):.2f} s over {len(p.returning)} loads "
                                               "(one browser context: scripts cached, as a person's browser keeps them)")))
        keys = sorted({k for load in p.callbacks for k in load})
        for key in keys:
            samples = [s for load in p.callbacks[1:] for s in load.get(key, [])]
            cold = sum(p.callbacks[0].get(key, []))
            name = f"{p.path} {key}"
            figs.append(ctx.report(Figure("dash", name, percentile(samples, 95) if samples else cold,
                                          target=TARGET_DASH_CALLBACK_P95_S,
                                          note=f"p95; p50 {percentile(samples, 50):.3f} s, n={len(samples)}; first load {cold:.3f} s"
                                          if samples else "cold load only")))
    return figs


Bench = Callable[[BenchContext], list[Figure]]

# Sections run in this order. Append later ones (decision latency, load) here.
BENCHES: list[tuple[str, Bench]] = [
    ("universe", bench_universe),
    ("backtest", bench_backtest),
    ("cli", bench_cli),
    ("sweep", bench_sweep),
    ("load", bench_load),
    ("dash", bench_dash),
    ("latency", bench_latency),  # starts dagster dev: last
]


def _print(line: str) -> None:
    print(line, flush=True)


def run(config: BenchConfig, only: list[str] | None = None, out: Callable[[str], None] = _print) -> BenchContext:
    ctx = BenchContext(config=config, out=out)
    out(
        f"kevin bench: {config.symbols} symbols x {config.sessions} sessions, {config.mentions:,} mentions, "
        f"{config.configs} sweep configurations on {config.workers} workers (seed {config.seed})"
    )
    if (config.symbols, config.sessions, config.mentions) != (500, 1260, 10_000):
        out("  (not the issue's 500 x 1,260 / 10,000 universe: compare the figures with the targets loosely)")
    for name, fn in BENCHES:
        if only and name not in only:
            continue
        out(f"[{name}]")
        fn(ctx)
    missed = [f for f in ctx.figures if f.ok is False]
    out(f"targets: {sum(1 for f in ctx.figures if f.ok)} met, {len(missed)} missed")
    return ctx


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kevin_pipeline.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small universe (50 symbols x 252 sessions, 1,000 mentions, 10 configs)")
    parser.add_argument("--configs", type=int, help="sweep configurations (default 100; 10 with --quick)")
    parser.add_argument("--symbols", type=int, help="symbols in the universe")
    parser.add_argument("--sessions", type=int, help="NYSE sessions of bars")
    parser.add_argument("--mentions", type=int, help="mentions")
    parser.add_argument("--workers", type=int, default=2, help="sweep worker processes (default 2)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--latency-mentions", type=int, help="mentions in the latency section (default 30; 10 with --quick)")
    parser.add_argument("--dash-loads", type=int, help="page loads per dashboard page (default 8; 3 with --quick)")
    parser.add_argument("--only", action="append", choices=[n for n, _ in BENCHES], help="run only this section (repeatable)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    overrides = {
        k: v
        for k, v in {
            "configs": args.configs,
            "symbols": args.symbols,
            "sessions": args.sessions,
            "mentions": args.mentions,
            "workers": args.workers,
            "seed": args.seed,
            "latency_mentions": args.latency_mentions,
            "dash_loads": args.dash_loads,
        }.items()
        if v is not None
    }
    for k in ("configs", "symbols", "sessions", "mentions", "workers", "latency_mentions", "dash_loads"):
        if k in overrides and overrides[k] < 1:
            parser.error(f"--{k.replace('_', '-')} must be >= 1")
    config = BenchConfig.quick(**overrides) if args.quick else BenchConfig(**overrides)
    ctx = run(config, only=args.only)
    return 1 if args.strict and any(f.ok is False for f in ctx.figures) else 0

