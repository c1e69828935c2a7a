"""The mention drop folder behind the `mentions` asset (plain import code: the asset only calls it).

Every `.csv` / `.json` / `.jsonl` / `.ndjson` file in the drop folder (`KEVIN_MENTIONS_DROP_DIR`,
default `<state dir>/inbox`) is imported with `ingest.importer.import_mentions_file` (invalid rows
are rejected and reported, valid ones stored; re-importing adds nothing) and then moved to
`processed/`. A file whose import fails, for ANY reason (unreadable, or an unexpected error while
storing it), goes to `failed/` with a `<file>.reason.txt` beside it: a file left in the inbox would
fail the asset on every run and hold up every file dropped after it. Move it back to retry. The one
exception is a database that cannot be reached at all: that is no fault of the file, so the error is
raised (the asset run fails) and the files stay in the inbox for the next run.
Files whose name starts with "." or ends in .tmp / .part are left alone (copies in progress), and
so are yt-dlp metadata files (`*.info.json`, `*.info.jsonl`): the video inbox reads those. The
mechanics (processed/, set aside with a reason, never stop at a bad file) are `drain`, shared by
every reader of a drop folder.

An empty folder imports nothing. The bundled illustrative SAMPLE is never imported here: only the
demo (`kevin demo`, which drops it into its own database's inbox) gets it, so made-up calls can
never reach a real database where the sensor would trade them.
"""

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Generic, TypeVar

from sqlalchemy import func, select

from kevin_pipeline.runtime import Runtime
from kevin_pipeline.db.models import MentionRecord
from kevin_pipeline.ingest.importer import ImportReport, import_mentions_file
from kevin_pipeline.ingest.parse import FORMATS, MentionFileError

log = logging.getLogger(__name__)

PROCESSED = "processed"
FAILED = "failed"
REASON_SUFFIX = ".reason.txt"
VIDEO_METADATA_SUFFIXES = (".info.json", ".info.jsonl")  # yt-dlp's, read by kevin_pipeline.videos
R = TypeVar("R")
_REASON_CHARS = 2_000  # a database error can quote a whole batch of rows; the log has the rest


@dataclass
class InboxReport:
    drop_dir: Path
    imported: list[ImportReport] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # file name -> why
    seen: int = 0  # files found in the folder

    @property
    def reports(self) -> list[ImportReport]:
        return self.imported

    @property
    def new_count(self) -> int:
        return sum(r.imported for r in self.reports)

    @property
    def duplicate_count(self) -> int:
        return sum(r.skipped_duplicate for r in self.reports)

    @property
    def rejected(self) -> list[dict[str, object]]:
        return [{"file": r.path.name, "line": x.line, "reason": x.reason} for r in self.reports for x in r.rejected]


def pending_files(drop_dir: Path, accept: Callable[[Path], bool] | None = None) -> list[Path]:
    """Files waiting in `drop_dir` (not in its subfolders, not copies in progress), by name.

    Default: mention files (`FORMATS`), except yt-dlp metadata (`*.info.json`, `*.info.jsonl`),
    which the video inbox (`kevin_pipeline.videos.inbox`) reads from the same folder."""
    if not drop_dir.is_dir():
        return []
    accept = accept or _is_mention_file
    return sorted(
        p
        for p in drop_dir.iterdir()
        if p.is_file() and not p.name.startswith(".") and not p.name.endswith((".tmp", ".part")) and accept(p)
    )


def _is_mention_file(path: Path) -> bool:
    return path.suffix.lower() in FORMATS and not path.name.lower().endswith(VIDEO_METADATA_SUFFIXES)


def _move(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    if target.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        target = folder / f"{path.stem}.{stamp}{path.suffix}"
    return Path(shutil.move(str(path), str(target)))


@dataclass(frozen=True)
class SetAside:
    """Where a file that did not go through ends up: the folder and the reason file's suffix."""

    folder: str = FAILED
    reason_suffix: str = REASON_SUFFIX


# Where the sources of "from videos to calls" (metadata, caption files) put a file they refuse.
REJECTED = SetAside(folder="rejected", reason_suffix=".reason")


def _set_aside(path: Path, drop_dir: Path, why: str, where: SetAside) -> None:
    """Move a file that did not go through to its folder, with the reason in a text file beside it."""
    moved = _move(path, drop_dir / where.folder)
    moved.with_name(moved.name + where.reason_suffix).write_text(
        f"{path.name}: {why}\n"
        f"Fix the file (or the cause) and move it back into {drop_dir} to import it again.\n",
        encoding="utf-8",
    )


def _one_line(exc: BaseException) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= _REASON_CHARS else text[:_REASON_CHARS] + " …"


def _database_reachable(runtime: Runtime) -> bool:
    try:
        with runtime.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure to run SELECT 1 means "unreachable"
        return False
    return True


def mention_count(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(MentionRecord)) or 0)


@dataclass
class Drained(Generic[R]):
    done: list[R] = field(default_factory=list)  # every file handled, set aside or not
    failed: dict[str, str] = field(default_factory=dict)  # file name -> why it was set aside
    seen: int = 0


def drain(
    runtime: Runtime,
    drop_dir: Path,
    files: list[Path],
    handle: Callable[[Path], R],
    *,
    refused: tuple[type[Exception], ...],
    leftover: Callable[[R], str | None] = lambda _result: None,
    where: SetAside = SetAside(),
) -> Drained[R]:
    """Run `handle` on each file; never stop at a bad one. The inbox mechanics every drop-folder
    reader shares (mention files, video metadata, caption files).

    A file goes to `processed/` when `handle` returns and `leftover(result)` has nothing to say;
    to `where.folder` with a reason file when `handle` raises one of `refused` (its message is the
    reason), when `leftover` names what was left out (the rest was stored), or on any other error —
    unless the database cannot be reached at all: that is no file's fault, so the error is raised
    and the files stay for the next run."""
    drained: Drained[R] = Drained(seen=len(files))
    for path in files:
        try:
            result = handle(path)
        except refused as exc:
            why = str(exc)
        except Exception as exc:  # noqa: BLE001 - any failure must not block the files after it
            if not _database_reachable(runtime):
                raise  # the database is down: no file's fault; leave them all for the next run
            log.exception("importing %s failed; moving it to %s/", path.name, where.folder)
            why = f"the import failed: {_one_line(exc)}"
        else:
            drained.done.append(result)
            left = leftover(result)
            if left is None:
                _move(path, drop_dir / PROCESSED)
            else:
                drained.failed[path.name] = left
                _set_aside(path, drop_dir, left, where)
            continue
        drained.failed[path.name] = why
        _set_aside(path, drop_dir, f"not imported: {why}", where)
    return drained


def import_inbox(runtime: Runtime, drop_dir: Path, *, now: datetime | None = None) -> InboxReport:
    """Import every pending mention file of the drop folder (`now`: the import clock, default the
    real one). Never stops at a bad file: each is either imported (-> processed/) or failed
    (-> failed/)."""
    drop_dir.mkdir(parents=True, exist_ok=True)  # so the user sees where to drop files
    files = pending_files(drop_dir)
    drained = drain(
        runtime, drop_dir, files, lambda path: import_mentions_file(runtime, path, now=now), refused=(MentionFileError,)
    )
    return InboxReport(drop_dir=drop_dir, imported=drained.done, failed=drained.failed, seen=drained.seen)
