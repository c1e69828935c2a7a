"""What several `kevin` command groups share: the injected clock, the date argument, and how
problem rows are printed."""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, timezone

from kevin_pipeline.settings import SettingsError


def now_from(args: argparse.Namespace) -> datetime:
    """The injected clock: `--now ISO` (tests, replays of a past day) or the real UTC time."""
    if getattr(args, "now", None):
        try:
            t = datetime.fromisoformat(args.now)
        except ValueError:
            raise SettingsError(f"--now {args.now!r}: not an ISO time, e.g. 2024-03-05T14:35:00+00:00") from None
        if t.tzinfo is None:
            raise SettingsError(f"--now {args.now!r}: give a UTC offset, e.g. 2024-03-05T14:35:00+00:00")
        return t.astimezone(timezone.utc)
    return datetime.now(timezone.utc)


def iso_date(text: str) -> date:
    """An argparse `type=` for YYYY-MM-DD (a bad value is a usage error, exit 2)."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from None


def print_problems(lines: list[str], limit: int, what: str) -> None:
    """The first `limit` problem lines on stderr, then how many more there were (a file with
    thousands of bad rows must not bury the summary)."""
    for line in lines[:limit]:
        print(line, file=sys.stderr)
    if len(lines) > limit:
        print(f"... and {len(lines) - limit} more {what}", file=sys.stderr)
