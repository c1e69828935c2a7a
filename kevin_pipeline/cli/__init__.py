"""The `kevin` command. Thin: parses arguments, opens the runtime, calls the modules that do the work.

Exit codes: 0 success, 1 some input rows were rejected (valid ones kept), 2 cannot run at all
(unreadable file, bad settings, bad arguments).

The commands live in one module per thing a user does (`data`, `videos`, `research`, `trading`,
`serve`, `ops`); each registers its own subcommands, so a new group is one module and one entry in
`GROUPS`.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Sequence

from kevin_pipeline.cli import data, ops, research, serve, trading, videos
from kevin_pipeline.logs import configure_logging
from kevin_pipeline.settings import SettingsError, load_settings

GROUPS = (data, videos, research, trading, serve, ops)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kevin", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(sub)
    return parser


# The collector's first-generation threshold for the `kevin` process (Python's default: 700). A
# command builds tens of thousands of objects that live until it exits (parsed rows, bars, a
# backtest's decisions); at 700 the collector walks them hundreds of times, about a tenth of a
# `kevin backtest`'s CPU. Collection still runs, so reference cycles are still freed.
GC_THRESHOLD = 50_000


def main(argv: Sequence[str] | None = None) -> int:
    """`argv` None: the process's own command line (the `kevin` script, `python -m
    kevin_pipeline.cli`), so the process is ours and its collector is tuned (`GC_THRESHOLD`); a
    caller passing `argv` (tests, other code in a long-lived process) keeps its own."""
    if argv is None:
        gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError:
        settings = None  # logs in plain text; the command itself reports the bad setting (exit 2)
    configure_logging(settings, args.verbose)
    from kevin_pipeline.brokers.base import BrokerError, ConfigurationError
    from kevin_pipeline.db.errors import DatabaseSetupError

    try:
        return int(args.func(args) or 0)
    except (SettingsError, ConfigurationError, DatabaseSetupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokerError as exc:
        print(f"error: the broker failed: {exc.message}", file=sys.stderr)
        return 2
