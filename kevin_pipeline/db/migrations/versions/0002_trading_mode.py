"""trading_state: the runtime kill switch becomes three states (on, exits-only, off)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

`trading_enabled` (boolean) is replaced by `trading_mode` (`on`, `exits-only`, `off`), data kept:
true -> on, false -> off. Downgrade maps back: on -> true, exits-only and off -> false (the old
schema cannot say "exits only"; false is the side that sends nothing new).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MODES = ("on", "exits-only", "off")
MODE_CHECK = '"trading_mode" IN (' + ", ".join(f"'{m}'" for m in MODES) + ")"


def upgrade() -> None:
    with op.batch_alter_table("trading_state") as batch:
        batch.add_column(sa.Column("trading_mode", sa.String(16), nullable=True))
    op.execute(
        "UPDATE trading_state SET trading_mode = CASE WHEN trading_enabled THEN 'on' ELSE 'off' END"
    )
    with op.batch_alter_table("trading_state") as batch:
        batch.alter_column("trading_mode", existing_type=sa.String(16), nullable=False)
        batch.create_check_constraint(op.f("ck_trading_state_trading_mode"), sa.text(MODE_CHECK))
        batch.drop_column("trading_enabled")


def downgrade() -> None:
    with op.batch_alter_table("trading_state") as batch:
        batch.add_column(sa.Column("trading_enabled", sa.Boolean(), nullable=True))
    op.execute(
        "UPDATE trading_state SET trading_enabled = CASE WHEN trading_mode = 'on' THEN TRUE ELSE FALSE END"
    )
    with op.batch_alter_table("trading_state") as batch:
        batch.alter_column("trading_enabled", existing_type=sa.Boolean(), nullable=False)
        batch.drop_constraint(op.f("ck_trading_state_trading_mode"), type_="check")
        batch.drop_column("trading_mode")
