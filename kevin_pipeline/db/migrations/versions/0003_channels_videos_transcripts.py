"""channels, videos and transcripts: from videos to calls (issue 12)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

- `channels`: YouTube channel id (unique), handle (unique), `active`; `created_at` becomes
  `added_at` (values kept). Existing channels are active.
- `videos`: duration, url, description, transcript bookkeeping (status, reason, attempts,
  next_attempt_at) and the source that found it. Existing videos came from mention files: source
  `mention_file`, transcript status `none` (their calls are already known; nothing to fetch).
- `transcripts`: one per video and language, timed segments as JSON.
- `mentions`: `channel_id` (NOT NULL) = its video's channel; videos without a channel, and so
  their mentions, get the channel "(no channel)", created here only when some row needs it.
  Also `extractor`, `extractor_version` (NULL: typed into a file) and `start_seconds`.

Downgrade drops what the old schema cannot hold (YouTube ids, handles, `active`, transcripts,
the new video and mention columns), moves videos of "(no channel)" back to no channel and deletes
that channel, and renames `added_at` back. Every mention, video and channel name survives.
On SQLite the mentions table is rebuilt: AUTOINCREMENT and its high-water mark are kept, so a
mention id is never reused (the new-mention sensor's cursor relies on it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
DEFAULT_CHANNEL = "(no channel)"
STATUSES = ("waiting", "fetched", "failed", "none")
SOURCES = ("feed", "info_json", "manual", "mention_file")


def one_of(column: str, values: Sequence[str]) -> str:
    return f'"{column}" IN (' + ", ".join(f"'{v}'" for v in values) + ")"


def _mentions_sequence() -> int | None:
    """SQLite's AUTOINCREMENT high-water mark for mentions (None elsewhere or when unset)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return None
    return bind.execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'mentions'")).scalar()


def _restore_mentions_sequence(seq: int | None) -> None:
    if seq is None:
        return
    bind = op.get_bind()
    updated = bind.execute(
        sa.text("UPDATE sqlite_sequence SET seq = :seq WHERE name = 'mentions' AND seq < :seq"), {"seq": seq}
    ).rowcount
    present = bind.execute(sa.text("SELECT 1 FROM sqlite_sequence WHERE name = 'mentions'")).scalar()
    if not updated and not present:
        bind.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('mentions', :seq)"), {"seq": seq})


def _alter_mentions():  # noqa: ANN202 - Alembic's batch context
    return op.batch_alter_table("mentions", table_kwargs={"sqlite_autoincrement": True})


