"""How long each text field of a mention row may be: read from the database columns it fills.

The parser rejects an over-long value per row, with its line, *before* anything is written: a value
the database cannot hold would otherwise fail the whole import on PostgreSQL (``value too long for
type character varying(64)``) and lose every good row of the file with it. SQLite would store it
silently, so the check must not depend on the backend.

The limits come from the SQLAlchemy column definitions in ``db.models`` (one source: widen a column
in a migration and the parser follows). A row value that fills several columns gets the smallest of
their limits. Unbounded ``Text`` columns (quote, title) keep a sanity cap so a runaway cell cannot
bloat the database.
"""

from __future__ import annotations

from sqlalchemy import Column, String

from kevin_pipeline.db.models import Channel, MentionRecord, Video

# Sanity caps for values stored in unbounded TEXT columns.
TEXT_CAPS: dict[str, int] = {"quote": 10_000, "video_title": 1_000}

# Row field -> every column its value is written to (db.store.store_mentions).
_COLUMNS: dict[str, tuple[Column, ...]] = {
    "video_id": (Video.__table__.c.video_id, MentionRecord.__table__.c.video_id),
    "symbol": (MentionRecord.__table__.c.symbol,),
    "channel": (Channel.__table__.c.name,),
    "video_title": (Video.__table__.c.title,),
    "quote": (MentionRecord.__table__.c.quote,),
}


def _limit(field: str) -> int:
    lengths = [
        c.type.length
        for c in _COLUMNS[field]
        if isinstance(c.type, String) and c.type.length is not None
    ]
    caps = [TEXT_CAPS[field]] if field in TEXT_CAPS else []
    if not lengths and not caps:
        raise RuntimeError(f"no length limit for mention field {field!r}")  # a new TEXT column: add a cap
    return min(lengths + caps)


#: Maximum length in characters of each text field of a mention row (PostgreSQL VARCHAR counts
#: characters, not bytes).
MAX_CHARS: dict[str, int] = {field: _limit(field) for field in _COLUMNS}

#: The file name a mention was imported from (``mentions.source``); longer names are cut.
SOURCE_CHARS: int = MentionRecord.__table__.c.source.type.length  # type: ignore[attr-defined]
