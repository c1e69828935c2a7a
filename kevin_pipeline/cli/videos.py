"""`kevin channels`, `kevin videos`, `kevin extract`, `kevin extract-eval`: from videos to calls.

The channels kevin follows, the videos it knows of (and whether each has a transcript yet), and a
look at what the configured extractor reads in one caption file or in the labelled set -- the
last two store nothing, so a person can try the extractor before trusting it with trades.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tabulate import tabulate

from kevin_pipeline.cli.common import now_from
from kevin_pipeline.settings import SettingsError, load_settings

STATUSES = ("waiting", "fetched", "failed", "none")


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _aware(text: str | None, flag: str) -> datetime | None:
    """An ISO time with a UTC offset (a naive one would guess the zone of every call in the video)."""
    if text is None:
        return None
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise SettingsError(f"{flag} {text!r}: not an ISO time, e.g. 2024-03-05T14:35:00+00:00") from None
    if t.tzinfo is None:
        raise SettingsError(f"{flag} {text!r}: give a UTC offset, e.g. 2024-03-05T14:35:00-05:00")
    return t.astimezone(timezone.utc)


def _when(t: datetime | None) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M") if t else "-"


# --- channels --------------------------------------------------------------------------------


def cmd_channels_add(args: argparse.Namespace) -> int:
    from kevin_pipeline.db.videos import ChannelError, add_channel
    from kevin_pipeline.domain.youtube import YouTubeRefError, parse_channel_ref
    from kevin_pipeline.runtime import open_runtime

    try:
        ref = parse_channel_ref(args.channel)
    except YouTubeRefError as exc:
        return _error(str(exc))
    with open_runtime(load_settings()) as runtime:
        try:
            with runtime.transaction() as session:
                added = add_channel(session, ref, name=args.name, now=now_from(args))
                c = added.channel
                line = (f"{'added' if added.created else 'updated'} channel {c.id} {c.name}: "
                        f"{c.youtube_channel_id or '(no channel id yet)'} {c.handle or ''}".rstrip())
        except ChannelError as exc:
            return _error(str(exc))
    print(line)
    if added.note:
        print(f"note: {added.note}")
    return 0


def cmd_channels_list(args: argparse.Namespace) -> int:
    from kevin_pipeline.db.videos import channel_summaries
    from kevin_pipeline.runtime import open_runtime

    with open_runtime(load_settings()) as runtime, runtime.sessions() as session:
        rows = [
            [s.channel.id, s.channel.youtube_channel_id or "-", s.channel.handle or "-", s.channel.name,
             _when(s.channel.added_at), "yes" if s.channel.active else "no (removed)", s.videos, s.calls]
            for s in channel_summaries(session)
        ]
    if not rows:
        print("no channels yet: kevin channels add https://www.youtube.com/channel/UC… (or @handle)")
        return 0
    print(tabulate(rows, headers=["id", "youtube id", "handle", "name", "added (UTC)", "active", "videos", "calls"],
                   disable_numparse=True))
    return 0


def cmd_channels_remove(args: argparse.Namespace) -> int:
    from kevin_pipeline.db.videos import channel_summaries, known_channels_text, lookup_channel, remove_channel
    from kevin_pipeline.runtime import open_runtime

    with open_runtime(load_settings()) as runtime, runtime.transaction() as session:
        channel = lookup_channel(session, args.channel)
        if channel is None:
            return _error(f"unknown channel {args.channel!r} (channels: {known_channels_text(session)})")
        remove_channel(session, channel.name)
        summary = next(s for s in channel_summaries(session) if s.channel.id == channel.id)
        line = (f"removed channel {channel.id} {channel.name}: no more feed reads or transcript fetches; "
                f"kept its {summary.videos} videos and {summary.calls} calls (`kevin channels add` follows it again)")
    print(line)
    return 0


# --- videos ----------------------------------------------------------------------------------


def _channel_or_error(session: Any, text: str | None) -> tuple[Any, str | None]:
    """(the channel `--channel` names or None when not given, the error when it names none)."""
    from kevin_pipeline.db.videos import known_channels_text, lookup_channel

    if text is None:
        return None, None
    channel = lookup_channel(session, text)
    if channel is None:
        return None, f"unknown channel {text!r} (channels: {known_channels_text(session)})"
    return channel, None


def cmd_videos_add(args: argparse.Namespace) -> int:
    from kevin_pipeline.runtime import open_runtime
    from kevin_pipeline.videos.collect import add_video_from_url
    from kevin_pipeline.videos.source import VideoSourceError

    published_at = _aware(args.published_at, "--published-at")
    assert published_at is not None  # required by the parser
    with open_runtime(load_settings()) as runtime:
        try:
            with runtime.transaction() as session:
                channel, problem = _channel_or_error(session, args.channel)
                if problem:
                    return _error(problem)
                collected = add_video_from_url(
                    session, args.url, published_at=published_at, channel=channel.name if channel else None,
                    now=now_from(args), title=args.title,
                )
        except VideoSourceError as exc:
            return _error(str(exc))
    if collected.created:
        print(f"added video {collected.created[0]} (published {_when(published_at)} UTC): transcript waiting")
    else:
        print(f"video {args.url} was already stored: kept as it was (its publish time never moves)")
    return 0


def cmd_videos_list(args: argparse.Namespace) -> int:
    from kevin_pipeline.db.videos import list_videos
    from kevin_pipeline.runtime import open_runtime

    with open_runtime(load_settings()) as runtime, runtime.sessions() as session:
        channel, problem = _channel_or_error(session, args.channel)
        if problem:
            return _error(problem)
        videos = list_videos(session, channel_id=channel.id if channel else None, status=args.status, limit=args.limit)
        rows = [
            [v.video_id, v.channel.name if v.channel else "-", _when(v.published_at), (v.title or "")[:40],
             v.transcript_status, v.transcript_attempts,
             _when(v.next_attempt_at) if v.transcript_status == "waiting" else "-", v.transcript_reason or ""]
            for v in videos
        ]
    if not rows:
        print("no videos" + (" matching the filter" if args.channel or args.status else " yet"))
        return 0
    print(tabulate(rows, headers=["video", "channel", "published (UTC)", "title", "transcript", "tries",
                                  "next try (UTC)", "reason"], disable_numparse=True))
    return 0


# --- extraction ------------------------------------------------------------------------------


def cmd_extract(args: argparse.Namespace) -> int:
    from kevin_pipeline.extraction.factory import configured_extractor
    from kevin_pipeline.extraction.from_files import extract_file
    from kevin_pipeline.extraction.models import ExtractionError
    from kevin_pipeline.transcripts.models import TranscriptFileError

    published_at = _aware(args.published_at, "--published-at")
    extractor = configured_extractor(load_settings())
    try:
        calls = extract_file(args.path, extractor)
    except TranscriptFileError as exc:
        return _error(f"cannot read {exc.path}: {exc.problem}")
    except ExtractionError as exc:
        return _error(f"{args.path}: the {extractor.name} extractor failed: {exc}")
    if published_at is not None:
        calls = [{**c, "published_at": published_at.isoformat()} for c in calls]
    if args.json:
        print(json.dumps(calls))
        return 0
    when = f", published {_when(published_at)} UTC" if published_at else ""
    print(f"{len(calls)} calls in {args.path}{when} (extractor {extractor.name} {extractor.version}; nothing stored)")
    if calls:
        rows = [[c["symbol"], c["action"], f"{c['conviction']:.2f}", c["horizon"],
                 "-" if c["start_seconds"] is None else f"{c['start_seconds']:.1f}", c["quote"][:70]] for c in calls]
        print(tabulate(rows, headers=["symbol", "action", "conviction", "horizon", "at (s)", "quote"],
                       disable_numparse=True))
    return 0


def cmd_extract_eval(args: argparse.Namespace) -> int:
    from kevin_pipeline.extraction.evaluate import EvaluationSetError
    from kevin_pipeline.extraction.factory import configured_extractor
    from kevin_pipeline.extraction.from_files import DEFAULT_EVALUATION_DIR, evaluation_report

    directory = Path(args.dir) if args.dir else DEFAULT_EVALUATION_DIR
    if args.dir is None and not directory.is_dir():
        return _error(f"no labelled set at {directory}: it ships with a source checkout "
                      "(tests/fixtures/extraction); pass its directory: kevin extract-eval DIR")
    try:
        print(evaluation_report(directory, configured_extractor(load_settings())))
    except EvaluationSetError as exc:
        return _error(str(exc))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ch = sub.add_parser("channels", help="the YouTube channels kevin follows")
    chs = ch.add_subparsers(dest="channels_command", required=True)
    add = chs.add_parser("add", help="follow a channel (or reactivate a removed one)")
    add.add_argument("channel", metavar="URL-or-ID",
                     help="https://www.youtube.com/channel/UC…, https://www.youtube.com/@name, @name or UC…")
    add.add_argument("--name", help="the name kevin shows (default: the id or handle)")
    add.set_defaults(func=cmd_channels_add)
    ls = chs.add_parser("list", help="every channel with its videos and calls (removed ones too)")
    ls.set_defaults(func=cmd_channels_list)
    rm = chs.add_parser("remove", help="stop following a channel; its videos and calls are kept")
    rm.add_argument("channel", metavar="ID-or-handle", help="its id in `channels list`, YouTube id, URL, @handle or name")
    rm.set_defaults(func=cmd_channels_remove)

    v = sub.add_parser("videos", help="the videos kevin knows of and their transcripts")
    vs = v.add_subparsers(dest="videos_command", required=True)
    va = vs.add_parser("add", help="add one video by its URL")
    va.add_argument("url", metavar="URL", help="https://www.youtube.com/watch?v=ID, https://youtu.be/ID, …")
    va.add_argument("--published-at", required=True, metavar="ISO",
                    help="when it was published, with a UTC offset: the time of every call in it "
                         "(a URL does not say, and a guessed time would trade on stale or future calls)")
    va.add_argument("--channel", metavar="C", help="whose video (needed when kevin follows more than one channel)")
    va.add_argument("--title")
    va.set_defaults(func=cmd_videos_add)
    vl = vs.add_parser("list", help="videos, newest first, with transcript status and reason")
    vl.add_argument("--channel", metavar="C", help="only this channel's (id, YouTube id, handle or name)")
    vl.add_argument("--status", choices=STATUSES, help="only videos with this transcript status")
    vl.add_argument("--limit", type=int, default=100, metavar="N", help="at most N videos (default 100)")
    vl.set_defaults(func=cmd_videos_list)

    ex = sub.add_parser("extract", help="print the calls the configured extractor finds in one caption file "
                                        "(.vtt, .srt, .json3, .txt); nothing is stored")
    ex.add_argument("path", metavar="FILE")
    ex.add_argument("--published-at", metavar="ISO",
                    help="the video's publish time (with offset); added to each call as published_at, "
                         "the one field a call needs besides what the file gives")
    ex.add_argument("--json", action="store_true",
                    help="a JSON list of {symbol, action, conviction, horizon, quote, start_seconds} "
                         "(start_seconds null for plain text; + published_at when given)")
    ex.set_defaults(func=cmd_extract)

    ev = sub.add_parser("extract-eval", help="score the configured extractor on a labelled set: precision and "
                                             "recall per field, conviction error")
    ev.add_argument("dir", nargs="?", metavar="DIR",
                    help="a directory of labelled passages (default: tests/fixtures/extraction of the source checkout)")
    ev.set_defaults(func=cmd_extract_eval)
