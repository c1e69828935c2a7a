"""The stage upstream of `mentions`: from a channel's videos to the calls said in them.

    channel_videos ──► transcripts ──► extracted_mentions ──► mentions ──► …

Each asset calls one step of `kevin_pipeline.calls` and reports counts. `video_calls_job`
materializes the three; `new_videos_sensor` launches it when a yt-dlp metadata file or a caption
file appears in the inbox, or a feed poll is due (KEVIN_VIDEO_FEEDS=on). The mentions they store
are then picked up by `new_mentions_sensor` (it reads undecided mention ids), so a new video flows
to decisions and orders with no manual step.

No `from __future__ import annotations` here: Dagster reads these annotations at runtime.
"""

from collections import Counter
from collections.abc import Callable, Iterable
from typing import TypeVar

import dagster as dg

from kevin_pipeline.calls.collect import collect_videos
from kevin_pipeline.calls.extract import extract_mentions
from kevin_pipeline.calls.transcribe import fetch_transcripts
from kevin_pipeline.defs.common import bullet_list, parse_instant
from kevin_pipeline.defs.resources import KevinRuntimeResource, PriceSourceResource
from kevin_pipeline.extraction.factory import configured_extractor

R = TypeVar("R")


class ClockConfig(dg.Config):
    now: str | None = None  # ISO-8601 clock (replays, tests); default: now


def _on_inbox(kevin_runtime: KevinRuntimeResource, config: ClockConfig, step: Callable[..., R]) -> R:
    """Run a step over the drop folder at the configured clock."""
    runtime = kevin_runtime.runtime
    return step(runtime, runtime.settings.resolved_drop_dir, now=parse_instant(config.now))


def _warn_each(context: dg.AssetExecutionContext, lines: Iterable[str]) -> None:
    for line in lines:
        context.log.warning(line)


@dg.asset(group_name="calls", kinds={"python"})
def channel_videos(
    context: dg.AssetExecutionContext, config: ClockConfig, kevin_runtime: KevinRuntimeResource
) -> dg.MaterializeResult:
    """New videos of the channels kevin follows: yt-dlp metadata files in the inbox (bad ones to
    inbox/rejected/ with a .reason) and, with KEVIN_VIDEO_FEEDS=on, each active channel's RSS feed."""
    report = _on_inbox(kevin_runtime, config, collect_videos)
    _warn_each(context, (f"{where}: {why}" for where, why in report.reasons.items()))
    return dg.MaterializeResult(
        metadata={
            "new_videos": len(report.new_videos),
            "metadata_files": report.inbox.seen,
            "feeds": "off (KEVIN_VIDEO_FEEDS)" if report.feeds is None else f"{len(report.feeds.collected)} read",
            "not_stored": bullet_list(f"{where}: {why}" for where, why in report.reasons.items()),
            "videos": bullet_list(report.new_videos),
        }
    )


@dg.asset(group_name="calls", deps=[channel_videos], kinds={"python"})
def transcripts(
    context: dg.AssetExecutionContext, config: ClockConfig, kevin_runtime: KevinRuntimeResource
) -> dg.MaterializeResult:
    """A transcript for each video lacking one: a caption file in the inbox named for the video,
    else YouTube's captions (KEVIN_TRANSCRIPTS_FETCH=on). Misses wait with a backoff; every video
    without a transcript carries its reason."""
    report = _on_inbox(kevin_runtime, config, fetch_transcripts)
    _warn_each(context, (f"caption file {name} moved to rejected/: {why}" for name, why in report.rejected_files.items()))
    return dg.MaterializeResult(
        metadata={
            "fetched": len(report.fetched),
            "waiting": len(report.waiting),
            "failed": len(report.failed),
            "rejected_files": len(report.rejected_files),
            "sources": bullet_list(f"{n} from {s}" for s, n in sorted(Counter(report.fetched.values()).items())),
            "reasons": bullet_list(
                [f"{v} waiting: {why}" for v, why in report.waiting.items()]
                + [f"{v} failed: {why}" for v, why in report.failed.items()]
                + [f"file {name}: {why}" for name, why in report.rejected_files.items()]
            ),
            "files_waiting_for_their_video": bullet_list(report.unmatched_files),
        }
    )


@dg.asset(group_name="calls", deps=[transcripts], kinds={"python"})
def extracted_mentions(
    context: dg.AssetExecutionContext, kevin_runtime: KevinRuntimeResource, price_source: PriceSourceResource
) -> dg.MaterializeResult:
    """The calls in each transcript not yet read by the configured extractor (KEVIN_EXTRACTOR,
    name and version), stored as mentions with the video's publish time, channel and the second
    each is said. A share class without bars is stored as its sibling that has them."""
    runtime = kevin_runtime.runtime
    extractor = configured_extractor(runtime.settings)
    report = extract_mentions(runtime, extractor, with_bars=price_source.symbols_with_bars(runtime))
    for video_id, why in report.failed.items():
        context.log.error(f"extraction of {video_id} failed: {why}")
    return dg.MaterializeResult(
        metadata={
            "extractor": report.extractor,
            "videos_read": len(report.videos_read),
            "calls_found": sum(report.calls_found.values()),
            "new_mentions": report.new_mentions,
            "share_class_substitutions": bullet_list(report.substituted),
            "failed": bullet_list(f"{v}: {why}" for v, why in report.failed.items()),
        }
    )


CALL_ASSETS = [channel_videos, transcripts, extracted_mentions]

video_calls_job = dg.define_asset_job(
    name="video_calls_job",
    selection=dg.AssetSelection.assets(*CALL_ASSETS),
    description="New videos -> transcripts -> extracted mentions; launched by new_videos_sensor.",
    tags={"kevin/kind": "live"},
    executor_def=dg.in_process_executor,
)
