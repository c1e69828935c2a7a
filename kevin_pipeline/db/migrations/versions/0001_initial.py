"""initial schema: mentions, decisions, orders, positions, risk state, backtests, price bars

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Written by hand from `kevin_pipeline.db.models` (plain SQLAlchemy types only, every constraint
named explicitly). `tests/db/test_db_migrations.py` checks that it matches the models.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Storage types, frozen as of this revision.
TS = sa.DateTime(timezone=True)  # kevin_pipeline.db.models.UTCDateTime stores through this
USD = sa.Numeric(18, 2)
PRICE = sa.Numeric(18, 4)
QTY = sa.Numeric(18, 4)
CONVICTION = sa.Numeric(5, 4)
SYMBOL = sa.String(16)


def JSONDoc() -> sa.types.TypeEngine:  # noqa: N802 - reads like a type
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def one_of(column: str, *values: str) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f'"{column}" IN ({quoted})'


ACTIONS = ("buy", "sell", "hold", "avoid", "watch")
HORIZONS = ("intraday", "days", "weeks", "months", "long_term", "unspecified")
EXIT_REASONS = ("time", "stop", "take_profit", "sell", "avoid", "manual", "end_of_data", "reconciled")

# Creation order (parents first); downgrade drops in reverse.
TABLES = (
    "channels",
    "videos",
    "mentions",
    "decisions",
    "orders",
    "positions",
    "account_snapshots",
    "blocklist",
    "risk_days",
    "trading_state",
    "manual_close_requests",
    "backtest_runs",
    "backtest_trades",
    "price_bars",
    "reconciliation_events",
    "sim_account",
    "sim_orders",
    "sim_lots",
    "sim_closes",
)


def upgrade() -> None:
    # --- mentions: channels -> videos -> mentions ------------------------------------------
    op.create_table(
        "channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_channels"),
        sa.UniqueConstraint("name", name="uq_channels_name"),
    )

    op.create_table(
        "videos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("video_id", sa.String(64), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("published_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_videos"),
        sa.UniqueConstraint("video_id", name="uq_videos_video_id"),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"],
            name="fk_videos_channel_id_channels", ondelete="SET NULL",
        ),
    )
    op.create_index("ix_videos_channel_id", "videos", ["channel_id"])

    op.create_table(
        "mentions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("video_pk", sa.Integer(), nullable=False),
        sa.Column("video_id", sa.String(64), nullable=False),
        sa.Column("symbol", SYMBOL, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("conviction", CONVICTION, nullable=False),
        sa.Column("time_horizon", sa.String(16), nullable=False),
        sa.Column("quote", sa.Text(), nullable=True),
        sa.Column("published_at", TS, nullable=False),
        sa.Column("imported_at", TS, nullable=False),
        sa.Column("source", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_mentions"),
        sa.UniqueConstraint(
            "video_id", "symbol", "action", "time_horizon", name="uq_mentions_natural_key"
        ),
        sa.ForeignKeyConstraint(
            ["video_pk"], ["videos.id"], name="fk_mentions_video_pk_videos", ondelete="CASCADE"
        ),
        sa.CheckConstraint(one_of("action", *ACTIONS), name=op.f("ck_mentions_action")),
        sa.CheckConstraint(one_of("time_horizon", *HORIZONS), name=op.f("ck_mentions_time_horizon")),
        sa.CheckConstraint(
            "conviction >= 0 AND conviction <= 1", name=op.f("ck_mentions_conviction_range")
        ),
        # ids never reused on SQLite: the new-mention sensor's cursor relies on increasing ids
        sqlite_autoincrement=True,
    )
    op.create_index("ix_mentions_symbol_published_at", "mentions", ["symbol", "published_at"])
    op.create_index("ix_mentions_video_pk", "mentions", ["video_pk"])

    # --- decisions, orders, positions --------------------------------------------------------
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mention_id", sa.Integer(), nullable=False),
        sa.Column("symbol", SYMBOL, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("effective_conviction", CONVICTION, nullable=False),
        sa.Column("size_usd", USD, nullable=False),
        sa.Column("hold_sessions", sa.Integer(), nullable=True),
        sa.Column("planned_exit_session", sa.Date(), nullable=True),
        sa.Column("extends_hold", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_at", TS, nullable=False),
        sa.Column("context", JSONDoc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_decisions"),
        sa.UniqueConstraint("mention_id", name="uq_decisions_mention_id"),
        sa.ForeignKeyConstraint(
            ["mention_id"], ["mentions.id"],
            name="fk_decisions_mention_id_mentions", ondelete="RESTRICT",
        ),
        sa.CheckConstraint(one_of("action", *ACTIONS), name=op.f("ck_decisions_action")),
        sa.CheckConstraint(
            one_of("kind", "open_long", "close_long", "no_op"), name=op.f("ck_decisions_kind")
        ),
        sa.CheckConstraint(
            one_of(
                "status",
                "emitted",
                "dry_run",
                "skipped_non_tradable",
                "skipped_blocklist",
                "skipped_caps",
                "skipped_filter",
                "broker_rejected",
            ),
            name=op.f("ck_decisions_status"),
        ),
    )
    op.create_index("ix_decisions_decided_at", "decisions", ["decided_at"])
    op.create_index("ix_decisions_symbol_decided_at", "decisions", ["symbol", "decided_at"])
    op.create_index("ix_decisions_status", "decisions", ["status"])

    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_order_id", sa.String(48), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=True),
        sa.Column("broker", sa.String(16), nullable=False),
        sa.Column("broker_order_id", sa.String(64), nullable=True),
        sa.Column("symbol", SYMBOL, nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("qty", QTY, nullable=False),
        sa.Column("order_type", sa.String(16), nullable=False),
        sa.Column("time_in_force", sa.String(8), nullable=False),
        sa.Column("limit_price", PRICE, nullable=True),
        sa.Column("take_profit_price", PRICE, nullable=True),
        sa.Column("stop_price", PRICE, nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("submitted_at", TS, nullable=True),
        sa.Column("filled_at", TS, nullable=True),
        sa.Column("filled_qty", QTY, nullable=True),
        sa.Column("filled_avg_price", PRICE, nullable=True),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("raw", JSONDoc(), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_orders"),
        sa.UniqueConstraint("client_order_id", name="uq_orders_client_order_id"),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["decisions.id"],
            name="fk_orders_decision_id_decisions", ondelete="SET NULL",
        ),
        sa.CheckConstraint(one_of("broker", "simulated", "alpaca"), name=op.f("ck_orders_broker")),
        sa.CheckConstraint(one_of("side", "buy", "sell"), name=op.f("ck_orders_side")),
        sa.CheckConstraint(
            one_of(
                "purpose",
                "entry",
                "exit_time",
                "exit_sell",
                "exit_avoid",
                "exit_manual",
                "stop",
                "take_profit",
            ),
            name=op.f("ck_orders_purpose"),
        ),
    )
    op.create_index("ix_orders_symbol_status", "orders", ["symbol", "status"])
    op.create_index("ix_orders_decision_id", "orders", ["decision_id"])
    op.create_index("ix_orders_broker_order_id", "orders", ["broker_order_id"])
    op.create_index("ix_orders_submitted_at", "orders", ["submitted_at"])

    op.create_table(
        "positions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("symbol", SYMBOL, nullable=False),
        sa.Column("qty", QTY, nullable=False),
        sa.Column("entry_order_id", sa.Integer(), nullable=True),
        sa.Column("entry_at", TS, nullable=False),
        sa.Column("entry_price", PRICE, nullable=False),
        sa.Column("cost_basis", USD, nullable=False),
        sa.Column("planned_exit_session", sa.Date(), nullable=True),
        sa.Column("stop_price", PRICE, nullable=True),
        sa.Column("take_profit_price", PRICE, nullable=True),
        sa.Column("source_mention_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("exit_order_id", sa.Integer(), nullable=True),
        sa.Column("exit_at", TS, nullable=True),
        sa.Column("exit_price", PRICE, nullable=True),
        sa.Column("exit_reason", sa.String(16), nullable=True),
        sa.Column("realized_pnl", USD, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_positions"),
        sa.ForeignKeyConstraint(
            ["entry_order_id"], ["orders.id"],
            name="fk_positions_entry_order_id_orders", ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["exit_order_id"], ["orders.id"],
            name="fk_positions_exit_order_id_orders", ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_mention_id"], ["mentions.id"],
            name="fk_positions_source_mention_id_mentions", ondelete="SET NULL",
        ),
        sa.CheckConstraint(one_of("status", "open", "closed"), name=op.f("ck_positions_status")),
        sa.CheckConstraint(one_of("exit_reason", *EXIT_REASONS), name=op.f("ck_positions_exit_reason")),
    )
    op.create_index("ix_positions_symbol_status", "positions", ["symbol", "status"])
    op.create_index(
        "ix_positions_status_planned_exit", "positions", ["status", "planned_exit_session"]
    )

    op.create_table(
        "account_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("taken_at", TS, nullable=False),
        sa.Column("equity", USD, nullable=False),
        sa.Column("cash", USD, nullable=False),
        sa.Column("positions_value", USD, nullable=False),
        sa.Column("day_pnl", USD, nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("positions", JSONDoc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_account_snapshots"),
        sa.CheckConstraint(
            one_of("source", "simulated", "alpaca"), name=op.f("ck_account_snapshots_source")
        ),
    )
    op.create_index("ix_account_snapshots_taken_at", "account_snapshots", ["taken_at"])

    # --- risk state ----------------------------------------------------------------------------
    op.create_table(
        "blocklist",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("symbol", SYMBOL, nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("mention_id", sa.Integer(), nullable=True),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_blocklist"),
        sa.ForeignKeyConstraint(
            ["mention_id"], ["mentions.id"],
            name="fk_blocklist_mention_id_mentions", ondelete="SET NULL",
        ),
    )
    op.create_index("ix_blocklist_symbol_expires_at", "blocklist", ["symbol", "expires_at"])

    op.create_table(
        "risk_days",
        sa.Column("ny_date", sa.Date(), nullable=False),
        sa.Column("trade_count", sa.Integer(), nullable=False),
        sa.Column("alloc_usd", USD, nullable=False),
        sa.Column("start_equity", USD, nullable=True),
        sa.Column("close_equity", USD, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("ny_date", name="pk_risk_days"),
    )

    trading_state = op.create_table(
        "trading_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("trading_enabled", sa.Boolean(), nullable=False),
        sa.Column("paused_until", TS, nullable=True),
        sa.Column("pause_reason", sa.Text(), nullable=True),
        sa.Column("halted", sa.Boolean(), nullable=False),
        sa.Column("halt_reason", sa.Text(), nullable=True),
        sa.Column("halted_at", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trading_state"),
        sa.CheckConstraint("id = 1", name=op.f("ck_trading_state_single_row")),
    )
    # The single row, trading off: turning it on is a deliberate act.
    op.execute(
        trading_state.insert().values(
            id=1, trading_enabled=False, halted=False, updated_at=sa.func.current_timestamp()
        )
    )

    op.create_table(
        "manual_close_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("symbol", SYMBOL, nullable=False),
        sa.Column("position_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("requested_by", sa.String(100), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("processed_at", TS, nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_manual_close_requests"),
        sa.ForeignKeyConstraint(
            ["position_id"], ["positions.id"],
            name="fk_manual_close_requests_position_id_positions", ondelete="SET NULL",
        ),
        sa.CheckConstraint(
            one_of("status", "pending", "done", "failed"), name=op.f("ck_manual_close_requests_status")
        ),
    )
    op.create_index(
        "ix_manual_close_requests_status_requested_at",
        "manual_close_requests",
        ["status", "requested_at"],
    )

    # --- backtests and prices ------------------------------------------------------------------
    op.create_table(
        "backtest_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("sweep_id", sa.String(64), nullable=True),
        sa.Column("params", JSONDoc(), nullable=False),
        sa.Column("metrics", JSONDoc(), nullable=True),
        sa.Column("equity_curve", JSONDoc(), nullable=True),
        sa.Column("benchmark_curve", JSONDoc(), nullable=True),
        sa.Column("decisions", JSONDoc(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_backtest_runs"),
        sa.CheckConstraint(
            one_of("status", "queued", "running", "succeeded", "failed"),
            name=op.f("ck_backtest_runs_status"),
        ),
        sa.CheckConstraint(
            one_of("trigger", "cli", "dagster", "dash", "sweep"), name=op.f("ck_backtest_runs_trigger")
        ),
    )
    op.create_index("ix_backtest_runs_created_at", "backtest_runs", ["created_at"])
    op.create_index("ix_backtest_runs_status", "backtest_runs", ["status"])
    op.create_index("ix_backtest_runs_sweep_id", "backtest_runs", ["sweep_id"])

    op.create_table(
        "backtest_trades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("symbol", SYMBOL, nullable=False),
        sa.Column("mention_id", sa.Integer(), nullable=True),
        sa.Column("entry_at", TS, nullable=False),
        sa.Column("entry_price", PRICE, nullable=False),
        sa.Column("exit_at", TS, nullable=True),
        sa.Column("exit_price", PRICE, nullable=True),
        sa.Column("qty", QTY, nullable=False),
        sa.Column("pnl_usd", USD, nullable=False),
        sa.Column("pnl_pct", sa.Numeric(12, 6), nullable=False),
        sa.Column("sessions_held", sa.Integer(), nullable=True),
        sa.Column("exit_reason", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_backtest_trades"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["backtest_runs.id"],
            name="fk_backtest_trades_run_id_backtest_runs", ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            one_of("exit_reason", *EXIT_REASONS), name=op.f("ck_backtest_trades_exit_reason")
        ),
    )
    op.create_index("ix_backtest_trades_run_id", "backtest_trades", ["run_id"])

    op.create_table(
        "price_bars",
        sa.Column("symbol", SYMBOL, nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("open", sa.Float(), nullable=False),
        sa.Column("high", sa.Float(), nullable=False),
        sa.Column("low", sa.Float(), nullable=False),
        sa.Column("close", sa.Float(), nullable=False),
        sa.Column("volume", sa.Float(), nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("fetched_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("symbol", "date", name="pk_price_bars"),
    )


    # --- reconciliation and the simulated paper broker ----------------------------------------
    op.create_table(
        "reconciliation_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("observed_at", TS, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("symbol", SYMBOL, nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("repaired", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reconciliation_events"),
    )
    op.create_index("ix_reconciliation_events_observed_at", "reconciliation_events", ["observed_at"])

    op.create_table(
        "sim_account",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("cash", PRICE, nullable=False),
        sa.Column("starting_cash", PRICE, nullable=False),
        sa.Column("processed_until", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_sim_account_single_row")),
        sa.PrimaryKeyConstraint("id", name="pk_sim_account"),
    )
    op.create_table(
        "sim_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_order_id", sa.String(48), nullable=False),
        sa.Column("parent_client_order_id", sa.String(48), nullable=True),
        sa.Column("symbol", SYMBOL, nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("order_class", sa.String(16), nullable=False),
        sa.Column("target_usd", USD, nullable=True),
        sa.Column("qty", QTY, nullable=True),
        sa.Column("take_profit_pct", sa.Numeric(10, 6), nullable=True),
        sa.Column("stop_loss_pct", sa.Numeric(10, 6), nullable=True),
        sa.Column("take_profit_price", PRICE, nullable=True),
        sa.Column("stop_price", PRICE, nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("submitted_at", TS, nullable=False),
        sa.Column("fill_session", sa.Date(), nullable=True),
        sa.Column("exit_reason", sa.String(16), nullable=True),
        sa.Column("filled_qty", QTY, nullable=True),
        sa.Column("filled_avg_price", PRICE, nullable=True),
        sa.Column("filled_at", TS, nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sim_orders"),
        sa.UniqueConstraint("client_order_id", name="uq_sim_orders_client_order_id"),
    )
    op.create_index("ix_sim_orders_status", "sim_orders", ["status"])
    op.create_index("ix_sim_orders_symbol_status", "sim_orders", ["symbol", "status"])
    op.create_table(
        "sim_lots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("symbol", SYMBOL, nullable=False),
        sa.Column("qty", QTY, nullable=False),
        sa.Column("entry_client_order_id", sa.String(48), nullable=False),
        sa.Column("entry_session", sa.Date(), nullable=False),
        sa.Column("entry_at", TS, nullable=False),
        sa.Column("entry_price", PRICE, nullable=False),
        sa.Column("stop_price", PRICE, nullable=False),
        sa.Column("take_profit_price", PRICE, nullable=False),
        sa.Column("mark", PRICE, nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("exit_at", TS, nullable=True),
        sa.Column("exit_price", PRICE, nullable=True),
        sa.Column("exit_reason", sa.String(16), nullable=True),
        sa.Column("exit_client_order_id", sa.String(48), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sim_lots"),
    )
    op.create_index("ix_sim_lots_symbol_status", "sim_lots", ["symbol", "status"])
    op.create_table(
        "sim_closes",
        sa.Column("session", sa.Date(), nullable=False),
        sa.Column("equity", PRICE, nullable=False),
        sa.Column("closed_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("session", name="pk_sim_closes"),
    )


def downgrade() -> None:
    # Dropping a table drops its indexes; children go before their parents.
    for table in reversed(TABLES):
        op.drop_table(table)
