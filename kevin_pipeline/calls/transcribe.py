"""Step 2: a transcript for each video that lacks one.

A caption file in the inbox named for the video (``<video_id>.vtt``, or yt-dlp's
``<video_id>.<lang>.vtt`` / ``.srt`` / ``.json3`` / ``.txt``) wins, whatever the video's status
(a file dropped for a video in backoff, or given up on, is still used). Otherwise, for the videos
due (`videos_due_for_transcript`), YouTube's captions when KEVIN_TRANSCRIPTS_FETCH=on.

Bad input is a recorded reason, never a lost file or a stuck inbox:
- a caption file that cannot be read, or in a language not in KEVIN_TRANSCRIPT_LANGUAGES, goes to
  `inbox/rejected/` with a `.reason`, and the reason is recorded on its video (a miss: backoff);
- YouTube's answer: a transient failure is a miss (waiting, backoff), a permanent one (captions
  disabled, video gone, wrong language) fails the video with the reason;
- fetching off and no file: a miss saying so (the video shows `waiting` with that reason).
A caption file whose video is not stored yet stays in the inbox until its metadata arrives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from kevin_pipeline.db.models import Video
from kevin_pipeline.db.videos import (
    mark_transcript_failed,
    record_transcript_miss,
    save_transcript,
    videos_due_for_transcript,
)
from kevin_pipeline.ingest.inbox import REJECTED, VIDEO_METADATA_SUFFIXES, drain, pending_files
from kevin_pipeline.runtime import Runtime
from kevin_pipeline.transcripts.files import CAPTION_SUFFIXES, read_caption_file
from kevin_pipeline.transcripts.models import Transcript, TranscriptFileError, TranscriptUnavailable
from kevin_pipeline.transcripts.youtube import TranscriptSource, YouTubeTranscriptSource

FETCH_OFF = "no caption file in the inbox yet and KEVIN_TRANSCRIPTS_FETCH=off: drop <video id>.en.vtt there, or turn fetching on"


class CaptionRefused(Exception):
    """A caption file that is read but not used (another language); the message is the reason."""


@dataclass(frozen=True)
class CaptionName:
    """What a caption file's name says: ``ID[.LANG].ext`` (YouTube ids hold no dot)."""

    video_id: str
    language: str | None  # base code ("en" for en-US / en-orig); None: the name does not say

    @classmethod
    def of(cls, path: Path) -> CaptionName:
        parts = path.name.split(".")
        middle = [p for p in parts[1:-1] if p]
        language = middle[-1].split("-")[0].lower() if middle else None
        return cls(video_id=parts[0], language=language)


def is_caption_file(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(CAPTION_SUFFIXES) and not name.endswith(VIDEO_METADATA_SUFFIXES)


@dataclass
class TranscriptsReport:
    fetched: dict[str, str] = field(default_factory=dict)  # video id -> source ("vtt file", YouTube)
    waiting: dict[str, str] = field(default_factory=dict)  # video id -> why not yet (retried later)
    failed: dict[str, str] = field(default_factory=dict)  # video id -> why never
    rejected_files: dict[str, str] = field(default_factory=dict)  # file -> why (in rejected/)
    unmatched_files: list[str] = field(default_factory=list)  # files whose video is not stored yet


def _stored_ids(runtime: Runtime, ids: set[str]) -> set[str]:
    if not ids:
        return set()
    with runtime.sessions() as session:
        return set(session.scalars(select(Video.video_id).where(Video.video_id.in_(sorted(ids)))))


def _status(runtime: Runtime, video_id: str) -> str | None:
    with runtime.sessions() as session:
        return session.scalar(select(Video.transcript_status).where(Video.video_id == video_id))


def _miss(runtime: Runtime, video_id: str, reason: str, now: datetime, report: TranscriptsReport) -> None:
    with runtime.transaction() as session:
        video = record_transcript_miss(session, video_id, reason, now=now)
        (report.failed if video.transcript_status == "failed" else report.waiting)[video_id] = (
            video.transcript_reason or reason
        )


def _save(runtime: Runtime, transcript: Transcript, video_id: str, source: str, now: datetime) -> None:
    with runtime.transaction() as session:
        save_transcript(
            session, video_id, language=transcript.language, source=source,
            segments=transcript.segments, fetched_at=now,
        )


def read_caption_files(
    runtime: Runtime, drop_dir: Path, *, now: datetime, report: TranscriptsReport
) -> None:
    """Store the transcript of every caption file whose video is stored (see the module doc)."""
    files = pending_files(drop_dir, accept=is_caption_file)
    names = {p: CaptionName.of(p) for p in files}
    stored = _stored_ids(runtime, {n.video_id for n in names.values()})
    report.unmatched_files += [p.name for p, n in names.items() if n.video_id not in stored]
    languages = runtime.settings.languages

    def handle(path: Path) -> str:
        name = names[path]
        try:
            if name.language is not None and name.language not in languages:
                raise CaptionRefused(
                    f"the captions are in {name.language!r}, not in {', '.join(languages)} "
                    "(KEVIN_TRANSCRIPT_LANGUAGES): calls are only read in those"
                )
            transcript = read_caption_file(path, video_id=name.video_id, language=name.language)
        except (CaptionRefused, TranscriptFileError) as exc:
            if name.video_id not in report.fetched and _status(runtime, name.video_id) != "fetched":
                _miss(runtime, name.video_id, f"caption file {path.name}: {exc}", now, report)
            raise
        source = f"{transcript.source} file"
        _save(runtime, transcript, name.video_id, source, now)
        report.fetched[name.video_id] = source
        report.waiting.pop(name.video_id, None)
        return name.video_id

    drained = drain(
        runtime, drop_dir, [p for p in files if names[p].video_id in stored], handle,
        refused=(CaptionRefused, TranscriptFileError), where=REJECTED,
    )
    report.rejected_files.update(drained.failed)


def fetch_transcripts(
    runtime: Runtime,
    drop_dir: Path,
    *,
    now: datetime,
    source: TranscriptSource | None = None,
    fetch: bool | None = None,
) -> TranscriptsReport:
    """Caption files first, then the network for the videos still due. `fetch`: None follows
    KEVIN_TRANSCRIPTS_FETCH; `source`: the network source (default YouTube's captions)."""
    report = TranscriptsReport()
    read_caption_files(runtime, drop_dir, now=now, report=report)
    use_network = runtime.settings.transcripts_fetch if fetch is None else fetch
    network = source or YouTubeTranscriptSource(runtime.settings.languages)
    with runtime.sessions() as session:
        due = [v.video_id for v in videos_due_for_transcript(session, now=now)]
    for video_id in due:
        if video_id in report.fetched:
            continue
        if not use_network:
            _miss(runtime, video_id, FETCH_OFF, now, report)
            continue
        try:
            transcript = network.fetch(video_id)  # outside any transaction: a slow answer holds no lock
        except TranscriptUnavailable as exc:
            if exc.retry:
                _miss(runtime, video_id, f"{exc.reason}: {exc.detail}", now, report)
            else:
                with runtime.transaction() as session:
                    mark_transcript_failed(session, video_id, f"{exc.reason}: {exc.detail}")
                report.failed[video_id] = f"{exc.reason}: {exc.detail}"
            continue
        _save(runtime, transcript, video_id, transcript.source, now)
        report.fetched[video_id] = transcript.source
    return report
