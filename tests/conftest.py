"""Shared fixtures: an app database on every backend we support.

    def test_something(session):          # a Session on a migrated, empty database
        ...
    def test_other(engine):               # the migrated Engine itself
        ...
    def test_migrations(db_url):          # just a URL to an empty database (nothing migrated)
        ...

Every test using one of these runs once per backend: always on SQLite (a file under tmp_path),
and also on PostgreSQL when `KEVIN_TEST_DATABASE_URL` is set (e.g. by `.ci/run`, or
`scripts/pg_test_cluster.sh start`). For PostgreSQL each test gets its own freshly created
database on that server, dropped afterwards (`DROP DATABASE .. WITH (FORCE)`, PostgreSQL 13+),
so tests never see each other's rows. The test id says which backend ran: `[sqlite]`,
`[postgresql]`.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from hypothesis import settings as hypothesis_settings

# CI must not fail on an example no one can reproduce: there, property tests run a fixed
# (derandomized) sequence of examples. Locally they explore new examples on every run.
hypothesis_settings.register_profile("ci", derandomize=True, database=None, deadline=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

from kevin_pipeline.db.engine import make_engine, normalize_url, session_factory
from kevin_pipeline.db.migrate import upgrade

PG_ENV = "KEVIN_TEST_DATABASE_URL"
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get(PG_ENV) else [])


@pytest.fixture(scope="session")
def pg_server_url() -> URL:
    """The PostgreSQL URL from the environment (its database is only used to run CREATE DATABASE)."""
    raw = os.environ.get(PG_ENV)
    if not raw:
        pytest.skip(f"{PG_ENV} is not set")
    return normalize_url(raw)


@pytest.fixture(scope="session")
def _pg_admin(pg_server_url: URL) -> Iterator[Engine]:
    admin = create_engine(pg_server_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except OperationalError as exc:
        pytest.fail(
            f"{PG_ENV} is set but {pg_server_url.render_as_string(hide_password=True)} is not "
            f"reachable ({exc.orig}); start one with scripts/pg_test_cluster.sh start",
            pytrace=False,
        )
    yield admin
    admin.dispose()


def _admin_exec(admin: Engine, sql: str, attempts: int = 5) -> None:
    # CREATE DATABASE fails transiently when another session is copying template1 at that moment.
    for attempt in range(attempts):
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(sql)
            return
        except OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """URL of an empty database (nothing migrated); the string includes any password."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kevin.db'}"
        return

    admin: Engine = request.getfixturevalue("_pg_admin")
    name = f"kevin_t_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    _admin_exec(admin, f'CREATE DATABASE "{name}"')
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        _admin_exec(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An Engine on a database migrated to head."""
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def make_session(engine: Engine) -> sessionmaker[Session]:
    """The runtime's sessionmaker for `engine`, for tests that need several sessions."""
    return session_factory(engine)


@pytest.fixture
def session(make_session: sessionmaker[Session]) -> Iterator[Session]:
    """A Session on the migrated database; rolled back and closed after the test."""
    with make_session() as s:
        yield s
        s.rollback()
