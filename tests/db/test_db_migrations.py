"""The migrations build exactly the models' schema, and run up, down and up again."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from kevin_pipeline.db.engine import make_engine, safe_url
from kevin_pipeline.db.migrate import (
    alembic_config,
    current_revision,
    downgrade,
    head_revision,
    is_up_to_date,
    upgrade,
)
from kevin_pipeline.db.models import Base

APP_TABLES = set(Base.metadata.tables)
BOOKKEEPING = {"alembic_version", "sqlite_sequence"}


def _tables(engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - BOOKKEEPING


def test_models_define_the_expected_tables():
    assert APP_TABLES == {
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
    }


def test_one_linear_history():
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    assert head_revision() == script.get_current_head()


def test_upgrade_downgrade_upgrade(db_url):
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) is None

        upgrade(engine)
        assert current_revision(engine) == head_revision()
        assert is_up_to_date(engine)
        assert _tables(engine) == APP_TABLES

        downgrade(engine)
        assert current_revision(engine) is None
        assert _tables(engine) == set()

        upgrade(engine)
        assert current_revision(engine) == head_revision()
        assert _tables(engine) == APP_TABLES
        upgrade(engine)  # already at head: a no-op
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_upgrade_accepts_a_url(db_url):
    upgrade(db_url)
    assert current_revision(db_url) == head_revision()


def test_migrated_schema_matches_models(engine):
    """Fails when a model changed without a migration (or a migration drifted from the models)."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models and migrations differ; add a migration: {diff}"


def test_foreign_keys_enforced_after_migration(engine):
    # On SQLite the migration turns foreign keys off for its run; they must be back on.
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_initial_migration_seeds_trading_state_off(engine):
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, trading_mode, halted FROM trading_state")).all()
    assert [(r[0], r[1], bool(r[2])) for r in rows] == [(1, "off", False)]


def _switch(engine, column: str):
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT {column}, halted, halt_reason FROM trading_state WHERE id = 1")).one()


def test_0002_turns_the_boolean_switch_into_three_states_and_back_keeping_data(db_url):
    """true -> on, false -> off; down again on -> true, exits-only/off -> false; other columns kept."""
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0001")
        with engine.begin() as conn:
            conn.execute(text("UPDATE trading_state SET trading_enabled = :on, halted = :h, halt_reason = 'dd'"),
                         {"on": True, "h": True})
        upgrade(engine)
        assert tuple(_switch(engine, "trading_mode")) == ("on", True, "dd")
        downgrade(engine, "0001")
        assert (bool(_switch(engine, "trading_enabled")[0]), _switch(engine, "trading_enabled")[2]) == (True, "dd")
        with engine.begin() as conn:
            conn.execute(text("UPDATE trading_state SET trading_enabled = :on"), {"on": False})
        upgrade(engine)
        assert _switch(engine, "trading_mode")[0] == "off"
        with engine.begin() as conn:
            conn.execute(text("UPDATE trading_state SET trading_mode = 'exits-only'"))
        downgrade(engine, "0001")
        assert bool(_switch(engine, "trading_enabled")[0]) is False
        upgrade(engine)
        with engine.begin() as conn:  # the new CHECK holds after the rebuild
            try:
                conn.execute(text("UPDATE trading_state SET trading_mode = 'sideways'"))
                raised = False
            except Exception:
                raised = True
        assert raised
    finally:
        engine.dispose()


def test_make_engine_sqlite_settings(tmp_path):
    path = tmp_path / "nested" / "dir" / "kevin.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert path.exists()
    finally:
        engine.dispose()


def test_make_engine_pins_psycopg2_and_hides_password():
    engine = make_engine("postgresql://kevin:s3cret@db.example:5432/kevin")
    try:
        assert engine.url.drivername == "postgresql+psycopg2"
        assert "s3cret" not in safe_url(engine)
        assert "s3cret" not in safe_url("postgresql://kevin:s3cret@db.example/kevin")
    finally:
        engine.dispose()


def test_in_memory_sqlite_is_shared_across_sessions():
    engine = make_engine("sqlite://")
    try:
        upgrade(engine)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_schema_check_catches_a_model_change_without_migration(engine):
    """The comparison above has teeth: a column added to the models only is reported."""
    from sqlalchemy import Column, MetaData, String

    changed = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["mentions"].append_column(Column("language", String(8)))
    changed.tables["orders"].c.symbol.type = String(32)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, changed)
    kinds = {d[0] if isinstance(d, tuple) else d[0][0] for d in diff}
    assert "add_column" in kinds and "modify_type" in kinds, diff


def test_check_constraint_names_are_not_doubled(engine):
    """Alembic applies the naming convention to explicit names too; the migration marks them final."""
    names = [c["name"] for c in inspect(engine).get_check_constraints("mentions")]
    if engine.dialect.name == "postgresql":  # SQLite does not report CHECK constraint names reliably
        assert sorted(names) == ["ck_mentions_action", "ck_mentions_conviction_range", "ck_mentions_time_horizon"]
    assert not any(n and n.count("ck_") > 1 for n in names)
