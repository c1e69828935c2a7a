"""`kevin backtest`, `sweep`, `replay`, `skill`, `demo`: proving the rules (and the channel) on history
before they trade."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from kevin_pipeline.cli.common import iso_date
from kevin_pipeline.settings import SettingsError, load_settings

if TYPE_CHECKING:
    from kevin_pipeline.runtime import Runtime


def parse_sets(pairs: Sequence[str]) -> dict[str, str]:
    """`--set NAME=VALUE` pairs as strategy-parameter overrides; an unknown name lists the known ones."""
    from kevin_pipeline.domain.params import StrategyParams

    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip().lower().removeprefix("kevin_")
        if not sep or not name:
            raise SettingsError(f"--set {pair!r}: expected name=value")
        if name not in StrategyParams.model_fields:
            known = ", ".join(sorted(StrategyParams.model_fields))
            raise SettingsError(f"--set {name}: unknown parameter (known: {known})")
        values[name] = value.strip()
    return values


def strategy_params(settings, overrides: dict[str, object]):  # type: ignore[no-untyped-def]
    """The settings' parameters with the overrides; a bad value is a SettingsError (exit 2), not a traceback."""
    from pydantic import ValidationError

    try:
        return settings.strategy_params(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'params'}: {e['msg']}" for e in exc.errors())
        raise SettingsError(f"invalid backtest parameters: {problems}") from None


def report_inputs(inputs) -> None:  # type: ignore[no-untyped-def]
    """Rejected mention rows and skipped bars on stderr (the first 20 of each)."""
    for r in inputs.rejected[:20]:
        print(f"rejected line {r.line}: {r.reason}", file=sys.stderr)
    for problem in inputs.bar_problems[:20]:
        print(f"skipped bar: {problem}", file=sys.stderr)


