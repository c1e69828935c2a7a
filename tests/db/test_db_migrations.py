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
        "transcripts",
        "extractions",
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


# --- 0003: channels, videos, transcripts ---------------------------------------------------------

_ADDED = "2024-01-02 03:04:05+00:00"


def _seed_0002(engine) -> None:
    """A 0002 database with a named channel, a video with it, one without, and mentions of both;
    mention 3 was deleted, so SQLite's AUTOINCREMENT mark (3) is above the highest id (2)."""
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO channels (id, name, created_at) VALUES (7, 'Meet Kevin', :at)"), {"at": _ADDED})
        for pk, vid, channel in ((1, "va", 7), (2, "vb", None)):
            conn.execute(
                text("INSERT INTO videos (id, video_id, channel_id, title, published_at, created_at) "
                     "VALUES (:pk, :vid, :ch, 'T', :at, :at)"),
                {"pk": pk, "vid": vid, "ch": channel, "at": _ADDED},
            )
        for mid, pk, vid in ((1, 1, "va"), (2, 2, "vb"), (3, 2, "vb")):
            conn.execute(
                text("INSERT INTO mentions (id, video_pk, video_id, symbol, action, conviction, time_horizon, "
                     "published_at, imported_at) VALUES (:id, :pk, :vid, :sym, 'buy', 0.8, 'weeks', :at, :at)"),
                {"id": mid, "pk": pk, "vid": vid, "sym": f"S{mid}", "at": _ADDED},
            )
        conn.execute(text("INSERT INTO decisions (mention_id, symbol, action, kind, status, effective_conviction, "
                          "size_usd, extends_hold, reason, decided_at) "
                          "VALUES (1, 'S1', 'buy', 'no_op', 'dry_run', 0.8, 0, false, 'r', :at)"), {"at": _ADDED})
        conn.execute(text("DELETE FROM mentions WHERE id = 3"))
        if engine.dialect.name == "postgresql":  # explicit ids: move the sequences past them
            for table, last in (("channels", 7), ("videos", 2), ("mentions", 3)):
                conn.execute(text(f"SELECT setval('{table}_id_seq', {last})"))


def _rows(engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql)).all()]


def _next_mention_id(engine) -> int:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO mentions (video_pk, video_id, channel_id, symbol, action, conviction, "
                          "time_horizon, published_at, imported_at) "
                          "VALUES (1, 'va', 7, 'NEW', 'buy', 0.8, 'weeks', :at, :at)"), {"at": _ADDED})
        return conn.execute(text("SELECT max(id) FROM mentions")).scalar()


def test_0003_gives_every_video_and_mention_a_channel_and_keeps_all_data_both_ways(db_url):
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0002")
        _seed_0002(engine)
        upgrade(engine, "0003")

        channels = _rows(engine, "SELECT id, name, youtube_channel_id, handle, active FROM channels ORDER BY id")
        assert [(c[1], c[2], c[3], bool(c[4])) for c in channels] == [
            ("Meet Kevin", None, None, True), ("(no channel)", None, None, True)
        ]
        default_id = channels[1][0]
        added = _rows(engine, "SELECT added_at FROM channels WHERE id = 7")[0][0]
        assert str(added).startswith("2024-01-02 03:04:05")
        assert _rows(engine, "SELECT video_id, channel_id, transcript_status, transcript_attempts, source "
                             "FROM videos ORDER BY id") == [
            ("va", 7, "none", 0, "mention_file"), ("vb", default_id, "none", 0, "mention_file")
        ]
        assert _rows(engine, "SELECT id, channel_id, symbol, extractor, start_seconds FROM mentions ORDER BY id") == [
            (1, 7, "S1", None, None), (2, default_id, "S2", None, None)
        ]
        assert _rows(engine, "SELECT mention_id FROM decisions") == [(1,)]

        downgrade(engine, "0002")
        assert _rows(engine, "SELECT id, name FROM channels ORDER BY id") == [(7, "Meet Kevin")]
        assert str(_rows(engine, "SELECT created_at FROM channels")[0][0]).startswith("2024-01-02 03:04:05")
        assert _rows(engine, "SELECT video_id, channel_id FROM videos ORDER BY id") == [("va", 7), ("vb", None)]
        assert _rows(engine, "SELECT id, symbol FROM mentions ORDER BY id") == [(1, "S1"), (2, "S2")]
        assert _rows(engine, "SELECT mention_id FROM decisions") == [(1,)]
        with engine.begin() as conn:  # the 0002 insert shape (no channel column) works again
            conn.execute(text("INSERT INTO mentions (video_pk, video_id, symbol, action, conviction, time_horizon, "
                              "published_at, imported_at) VALUES (1, 'va', 'OLD', 'buy', 0.8, 'weeks', :at, :at)"),
                         {"at": _ADDED})
            conn.execute(text("DELETE FROM mentions WHERE symbol = 'OLD'"))  # id 4 is now used up

        upgrade(engine)
        # ids only ever increase, across both rebuilds of the mentions table
        assert _next_mention_id(engine) == 5
    finally:
        engine.dispose()


