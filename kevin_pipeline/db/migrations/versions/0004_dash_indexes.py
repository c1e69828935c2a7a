"""mentions: an index on (published_at, id) for the dashboard's newest-calls-first reads

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

/paper-account's decision feed reads the newest 100 calls (`ORDER BY published_at DESC, id DESC
LIMIT 100`); without this index the database sorts every mention for it (25,000 on a channel
that talks daily). The index is read backwards; no data changes.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_mentions_published_at_id", "mentions", ["published_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_mentions_published_at_id", table_name="mentions")
