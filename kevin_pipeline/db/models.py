"""The app database: every table kevin stores, as SQLAlchemy 2 declarative models.

Two rules hold for every column here, on SQLite and PostgreSQL alike:

* Money is ``Decimal``. Dollar amounts are ``Numeric(18, 2)``, prices and quantities
  ``Numeric(18, 4)``, convictions ``Numeric(5, 4)``; all map to ``decimal.Decimal`` so a cap
  comparison never flips on a float ulp and the audit trail shows the exact dollars decided.
  (SQLite has no decimal type: it keeps these as REAL, exact to ~15 significant digits, which
  is billions of dollars to the cent. PostgreSQL keeps them exact.) Only the price-bar series
  (``price_bars``), which come from float sources anyway, are ``Float``.
* Every instant is an aware UTC ``datetime`` (``UTCDateTime`` below). Writing a naive datetime
  is an error, not a guess; reads always come back aware in UTC, even from SQLite, which drops
  the offset on disk. Calendar days (an NYSE session, an America/New_York risk day) are ``Date``.

Statuses and other closed vocabularies are strings guarded by a CHECK constraint (readable in a
SQL shell, no ALTER TYPE dance when a value is added: add it in a migration).

Constraint names follow ``NAMING_CONVENTION`` so Alembic can alter them later (SQLite batch mode
needs named constraints). Any change here needs a migration in ``migrations/versions``; the test
``tests/db/test_db_migrations.py`` fails when the migrated schema and these models differ.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from kevin_pipeline.db.lengths import CHANNEL_NAME_CHARS, MENTION_SOURCE_CHARS, SYMBOL_CHARS, VIDEO_ID_CHARS

# --------------------------------------------------------------------------------------------
# Column types
# --------------------------------------------------------------------------------------------


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that only accepts aware datetimes and always returns UTC.

    Write: a naive datetime raises ``ValueError`` (SQLAlchemy wraps it in ``StatementError``);
    an aware one is converted to UTC. On SQLite the UTC wall time is stored without offset
    (fixed-width ISO text, so comparisons still sort correctly).
    Read: naive values (SQLite) are tagged UTC; aware values (PostgreSQL, in the session's
    time zone) are converted to UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"UTCDateTime needs a datetime, got {type(value).__name__}: {value!r}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} refused: pass an aware datetime (UTC)")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


# JSON documents: JSONB on PostgreSQL (compact, comparable), JSON text elsewhere.
JSONDoc = JSON().with_variant(JSONB(), "postgresql")

USD = Numeric(18, 2)  # dollar amounts: sizes, cost basis, equity, P&L
PRICE = Numeric(18, 4)  # per-share prices
QTY = Numeric(18, 4)  # share quantities (whole for Alpaca brackets, but not assumed here)
CONVICTION = Numeric(5, 4)  # 0..1
SYMBOL = String(SYMBOL_CHARS)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _in(column: str, values: tuple[str, ...]) -> str:
    """SQL text for a CHECK that `column` is one of `values` (NULL passes, as in SQL)."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f'"{column}" IN ({quoted})'


# --------------------------------------------------------------------------------------------
# Vocabularies (mirrors of the domain enums; kept as plain tuples so the schema does not move
# when Python code is refactored — adding a value means a migration)
# --------------------------------------------------------------------------------------------

ACTIONS = ("buy", "sell", "hold", "avoid", "watch")
HORIZONS = ("intraday", "days", "weeks", "months", "long_term", "unspecified")
DECISION_KINDS = ("open_long", "close_long", "no_op")
DECISION_STATUSES = (
    "emitted",
    "dry_run",
    "skipped_non_tradable",
    "skipped_blocklist",
    "skipped_caps",
    "skipped_filter",
    "broker_rejected",
)
BROKERS = ("simulated", "alpaca")
ORDER_SIDES = ("buy", "sell")
ORDER_PURPOSES = ("entry", "exit_time", "exit_sell", "exit_avoid", "exit_manual", "stop", "take_profit")
POSITION_STATUSES = ("open", "closed")
EXIT_REASONS = ("time", "stop", "take_profit", "sell", "avoid", "manual", "end_of_data", "reconciled")
MANUAL_CLOSE_STATUSES = ("pending", "done", "failed")
TRADING_MODES = ("on", "exits-only", "off")  # the runtime kill switch (trading.controls)
BACKTEST_STATUSES = ("queued", "running", "succeeded", "failed")
BACKTEST_TRIGGERS = ("cli", "dagster", "dash", "sweep")
TRANSCRIPT_STATUSES = ("waiting", "fetched", "failed", "none")
VIDEO_SOURCES = ("feed", "info_json", "manual", "mention_file")
# Calls whose video names no channel (mention files without a `channel` column) belong here.
DEFAULT_CHANNEL_NAME = "(no channel)"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# --------------------------------------------------------------------------------------------
# Mentions: channels -> videos -> mentions
# --------------------------------------------------------------------------------------------


