"""The mention drop folder behind the `mentions` asset.

Every `.csv` / `.json` / `.jsonl` / `.ndjson` file in the drop folder (`KEVIN_MENTIONS_DROP_DIR`,
default `<state dir>/inbox`) is imported with `ingest.importer.import_mentions_file` (invalid rows
are rejected and reported, valid ones stored; re-importing adds nothing) and then moved to
`processed/`. A file that cannot be read at all goes to `failed/`, so it is not retried forever.
Files whose name starts with "." or ends in .tmp / .part are left alone (copies in progress).

When the app database has no mentions and the folder has no files, the bundled, clearly
labelled SAMPLE is imported so the embedded default works on a fresh machine.
"""

import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from kevin_pipeline.app import App
from kevin_pipeline.db.models import MentionRecord
from kevin_pipeline.ingest.importer import ImportReport, import_mentions_file, sample_mentions_path
from kevin_pipeline.ingest.parse import FORMATS, MentionFileError

PROCESSED = "processed"
FAILED = "failed"


@dataclass
class InboxReport:
    drop_dir: Path
    imported: list[ImportReport] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # file name -> why
    sample: ImportReport | None = None

    @property
    def reports(self) -> list[ImportReport]:
        return self.imported + ([self.sample] if self.sample else [])

    @property
    def new_count(self) -> int:
        return sum(r.imported for r in self.reports)

    @property
    def duplicate_count(self) -> int:
        return sum(r.skipped_duplicate for r in self.reports)

    @property
    def rejected(self) -> list[dict[str, object]]:
        return [{"file": r.path.name, "line": x.line, "reason": x.reason} for r in self.reports for x in r.rejected]


def pending_files(drop_dir: Path) -> list[Path]:
    if not drop_dir.is_dir():
        return []
    return sorted(
        p
        for p in drop_dir.iterdir()
        if p.is_file()
        and p.suffix.lower() in FORMATS
        and not p.name.startswith(".")
        and not p.name.endswith((".tmp", ".part"))
    )


def _move(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    if target.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        target = folder / f"{path.stem}.{stamp}{path.suffix}"
    return Path(shutil.move(str(path), str(target)))


def mention_count(app: App) -> int:
    with app.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(MentionRecord)) or 0)


def import_inbox(app: App, drop_dir: Path, *, sample_when_empty: bool = True) -> InboxReport:
    drop_dir.mkdir(parents=True, exist_ok=True)  # so the user sees where to drop files
    report = InboxReport(drop_dir=drop_dir)
    files = pending_files(drop_dir)
    for path in files:
        try:
            report.imported.append(import_mentions_file(app, path))
        except MentionFileError as exc:
            report.failed[path.name] = str(exc)
            _move(path, drop_dir / FAILED)
            continue
        _move(path, drop_dir / PROCESSED)
    if not files and sample_when_empty and mention_count(app) == 0:
        report.sample = import_mentions_file(app, sample_mentions_path())
    return report
