"""File -> validated rows -> database, in one transaction, with the counts the user sees."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

from kevin_pipeline.runtime import Runtime
from kevin_pipeline.db.store import store_mentions
from kevin_pipeline.domain.mention_rows import RejectedRow
from kevin_pipeline.ingest.limits import SOURCE_CHARS
from kevin_pipeline.ingest.parse import parse_mentions_file


def sample_mentions_path() -> Path:
    """The bundled ILLUSTRATIVE sample of mentions (not real calls), see kevin_pipeline/data/README.md."""
    return Path(str(resources.files("kevin_pipeline").joinpath("data/sample_mentions.csv")))


@dataclass
class ImportReport:
    path: Path
    imported: int
    skipped_duplicate: int
    rejected: list[RejectedRow] = field(default_factory=list)
    published_at_conflicts: tuple[str, ...] = ()

    def summary(self) -> str:
        return f"imported {self.imported}, skipped-duplicate {self.skipped_duplicate}, rejected {len(self.rejected)}"


def import_mentions_file(
    runtime: Runtime, path: Path, fmt: str | None = None, *, now: datetime | None = None
) -> ImportReport:
    """Parse the whole file first (a file error stores nothing), then store every valid row.

    Rows rejected by validation never block the valid ones: a 10,000-row export with one typo
    must not lose 9,999 calls. `now` is the import clock (default: the real one): a row published
    more than `KEVIN_MAX_PUBLISH_AHEAD_MINUTES` after it is rejected as a future date.
    """
    now = now or datetime.now(UTC)
    ahead = timedelta(minutes=runtime.settings.max_publish_ahead_minutes)
    parsed = parse_mentions_file(path, fmt, now=now, max_ahead=ahead)
    with runtime.transaction() as session:
        stored = store_mentions(session, parsed.rows, source=path.name[:SOURCE_CHARS])
    return ImportReport(
        path=path,
        imported=stored.imported,
        skipped_duplicate=stored.skipped_duplicate + parsed.duplicates_in_file,
        rejected=list(parsed.rejected),
        published_at_conflicts=stored.published_at_conflicts,
    )