class Channel(Base):
    """A YouTube channel kevin follows (or one a mention file named).

    `youtube_channel_id` (``UC`` + 22 characters) is what the RSS feed needs; a channel added by
    its handle alone has none until a video's metadata (yt-dlp's ``channel_id`` beside its
    ``uploader_id`` handle) or a later `add` with the id fills it in. Channels created by a
    mention file have a name only. Removing a channel deactivates it: its videos and calls stay.
    """

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    youtube_channel_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    handle: Mapped[str | None] = mapped_column(String(100), unique=True)  # "@name", as typed
    name: Mapped[str] = mapped_column(String(CHANNEL_NAME_CHARS), unique=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Video(Base):
    """One video. Its `published_at` is the time of every mention in it (first stored wins).

    Transcript bookkeeping: `waiting` (a source should look; `next_attempt_at` says when),
    `fetched` (a `transcripts` row exists), `failed` (given up; `transcript_reason` says why),
    `none` (no transcript is sought: the video came with its calls, from a mention file).
    """

    __tablename__ = "videos"
    __table_args__ = (
        Index("ix_videos_transcript_status_next_attempt_at", "transcript_status", "next_attempt_at"),
        CheckConstraint(_in("transcript_status", TRANSCRIPT_STATUSES), name="transcript_status"),
        CheckConstraint(_in("source", VIDEO_SOURCES), name="source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[str] = mapped_column(String(VIDEO_ID_CHARS), unique=True)
    channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("channels.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    url: Mapped[str | None] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    transcript_status: Mapped[str] = mapped_column(String(16), default="none")
    transcript_reason: Mapped[str | None] = mapped_column(Text)
    transcript_attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source: Mapped[str | None] = mapped_column(String(16))

    channel: Mapped[Channel | None] = relationship()


class Transcript(Base):
    """A video's transcript in one language: timed segments, as a JSON list of
    ``{"start_seconds": float, "text": str}`` (the extractor quotes the second a call is made)."""

    __tablename__ = "transcripts"
    __table_args__ = (UniqueConstraint("video_pk", "language", name="uq_transcripts_video_pk_language"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_pk: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(32))  # youtube_transcript_api, vtt, srt, json3, ...
    segments: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)

    video: Mapped[Video] = relationship()


class Extraction(Base):
    """That an extractor (name + version) has read a video's transcript: how many calls it found,
    or why it failed. A transcript with no call is then not read again by the same extractor (an
    LLM would be paid again on every run); a failed read is retried until `attempts` reaches the
    limit in `calls.extract`."""

    __tablename__ = "extractions"
    __table_args__ = (
        UniqueConstraint("video_pk", "extractor", "extractor_version", name="uq_extractions_video_pk_extractor_extractor_version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_pk: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    extractor: Mapped[str] = mapped_column(String(32))
    extractor_version: Mapped[str] = mapped_column(String(128))
    calls: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)  # None: read; else why the last attempt failed
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MentionRecord(Base):
    """One call from one video. `id` only ever increases (the new-mention sensor's cursor).

    SQLite gets AUTOINCREMENT so ids of deleted rows are never reused.
    """

    __tablename__ = "mentions"
    __table_args__ = (
        UniqueConstraint(
            "video_id", "symbol", "action", "time_horizon", name="uq_mentions_natural_key"
        ),
        Index("ix_mentions_symbol_published_at", "symbol", "published_at"),
        Index("ix_mentions_published_at_id", "published_at", "id"),  # newest calls first (dashboard feed)
        CheckConstraint(_in("action", ACTIONS), name="action"),
        CheckConstraint(_in("time_horizon", HORIZONS), name="time_horizon"),
        CheckConstraint("conviction >= 0 AND conviction <= 1", name="conviction_range"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    video_pk: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    video_id: Mapped[str] = mapped_column(String(VIDEO_ID_CHARS))
    # RESTRICT: a channel with calls is deactivated, never deleted (its calls are the record).
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="RESTRICT"), index=True)
    symbol: Mapped[str] = mapped_column(SYMBOL)
    action: Mapped[str] = mapped_column(String(16))
    conviction: Mapped[Decimal] = mapped_column(CONVICTION)
    time_horizon: Mapped[str] = mapped_column(String(16))
    quote: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the video's publish time
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str | None] = mapped_column(String(MENTION_SOURCE_CHARS))  # file name it was imported from
    extractor: Mapped[str | None] = mapped_column(String(64))  # None: typed into a mention file
    extractor_version: Mapped[str | None] = mapped_column(String(32))
    start_seconds: Mapped[float | None] = mapped_column(Float)  # where in the video it is said

    video: Mapped[Video] = relationship()
    channel: Mapped[Channel] = relationship()


# --------------------------------------------------------------------------------------------
# Decisions, orders, positions (the live path's audit trail)
# --------------------------------------------------------------------------------------------


class DecisionRecord(Base):
    """Exactly one decision per mention (UNIQUE mention_id), whatever its outcome."""

    __tablename__ = "decisions"
    __table_args__ = (
        Index("ix_decisions_decided_at", "decided_at"),
        Index("ix_decisions_symbol_decided_at", "symbol", "decided_at"),
        Index("ix_decisions_status", "status"),
        CheckConstraint(_in("action", ACTIONS), name="action"),
        CheckConstraint(_in("kind", DECISION_KINDS), name="kind"),
        CheckConstraint(_in("status", DECISION_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # RESTRICT: a decided mention is part of the audit trail and cannot silently vanish.
    mention_id: Mapped[int] = mapped_column(
        ForeignKey("mentions.id", ondelete="RESTRICT"), unique=True
    )
    symbol: Mapped[str] = mapped_column(SYMBOL)
    action: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))
    effective_conviction: Mapped[Decimal] = mapped_column(CONVICTION)
    size_usd: Mapped[Decimal] = mapped_column(USD, default=Decimal("0"))
    hold_sessions: Mapped[int | None] = mapped_column(Integer)
    planned_exit_session: Mapped[date | None] = mapped_column(Date)
    extends_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    context: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc)  # would-size, equity, ...

    mention: Mapped[MentionRecord] = relationship()


class OrderRecord(Base):
    """An order kevin sent (or meant to send) to a broker.

    The row is written with its deterministic `client_order_id` before the broker is called, so a
    retry finds it and can never place a second order.
    """

    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_symbol_status", "symbol", "status"),
        Index("ix_orders_decision_id", "decision_id"),
        Index("ix_orders_broker_order_id", "broker_order_id"),
        Index("ix_orders_submitted_at", "submitted_at"),
        CheckConstraint(_in("broker", BROKERS), name="broker"),
        CheckConstraint(_in("side", ORDER_SIDES), name="side"),
        CheckConstraint(_in("purpose", ORDER_PURPOSES), name="purpose"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_order_id: Mapped[str] = mapped_column(String(48), unique=True)
    decision_id: Mapped[int | None] = mapped_column(
        ForeignKey("decisions.id", ondelete="SET NULL")
    )
    broker: Mapped[str] = mapped_column(String(16))
    broker_order_id: Mapped[str | None] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(SYMBOL)
    side: Mapped[str] = mapped_column(String(8))
    qty: Mapped[Decimal] = mapped_column(QTY)
    order_type: Mapped[str] = mapped_column(String(16))  # market, limit, stop, bracket, ...
    time_in_force: Mapped[str] = mapped_column(String(8))
    limit_price: Mapped[Decimal | None] = mapped_column(PRICE)
    take_profit_price: Mapped[Decimal | None] = mapped_column(PRICE)
    stop_price: Mapped[Decimal | None] = mapped_column(PRICE)
    status: Mapped[str] = mapped_column(String(32))  # broker vocabulary: new, filled, canceled, ...
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    filled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    filled_qty: Mapped[Decimal | None] = mapped_column(QTY)
    filled_avg_price: Mapped[Decimal | None] = mapped_column(PRICE)
    purpose: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc)  # last broker payload
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    decision: Mapped[DecisionRecord | None] = relationship()


class Position(Base):
    """A lot: one entry fill, its bracket, and how it ended."""

    __tablename__ = "positions"
    __table_args__ = (
        Index("ix_positions_symbol_status", "symbol", "status"),
        Index("ix_positions_status_planned_exit", "status", "planned_exit_session"),
        CheckConstraint(_in("status", POSITION_STATUSES), name="status"),
        CheckConstraint(_in("exit_reason", EXIT_REASONS), name="exit_reason"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    symbol: Mapped[str] = mapped_column(SYMBOL)
    qty: Mapped[Decimal] = mapped_column(QTY)
    entry_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL")
    )
    entry_at: Mapped[datetime] = mapped_column(UTCDateTime)
    entry_price: Mapped[Decimal] = mapped_column(PRICE)
    cost_basis: Mapped[Decimal] = mapped_column(USD)
    planned_exit_session: Mapped[date | None] = mapped_column(Date)
    stop_price: Mapped[Decimal | None] = mapped_column(PRICE)
    take_profit_price: Mapped[Decimal | None] = mapped_column(PRICE)
    source_mention_id: Mapped[int | None] = mapped_column(
        ForeignKey("mentions.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(8), default="open")
    exit_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    exit_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    exit_price: Mapped[Decimal | None] = mapped_column(PRICE)
    exit_reason: Mapped[str | None] = mapped_column(String(16))
    realized_pnl: Mapped[Decimal | None] = mapped_column(USD)

    entry_order: Mapped[OrderRecord | None] = relationship(foreign_keys=[entry_order_id])
    exit_order: Mapped[OrderRecord | None] = relationship(foreign_keys=[exit_order_id])


class AccountSnapshot(Base):
    __tablename__ = "account_snapshots"
    __table_args__ = (
        Index("ix_account_snapshots_taken_at", "taken_at"),
        CheckConstraint(_in("source", BROKERS), name="source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime)
    equity: Mapped[Decimal] = mapped_column(USD)
    cash: Mapped[Decimal] = mapped_column(USD)
    positions_value: Mapped[Decimal] = mapped_column(USD)
    day_pnl: Mapped[Decimal | None] = mapped_column(USD)
    source: Mapped[str] = mapped_column(String(16))  # which broker
    positions: Mapped[list[Any] | dict[str, Any] | None] = mapped_column(JSONDoc)


# --------------------------------------------------------------------------------------------
# Risk state
# --------------------------------------------------------------------------------------------


class BlocklistEntry(Base):
    """A symbol blocked for buys in [starts_at, expires_at) — e.g. 7 x 24 h after an avoid."""

    __tablename__ = "blocklist"
    __table_args__ = (Index("ix_blocklist_symbol_expires_at", "symbol", "expires_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    symbol: Mapped[str] = mapped_column(SYMBOL)
    reason: Mapped[str | None] = mapped_column(Text)
    mention_id: Mapped[int | None] = mapped_column(ForeignKey("mentions.id", ondelete="SET NULL"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RiskDay(Base):
    """Daily counters per America/New_York date of the decision."""

    __tablename__ = "risk_days"

    ny_date: Mapped[date] = mapped_column(Date, primary_key=True)
    trade_count: Mapped[int] = mapped_column(Integer, default=0)
    alloc_usd: Mapped[Decimal] = mapped_column(USD, default=Decimal("0"))
    start_equity: Mapped[Decimal | None] = mapped_column(USD)
    close_equity: Mapped[Decimal | None] = mapped_column(USD)  # broker equity at that session's close
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class TradingState(Base):
    """The single row (id = 1) holding the runtime switches: kill switch, pause, halt.

    The initial migration inserts the row with trading off. `trading_mode` is the runtime kill
    switch: `on`, `exits-only` or `off` (migration 0002 replaced the old boolean: true -> on,
    false -> off).
    """

    __tablename__ = "trading_state"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint(_in("trading_mode", TRADING_MODES), name="trading_mode"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False, default=1)
    trading_mode: Mapped[str] = mapped_column(String(16), default="off")
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pause_reason: Mapped[str | None] = mapped_column(Text)
    halted: Mapped[bool] = mapped_column(Boolean, default=False)
    halt_reason: Mapped[str | None] = mapped_column(Text)
    halted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @hybrid_property
    def trading_enabled(self) -> bool:
        """The old boolean view, kept for callers that only know on/off: True iff the mode is `on`."""
        return self.trading_mode == "on"

    @trading_enabled.inplace.setter
    def _trading_enabled_setter(self, value: bool) -> None:
        self.trading_mode = "on" if value else "off"

    @trading_enabled.inplace.expression
    @classmethod
    def _trading_enabled_expression(cls) -> Any:
        return cls.trading_mode == "on"


class ManualCloseRequest(Base):
    """A person asked (from the dashboard or CLI) to close a symbol or one lot."""

    __tablename__ = "manual_close_requests"
    __table_args__ = (
        Index("ix_manual_close_requests_status_requested_at", "status", "requested_at"),
        CheckConstraint(_in("status", MANUAL_CLOSE_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    symbol: Mapped[str] = mapped_column(SYMBOL)
    position_id: Mapped[int | None] = mapped_column(ForeignKey("positions.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    requested_by: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)


# --------------------------------------------------------------------------------------------
# Backtests and prices
# --------------------------------------------------------------------------------------------


class BacktestRun(Base):
    __tablename__ = "backtest_runs"
    __table_args__ = (
        Index("ix_backtest_runs_created_at", "created_at"),
        Index("ix_backtest_runs_status", "status"),
        Index("ix_backtest_runs_sweep_id", "sweep_id"),
        CheckConstraint(_in("status", BACKTEST_STATUSES), name="status"),
        CheckConstraint(_in("trigger", BACKTEST_TRIGGERS), name="trigger"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    trigger: Mapped[str] = mapped_column(String(16))
    sweep_id: Mapped[str | None] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc)
    equity_curve: Mapped[Any | None] = mapped_column(JSONDoc)
    benchmark_curve: Mapped[Any | None] = mapped_column(JSONDoc)
    decisions: Mapped[Any | None] = mapped_column(JSONDoc)
    error: Mapped[str | None] = mapped_column(Text)

    trades: Mapped[list[BacktestTrade]] = relationship(
        back_populates="run",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="BacktestTrade.id",
    )


class BacktestTrade(Base):
    __tablename__ = "backtest_trades"
    __table_args__ = (
        Index("ix_backtest_trades_run_id", "run_id"),
        CheckConstraint(_in("exit_reason", EXIT_REASONS), name="exit_reason"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("backtest_runs.id", ondelete="CASCADE"))
    symbol: Mapped[str] = mapped_column(SYMBOL)
    # Not a foreign key: a backtest may run on mentions that were never imported (a file).
    mention_id: Mapped[int | None] = mapped_column(Integer)
    entry_at: Mapped[datetime] = mapped_column(UTCDateTime)
    entry_price: Mapped[Decimal] = mapped_column(PRICE)
    exit_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    exit_price: Mapped[Decimal | None] = mapped_column(PRICE)
    qty: Mapped[Decimal] = mapped_column(QTY)
    pnl_usd: Mapped[Decimal] = mapped_column(USD)
    pnl_pct: Mapped[Decimal] = mapped_column(Numeric(12, 6))  # a fraction: 0.05 = +5 %
    sessions_held: Mapped[int | None] = mapped_column(Integer)
    exit_reason: Mapped[str] = mapped_column(String(16))

    run: Mapped[BacktestRun] = relationship(back_populates="trades")


class PriceBar(Base):
    """One daily bar. A float series: prices from every source share this shape."""

    __tablename__ = "price_bars"
    __table_args__ = (Index("ix_price_bars_date", "date"),)  # first/last bar date (the dashboard's data version)

    symbol: Mapped[str] = mapped_column(SYMBOL, primary_key=True)
    date: Mapped[date] = mapped_column(Date, primary_key=True)
    open: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)
    low: Mapped[float] = mapped_column(Float)
    close: Mapped[float] = mapped_column(Float)
    volume: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(32))  # bundled, alpaca, ...
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --------------------------------------------------------------------------------------------
# Reconciliation and the simulated paper broker (a venue of its own: never the runtime's tables)
# --------------------------------------------------------------------------------------------


class ReconciliationEvent(Base):
    """A difference found between the broker (the source of truth) and kevin's records, and the repair."""

    __tablename__ = "reconciliation_events"
    __table_args__ = (Index("ix_reconciliation_events_observed_at", "observed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(32))  # missing_fill, unknown_position, leg_filled, qty_mismatch, ...
    symbol: Mapped[str | None] = mapped_column(SYMBOL)
    detail: Mapped[str] = mapped_column(Text)
    repaired: Mapped[bool] = mapped_column(Boolean, default=True)


class SimAccount(Base):
    """The simulated broker's cash and how far its clock has processed session opens and closes."""

    __tablename__ = "sim_account"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False, default=1)
    cash: Mapped[Decimal] = mapped_column(PRICE)  # 1/100 cent: fills are priced at that precision
    starting_cash: Mapped[Decimal] = mapped_column(PRICE)
    processed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SimOrder(Base):
    """An order at the simulated venue. Entries carry dollars (shares are fixed at the fill, from
    the open, as in the backtest); legs and exits are sells."""

    __tablename__ = "sim_orders"
    __table_args__ = (
        Index("ix_sim_orders_status", "status"),
        Index("ix_sim_orders_symbol_status", "symbol", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_order_id: Mapped[str] = mapped_column(String(48), unique=True)
    parent_client_order_id: Mapped[str | None] = mapped_column(String(48))
    symbol: Mapped[str] = mapped_column(SYMBOL)
    side: Mapped[str] = mapped_column(String(8))
    order_class: Mapped[str] = mapped_column(String(16))  # bracket, simple
    target_usd: Mapped[Decimal | None] = mapped_column(USD)
    qty: Mapped[Decimal | None] = mapped_column(QTY)
    take_profit_pct: Mapped[Decimal | None] = mapped_column(Numeric(10, 6))
    stop_loss_pct: Mapped[Decimal | None] = mapped_column(Numeric(10, 6))
    take_profit_price: Mapped[Decimal | None] = mapped_column(PRICE)
    stop_price: Mapped[Decimal | None] = mapped_column(PRICE)
    status: Mapped[str] = mapped_column(String(32))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fill_session: Mapped[date | None] = mapped_column(Date)
    exit_reason: Mapped[str | None] = mapped_column(String(16))
    filled_qty: Mapped[Decimal | None] = mapped_column(QTY)
    filled_avg_price: Mapped[Decimal | None] = mapped_column(PRICE)
    filled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)


class SimLot(Base):
    __tablename__ = "sim_lots"
    __table_args__ = (Index("ix_sim_lots_symbol_status", "symbol", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    symbol: Mapped[str] = mapped_column(SYMBOL)
    qty: Mapped[Decimal] = mapped_column(QTY)
    entry_client_order_id: Mapped[str] = mapped_column(String(48))
    entry_session: Mapped[date] = mapped_column(Date)
    entry_at: Mapped[datetime] = mapped_column(UTCDateTime)
    entry_price: Mapped[Decimal] = mapped_column(PRICE)
    stop_price: Mapped[Decimal] = mapped_column(PRICE)
    take_profit_price: Mapped[Decimal] = mapped_column(PRICE)
    mark: Mapped[Decimal] = mapped_column(PRICE)
    status: Mapped[str] = mapped_column(String(8), default="open")
    exit_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    exit_price: Mapped[Decimal | None] = mapped_column(PRICE)
    exit_reason: Mapped[str | None] = mapped_column(String(16))
    exit_client_order_id: Mapped[str | None] = mapped_column(String(48))


class SimClose(Base):
    """The simulated account's equity at each session close (what Alpaca calls last_equity)."""

    __tablename__ = "sim_closes"

    session: Mapped[date] = mapped_column(Date, primary_key=True)
    equity: Mapped[Decimal] = mapped_column(PRICE)
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime)


__all__ = [
    "ReconciliationEvent",
    "SimAccount",
    "SimClose",
    "SimLot",
    "SimOrder",
    "AccountSnapshot",
    "BacktestRun",
    "BacktestTrade",
    "Base",
    "BlocklistEntry",
    "Channel",
    "DecisionRecord",
    "ManualCloseRequest",
    "MentionRecord",
    "OrderRecord",
    "Position",
    "PriceBar",
    "RiskDay",
    "TradingState",
    "Transcript",
    "UTCDateTime",
    "Video",
]
