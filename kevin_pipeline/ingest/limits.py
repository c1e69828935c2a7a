"""How long each text field of a mention row may be: the lengths of the database columns it fills.

The parser rejects an over-long value per row, with its line, *before* anything is written: a value
the database cannot hold would otherwise fail the whole import on PostgreSQL (``value too long for
type character varying(64)``) and lose every good row of the file with it. SQLite would store it
silently, so the check must not depend on the backend.

The lengths come from ``db.lengths``, the numbers ``db.models`` declares its columns with (one
source: widen a column in a migration and the parser follows), read without importing SQLAlchemy.
A row value that fills several columns gets the smallest of their limits. Unbounded ``Text``
columns (quote, title) keep a sanity cap so a runaway cell cannot bloat the database.
"""

from __future__ import annotations

from kevin_pipeline.db.lengths import CHANNEL_NAME_CHARS, MENTION_SOURCE_CHARS, SYMBOL_CHARS, VIDEO_ID_CHARS

# Sanity caps for values stored in unbounded TEXT columns.
TEXT_CAPS: dict[str, int] = {"quote": 10_000, "video_title": 1_000}

#: Maximum length in characters of each text field of a mention row (PostgreSQL VARCHAR counts
#: characters, not bytes): videos.video_id and mentions.video_id, mentions.symbol, channels.name,
#: and the caps of the TEXT columns videos.title and mentions.quote.
MAX_CHARS: dict[str, int] = {
    "video_id": VIDEO_ID_CHARS,
    "symbol": SYMBOL_CHARS,
    "channel": CHANNEL_NAME_CHARS,
    "video_title": TEXT_CAPS["video_title"],
    "quote": TEXT_CAPS["quote"],
}

#: The file name a mention was imported from (``mentions.source``); longer names are cut.
SOURCE_CHARS: int = MENTION_SOURCE_CHARS
