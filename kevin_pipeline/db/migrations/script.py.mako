"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

Write schema changes here by hand (or autogenerate and clean up). Use plain SQLAlchemy types
(sa.DateTime(timezone=True), sa.Numeric(18, 2), ...), never kevin's model classes: a migration must
keep meaning the same thing after the models move on. SQLite runs with render_as_batch, so
use `with op.batch_alter_table(...)` for ALTERs.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}

revision: str = ${repr(up_revision)}
down_revision: str | Sequence[str] | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