def upgrade() -> None:
    bind = op.get_bind()

    # --- channels -------------------------------------------------------------------------
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("youtube_channel_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("handle", sa.String(100), nullable=True))
        batch.add_column(sa.Column("active", sa.Boolean(), nullable=True))
        batch.alter_column("created_at", new_column_name="added_at", existing_type=TS, existing_nullable=False)
    op.execute(sa.text("UPDATE channels SET active = :yes").bindparams(yes=True))
    with op.batch_alter_table("channels") as batch:
        batch.alter_column("active", existing_type=sa.Boolean(), nullable=False)
        batch.create_unique_constraint(op.f("uq_channels_youtube_channel_id"), ["youtube_channel_id"])
        batch.create_unique_constraint(op.f("uq_channels_handle"), ["handle"])

    # --- the default channel, only when some video has none ---------------------------------
    if bind.execute(sa.text("SELECT 1 FROM videos WHERE channel_id IS NULL LIMIT 1")).scalar():
        exists = bind.execute(sa.text("SELECT id FROM channels WHERE name = :n"), {"n": DEFAULT_CHANNEL}).scalar()
        if exists is None:
            bind.execute(
                sa.text("INSERT INTO channels (name, added_at, active) VALUES (:n, :at, :yes)"),
                {"n": DEFAULT_CHANNEL, "at": datetime.now(UTC), "yes": True},
            )
        op.execute(
            sa.text(
                "UPDATE videos SET channel_id = (SELECT id FROM channels WHERE name = :n) WHERE channel_id IS NULL"
            ).bindparams(n=DEFAULT_CHANNEL)
        )

    # --- videos -----------------------------------------------------------------------------
    with op.batch_alter_table("videos") as batch:
        batch.add_column(sa.Column("duration_seconds", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("url", sa.String(500), nullable=True))
        batch.add_column(sa.Column("description", sa.Text(), nullable=True))
        batch.add_column(sa.Column("transcript_status", sa.String(16), nullable=True))
        batch.add_column(sa.Column("transcript_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("transcript_attempts", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("next_attempt_at", TS, nullable=True))
        batch.add_column(sa.Column("source", sa.String(16), nullable=True))
    op.execute("UPDATE videos SET transcript_status = 'none', transcript_attempts = 0, source = 'mention_file'")
    with op.batch_alter_table("videos") as batch:
        batch.alter_column("transcript_status", existing_type=sa.String(16), nullable=False)
        batch.alter_column("transcript_attempts", existing_type=sa.Integer(), nullable=False)
        batch.create_check_constraint(op.f("ck_videos_transcript_status"), sa.text(one_of("transcript_status", STATUSES)))
        batch.create_check_constraint(op.f("ck_videos_source"), sa.text(one_of("source", SOURCES)))
        batch.create_index(
            "ix_videos_transcript_status_next_attempt_at", ["transcript_status", "next_attempt_at"]
        )

    # --- transcripts ------------------------------------------------------------------------
    op.create_table(
        "transcripts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("video_pk", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("segments", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("fetched_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_transcripts"),
        sa.UniqueConstraint("video_pk", "language", name="uq_transcripts_video_pk_language"),
        sa.ForeignKeyConstraint(
            ["video_pk"], ["videos.id"], name="fk_transcripts_video_pk_videos", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_transcripts_video_pk", "transcripts", ["video_pk"])

    # --- mentions ---------------------------------------------------------------------------
    seq = _mentions_sequence()
    with _alter_mentions() as batch:
        batch.add_column(sa.Column("channel_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("extractor", sa.String(64), nullable=True))
        batch.add_column(sa.Column("extractor_version", sa.String(32), nullable=True))
        batch.add_column(sa.Column("start_seconds", sa.Float(), nullable=True))
    op.execute("UPDATE mentions SET channel_id = (SELECT channel_id FROM videos WHERE videos.id = mentions.video_pk)")
    with _alter_mentions() as batch:
        batch.alter_column("channel_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(
            "fk_mentions_channel_id_channels", "channels", ["channel_id"], ["id"], ondelete="RESTRICT"
        )
        batch.create_index("ix_mentions_channel_id", ["channel_id"])
    _restore_mentions_sequence(seq)


def downgrade() -> None:
    seq = _mentions_sequence()
    with _alter_mentions() as batch:
        batch.drop_index("ix_mentions_channel_id")
        batch.drop_constraint("fk_mentions_channel_id_channels", type_="foreignkey")
        batch.drop_column("start_seconds")
        batch.drop_column("extractor_version")
        batch.drop_column("extractor")
        batch.drop_column("channel_id")
    _restore_mentions_sequence(seq)

    op.drop_index("ix_transcripts_video_pk", table_name="transcripts")
    op.drop_table("transcripts")

    with op.batch_alter_table("videos") as batch:
        batch.drop_index("ix_videos_transcript_status_next_attempt_at")
        batch.drop_constraint(op.f("ck_videos_source"), type_="check")
        batch.drop_constraint(op.f("ck_videos_transcript_status"), type_="check")
        for column in (
            "source",
            "next_attempt_at",
            "transcript_attempts",
            "transcript_reason",
            "transcript_status",
            "description",
            "url",
            "duration_seconds",
        ):
            batch.drop_column(column)
    op.execute(
        sa.text(
            "UPDATE videos SET channel_id = NULL WHERE channel_id IN (SELECT id FROM channels WHERE name = :n)"
        ).bindparams(n=DEFAULT_CHANNEL)
    )
    op.execute(sa.text("DELETE FROM channels WHERE name = :n").bindparams(n=DEFAULT_CHANNEL))

    with op.batch_alter_table("channels") as batch:
        batch.drop_constraint(op.f("uq_channels_handle"), type_="unique")
        batch.drop_constraint(op.f("uq_channels_youtube_channel_id"), type_="unique")
        batch.drop_column("active")
        batch.drop_column("handle")
        batch.drop_column("youtube_channel_id")
        batch.alter_column("added_at", new_column_name="created_at", existing_type=TS, existing_nullable=False)
