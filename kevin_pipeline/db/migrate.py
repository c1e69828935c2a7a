"""Schema migrations, run from Python (no alembic.ini): `upgrade`, `downgrade`, `current_revision`.

    from kevin_pipeline.db.migrate import upgrade
    upgrade(settings.resolved_database_url)        # or an Engine, or an open Connection

Each call runs in one transaction. On SQLite the DDL is made transactional too (an explicit
BEGIN IMMEDIATE, which also serialises concurrent upgrades of one file), and foreign keys are switched off for its duration — batch mode rebuilds tables by
copy-and-drop, which would otherwise fire ON DELETE CASCADE — then checked with
`PRAGMA foreign_key_check` before the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL

from kevin_pipeline.db.engine import make_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

Target = Engine | Connection | str | URL


class MigrationError(RuntimeError):
    pass


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the packaged scripts (and at `connection`, if given)."""
    cfg = Config()
    # configparser interpolation: a literal % must be doubled
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _run_in_transaction(conn: Connection, fn: Callable[[Connection], None]) -> None:
    if conn.dialect.name != "sqlite":
        if conn.in_transaction():
            fn(conn)
        else:
            with conn.begin():
                fn(conn)
        return

    if conn.in_transaction():
        # The caller owns the transaction: PRAGMA foreign_keys cannot change inside one.
        fn(conn)
        return
    conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
    conn.commit()
    try:
        with conn.begin():
            # pysqlite begins only before DML; an explicit BEGIN makes the DDL atomic too.
            # IMMEDIATE takes the write lock before Alembic reads the revision: processes opening
            # a fresh file at once (Dagster's multiprocess executor) then upgrade one after the
            # other, each waiting out the busy timeout and finding the schema current. A deferred
            # BEGIN let two of them read "empty", and the second to write failed "database is
            # locked" (SQLite cannot upgrade a stale read lock, so the busy timeout never applies).
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            fn(conn)
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise MigrationError(f"foreign key violations after migration: {broken[:10]}")
    finally:
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        conn.commit()


def _with_connection(target: Target, fn: Callable[[Connection], None], skip_at: str | None = None) -> None:
    """Run `fn` in one migration transaction; with `skip_at`, first look (a plain read, no write
    lock) and do nothing when the schema is already at that revision, so the upgrade every process
    runs at start never waits for, or holds up, another process's writes."""
    if isinstance(target, Connection):
        _run_in_transaction(target, fn)
        return
    owned = not isinstance(target, Engine)
    engine = make_engine(target) if owned else target
    try:
        with engine.connect() as conn:
            if skip_at is not None:
                current = MigrationContext.configure(conn).get_current_revision()
                conn.rollback()  # end the read before the migration's own transaction
                if current == skip_at:
                    return
            _run_in_transaction(conn, fn)
    finally:
        if owned:
            engine.dispose()


def upgrade(engine_or_url: Target, revision: str = "head") -> None:
    """Bring the schema up to `revision` (default: the newest)."""
    skip_at = head_revision() if revision == "head" else None
    _with_connection(engine_or_url, lambda c: command.upgrade(alembic_config(c), revision), skip_at=skip_at)


def downgrade(engine_or_url: Target, revision: str = "base") -> None:
    """Take the schema down to `revision` (default: empty)."""
    _with_connection(engine_or_url, lambda c: command.downgrade(alembic_config(c), revision))


def current_revision(engine: Engine | Connection | str | URL) -> str | None:
    """The revision the database is at (None: never migrated)."""
    if isinstance(engine, Connection):
        return MigrationContext.configure(engine).get_current_revision()
    owned = not isinstance(engine, Engine)
    eng = make_engine(engine) if owned else engine
    try:
        with eng.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        if owned:
            eng.dispose()


def revisions_behind(current: str | None) -> int | None:
    """How many migrations a database at `current` lacks (0: at head; None = never migrated counts
    them all); None when `current` is no revision of this kevin (a newer kevin migrated it)."""
    chain = [r.revision for r in ScriptDirectory.from_config(alembic_config()).walk_revisions()]  # head first
    if current is None:
        return len(chain)
    return chain.index(current) if current in chain else None


def is_up_to_date(engine: Engine | Connection | str | URL) -> bool:
    return current_revision(engine) == head_revision()
