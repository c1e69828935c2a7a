"""The lengths of the text columns a mention row fills, as plain numbers.

`db.models` declares those columns with them, and the importer checks every row against them
(`ingest.limits`) before anything is written. They live apart from the models so a parser can
read them without importing SQLAlchemy: `kevin backtest --mentions FILE --no-save` validates a
file against these limits but never opens a database. Change one only with a migration.
"""

from __future__ import annotations

VIDEO_ID_CHARS = 64  # videos.video_id, mentions.video_id
SYMBOL_CHARS = 16  # every symbol column
CHANNEL_NAME_CHARS = 200  # channels.name
MENTION_SOURCE_CHARS = 500  # mentions.source: the file name a mention was imported from
