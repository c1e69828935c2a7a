"""The runtime: settings + an opened, migrated database (+ a broker via `trading.context`).

It is the composition root the CLI, the Dagster resource and the dashboard share. Use it as a
context manager (`with open_runtime() as runtime:`) so the engine is disposed on every exit path.

Opening the runtime upgrades the schema, so a user never runs against a stale database by
accident; `kevin db upgrade` exists for deployments that prefer an explicit step.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from kevin_pipeline.db import migrate
from kevin_pipeline.db.engine import begin_write, check_connection, make_engine, session_factory
from kevin_pipeline.settings import Settings, load_settings


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One short write transaction: commit on success, roll back on any error. On SQLite it
        holds the write lock from its first statement (`begin_write`), so what it reads cannot
        change under it before it writes."""
        with self.sessions() as session, session.begin():
            begin_write(session)
            yield session

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_runtime(settings: Settings | None = None, *, upgrade: bool = True) -> Runtime:
    settings = settings or load_settings()
    engine = make_engine(settings.resolved_database_url)
    try:
        check_connection(engine)  # unreachable / unusable: one clear error now, not a driver traceback later
    except Exception:
        engine.dispose()
        raise
    if upgrade:
        migrate.upgrade(engine)
    return Runtime(settings=settings, engine=engine, sessions=session_factory(engine))