def load_run_inputs(runtime, params, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The mentions and bars of `kevin sweep` and `replay`: the database's, or the
    `--mentions`/`--bars` files (`research.backtest.load_inputs`), with rejected rows and skipped bars
    reported on stderr. Raises `BacktestInputError` for an unreadable file."""
    from kevin_pipeline.research import backtest as bt

    with runtime.transaction() as session:
        inputs = bt.load_inputs(
            session, params,
            mentions_file=Path(args.mentions) if getattr(args, "mentions", None) else None,
            bars_file=Path(args.bars) if getattr(args, "bars", None) else None,
            channel=getattr(args, "channel", None),
        )
    report_inputs(inputs)
    return inputs


def cmd_backtest(args: argparse.Namespace) -> int:
    """With `--no-save` and both files (`--mentions`, `--bars`) nothing is read from or written to
    the database, so none is opened (or created, or migrated)."""
    import time

    from kevin_pipeline.research import backtest as bt
    from kevin_pipeline.research.report import decision_table, metrics_table, top_trades_table

    settings = load_settings()
    params = strategy_params(settings, parse_sets(args.set))
    files_only = args.no_save and args.mentions and args.bars
    if files_only:
        opened: AbstractContextManager[Runtime | None] = nullcontext()
    else:
        from kevin_pipeline.runtime import open_runtime

        opened = open_runtime(settings)
    with opened as runtime:
        last_report = [time.monotonic()]

        def progress(done: int, total: int) -> None:
            # Only a run long enough to wonder about reports progress (every 2 s, on stderr).
            if time.monotonic() - last_report[0] >= 2:
                last_report[0] = time.monotonic()
                print(f"backtest: session {done}/{total}", file=sys.stderr)

        try:
            outcome = bt.run_and_store(
                runtime, params, trigger="cli", store=not args.no_save,
                mentions_file=Path(args.mentions) if args.mentions else None,
                bars_file=Path(args.bars) if args.bars else None,
                start=args.start, end=args.end, progress=progress, on_inputs=report_inputs,
                channel=args.channel,
            )
        except bt.BacktestInputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    if args.json:
        print(json.dumps(bt.outcome_json(outcome), default=str))
    else:
        print(decision_table(outcome, limit=None if args.all else 40))
        print()
        print(metrics_table(outcome))
        print()
        print(top_trades_table(outcome))
        saved = f"stored as backtest run #{outcome.run_id}" if outcome.run_id else "not stored (--no-save)"
        only = f"; the calls of channel {outcome.inputs.channel} only" if outcome.inputs.channel else ""
        print(f"\nengine {outcome.engine_seconds:.3f} s; {saved}{only}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from kevin_pipeline.research import backtest as bt
    from kevin_pipeline.research import sweep
    from kevin_pipeline.runtime import open_runtime

    settings = load_settings()
    try:
        grid = sweep.parse_grid(args.grid)
        combos = sweep.grid_combinations(settings.strategy_params(), grid)
    except sweep.SweepError as exc:
        raise SettingsError(str(exc)) from None
    with open_runtime(settings) as runtime:
        try:
            params = settings.strategy_params()
            inputs = load_run_inputs(runtime, params, args)
            book = bt.check_runnable(inputs, params, "sweep")

            def progress(done: int, total: int) -> None:
                print(f"sweep: {done}/{total} configurations", file=sys.stderr)

            results = sweep.run_sweep(inputs, combos, workers=args.workers, progress=progress, prices=book)
            sweep_id = None
            if not args.no_save:
                sweep_id = sweep.new_sweep_id()
                with runtime.transaction() as session:
                    sweep.store_sweep(session, results, sweep_id)
        except bt.BacktestInputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print(sweep.ranked_table(results, sort_by=args.sort))
    if sweep_id:
        print(f"stored as sweep {sweep_id} ({len(results)} runs)")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Exit 0: the live path and the backtest agree; 1: they differ; 2: nothing to prove (no
    mentions, no benchmark bars) or unreadable input -- a replay that proves nothing is not green."""
    from kevin_pipeline.research import backtest as bt
    from kevin_pipeline.research.replay import replay
    from kevin_pipeline.runtime import open_runtime

    settings = load_settings()
    params = settings.strategy_params()
    with open_runtime(settings) as runtime:
        try:
            inputs = load_run_inputs(runtime, params, args)
            book = bt.check_runnable(inputs, params, "replay")
        except bt.BacktestInputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    result = replay(inputs.mentions, book, params)
    if args.json:
        print(json.dumps(result.as_json()))
    else:
        print(f"backtest trades {len(result.backtest_trades)}, live-path trades {len(result.live_trades)}, "
              f"differences {len(result.differences)}")
        for line in result.differences:
            print(f"  {line}")
    return 0 if not result.differences else 1


def cmd_skill(args: argparse.Namespace) -> int:
    """Exit 2 when there is nothing to score (no mentions, of that channel or at all) or no bars
    for the benchmark: an empty table would read as "no skill"."""
    from kevin_pipeline.research.skill import SkillInputError, load_calls, skill_json, skill_report, skill_text
    from kevin_pipeline.runtime import open_runtime

    settings = load_settings()
    benchmark = settings.strategy_params().benchmark_symbol
    with open_runtime(settings) as runtime, runtime.sessions() as session:
        if load_calls(session, args.channel).empty:
            known = sorted(set(load_calls(session)["channel"])) if args.channel else []
            which = f" of channel {args.channel!r} (channels: {', '.join(known) or 'none'})" if args.channel else ""
            print(f"error: no mentions{which} to score: import them first (kevin import-mentions FILE)",
                  file=sys.stderr)
            return 2
        try:
            seed = {} if args.seed is None else {"seed": args.seed}
            report = skill_report(session, benchmark=benchmark, channel=args.channel, as_of=args.as_of, **seed)
        except SkillInputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print(json.dumps(skill_json(report)) if args.json else skill_text(report))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    if args.quick:
        from kevin_pipeline.demo import run_demo

        return run_demo(show_all=args.all)
    from kevin_pipeline.defs.demo import format_demo, materialize_demo

    print(format_demo(materialize_demo()))
    return 0


CHANNEL_HELP = ("only the stored calls of this channel: its id in `kevin channels list`, YouTube id, URL, "
                "@handle or name (an unknown one lists the channels)")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bt = sub.add_parser("backtest", help="replay the mentions through the strategy on daily bars")
    bt.add_argument("--mentions", metavar="FILE", help="mentions file (default: the mentions in the database)")
    bt.add_argument("--bars", metavar="FILE", help="bars as Parquet or CSV (default: the price_bars cache)")
    bt.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a strategy parameter")
    bt.add_argument("--start", type=iso_date, help="first publish date (New York) to trade")
    bt.add_argument("--end", type=iso_date, help="last session to simulate")
    bt.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    bt.add_argument("--no-save", action="store_true", help="do not store the run in the database")
    bt.add_argument("--all", action="store_true", help="print every decision")
    bt.add_argument("--channel", metavar="C", help=CHANNEL_HELP)
    bt.set_defaults(func=cmd_backtest)

    s = sub.add_parser("sweep", help="backtest every combination of a parameter grid")
    s.add_argument("--grid", action="append", required=True, metavar="NAME=V1,V2,...")
    s.add_argument("--workers", type=int, default=2)
    s.add_argument("--sort", default="sharpe", help="metric to rank by (default sharpe)")
    s.add_argument("--no-save", action="store_true")
    s.add_argument("--mentions", metavar="FILE", help="mentions file (default: the mentions in the database)")
    s.add_argument("--bars", metavar="FILE", help="bars as Parquet or CSV (default: the price_bars cache)")
    s.add_argument("--channel", metavar="C", help=CHANNEL_HELP)
    s.set_defaults(func=cmd_sweep)

    r = sub.add_parser("replay", help="drive the live path over history and compare it with the backtest")
    r.add_argument("--mentions", metavar="FILE")
    r.add_argument("--bars", metavar="FILE")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=cmd_replay)

    sk = sub.add_parser("skill", help="is each channel skilled? its calls scored against the benchmark, per channel")
    sk.add_argument("--channel", metavar="C", help="only this channel (default: every channel)")
    sk.add_argument("--json", action="store_true", help="print one JSON object (returns as fractions)")
    sk.add_argument("--as-of", type=iso_date, metavar="DATE", help="score with the bars up to DATE only")
    sk.add_argument("--seed", type=int, help="bootstrap seed (default: the fixed one, so results repeat)")
    sk.set_defaults(func=cmd_skill)

    demo = sub.add_parser("demo", help="run the whole pipeline on the bundled sample (its own database) and summarise")
    demo.add_argument("--quick", action="store_true",
                      help="only import the sample into your database, backtest it and print each decision")
    demo.add_argument("--all", action="store_true", help="with --quick: print every decision, not only the first ones")
    demo.set_defaults(func=cmd_demo)
