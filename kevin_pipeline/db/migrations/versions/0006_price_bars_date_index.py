"""price_bars: an index on date, for the dashboard's data version

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

The dashboard keys its caches (the /channels skill report, /strategy's hit rates and scorecard) on
the newest call and the bars' first and last date and count, read on every page load. The primary
key is (symbol, date), so the first and last date were a scan of every bar (630,000 on five years of
500 symbols, a tenth of a second with the count); with this index they are two index lookups. No
data changes.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_price_bars_date", "price_bars", ["date"])


def downgrade() -> None:
    op.drop_index("ix_price_bars_date", table_name="price_bars")
