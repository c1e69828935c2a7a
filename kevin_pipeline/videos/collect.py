"""Storing what a video source read, under the right channel.

A video belongs to a channel kevin follows: the one given (a feed is read per channel; a manual add
names one), else the channel its metadata names, by id or, failing that, by ``@handle`` (which then
fills in a handle-only channel's id). A video of an unknown or removed channel is rejected with the
reason and the command that fixes it; the rest of the batch is stored.

`poll_feeds` reads every active channel's feed, each outside any database transaction (a slow feed
must not hold SQLite's write lock), then stores each channel's batch in its own short transaction.
One channel's timeout or HTML page is recorded against that channel; the others still flow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from kevin_pipeline.db.models import Channel
from kevin_pipeline.db.videos import find_channel, list_channels, resolve_channel, upsert_video
from kevin_pipeline.domain.youtube import ChannelRef
from kevin_pipeline.runtime import Runtime
from kevin_pipeline.videos.feed import DEFAULT_TIMEOUT, FeedSource
from kevin_pipeline.videos.http import HttpGet, urllib_get
from kevin_pipeline.videos.manual import ManualVideo
from kevin_pipeline.videos.source import SourceBatch, VideoSourceError

ADD_CHANNEL_HINT = "add it with `kevin channels add https://www.youtube.com/channel/UC…` first"


@dataclass
class Collected:
    source: str
    seen: int = 0
    created: list[str] = field(default_factory=list)  # ids of videos stored for the first time
    rejected: list[str] = field(default_factory=list)  # "where: why"


def _owner(session: Session, info_channel: str | None, handle: str | None) -> tuple[Channel | None, str | None]:
    channel = resolve_channel(session, info_channel, handle)
    if channel is None:
        named = " ".join(x for x in (info_channel, handle) if x) or "(the metadata names none)"
        return None, f"unknown channel {named}: {ADD_CHANNEL_HINT}"
    return channel, None


def store_videos(session: Session, batch: SourceBatch, *, now: datetime, channel: Channel | None = None) -> Collected:
    """Store `batch` (its own rejects are carried over); `channel`: the owner of every video."""
    collected = Collected(source=batch.source, seen=len(batch.videos) + len(batch.rejected), rejected=list(batch.rejected))
    for info in batch.videos:
        owner, why = (channel, None) if channel is not None else _owner(
            session, info.youtube_channel_id, info.channel_handle
        )
        if owner is not None and not owner.active:
            why = f"channel {owner.name} was removed: add it again to follow it"
        if owner is None or why is not None:
            collected.rejected.append(f"{batch.source}: video {info.video_id}: {why}")
            continue
        if upsert_video(session, owner, info, now=now):
            collected.created.append(info.video_id)
    return collected


@dataclass
class FeedPoll:
    collected: list[Collected] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # channel name -> why its feed was not read

    @property
    def created(self) -> list[str]:
        return [v for c in self.collected for v in c.created]


def poll_feeds(
    runtime: Runtime, *, now: datetime, get: HttpGet = urllib_get, timeout: float = DEFAULT_TIMEOUT
) -> FeedPoll:
    """Read the feed of every active channel and store the new videos."""
    with runtime.sessions() as session:
        channels = [(c.id, c.name, c.youtube_channel_id) for c in list_channels(session)]
    poll = FeedPoll()
    for channel_pk, name, youtube_id in channels:
        if youtube_id is None:
            poll.failed[name] = "no channel id yet (added by handle): the feed needs the UC… id"
            continue
        try:
            batch = FeedSource(youtube_id, get=get, timeout=timeout).read()
        except VideoSourceError as exc:
            poll.failed[name] = str(exc)
            continue
        with runtime.transaction() as session:
            poll.collected.append(store_videos(session, batch, now=now, channel=session.get(Channel, channel_pk)))
    return poll


def add_video_from_url(
    session: Session,
    url: str,
    *,
    published_at: datetime,
    channel: ChannelRef | str | None,
    now: datetime,
    title: str | None = None,
) -> Collected:
    """The manual add. `channel` (a ref or a name) may be left out when kevin follows exactly one
    channel; an unknown one, or a bad URL or naive time, raises `VideoSourceError`."""
    batch = ManualVideo(url, published_at, title).read()
    if channel is None:
        active = list_channels(session)
        if len(active) != 1:
            raise VideoSourceError(
                f"{url}: say which channel it is from (kevin follows {len(active)} channels)"
            )
        owner: Channel | None = active[0]
    else:
        owner = find_channel(session, channel)
    if owner is None:
        raise VideoSourceError(f"{url}: unknown channel {channel}: {ADD_CHANNEL_HINT}")
    collected = store_videos(session, batch, now=now, channel=owner)
    if collected.rejected:
        raise VideoSourceError("; ".join(collected.rejected))
    return collected

