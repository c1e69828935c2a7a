"""Parse a file of mentions (CSV, JSON or JSON Lines) into validated rows. Pure: no database.

Every data row of a readable file ends up in exactly one place: ``ParseResult.rows`` (valid, first
occurrence of its natural key), ``ParseResult.rejected`` (with the line number and a reason that names
the field and the bad value) or ``ParseResult.duplicates_in_file`` (a later repeat of a valid row's
natural key). A bad row never raises; only a file that cannot be read at all raises
``MentionFileError`` (missing, unreadable, not UTF-8, JSON that does not parse as a whole, a CSV
header that lacks a required column, an unknown format).

Line numbers (``line`` on both row types):
- CSV: the physical line on which the record *starts*, the header being line 1; ``end_line`` is the
  line on which it ends (the same line unless a quoted field spans several lines). Blank lines and
  rows of empty cells (``,,,,``) are skipped but still counted.
- JSON Lines: the physical line. Blank lines are skipped but still counted.
- JSON: the 1-based index of the element in the array.

CSV: every physical line is either stored or reported. A quoted field may span lines (a quote with a
newline inside, as spreadsheets write them), but a quote that is never closed must not swallow the
rows after it. So a record that runs past the end of its first line is only accepted when its quote
closes, within ``MAX_RECORD_LINES`` lines / ``MAX_RECORD_CHARS`` characters, and none of its
continuation lines looks like a row on its own (the header's field count with a valid
``published_at``). Otherwise the first line is reported ("unbalanced quote") and reading resumes on
the next line, so each following line is stored or reported for itself. A record with a field over
the ``csv`` module's size limit is one rejected row spanning its lines, not hundreds.

Lengths: every text value must fit the database column it fills (``ingest.limits``, read from the
SQLAlchemy models): an over-long ``video_id`` or ``channel`` is a rejected row, never a failed import.
A JSON integer ``video_id`` (``12345``) is stored as its decimal string (``"12345"``) under the same
length limit.

Publish times: with ``now`` given (the importer always gives it), a ``published_at`` more than
``max_ahead`` after ``now`` is rejected: a call from the future is a typo (a wrong year) and would
otherwise wait in the database and trade as "fresh" when its date arrives.

Streaming: CSV and JSON Lines are read record by record (``iter_parse``), so memory stays flat for
files of hundreds of MB apart from the set of natural keys used to drop duplicates. A JSON document
is loaded whole with ``json.load`` (a single JSON value cannot be streamed with the standard library);
use JSON Lines for very large exports.

Header / key names are matched case-insensitively after stripping whitespace; inner runs of spaces or
hyphens count as ``_`` (so ``Video ID`` and ``time-horizon`` work). Unknown columns are ignored.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from kevin_pipeline.domain.mention_rows import MentionRow, RejectedRow
from kevin_pipeline.domain.models import Action, Horizon
from kevin_pipeline.ingest.limits import MAX_CHARS

__all__ = [
    "DEFAULT_MAX_AHEAD",
    "FORMATS",
    "MentionFileError",
    "ParseResult",
    "REQUIRED_COLUMNS",
    "OPTIONAL_COLUMNS",
    "detect_format",
    "iter_parse",
    "parse_mentions_file",
    "validate_call",
]

REQUIRED_COLUMNS: tuple[str, ...] = (
    "video_id",
    "published_at",
    "symbol",
    "action",
    "conviction",
    "time_horizon",
)
OPTIONAL_COLUMNS: tuple[str, ...] = ("quote", "video_title", "channel")
KNOWN_COLUMNS: frozenset[str] = frozenset(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)

# time_horizon may be absent from a file entirely (it then defaults to ``unspecified``); it is listed
# as required for the row model, but a CSV header without it is accepted.
_CSV_REQUIRED_HEADER: tuple[str, ...] = tuple(c for c in REQUIRED_COLUMNS if c != "time_horizon")

FORMATS: dict[str, str] = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_FMT_ALIASES: dict[str, str] = {"csv": "csv", "json": "json", "jsonl": "jsonl", "ndjson": "jsonl"}

CONVICTION_PLACES = Decimal("0.0001")
MIN_YEAR, MAX_YEAR = 1990, 2100
MAX_VIDEO_ID_CHARS = MAX_CHARS["video_id"]
MAX_TEXT_CHARS: dict[str, int] = {name: MAX_CHARS[name] for name in ("quote", "video_title", "channel")}
DEFAULT_MAX_AHEAD = timedelta(minutes=5)  # Settings.max_publish_ahead_minutes
# A quoted field spanning lines longer than this is taken for an unbalanced quote (see the docstring).
MAX_RECORD_LINES = 10_000
MAX_RECORD_CHARS = 1_000_000
_SHOW_CHARS = 40

_TICKER_RE = re.compile(r"[A-Z](?:[A-Z0-9.\-]{0,8}[A-Z0-9])?", re.ASCII)
_KEY_SEP_RE = re.compile(r"[\s\-]+")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")

_ACTIONS = {a.value: a for a in Action}
_ACTIONS_TEXT = ", ".join(a.value for a in Action)
_HORIZONS = {h.value: h for h in Horizon}
_HORIZONS_TEXT = ", ".join(h.value for h in Horizon)


class MentionFileError(Exception):
    """The file as a whole cannot be read (the CLI exits 2). Bad rows never raise this."""


@dataclass
class ParseResult:
    rows: list[MentionRow] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    duplicates_in_file: int = 0


class _RowError(Exception):
    """One field of one row is invalid; the message is the RejectedRow reason."""


@dataclass(frozen=True)
class _Clock:
    """The import clock: a publish time after ``now + max_ahead`` is rejected."""

    now: datetime
    max_ahead: timedelta

    @property
    def latest(self) -> datetime:
        return self.now + self.max_ahead


def _clock(now: datetime | None, max_ahead: timedelta) -> _Clock | None:
    if now is None:
        return None
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    if max_ahead < timedelta(0):
        raise ValueError(f"max_ahead must not be negative, got {max_ahead}")
    return _Clock(now.astimezone(timezone.utc), max_ahead)


# --------------------------------------------------------------------------------------------------
# public API


def detect_format(path: str | Path, fmt: str | None = None) -> str:
    """Return ``csv``, ``json`` or ``jsonl``: ``fmt`` if given (``ndjson`` = ``jsonl``), else by extension."""
    if fmt is not None:
        key = fmt.strip().lower().lstrip(".")
        if key not in _FMT_ALIASES:
            raise MentionFileError(
                f"unknown format {fmt!r} (expected one of: {', '.join(sorted(_FMT_ALIASES))})"
            )
        return _FMT_ALIASES[key]
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise MentionFileError(
            f"{path}: cannot tell the format from the extension {suffix or '(none)'!r} "
            f"(expected one of {', '.join(FORMATS)}; or pass a format explicitly)"
        )
    return FORMATS[suffix]


def validate_call(symbol: Any, action: Any, conviction: Any, horizon: Any) -> tuple[str, Action, Decimal, Horizon]:
    """The call fields of a mention checked by the file rules, for mentions that come from elsewhere
    (an extractor). Numbers may be floats (a model's JSON); ``horizon`` None is ``unspecified``.
    Raises ``ValueError`` with the same reason a file row would get ("conviction: must be ...")."""
    if isinstance(conviction, float):
        conviction = repr(conviction)  # the shortest exact text of the float, as a file would hold it
    elif isinstance(conviction, int) and not isinstance(conviction, bool):
        conviction = Decimal(conviction)
    values = {
        "symbol": symbol,
        "action": action.value if isinstance(action, Action) else action,
        "conviction": conviction,
        "time_horizon": horizon.value if isinstance(horizon, Horizon) else horizon,
    }
    try:
        return _symbol(values), _action(values), _conviction(values), _horizon(values)
    except _RowError as exc:
        raise ValueError(str(exc)) from None


def iter_parse(
    path: str | Path,
    fmt: str | None = None,
    *,
    now: datetime | None = None,
    max_ahead: timedelta = DEFAULT_MAX_AHEAD,
) -> Iterator[MentionRow | RejectedRow]:
    """Yield a ``MentionRow`` or ``RejectedRow`` per data row, in file order, without de-duplication.

    A generator: the file is opened on the first ``next()``, and ``MentionFileError`` is raised from
    there (missing file, bad header, invalid JSON document) or later (bytes that are not UTF-8 in the
    middle of the file). Consumers that stream into storage should therefore treat an exception as
    "the whole file failed", as ``parse_mentions_file`` does.

    ``now`` (aware): reject publish times more than ``max_ahead`` after it. ``None`` skips that
    check (a backtest of a file, where "the future" means nothing).
    """
    kind = detect_format(path, fmt)
    clock = _clock(now, max_ahead)
    p = Path(path)
    try:
        # utf-8-sig: a leading BOM (common in Excel exports) is dropped, in every format.
        with p.open("r", encoding="utf-8-sig", newline="" if kind == "csv" else None) as fh:
            if kind == "csv":
                yield from _iter_csv(fh, p, clock)
            elif kind == "jsonl":
                yield from _iter_jsonl(fh, clock)
            else:
                yield from _iter_json(fh, p, clock)
    except MentionFileError:
        raise
    except UnicodeDecodeError as exc:
        raise MentionFileError(
            f"{p}: not UTF-8 text (invalid byte 0x{exc.object[exc.start]:02x}); "
            f"re-save the file as UTF-8"
        ) from exc
    except FileNotFoundError as exc:
        raise MentionFileError(f"{p}: file not found") from exc
    except IsADirectoryError as exc:
        raise MentionFileError(f"{p}: is a directory, not a file") from exc
    except OSError as exc:
        raise MentionFileError(f"{p}: cannot read file ({exc.strerror or exc})") from exc


def parse_mentions_file(
    path: str | Path,
    fmt: str | None = None,
    *,
    now: datetime | None = None,
    max_ahead: timedelta = DEFAULT_MAX_AHEAD,
) -> ParseResult:
    """Parse and validate a whole file; drop later repeats of a natural key (counted, not returned).

    ``now`` / ``max_ahead``: as for ``iter_parse``."""
    result = ParseResult()
    seen: set[tuple[str, str, str, str]] = set()
    for item in iter_parse(path, fmt, now=now, max_ahead=max_ahead):
        if isinstance(item, RejectedRow):
            result.rejected.append(item)
            continue
        key = item.natural_key
        if key in seen:
            result.duplicates_in_file += 1
        else:
            seen.add(key)
            result.rows.append(item)
    return result


# --------------------------------------------------------------------------------------------------
# formats


def _norm_key(name: str) -> str:
    return _KEY_SEP_RE.sub("_", name.strip().lower())


def _ends_inside_quotes(line: str, in_quotes: bool) -> bool:
    """Does a record still sit inside a quoted field at the end of this physical line?

    Mirrors the ``csv`` module's reader for the default (excel) dialect: a quote opens a quoted field
    only at the start of a field; inside one, ``""`` is a literal quote and a lone ``"`` closes it;
    after the closing quote (and in unquoted fields) quotes are plain characters up to the next comma.
    Jumps from comma to quote with ``str.find``, so long lines cost little.
    """
    s = line.rstrip("\r\n")
    n = len(s)
    i = 0
    quoted = in_quotes
    while True:
        if quoted:
            j = s.find('"', i)
            if j < 0:
                return True
            if j + 1 < n and s[j + 1] == '"':
                i = j + 2  # an escaped quote
                continue
            quoted = False
            i = j + 1  # the closing quote; the rest of the field is literal
        elif i < n and s[i] == '"':  # at the start of a field
            quoted = True
            i += 1
            continue
        j = s.find(",", i)
        if j < 0:
            return False
        i = j + 1


def _quotes_are_clean(line: str) -> bool:
    """Every quote on this line belongs to a properly quoted field that opens and closes on it.

    A line that reads as a row of its own is strong evidence that the quote before it was never
    closed, but only when its quotes are clean: the last line of a genuine multi-line field (``end of
    the quote",2024-01-02T15:00:00Z,...``) holds a stray quote in what would be an unquoted field.
    """
    s = line.rstrip("\r\n")
    n = len(s)
    i = 0
    while i <= n:
        if i < n and s[i] == '"':  # a quoted field
            i += 1
            while True:
                j = s.find('"', i)
                if j < 0:
                    return False  # runs past the end of the line
                if j + 1 < n and s[j + 1] == '"':
                    i = j + 2
                    continue
                i = j + 1
                break
            if i < n and s[i] != ",":
                return False  # text after the closing quote
        else:
            j = s.find(",", i)
            field_end = n if j < 0 else j
            if '"' in s[i:field_end]:
                return False  # a stray quote in an unquoted field
            i = field_end
        if i >= n:
            return True
        i += 1  # past the comma
    return True


def _csv_record(lines: list[str]) -> list[str]:
    """The fields of one record made of ``lines`` (raises ``csv.Error``, e.g. a field over the limit)."""
    return next(csv.reader(lines))


def _fits_width(record: list[str], width: int) -> bool:
    """The header's field count; trailing empty cells beyond it are tolerated (spreadsheet exports)."""
    return len(record) == width or (len(record) > width and not any(v.strip() for v in record[width:]))


class _Lines:
    """Physical lines with their numbers, and a way to read some of them again (resynchronising)."""

    def __init__(self, fh: Iterable[str]) -> None:
        self._source = enumerate(fh, start=1)
        self._again: deque[tuple[int, str]] = deque()

    def next(self) -> tuple[int, str] | None:
        if self._again:
            return self._again.popleft()
        return next(self._source, None)

    def push_back(self, lines: list[tuple[int, str]]) -> None:
        self._again.extendleft(reversed(lines))


def _iter_csv(fh: Iterable[str], path: Path, clock: _Clock | None) -> Iterator[MentionRow | RejectedRow]:
    lines = _Lines(fh)
    header: list[str] | None = None
    columns: dict[str, int] = {}
    width = 0

    def looks_like_a_row(text: str) -> bool:
        """A continuation line that reads as a row by itself (header's width, a valid publish time)."""
        if '"' in text and not _quotes_are_clean(text):
            return False
        try:
            record = _csv_record([text])
        except csv.Error:
            return False
        if not _fits_width(record, width):
            return False
        try:
            _published_at({"published_at": record[columns["published_at"]]}, None)
        except _RowError:
            return False
        return True

    while (first := lines.next()) is not None:
        start, text = first
        span = [first]
        broken = ""
        if '"' in text and _ends_inside_quotes(text, False):
            # The record continues on the next line(s): a quoted field with a newline inside, or an
            # unbalanced quote. Collect lines until the quote closes, unless a line reads as a row.
            chars = len(text)
            while True:
                nxt = lines.next()
                if nxt is None:
                    broken = "the quote is never closed"
                    break
                span.append(nxt)
                chars += len(nxt[1])
                if header is not None and looks_like_a_row(nxt[1]):
                    broken = f"line {nxt[0]} reads as a row of its own"
                    break
                if not _ends_inside_quotes(nxt[1], True):
                    break
                if len(span) >= MAX_RECORD_LINES or chars >= MAX_RECORD_CHARS:
                    broken = f"it runs over {len(span):,} lines / {chars:,} characters without closing"
                    break
        if broken:
            if header is None:
                raise MentionFileError(
                    f"{path}: cannot read the CSV header: a quoted field that starts on line {start} "
                    f"does not end ({broken})"
                )
            lines.push_back(span[1:])  # each of them is stored or reported for itself
            yield RejectedRow(
                line=start,
                reason="row: unbalanced quote: a quoted field starts on this line but does not end on it "
                f"({broken}); the following lines are read as rows of their own",
            )
            continue
        end = span[-1][0]
        try:
            record = _csv_record([text] if len(span) == 1 else [t for _, t in span])
        except csv.Error as exc:  # e.g. a field over csv.field_size_limit()
            if header is None:
                raise MentionFileError(f"{path}: cannot read the CSV header: {exc}") from exc
            yield RejectedRow(line=start, end_line=_end(start, end), reason=f"row: malformed CSV record ({exc}){_span(start, end)}")
            continue
        if not any(v.strip() for v in record):
            continue  # a blank line, or a row of empty cells (",,,,")
        if header is None:
            header = [_norm_key(h) for h in record]
            columns = _check_header(header, path)
            width = len(header)
            continue
        if not _fits_width(record, width):
            yield RejectedRow(
                line=start,
                end_line=_end(start, end),
                reason=f"row: has {len(record)} fields but the header has {width}"
                + (" (an unquoted comma?)" if len(record) > width else "")
                + _span(start, end),
            )
            continue
        values = {name: record[i] for name, i in columns.items()}
        yield _validate(values, start, clock, end_line=_end(start, end))


def _end(start: int, end: int) -> int | None:
    """``end_line`` of a record: set only when it spans several physical lines."""
    return end if end != start else None


def _span(start: int, end: int) -> str:
    return f" (record on lines {start}-{end})" if end != start else ""


def _check_header(header: list[str], path: Path) -> dict[str, int]:
    columns: dict[str, int] = {}
    for i, name in enumerate(header):
        if name in KNOWN_COLUMNS:
            if name in columns:
                raise MentionFileError(f"{path}: column {name!r} appears more than once in the header")
            columns[name] = i
    missing = [c for c in _CSV_REQUIRED_HEADER if c not in columns]
    if missing:
        hint = ""
        if len(header) == 1 and any(sep in header[0] for sep in (";", "\t", "|")):
            hint = " (the file does not look comma-separated)"
        raise MentionFileError(
            f"{path}: missing required column(s): {', '.join(missing)}{hint}; "
            f"found: {', '.join(repr(h) for h in header) or '(none)'}"
        )
    return columns


class _JsonObject(dict):
    """A JSON object with normalised keys, remembering keys that collided after normalisation."""

    __slots__ = ("dup_keys",)


def _object_pairs(pairs: list[tuple[str, Any]]) -> _JsonObject:
    obj = _JsonObject()
    obj.dup_keys = []
    for k, v in pairs:
        nk = _norm_key(k)
        if nk in obj and nk in KNOWN_COLUMNS:
            obj.dup_keys.append(nk)
        obj[nk] = v
    return obj


class _NaN:
    """Marks a NaN/Infinity literal (JSON extension that Python accepts)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _json_loads(text: str) -> Any:
    # Decimal for numbers: exact convictions, and no int-digit limit blowing up a whole file.
    return json.loads(
        text,
        parse_float=Decimal,
        parse_int=Decimal,
        parse_constant=_NaN,
        object_pairs_hook=_object_pairs,
    )


_JSON_TYPE_NAMES = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}


def _json_type(value: Any) -> str:
    if isinstance(value, (Decimal, _NaN)):
        return "number"
    for t, name in _JSON_TYPE_NAMES.items():
        if isinstance(value, t):
            return name
    return type(value).__name__


def _row_from_json(obj: Any, line: int, clock: _Clock | None) -> MentionRow | RejectedRow:
    if not isinstance(obj, dict):
        return RejectedRow(line=line, reason=f"row: expected a JSON object, got {_json_type(obj)}")
    dups = getattr(obj, "dup_keys", None)
    if dups:
        return RejectedRow(
            line=line, reason=f"{dups[0]}: given more than once in the same object"
        )
    return _validate(obj, line, clock)


def _iter_jsonl(fh: Iterable[str], clock: _Clock | None) -> Iterator[MentionRow | RejectedRow]:
    for line_no, text in enumerate(fh, start=1):
        if not text.strip():
            continue
        try:
            obj = _json_loads(text)
        except (json.JSONDecodeError, ValueError, RecursionError) as exc:
            msg = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
            col = f" at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
            yield RejectedRow(line=line_no, reason=f"row: not valid JSON ({msg}{col})")
            continue
        yield _row_from_json(obj, line_no, clock)


def _iter_json(fh: Any, path: Path, clock: _Clock | None) -> Iterator[MentionRow | RejectedRow]:
    text = fh.read()
    if not text.strip():
        return  # an empty file: no rows, not an error
    try:
        doc = _json_loads(text)
    except json.JSONDecodeError as exc:
        raise MentionFileError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise MentionFileError(f"{path}: not valid JSON ({type(exc).__name__})") from exc
    del text
    if isinstance(doc, dict):
        if "mentions" not in doc:
            raise MentionFileError(
                f"{path}: a JSON object must have a \"mentions\" array "
                f"(found keys: {', '.join(repr(k) for k in list(doc)[:10]) or 'none'})"
            )
        doc = doc["mentions"]
    if not isinstance(doc, list):
        raise MentionFileError(
            f"{path}: expected a JSON array of mentions (or an object with a \"mentions\" array), "
            f"got {_json_type(doc)}"
        )
    for index, obj in enumerate(doc, start=1):
        yield _row_from_json(obj, index, clock)


# --------------------------------------------------------------------------------------------------
# field validation


def _show(value: Any) -> str:
    """A short, safe rendering of a bad value for a reason string."""
    if isinstance(value, Decimal):
        s = str(value)
        return s if len(s) <= _SHOW_CHARS else s[:_SHOW_CHARS] + f"…({len(s)} chars)"
    if isinstance(value, str):
        if len(value) <= _SHOW_CHARS:
            return repr(value)
        return repr(value[:_SHOW_CHARS]) + f"…({len(value)} chars)"
    return repr(value)


def _typed(value: Any) -> str:
    """'array' / 'object' for containers, else the JSON type and the value: 'number 1704189600'."""
    if isinstance(value, (dict, list)):
        return _json_type(value)
    return f"{_json_type(value)} {_show(value)}"


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _check_encodable(name: str, s: str) -> None:
    if "\x00" in s:
        raise _RowError(f"{name}: contains a NUL character (got {_show(s)})")
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise _RowError(f"{name}: contains an unpaired unicode surrogate (got {_show(s)})") from None


def _required_str(values: dict[str, Any], name: str) -> str:
    v = values.get(name)
    if _blank(v):
        raise _RowError(f"{name}: missing")
    if not isinstance(v, str):
        raise _RowError(f"{name}: must be a string (got {_typed(v)})")
    return v.strip()


def _video_id(values: dict[str, Any]) -> str:
    v = values.get("video_id")
    if isinstance(v, Decimal):
        # A number in JSON: an integer literal (123) is the id "123", under the same length limit;
        # 1.5 / 1e5 are refused (their text form would not be the id the user typed).
        if not (v.is_finite() and v.as_tuple().exponent == 0):
            raise _RowError(f"video_id: must be a string or an integer (got {_show(v)})")
        s = str(v)
    else:
        s = _required_str(values, "video_id")
    _check_encodable("video_id", s)
    if _CONTROL_RE.search(s):
        raise _RowError(f"video_id: contains a control character (got {_show(s)})")
    if len(s) > MAX_VIDEO_ID_CHARS:
        raise _RowError(f"video_id: too long ({len(s)} chars, max {MAX_VIDEO_ID_CHARS}) (got {_show(s)})")
    return sys.intern(s)  # a video has several mentions: share the string


def _published_at(values: dict[str, Any], clock: _Clock | None) -> datetime:
    raw = _required_str(values, "published_at")
    text = raw[:-1] + "Z" if raw.endswith("z") else raw
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise _RowError(f"published_at: not an ISO-8601 timestamp (got {_show(raw)})") from None
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise _RowError(f"published_at: timestamp has no UTC offset (got {_show(raw)})")
    try:
        utc = dt.astimezone(timezone.utc)
    except OverflowError:
        utc = None
    if utc is None or not (MIN_YEAR <= utc.year <= MAX_YEAR):
        raise _RowError(
            f"published_at: year out of range {MIN_YEAR}-{MAX_YEAR} (got {_show(raw)})"
        )
    if clock is not None and utc > clock.latest:
        raise _RowError(
            f"published_at: in the future (got {_show(raw)}; the import clock is "
            f"{clock.now:%Y-%m-%dT%H:%M:%SZ}, at most {_minutes(clock.max_ahead)} ahead allowed); "
            f"a typo in the date?"
        )
    return utc


def _minutes(delta: timedelta) -> str:
    minutes = delta.total_seconds() / 60
    return f"{minutes:g} min"


def _symbol(values: dict[str, Any]) -> str:
    raw = _required_str(values, "symbol")
    if not raw.isascii():
        raise _RowError(f"symbol: invalid ticker {ascii(raw[:_SHOW_CHARS])} (non-ASCII characters)")
    sym = raw.upper()
    if not _TICKER_RE.fullmatch(sym) or len(sym) > MAX_CHARS["symbol"]:
        raise _RowError(f"symbol: invalid ticker {_show(raw)}")
    return sys.intern(sym)


def _action(values: dict[str, Any]) -> Action:
    raw = _required_str(values, "action")
    a = _ACTIONS.get(raw.lower())
    if a is None:
        raise _RowError(f"action: unknown action {_show(raw)} (expected {_ACTIONS_TEXT})")
    return a


def _horizon(values: dict[str, Any]) -> Horizon:
    v = values.get("time_horizon")
    if _blank(v):
        return Horizon.UNSPECIFIED
    if not isinstance(v, str):
        raise _RowError(f"time_horizon: must be a string (got {_typed(v)})")
    h = _HORIZONS.get(_norm_key(v))
    if h is None:
        raise _RowError(f"time_horizon: unknown horizon {_show(v.strip())} (expected {_HORIZONS_TEXT})")
    return h


def _conviction(values: dict[str, Any]) -> Decimal:
    v = values.get("conviction")
    if _blank(v):
        raise _RowError("conviction: missing")
    bad = f"conviction: must be a number between 0 and 1 (got {_show(v)})"
    if isinstance(v, Decimal):
        d = v
    elif isinstance(v, str):
        s = v.strip()
        if "_" in s:  # Decimal() accepts "0_5"; a data file should not
            raise _RowError(bad)
        try:
            d = Decimal(s)
        except InvalidOperation:
            raise _RowError(bad) from None
    else:  # bool, NaN literal, array, object
        raise _RowError(bad)
    if not d.is_finite() or d < 0 or d > 1:
        raise _RowError(bad)
    q = d.quantize(CONVICTION_PLACES, rounding=ROUND_HALF_EVEN)
    return q.copy_abs() if q.is_zero() else q


def _optional_text(values: dict[str, Any], name: str) -> str | None:
    v = values.get(name)
    if v is None:
        return None
    if isinstance(v, Decimal):  # a number in JSON, e.g. a title "1984"; same length limit
        s = str(v)
    elif isinstance(v, str):
        s = v.strip()
    else:
        raise _RowError(f"{name}: must be a string or null (got {_typed(v)})")
    if not s:
        return None
    _check_encodable(name, s)
    limit = MAX_TEXT_CHARS[name]
    if len(s) > limit:
        raise _RowError(f"{name}: too long ({len(s)} chars, max {limit}) (got {_show(s)})")
    # Titles and channel names repeat for every mention of a video: share one string.
    return s if name == "quote" else sys.intern(s)


def _validate(
    values: dict[str, Any], line: int, clock: _Clock | None, end_line: int | None = None
) -> MentionRow | RejectedRow:
    """Validate one row (keys already normalised). The first invalid field decides the reason."""
    try:
        row = MentionRow(
            line=line,
            end_line=end_line,
            video_id=_video_id(values),
            published_at=_published_at(values, clock),
            symbol=_symbol(values),
            action=_action(values),
            conviction=_conviction(values),
            horizon=_horizon(values),
            quote=_optional_text(values, "quote"),
            video_title=_optional_text(values, "video_title"),
            channel=_optional_text(values, "channel"),
        )
    except _RowError as exc:
        return RejectedRow(line=line, end_line=end_line, reason=str(exc) + _span(line, end_line or line))
    return row
