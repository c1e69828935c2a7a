"""The `kevin` command. Thin: parses arguments, opens the app, calls the modules that do the work.

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
    from kevin_pipeline.db import migrate
    from kevin_pipeline.db.engine import make_engine, safe_url

    settings = load_settings()
    engine = make_engine(settings.resolved_database_url)
    try:
        if args.db_command == "upgrade":
            migrate.upgrade(engine, args.revision)
        elif args.db_command == "downgrade":
            migrate.downgrade(engine, args.revision)
        print(f"{safe_url(engine)}: at revision {migrate.current_revision(engine) or '(empty)'}"
              f" (head {migrate.head_revision()})")
    finally:
        engine.dispose()
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from kevin_pipeline.app import open_app
    from kevin_pipeline.ingest.importer import import_mentions_file
    from kevin_pipeline.ingest.parse import MentionFileError

    app = open_app()
    try:
        report = import_mentions_file(app, Path(args.path), fmt=args.format)
    except MentionFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        app.close()
    for rejected in report.rejected[: args.show_rejected]:
        print(f"rejected line {rejected.line}: {rejected.reason}", file=sys.stderr)
    if len(report.rejected) > args.show_rejected:
        print(f"... and {len(report.rejected) - args.show_rejected} more rejected rows", file=sys.stderr)
    print(report.summary())
    return 1 if report.rejected else 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from kevin_pipeline.demo import run_demo

    return run_demo(show_all=args.all)


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
    imp.set_defaults(func=_cmd_import)

    demo = sub.add_parser("demo", help="import the bundled sample and show what the strategy does with it")
    demo.add_argument("--all", action="store_true", help="print every decision, not only the first ones")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
