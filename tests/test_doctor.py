"""`kevin doctor`: every check's OK / WARN / FAIL on real parts — a migrated database, one a revision
behind, a PostgreSQL port nobody listens on, Dagster test instances with and without a daemon
heartbeat, Alpaca's paper API answered by recorded responses (nothing reaches the network), the price
cache against an injected clock, the kill switch's rows — and the command's output and exit code."""

from __future__ import annotations

import json
import socket
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import responses
from dagster._daemon.types import DaemonHeartbeat
from sqlalchemy import text

from kevin_pipeline.cli import main
from kevin_pipeline.db import migrate
from kevin_pipeline.db.engine import make_engine, session_factory
from kevin_pipeline.doctor import (
    FAIL,
    OK,
    WARN,
    Check,
    check_broker,
    check_daemon_heartbeat,
    check_dagster_storage,
    check_database,
    check_kill_switch,
    check_price_freshness,
    exit_code,
    render,
    run_checks,
)
from kevin_pipeline.market_data.cache import store_bars
from kevin_pipeline.settings import Settings
from kevin_pipeline.trading.controls import trading_state_row

PAPER = "https://paper-api.alpaca.markets"
LIVE = "https://api.alpaca.markets"
KEY = "PKZZDOCTORKEY0123456789"
SECRET = "sEcReT0123456789doctorTESTONLYxyz"
PG_PASSWORD = "Pw-d0ct0r-s3cret"
ACCOUNT = Path(__file__).parent / "brokers" / "fixtures" / "alpaca" / "account.json"
# Tuesday 2024-03-05, an hour after the close (21:00 UTC): the last completed session is that day.
AFTER_CLOSE = datetime(2024, 3, 5, 22, 0, tzinfo=timezone.utc)
NAMES = ["database", "dagster storage", "broker credentials", "price freshness", "kill switch", "daemon heartbeat"]


def settings_for(url: str, tmp_path: Path, **values: object) -> Settings:
    return Settings(state_dir=tmp_path / "state", database_url=url, **values)


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unreachable_pg_url() -> str:
    return f"postgresql+psycopg2://kevin:{PG_PASSWORD}@127.0.0.1:{closed_port()}/kevin"


@pytest.fixture
def migrated(db_url: str):
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def bars_until(last: date, sessions: int = 3) -> pd.DataFrame:
    days = pd.bdate_range(end=pd.Timestamp(last), periods=sessions)
    return pd.DataFrame({"symbol": "AAPL", "date": days, "open": 10.0, "high": 11.0, "low": 9.0,
                         "close": 10.5, "volume": 1000.0})


def cache(engine, bars: pd.DataFrame) -> None:
    with session_factory(engine).begin() as session:
        store_bars(session, bars, source="test")


# --- database ---------------------------------------------------------------------------------------


def test_a_migrated_database_is_ok(migrated) -> None:
    check = check_database(migrated)
    assert (check.status, check.name) == (OK, "database")
    assert f"schema at head {migrate.head_revision()}" in check.detail


def test_a_database_one_revision_behind_warns_and_doctor_does_not_upgrade_it(migrated, db_url, tmp_path) -> None:
    migrate.downgrade(migrated, "-1")
    behind = migrate.current_revision(migrated)
    check = check_database(migrated)
    assert check.status == WARN
    assert f"schema at {behind}, 1 revision(s) behind head {migrate.head_revision()}" in check.detail
    assert "run `kevin db upgrade`" in check.detail

    checks = run_checks(settings_for(db_url, tmp_path), AFTER_CLOSE, instance=None)
    assert [c.name for c in checks] == NAMES
    assert checks[0].status == WARN
    assert {c.detail for c in checks[3:5]} == {"not checked: the database is not usable (see database)"}
    assert migrate.current_revision(migrated) == behind  # read, never upgraded


def test_a_database_migrated_by_a_newer_kevin_fails(migrated) -> None:
    with migrated.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    check = check_database(migrated)
    assert check.status == FAIL and "revision 9999, unknown to this kevin" in check.detail


def test_an_unreachable_postgresql_fails_with_the_reason_and_no_password(tmp_path) -> None:
    checks = run_checks(settings_for(unreachable_pg_url(), tmp_path), AFTER_CLOSE, instance=None)
    db = checks[0]
    assert db.status == FAIL
    assert "cannot open the database postgresql+psycopg2://kevin:***@127.0.0.1:" in db.detail
    assert "Connection refused" in db.detail
    assert PG_PASSWORD not in render(checks) and PG_PASSWORD not in json.dumps([c.as_json() for c in checks])
    assert exit_code(checks) == 1


