"""extractions: which extractor (name + version) has read which video's transcript

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

Before this, a transcript whose video held no call was read again on every run (nothing recorded
"read, found nothing"): free with the offline rules, a paid LLM call each time with `llm`. A row
per (video, extractor, version) records the calls found or the failure; existing mentions from an
extractor count as read, so an upgrade does not re-read them either.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "extractions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("video_pk", sa.Integer(), nullable=False),
        sa.Column("extractor", sa.String(length=32), nullable=False),
        sa.Column("extractor_version", sa.String(length=128), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("read_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_extractions"),
        sa.UniqueConstraint(
            "video_pk", "extractor", "extractor_version", name="uq_extractions_video_pk_extractor_extractor_version"
        ),
        sa.ForeignKeyConstraint(["video_pk"], ["videos.id"], name="fk_extractions_video_pk_videos", ondelete="CASCADE"),
    )
    op.create_index("ix_extractions_video_pk", "extractions", ["video_pk"])
    # what was extracted before this table existed counts as read (one row per video and extractor)
    bind = op.get_bind()
    read = bind.execute(sa.text(
        "SELECT video_pk, extractor, extractor_version, COUNT(*) FROM mentions "
        "WHERE extractor IS NOT NULL AND extractor_version IS NOT NULL "
        "GROUP BY video_pk, extractor, extractor_version"
    )).all()
    if read:
        table = sa.table(
            "extractions", sa.column("video_pk"), sa.column("extractor"), sa.column("extractor_version"),
            sa.column("calls"), sa.column("error"), sa.column("attempts"), sa.column("read_at", TS),
        )
        now = datetime.now(UTC)
        op.bulk_insert(table, [
            {"video_pk": v, "extractor": e, "extractor_version": ver, "calls": n, "error": None, "attempts": 1, "read_at": now}
            for v, e, ver, n in read
        ])


def downgrade() -> None:
    op.drop_index("ix_extractions_video_pk", table_name="extractions")
    op.drop_table("extractions")
