"""Step 3: the calls in each transcript, stored as mentions.

Every video with a transcript and no mention yet from this extractor (its name AND version: a new
rules version or model reads the old transcripts again) is read by the configured extractor. Its
calls are stored as `MentionRow`s through `store_mentions`, the mention import's own validation and
natural key, so a second run adds nothing. Each carries the video's channel, the extractor and
version, the second it is said, and the video's publish time: never the extraction time (that
would make an old call look fresh to the 48 h rule).

Share classes: a symbol without bars whose sibling class has them (GOOGL said, GOOG priced) is
stored as the sibling, and the quote says so (`domain.share_classes`). A symbol without bars and
no priced sibling is kept as said; the `extracted_mentions` check flags it.

Every read is recorded in `extractions` (video, extractor, version: the calls found, or why it
failed), so a transcript with no call is not read again by the same extractor (with an LLM, every
read is paid). An extractor that fails on one transcript (an LLM answer that is not valid JSON) is
a reason in the report and on that row; the next transcript still flows, and the failed one is
tried again on later runs, `MAX_ATTEMPTS` times in all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field

from datetime import UTC, datetime

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from kevin_pipeline.db.models import Channel, Extraction, Transcript as TranscriptRecord, Video
from kevin_pipeline.db.store import store_mentions
from kevin_pipeline.domain.mention_rows import MentionRow
from kevin_pipeline.domain.share_classes import tradable_class
from kevin_pipeline.extraction.models import ExtractedMention, ExtractionError, Extractor
from kevin_pipeline.runtime import Runtime
from kevin_pipeline.transcripts.models import Segment, Transcript


@dataclass
class MentionsExtracted:
    extractor: str  # "rules 1"
    videos_read: list[str] = field(default_factory=list)
    calls_found: Counter[str] = field(default_factory=Counter)  # video id -> calls the extractor found
    new_mentions: int = 0
    substituted: list[str] = field(default_factory=list)  # "GOOGL -> GOOG (video)"
    failed: dict[str, str] = field(default_factory=dict)  # video id -> why the extractor failed


MAX_ATTEMPTS = 3  # reads of one transcript by one extractor that may fail before it is left alone


@dataclass(frozen=True)
class _Pending:
    video_pk: int
    video_id: str
    title: str | None
    description: str | None
    published_at: object
    channel: str | None
    transcript: Transcript


def _pending(runtime: Runtime, extractor: Extractor) -> list[_Pending]:
    done = exists().where(and_(
        Extraction.video_pk == Video.id,
        Extraction.extractor == extractor.name,
        Extraction.extractor_version == extractor.version,
        or_(Extraction.error.is_(None), Extraction.attempts >= MAX_ATTEMPTS),
    ))
    stmt = (
        select(Video, TranscriptRecord, Channel.name)
        .join(TranscriptRecord, TranscriptRecord.video_pk == Video.id)
        .outerjoin(Channel, Channel.id == Video.channel_id)
        .where(~done)
        .order_by(Video.published_at, Video.id, TranscriptRecord.id)
    )
    out: dict[str, _Pending] = {}
    with runtime.sessions() as session:
        for video, record, channel in session.execute(stmt):
            if video.video_id in out:
                continue  # the first transcript saved (one language is enough)
            segments = tuple(Segment.model_validate(s) for s in record.segments)
            out[video.video_id] = _Pending(
                video.id, video.video_id, video.title, video.description, video.published_at, channel,
                Transcript(video_id=video.video_id, language=record.language, source=record.source, segments=segments),
            )
    return list(out.values())


def _row(line: int, video: _Pending, call: ExtractedMention, symbol: str) -> MentionRow:
    quote = call.quote
    if symbol != call.symbol:
        quote = f"{quote} [said {call.symbol}; stored as {symbol}, the share class with bars]"
    return MentionRow(
        line=line, video_id=video.video_id, published_at=video.published_at, symbol=symbol,
        action=call.action, conviction=call.conviction, horizon=call.horizon, quote=quote,
        video_title=video.title, channel=video.channel, extractor=call.extractor,
        extractor_version=call.extractor_version, start_seconds=call.start_seconds,
    )


def extract_mentions(runtime: Runtime, extractor: Extractor, *, with_bars: Collection[str] = ()) -> MentionsExtracted:
    """Read every transcript this extractor has not read yet and store its calls (module doc).
    `with_bars`: the symbols that have prices, for the share-class substitution."""
    report = MentionsExtracted(extractor=f"{extractor.name} {extractor.version}")
    for video in _pending(runtime, extractor):
        try:  # outside any transaction: an LLM answer takes seconds
            calls = extractor.extract(video.transcript, title=video.title, description=video.description)
        except ExtractionError as exc:
            report.failed[video.video_id] = str(exc)
            with runtime.transaction() as session:
                _record(session, video, extractor, calls=0, error=str(exc))
            continue
        report.videos_read.append(video.video_id)
        report.calls_found[video.video_id] = len(calls)
        rows = []
        for line, call in enumerate(calls, start=1):
            symbol = tradable_class(call.symbol, with_bars) if with_bars else call.symbol
            if symbol != call.symbol:
                report.substituted.append(f"{call.symbol} -> {symbol} ({video.video_id})")
            rows.append(_row(line, video, call, symbol))
        with runtime.transaction() as session:  # the calls and the record of the read, together
            if rows:
                stored = store_mentions(session, rows, source=f"transcript of {video.video_id} ({report.extractor})")
                report.new_mentions += stored.imported
            _record(session, video, extractor, calls=len(calls), error=None)
    return report


def _record(session: Session, video: _Pending, extractor: Extractor, *, calls: int, error: str | None) -> None:
    """One row per (video, extractor, version): a retry after a failure updates it."""
    row = session.scalar(select(Extraction).where(
        Extraction.video_pk == video.video_pk,
        Extraction.extractor == extractor.name,
        Extraction.extractor_version == extractor.version,
    ))
    now = datetime.now(UTC)
    if row is None:
        session.add(Extraction(video_pk=video.video_pk, extractor=extractor.name, extractor_version=extractor.version,
                               calls=calls, error=error, attempts=1, read_at=now))
    else:
        row.calls, row.error, row.attempts, row.read_at = calls, error, row.attempts + 1, now