def test_a_missing_sqlite_file_warns_and_is_not_created(tmp_path) -> None:
    path = tmp_path / "nowhere" / "kevin.db"
    checks = run_checks(settings_for(f"sqlite:///{path}", tmp_path), AFTER_CLOSE, instance=None)
    assert (checks[0].status, checks[0].detail) == (WARN, f"sqlite:///{path}: no database yet: run `kevin db upgrade`")
    assert not path.exists()


# --- Dagster storage and the daemon ---------------------------------------------------------------


def test_dagster_home_unset_warns() -> None:
    check = check_dagster_storage(None)
    assert check.status == WARN and "DAGSTER_HOME is unset" in check.detail
    assert check_daemon_heartbeat(None, AFTER_CLOSE).status == WARN


def test_a_reachable_dagster_storage_is_ok() -> None:
    with dg.instance_for_test() as instance:
        check = check_dagster_storage(instance)
    assert check.status == OK
    assert check.detail.endswith(": reachable, no runs yet") and "SqliteRunStorage" in check.detail


def test_dagster_storage_names_the_newest_run() -> None:
    @dg.asset
    def one() -> int:
        return 1

    with dg.instance_for_test() as instance:
        result = dg.materialize([one], instance=instance)
        check = check_dagster_storage(instance)
    assert check.status == OK and check.detail.endswith(f"newest run {result.run_id[:8]} (SUCCESS)")