def test_0003_mentions_need_a_channel_and_a_fresh_database_has_no_default_channel(engine):
    assert _rows(engine, "SELECT name FROM channels") == []
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO videos (video_id, title, published_at, created_at, transcript_status, "
                          "transcript_attempts) VALUES ('v', 't', :at, :at, 'waiting', 0)"), {"at": _ADDED})
    raised = False
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO mentions (video_pk, video_id, symbol, action, conviction, time_horizon, "
                              "published_at, imported_at) SELECT id, 'v', 'X', 'buy', 0.8, 'weeks', :at, :at "
                              "FROM videos"), {"at": _ADDED})
    except Exception:
        raised = True
    assert raised
    raised = False
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE videos SET transcript_status = 'maybe'"))
    except Exception:
        raised = True
    assert raised


def test_0005_counts_what_an_extractor_already_read_as_read_and_drops_cleanly(db_url):
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0002")
        _seed_0002(engine)
        upgrade(engine, "0004")
        with engine.begin() as conn:  # two calls of video va were extracted by the rules before 0005
            conn.execute(text("UPDATE mentions SET extractor = 'rules', extractor_version = '1' WHERE video_id = 'va'"))
            conn.execute(text("INSERT INTO mentions (video_pk, video_id, channel_id, symbol, action, conviction, "
                              "time_horizon, published_at, imported_at, extractor, extractor_version) "
                              "VALUES (1, 'va', 7, 'S3', 'sell', 0.7, 'days', :at, :at, 'rules', '1')"), {"at": _ADDED})
        upgrade(engine, "0005")
        assert _rows(engine, "SELECT video_pk, extractor, extractor_version, calls, error, attempts FROM extractions") == [
            (1, "rules", "1", 2, None, 1)
        ]
        downgrade(engine, "0004")
        assert "extractions" not in _tables(engine)
        assert _rows(engine, "SELECT count(*) FROM mentions")[0][0] == 3
    finally:
        engine.dispose()


def test_0006_indexes_the_bar_dates_and_drops_the_index_keeping_the_bars(db_url):
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0005")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO price_bars (symbol, date, open, high, low, close, volume, source, fetched_at) "
                              "VALUES ('AAA', '2024-01-02', 1, 1, 1, 1, 0, 'fixture', :at)"), {"at": _ADDED})
        assert "ix_price_bars_date" not in {i["name"] for i in inspect(engine).get_indexes("price_bars")}
        upgrade(engine, "0006")
        assert {"name": "ix_price_bars_date", "column_names": ["date"]}.items() <= next(
            i for i in inspect(engine).get_indexes("price_bars") if i["name"] == "ix_price_bars_date").items()
        downgrade(engine, "0005")
        assert "ix_price_bars_date" not in {i["name"] for i in inspect(engine).get_indexes("price_bars")}
        assert _rows(engine, "SELECT symbol, close FROM price_bars") == [("AAA", 1.0)]
    finally:
        engine.dispose()
