"""Engines and sessions for the app database (SQLite by default, PostgreSQL in production).

The SQLite file is shared at once by the Dagster daemon, the Dash app and the CLI, so every
connection runs in WAL mode with a busy timeout and enforced foreign keys; keep transactions short.

Never print a database URL as given (it may hold a password): use `safe_url(engine)`.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from kevin_pipeline.db.errors import DatabaseSetupError  # raised here; importable from either module

SQLITE_BUSY_TIMEOUT_MS = 10_000
# The drivers kevin installs; anything else would fail later with an ImportError traceback.
SUPPORTED_DRIVERS = ("sqlite", "sqlite+pysqlite", "postgresql+psycopg2")
URL_HINT = "use sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DATABASE"


def normalize_url(url: str | URL) -> URL:
    """Pin the driver we ship: a plain ``postgresql://`` (or ``postgres://``) means psycopg2.

    SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg 3, which kevin does not install.
    """
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg2")
    return u


def check_database_url(url: str | URL) -> URL:
    """The normalized URL, or `DatabaseSetupError` saying why kevin cannot use it.

    The message never repeats the URL: an unparseable one may still hold a password.
    """
    try:
        u = normalize_url(url)
    except (ArgumentError, ValueError):
        raise DatabaseSetupError(f"not a database URL: {URL_HINT}") from None
    if u.drivername not in SUPPORTED_DRIVERS:
        raise DatabaseSetupError(f"unsupported database {u.drivername!r}: kevin runs on SQLite or PostgreSQL ({URL_HINT})")
    return u


def url_passwords(url: str) -> list[str]:
    """The password inside a database URL as written and percent-decoded (empty: none). Works on
    URLs SQLAlchemy cannot parse too, so an error about a bad URL can still hide its password."""
    found: list[str] = []
    m = re.match(r"^[^:/]+://[^:/@]*:(?P<pw>.*)@[^@]*$", url.strip(), re.S)
    if m and m["pw"]:
        found += [m["pw"], unquote(m["pw"])]
    try:
        password = make_url(url).password
    except (ArgumentError, ValueError):
        password = None
    if password:
        found.append(str(password))
    return sorted(set(found), key=len, reverse=True)


def _json_default(value: Any) -> Any:
    # Decimal as a string keeps the exact dollars; read it back with Decimal(value).
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "model_dump"):  # pydantic models
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_dumps(value: Any) -> str:
    """The JSON serializer of every kevin engine (Decimal -> str, datetime -> ISO 8601)."""
    return json.dumps(value, default=_json_default)


def _is_memory_sqlite(u: URL) -> bool:
    db = u.database or ""
    return db in ("", ":memory:") or "mode=memory" in db or "mode=memory" in str(u.query)


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for `url`, configured for kevin's concurrency model.

    SQLite: creates the file's parent directory; `check_same_thread=False`; on every connection
    `journal_mode=WAL`, `busy_timeout=10000`, `foreign_keys=ON`, `synchronous=NORMAL`. An in-memory
    database uses one shared connection (StaticPool) so every session sees the same data.
    PostgreSQL: psycopg2, pre-ping pooled connections.
    Extra keyword arguments go to `sqlalchemy.create_engine`.
    """
    u = check_database_url(url)
    kwargs.setdefault("json_serializer", json_dumps)

    if u.get_backend_name() == "sqlite":
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("check_same_thread", False)
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        memory = _is_memory_sqlite(u)
        if memory:
            kwargs.setdefault("poolclass", StaticPool)
        elif not (u.database or "").startswith("file:"):
            folder = Path(u.database).expanduser().resolve().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseSetupError(
                    f"cannot create the folder for the SQLite database {folder}: {exc.strerror or exc}"
                ) from None
        engine = create_engine(u, connect_args=connect_args, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            try:
                # The busy timeout first, so the first-time switch to WAL (which needs the file to
                # itself) waits for a racing process rather than failing "database is locked".
                cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
                if not memory:
                    _ensure_wal(cursor)
                    cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.execute("PRAGMA foreign_keys=ON")
            finally:
                cursor.close()

        return engine

    if u.get_backend_name() == "postgresql":
        kwargs.setdefault("pool_pre_ping", True)
    return create_engine(u, **kwargs)


def _ensure_wal(cursor: Any) -> None:
    """Switch the file to WAL once; later connections only read the (persistent) mode.

    Why the retry: the switch needs the file to itself, and when another process holds a lock
    that could deadlock with ours SQLite answers "database is locked" at once instead of calling
    the busy handler. Several processes opening a brand-new file together (Dagster's multiprocess
    executor on a first run) hit exactly that; waiting a moment and asking again always works.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    delay = 0.01
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()
            if mode and str(mode[0]).lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


def begin_write(session: Session) -> None:
    """Take the write lock at the start of `session`'s transaction, not at its first write.

    Why: Python's sqlite3 opens a transaction only before the first INSERT/UPDATE/DELETE, so the
    reads before it hold no lock. Two processes could then both read a daily cap's counters and
    both write, each believing it was alone (row locks are no-ops on SQLite), and the second writer
    fails with "database is locked" when its snapshot is stale (the busy timeout cannot help then).
    `BEGIN IMMEDIATE` takes SQLite's single write lock first (waiting up to the busy timeout), so
    read-decide-write transactions run one at a time and read what the previous one committed.
    On PostgreSQL nothing happens here: the writers lock rows they share (FOR UPDATE) instead.
    Call it first thing in a write transaction; a transaction already under way is left alone.
    """
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        return
    dbapi = conn.connection.dbapi_connection
    if dbapi is None or getattr(dbapi, "in_transaction", False):
        return
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def safe_url(engine_or_url: Engine | str | URL) -> str:
    """The URL with its password masked, fit for logs and error messages."""
    u = engine_or_url.url if isinstance(engine_or_url, Engine) else make_url(engine_or_url)
    return u.render_as_string(hide_password=True)


def check_connection(engine: Engine) -> None:
    """Open one connection now, so an unreachable server or an unusable file is reported as
    `DatabaseSetupError` ("cannot open the database ...: connection refused") at start, not as a
    driver traceback from deep inside the first query."""
    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        detail = (str(exc.orig) if exc.orig is not None else str(exc)).strip().splitlines()
        reason = detail[0].strip() if detail else type(exc).__name__
        for secret in url_passwords(engine.url.render_as_string(hide_password=False)):
            reason = reason.replace(secret, "***")
        raise DatabaseSetupError(f"cannot open the database {safe_url(engine)}: {reason}") from None


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (objects stay readable outside the block)."""
    return sessionmaker(bind=engine, expire_on_commit=False)