def test_dagster_storage_on_an_unreachable_postgresql_fails_without_its_password(tmp_path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(f"storage:\n  postgres:\n    postgres_url: {unreachable_pg_url()}\n")
    settings = settings_for(f"sqlite:///{tmp_path / 'kevin.db'}", tmp_path, DAGSTER_HOME=str(home))
    assert settings.dagster_home == home
    checks = {c.name: c for c in run_checks(settings, AFTER_CLOSE)}
    assert checks["dagster storage"].status == FAIL
    assert checks["dagster storage"].detail.startswith("cannot open the Dagster instance: ")
    assert "Connection refused" in checks["dagster storage"].detail  # the cause, not only "too many retries"
    assert PG_PASSWORD not in checks["dagster storage"].detail
    assert checks["daemon heartbeat"].status == WARN


def test_dagster_home_that_is_not_a_folder_fails(tmp_path) -> None:
    settings = settings_for(f"sqlite:///{tmp_path / 'kevin.db'}", tmp_path, DAGSTER_HOME=str(tmp_path / "missing"))
    checks = {c.name: c for c in run_checks(settings, AFTER_CLOSE)}
    assert checks["dagster storage"].status == FAIL
    assert f"DAGSTER_HOME {tmp_path / 'missing'} is not a directory" in checks["dagster storage"].detail


def heartbeat(instance, at: datetime, daemon_type: str = "SENSOR") -> None:
    instance.add_daemon_heartbeat(DaemonHeartbeat(timestamp=at.timestamp(), daemon_type=daemon_type,
                                                  daemon_id="doctor-test", errors=[]))


def test_no_daemon_heartbeat_warns() -> None:
    with dg.instance_for_test() as instance:
        check = check_daemon_heartbeat(instance, AFTER_CLOSE)
    assert check.status == WARN and "is `dagster-daemon run` up?" in check.detail


def test_a_fresh_heartbeat_is_ok_with_its_age_and_a_stale_one_warns() -> None:
    with dg.instance_for_test() as instance:
        heartbeat(instance, AFTER_CLOSE - timedelta(minutes=10), "SCHEDULER")
        heartbeat(instance, AFTER_CLOSE - timedelta(seconds=30), "SENSOR")
        fresh = check_daemon_heartbeat(instance, AFTER_CLOSE)
        stale = check_daemon_heartbeat(instance, AFTER_CLOSE + timedelta(minutes=3))
    assert (fresh.status, fresh.detail) == (OK, "newest heartbeat 30s ago (2 daemons)")
    assert stale.status == WARN
    assert stale.detail.startswith("newest heartbeat 210s ago (2 daemons), older than 120s")


# --- broker credentials ---------------------------------------------------------------------------


@pytest.fixture
def alpaca():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def alpaca_settings(tmp_path: Path, **keys: object) -> Settings:
    values: dict[str, object] = {"ALPACA_API_KEY": KEY, "ALPACA_SECRET_KEY": SECRET, **keys}
    return settings_for(f"sqlite:///{tmp_path / 'kevin.db'}", tmp_path, broker="alpaca",
                        **{k: v for k, v in values.items() if v is not None})


def test_the_simulated_broker_needs_no_credentials(tmp_path) -> None:
    check = check_broker(settings_for(f"sqlite:///{tmp_path / 'k.db'}", tmp_path), AFTER_CLOSE)
    assert check == Check("broker credentials", OK, "simulated paper broker: no credentials needed")


def test_alpaca_paper_with_a_recorded_account_read_is_ok(alpaca, tmp_path) -> None:
    alpaca.get(f"{PAPER}/v2/account", json=json.loads(ACCOUNT.read_text()))
    check = check_broker(alpaca_settings(tmp_path), AFTER_CLOSE)
    assert check.status == OK
    assert check.detail == f"Alpaca paper ({PAPER}): keys present, account read (equity 100,250.50)"
    assert alpaca.calls[0].request.headers["APCA-API-KEY-ID"] == KEY  # the keys were sent, not printed


def test_a_live_alpaca_endpoint_fails_before_any_request(alpaca, tmp_path) -> None:
    check = check_broker(alpaca_settings(tmp_path), AFTER_CLOSE, url_override=LIVE)
    assert check.status == FAIL
    assert "refusing non-paper Alpaca endpoint https://api.alpaca.markets" in check.detail
    assert len(alpaca.calls) == 0 and KEY not in check.detail and SECRET not in check.detail


def test_missing_alpaca_keys_fail_naming_the_variables(tmp_path) -> None:
    check = check_broker(alpaca_settings(tmp_path, ALPACA_SECRET_KEY=None), AFTER_CLOSE)
    assert check.status == FAIL and "needs ALPACA_SECRET_KEY" in check.detail


def test_rejected_alpaca_keys_fail_with_the_brokers_words(alpaca, tmp_path) -> None:
    alpaca.get(f"{PAPER}/v2/account", status=403, json={"message": "forbidden."})
    check = check_broker(alpaca_settings(tmp_path), AFTER_CLOSE)
    assert check.status == FAIL
    assert check.detail.startswith("Alpaca paper account read failed:") and "forbidden" in check.detail
    assert KEY not in check.detail and SECRET not in check.detail


# --- price freshness ------------------------------------------------------------------------------


def test_an_empty_price_cache_warns(migrated, db_url, tmp_path) -> None:
    check = check_price_freshness(settings_for(db_url, tmp_path, price_source="cache"), session_factory(migrated), AFTER_CLOSE)
    assert check.status == WARN and "the price cache is empty" in check.detail


def test_a_cache_one_session_behind_is_ok(migrated, db_url, tmp_path) -> None:
    cache(migrated, bars_until(date(2024, 3, 4)))  # Monday's bar, Tuesday closed an hour ago
    check = check_price_freshness(settings_for(db_url, tmp_path, price_source="cache"), session_factory(migrated), AFTER_CLOSE)
    assert check == Check("price freshness", OK, "source cache: newest bar 2024-03-04, last completed session 2024-03-05")


def test_a_cache_two_sessions_behind_warns_naming_both_dates(migrated, db_url, tmp_path) -> None:
    cache(migrated, bars_until(date(2024, 3, 1)))  # Friday's bar: Monday and Tuesday are missing
    for source in ("cache", "alpaca"):  # alpaca reads the cache it fills
        check = check_price_freshness(settings_for(db_url, tmp_path, price_source=source), session_factory(migrated),
                                      AFTER_CLOSE)
        assert check.status == WARN
        assert check.detail == (f"source {source}: newest bar 2024-03-01, last completed session 2024-03-05: "
                                "2 sessions behind: run `kevin prices fetch`")


def test_before_the_close_the_previous_session_is_the_last_completed(migrated, db_url, tmp_path) -> None:
    cache(migrated, bars_until(date(2024, 3, 1)))
    mid_session = datetime(2024, 3, 5, 15, 0, tzinfo=timezone.utc)  # Tuesday 10:00 New York
    check = check_price_freshness(settings_for(db_url, tmp_path, price_source="cache"), session_factory(migrated), mid_session)
    assert check.status == OK and "last completed session 2024-03-04" in check.detail


def test_bundled_bars_warn_that_they_are_a_sample(migrated, db_url, tmp_path) -> None:
    check = check_price_freshness(settings_for(db_url, tmp_path, price_source="bundled"), session_factory(migrated),
                                  AFTER_CLOSE)
    assert check.status == WARN
    assert "newest bar 2022-12-28, last completed session 2024-03-05" in check.detail
    assert "bundled bars are a sample ending 2022-12-28" in check.detail


# --- kill switch ----------------------------------------------------------------------------------


def test_the_default_kill_switch_is_ok_and_described(migrated, db_url, tmp_path) -> None:
    check = check_kill_switch(settings_for(db_url, tmp_path), session_factory(migrated), AFTER_CLOSE)
    assert check.status == OK and check.detail.startswith("trading OFF") and "KEVIN_ENABLE_TRADING=false" in check.detail


def test_a_halted_account_warns(migrated, db_url, tmp_path) -> None:
    with session_factory(migrated).begin() as session:
        row = trading_state_row(session)
        row.halted, row.halt_reason = True, "equity below 80% of the start"
    check = check_kill_switch(settings_for(db_url, tmp_path, enable_trading=True), session_factory(migrated), AFTER_CLOSE)
    assert check.status == WARN and "HALTED: equity below 80% of the start" in check.detail


def test_a_pause_warns_until_it_ends(migrated, db_url, tmp_path) -> None:
    with session_factory(migrated).begin() as session:
        row = trading_state_row(session)
        row.paused_until, row.pause_reason = AFTER_CLOSE + timedelta(hours=1), "daily loss 3.2%"
    sessions = session_factory(migrated)
    assert check_kill_switch(settings_for(db_url, tmp_path), sessions, AFTER_CLOSE).status == WARN
    assert check_kill_switch(settings_for(db_url, tmp_path), sessions, AFTER_CLOSE + timedelta(hours=2)).status == OK


# --- the command ----------------------------------------------------------------------------------


@pytest.fixture
def healthy(migrated, db_url, tmp_path, monkeypatch):
    """A deployment where every check is OK: schema at head, a fresh cache, a daemon beating."""
    cache(migrated, bars_until(date(2024, 3, 5)))
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        heartbeat(instance, AFTER_CLOSE - timedelta(seconds=5))
    for name, value in {"KEVIN_DATABASE_URL": db_url, "KEVIN_STATE_DIR": str(tmp_path / "state"),
                        "KEVIN_PRICE_SOURCE": "cache", "KEVIN_BROKER": "simulated", "DAGSTER_HOME": str(home)}.items():
        monkeypatch.setenv(name, value)
    return db_url


def test_doctor_prints_aligned_lines_and_exits_0_when_nothing_fails(healthy, capsys) -> None:
    assert main(["doctor", "--now", AFTER_CLOSE.isoformat()]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line[:18].strip() for line in lines] == NAMES
    assert {line[20:24] for line in lines} == {"OK  "}
    assert "newest heartbeat 5s ago (1 daemons)" in lines[-1]


def test_doctor_json_is_a_list_of_checks(healthy, monkeypatch, capsys) -> None:
    monkeypatch.setenv("KEVIN_PRICE_SOURCE", "bundled")
    assert main(["doctor", "--json", "--now", AFTER_CLOSE.isoformat()]) == 0  # a WARN does not fail
    out = json.loads(capsys.readouterr().out)
    assert [c["check"] for c in out] == NAMES
    assert [c["status"] for c in out] == [OK, OK, OK, WARN, OK, OK]
    assert set(out[0]) == {"check", "status", "detail"}


def test_doctor_exits_1_on_a_failure_and_never_prints_the_password(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("KEVIN_DATABASE_URL", unreachable_pg_url())
    monkeypatch.setenv("KEVIN_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    started = time.monotonic()
    assert main(["doctor"]) == 1
    out, err = capsys.readouterr()
    assert time.monotonic() - started < 30
    assert "database            FAIL  cannot open the database" in out
    assert PG_PASSWORD not in out + err


def test_bad_settings_are_one_failing_check(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("KEVIN_BROKER", "robinhood")
    assert main(["doctor", "--json"]) == 1
    (only,) = json.loads(capsys.readouterr().out)
    assert (only["check"], only["status"]) == ("settings", FAIL) and "KEVIN_BROKER" in only["detail"]


def test_doctor_help_documents_the_exit_codes(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["doctor", "--help"])
    out = capsys.readouterr().out
    assert "0 nothing FAILs" in out and "1 at least one check FAILs" in out
