"""The `kevin` command. Thin: parses arguments, opens the runtime, calls the modules that do the work.

Exit codes: 0 success, 1 some input rows were rejected (valid ones kept), 2 cannot run at all
(unreadable file, bad settings, bad arguments).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from kevin_pipeline.settings import SettingsError, load_settings

log = logging.getLogger("kevin")


def _cmd_db(args: argparse.Namespace) -> int:
    from alembic.util import CommandError

    from kevin_pipeline.db import migrate
    from kevin_pipeline.db.engine import check_connection, make_engine, safe_url

    settings = load_settings()
    engine = make_engine(settings.resolved_database_url)
    try:
        check_connection(engine)
        try:
            if args.db_command == "upgrade":
                migrate.upgrade(engine, args.revision)
            elif args.db_command == "downgrade":
                migrate.downgrade(engine, args.revision)
        except CommandError as exc:  # e.g. an unknown revision
            print(f"error: db {args.db_command} {args.revision}: {exc}", file=sys.stderr)
            return 2
        print(f"{safe_url(engine)}: at revision {migrate.current_revision(engine) or '(empty)'}"
              f" (head {migrate.head_revision()})")
    finally:
        engine.dispose()
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from kevin_pipeline.runtime import open_runtime
    from kevin_pipeline.cli_ops import now_from, print_problems
    from kevin_pipeline.ingest.importer import import_mentions_file
    from kevin_pipeline.ingest.parse import MentionFileError

    try:
        now = now_from(args)  # the import clock: later publish times are rejected as typos
    except ValueError as exc:
        print(f"error: {exc}" if isinstance(exc, SettingsError) else f"error: --now {args.now!r}: {exc}",
              file=sys.stderr)
        return 2
    runtime = open_runtime()
    try:
        report = import_mentions_file(runtime, Path(args.path), fmt=args.format, now=now)
    except MentionFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        runtime.close()
    print_problems([f"rejected line {r.line}: {r.reason}" for r in report.rejected], args.show_rejected,
                   "rejected rows")
    print(report.summary())
    return 1 if report.rejected else 0


def _cmd_demo(args: argparse.Namespace) -> int:
    if args.quick:
        from kevin_pipeline.demo import run_demo

        return run_demo(show_all=args.all)
    from kevin_pipeline.defs.demo import format_demo, materialize_demo

    print(format_demo(materialize_demo()))
    return 0


def _parse_sets(pairs: Sequence[str]) -> dict[str, str]:
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


def _strategy_params(settings, overrides: dict[str, object]):  # type: ignore[no-untyped-def]
    from pydantic import ValidationError

    try:
        return settings.strategy_params(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'params'}: {e['msg']}" for e in exc.errors())
        raise SettingsError(f"invalid backtest parameters: {problems}") from None


def _cmd_backtest(args: argparse.Namespace) -> int:
    import json

    from kevin_pipeline.runtime import open_runtime
    from kevin_pipeline.cli_ops import report_inputs
    from kevin_pipeline.research import backtest as bt
    from kevin_pipeline.research.report import decision_table, metrics_table, top_trades_table

    settings = load_settings()
    params = _strategy_params(settings, _parse_sets(args.set))
    runtime = open_runtime(settings)
    try:
        import time

        last_report = [time.monotonic()]

        def progress(done: int, total: int) -> None:
            # Only a run long enough to wonder about reports progress (every 2 s, on stderr).
            if time.monotonic() - last_report[0] >= 2:
                last_report[0] = time.monotonic()
                print(f"backtest: session {done}/{total}", file=sys.stderr)

        outcome = bt.run_and_store(
            runtime, params, trigger="cli", store=not args.no_save,
            mentions_file=Path(args.mentions) if args.mentions else None,
            bars_file=Path(args.bars) if args.bars else None,
            start=args.start, end=args.end, progress=progress, on_inputs=report_inputs,
        )
    except bt.BacktestInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        runtime.close()

    if args.json:
        print(json.dumps(bt.outcome_json(outcome), default=str))
    else:
        print(decision_table(outcome, limit=None if args.all else 40))
        print()
        print(metrics_table(outcome))
        print()
        print(top_trades_table(outcome))
        saved = f"stored as backtest run #{outcome.run_id}" if outcome.run_id else "not stored (--no-save)"
        print(f"\nengine {outcome.engine_seconds:.3f} s; {saved}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kevin", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database schema migrations")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="apply migrations (default: to the newest)")
    up.add_argument("revision", nargs="?", default="head")
    down = db_sub.add_parser("downgrade", help="revert migrations (default: all of them)")
    down.add_argument("revision", nargs="?", default="base")
    db_sub.add_parser("current", help="show the schema revision")
    db.set_defaults(func=_cmd_db)

    imp = sub.add_parser("import-mentions", help="import mentions from a CSV, JSON or JSON Lines file")
    imp.add_argument("path")
    imp.add_argument("--format", choices=["csv", "json", "jsonl"], help="override the format the extension implies")
    imp.add_argument("--show-rejected", type=int, default=50, metavar="N", help="print at most N rejected rows")
    imp.add_argument("--now", help="import as of this ISO time with offset (default: the real clock); "
                     "rows published more than KEVIN_MAX_PUBLISH_AHEAD_MINUTES later are rejected")
    imp.set_defaults(func=_cmd_import)

    bt = sub.add_parser("backtest", help="replay the mentions through the strategy on daily bars")
    bt.add_argument("--mentions", metavar="FILE", help="mentions file (default: the mentions in the database)")
    bt.add_argument("--bars", metavar="FILE", help="bars as Parquet or CSV (default: the price_bars cache)")
    bt.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a strategy parameter")
    from kevin_pipeline.cli_ops import _date

    bt.add_argument("--start", type=_date, help="first publish date (New York) to trade")
    bt.add_argument("--end", type=_date, help="last session to simulate")
    bt.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    bt.add_argument("--no-save", action="store_true", help="do not store the run in the database")
    bt.add_argument("--all", action="store_true", help="print every decision")
    bt.set_defaults(func=_cmd_backtest)

    demo = sub.add_parser("demo", help="run the whole pipeline on the bundled sample (its own database) and summarise")
    demo.add_argument("--quick", action="store_true",
                      help="only import the sample into your database, backtest it and print each decision")
    demo.add_argument("--all", action="store_true", help="with --quick: print every decision, not only the first ones")
    demo.set_defaults(func=_cmd_demo)

    from kevin_pipeline.cli_ops import add_commands

    add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    from kevin_pipeline.brokers.base import BrokerError, ConfigurationError
    from kevin_pipeline.db.engine import DatabaseSetupError

    try:
        return int(args.func(args) or 0)
    except (SettingsError, ConfigurationError, DatabaseSetupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokerError as exc:
        print(f"error: the broker failed: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
