"""Read a caption file into a `Transcript`: WebVTT (webvtt-py), SubRip (pysrt), yt-dlp's .json3,
or plain text.

A file either reads whole or raises `TranscriptFileError` naming the file and the line or cue at
fault: a cue silently dropped would be a call silently lost, so WebVTT is parsed strictly and each
SubRip block is parsed on its own (pysrt's file reader skips bad blocks by default).

YouTube's automatic captions roll: each cue repeats the previous cue's last line before adding a
new one. A line equal to the line just read is dropped, so the transcript says each thing once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import pysrt
import webvtt
from webvtt.errors import MalformedCaptionError, MalformedFileError

from kevin_pipeline.transcripts.models import Segment, Transcript, TranscriptFileError

__all__ = ["CAPTION_SUFFIXES", "read_caption_file", "parse_caption_text"]

CAPTION_SUFFIXES: tuple[str, ...] = (".vtt", ".srt", ".json3", ".txt")
_BLANK_LINES_RE = re.compile(r"\n\s*\n")
_SPACES_RE = re.compile(r"\s+")


def read_caption_file(
    path: str | Path, *, video_id: str | None = None, language: str | None = None
) -> Transcript:
    """The transcript in one caption file; the kind is told by the extension."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in CAPTION_SUFFIXES:
        raise TranscriptFileError(
            p,
            f"unknown caption format {suffix or '(no extension)'!r} (expected one of {', '.join(CAPTION_SUFFIXES)})",
        )
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise TranscriptFileError(p, "file not found") from None
    except IsADirectoryError:
        raise TranscriptFileError(p, "is a directory, not a file") from None
    except UnicodeDecodeError as exc:
        raise TranscriptFileError(
            p, f"not UTF-8 text (invalid byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"
        ) from None
    except OSError as exc:
        raise TranscriptFileError(p, f"cannot read file ({exc.strerror or exc})") from None
    return parse_caption_text(text, suffix.lstrip("."), name=str(p), video_id=video_id, language=language)


def parse_caption_text(
    text: str, kind: str, *, name: str = "<text>", video_id: str | None = None, language: str | None = None
) -> Transcript:
    """The transcript in `text` of `kind` ("vtt", "srt", "json3", "txt"); `name` is used in errors."""
    readers = {"vtt": _vtt, "srt": _srt, "json3": _json3, "txt": _txt}
    if kind not in readers:
        raise TranscriptFileError(name, f"unknown caption format {kind!r}")
    segments = tuple(_dedupe_rolling(readers[kind](text, name)))
    if not segments:
        raise TranscriptFileError(name, "no caption text found (an empty file?)")
    return Transcript(video_id=video_id, language=language, source=kind, segments=segments)


# --------------------------------------------------------------------------------------------------


def _clean(text: str) -> str:
    return _SPACES_RE.sub(" ", text).strip()


def _line_of(text: str, first_line: str) -> int | None:
    """The 1-based line on which `first_line` first occurs in `text`, when it does."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() == first_line.strip():
            return number
    return None


def _vtt(text: str, name: str) -> Iterator[tuple[float | None, str]]:
    try:
        captions = webvtt.WebVTT.from_string(text, strict=True)
    except MalformedFileError:
        raise TranscriptFileError(name, "not a WebVTT file (the first line must be 'WEBVTT')") from None
    except MalformedCaptionError as exc:
        raise TranscriptFileError(name, _vtt_cue_problem(text, str(exc))) from None
    for caption in captions:
        yield caption.start_time.in_milliseconds() / 1000, caption.text


def _vtt_cue_problem(text: str, message: str) -> str:
    """webvtt-py names the bad cue block as a Python list; turn that into a line number."""
    match = re.search(r"\[(['\"])(.*?)\1", message)
    line = _line_of(text, match.group(2)) if match else None
    where = f"line {line}: " if line else ""
    return f"{where}malformed cue ({message})"


def _srt(text: str, name: str) -> Iterator[tuple[float | None, str]]:
    for start_line, lines in _blocks(text):
        try:
            item = pysrt.SubRipItem.from_lines(lines)
        except pysrt.Error as exc:
            kind = type(exc).__name__
            raise TranscriptFileError(
                name, f"line {start_line}: malformed subtitle block ({kind}: {lines[0].strip()!r})"
            ) from None
        yield item.start.ordinal / 1000, item.text


def _blocks(text: str) -> Iterator[tuple[int, list[str]]]:
    """Blank-line separated blocks with the 1-based line each starts on."""
    block: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            if not block:
                start = number
            block.append(line)
        elif block:
            yield start, block
            block = []
    if block:
        yield start, block


def _json3(text: str, name: str) -> Iterator[tuple[float | None, str]]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TranscriptFileError(name, f"line {exc.lineno}: not valid JSON ({exc.msg})") from None
    events = doc.get("events") if isinstance(doc, dict) else None
    if not isinstance(events, list):
        raise TranscriptFileError(name, "not a yt-dlp .json3 caption file (no 'events' list)")
    for index, event in enumerate(events):
        segs = event.get("segs") if isinstance(event, dict) else None
        if segs is None:
            continue  # window and style events carry no text
        start = event.get("tStartMs")
        if not isinstance(segs, list) or not isinstance(start, (int, float)) or isinstance(start, bool):
            raise TranscriptFileError(name, f"event {index}: needs a numeric 'tStartMs' and a 'segs' list")
        words = [s.get("utf8", "") if isinstance(s, dict) else None for s in segs]
        if any(not isinstance(w, str) for w in words):
            raise TranscriptFileError(name, f"event {index}: a 'segs' entry without 'utf8' text")
        yield start / 1000, "".join(words)


def _txt(text: str, name: str) -> Iterator[tuple[float | None, str]]:
    for paragraph in _BLANK_LINES_RE.split(text):
        yield None, paragraph


def _dedupe_rolling(pieces: Iterable[tuple[float | None, str]]) -> Iterator[Segment]:
    last_line = None
    for start, raw in pieces:
        kept = []
        for line in raw.splitlines():
            line = _clean(line)
            if line and line != last_line:
                kept.append(line)
                last_line = line
        if kept:
            yield Segment(start_seconds=start, text=" ".join(kept))
