"""`kevin db`, `kevin import-mentions`, `kevin prices`: getting the schema, the calls and the bars in."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kevin_pipeline.cli.common import iso_date, now_from, print_problems
from kevin_pipeline.settings import SettingsError, load_settings


def cmd_db(args: argparse.Namespace) -> int:
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


def cmd_import_mentions(args: argparse.Namespace) -> int:
    from kevin_pipeline.ingest.importer import import_mentions_file
    from kevin_pipeline.ingest.parse import MentionFileError
    from kevin_pipeline.runtime import open_runtime

    try:
        now = now_from(args)  # the import clock: later publish times are rejected as typos
    except ValueError as exc:
        print(f"error: {exc}" if isinstance(exc, SettingsError) else f"error: --now {args.now!r}: {exc}",
              file=sys.stderr)
        return 2
    with open_runtime() as runtime:
        try:
            report = import_mentions_file(runtime, Path(args.path), fmt=args.format, now=now)
        except MentionFileError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print_problems([f"rejected line {r.line}: {r.reason}" for r in report.rejected], args.show_rejected,
                   "rejected rows")
    print(report.summary())
    return 1 if report.rejected else 0


def cmd_prices_fetch(args: argparse.Namespace) -> int:
    from kevin_pipeline.market_data.factory import price_source
    from kevin_pipeline.market_data.source import PriceSourceError, fetch_prices
    from kevin_pipeline.runtime import open_runtime

    settings = load_settings()
    symbols = sorted({s.strip().upper() for part in args.symbols for s in part.split(",") if s.strip()})
    with open_runtime(settings) as runtime:
        try:
            source = price_source(settings, args.source)
            assert source is not None  # --source offers bundled and alpaca, never the cache alone
            rows = fetch_prices(runtime, symbols, args.start, args.end, source)
        except PriceSourceError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print(f"stored {rows} bars for {', '.join(symbols)} ({args.start} .. {args.end}) from {args.source}")
    return 0


def cmd_prices_import(args: argparse.Namespace) -> int:
    """Exit 0: every row stored; 1: some rows skipped (each named on stderr), the rest stored;
    2: the file cannot be read at all."""
    from kevin_pipeline.research.backtest import BacktestInputError
    from kevin_pipeline.research.price_import import import_bars_file
    from kevin_pipeline.runtime import open_runtime

    with open_runtime(load_settings()) as runtime:
        try:
            with runtime.transaction() as session:
                report = import_bars_file(session, Path(args.path))
        except BacktestInputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print_problems([f"skipped {problem}" for problem in report.skipped], args.show_skipped, "skipped rows")
    print(report.summary())
    return 1 if report.stored < report.rows else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = sub.add_parser("db", help="database schema migrations")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="apply migrations (default: to the newest)")
    up.add_argument("revision", nargs="?", default="head")
    down = db_sub.add_parser("downgrade", help="revert migrations (default: all of them)")
    down.add_argument("revision", nargs="?", default="base")
    db_sub.add_parser("current", help="show the schema revision")
    db.set_defaults(func=cmd_db)

    imp = sub.add_parser("import-mentions", help="import mentions from a CSV, JSON or JSON Lines file")
    imp.add_argument("path")
    imp.add_argument("--format", choices=["csv", "json", "jsonl"], help="override the format the extension implies")
    imp.add_argument("--show-rejected", type=int, default=50, metavar="N", help="print at most N rejected rows")
    imp.add_argument("--now", help="import as of this ISO time with offset (default: the real clock); "
                     "rows published more than KEVIN_MAX_PUBLISH_AHEAD_MINUTES later are rejected")
    imp.set_defaults(func=cmd_import_mentions)

    pr = sub.add_parser("prices", help="price data")
    prs = pr.add_subparsers(dest="prices_command", required=True)
    f = prs.add_parser("fetch", help="fetch daily bars into the cache (Alpaca needs network and keys)")
    f.add_argument("symbols", nargs="+", help="symbols, space or comma separated")
    f.add_argument("--start", type=iso_date, required=True)
    f.add_argument("--end", type=iso_date, required=True)
    f.add_argument("--source", choices=["alpaca", "bundled"], default="alpaca")
    f.set_defaults(func=cmd_prices_fetch)
    pi = prs.add_parser("import", help="load daily bars from a CSV or Parquet file into the cache (as --bars reads it)")
    pi.add_argument("path", metavar="FILE", help="columns symbol, date, open, high, low, close[, volume]")
    pi.add_argument("--show-skipped", type=int, default=50, metavar="N", help="print at most N skipped rows")
    pi.set_defaults(func=cmd_prices_import)
