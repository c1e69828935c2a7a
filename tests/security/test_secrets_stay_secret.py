"""Keys never appear in logs, errors, stored run parameters or settings dumps."""

from __future__ import annotations

import json
import logging

import responses
from sqlalchemy import select

from kevin_pipeline.cli import main
from kevin_pipeline.db.engine import make_engine
from kevin_pipeline.db.models import BacktestRun
from kevin_pipeline.settings import load_settings

KEY, SECRET, TOKEN = "PKTESTKEY1234567890", "sEcReT/abcdefghijklmnopqrstuvwxyz0123", "dash-token-5f2c9e"


def _env(monkeypatch, tmp_path, db_url):
    monkeypatch.setenv("KEVIN_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("KEVIN_DATABASE_URL", db_url)
    monkeypatch.setenv("ALPACA_API_KEY", KEY)
    monkeypatch.setenv("ALPACA_SECRET_KEY", SECRET)
    monkeypatch.setenv("KEVIN_DASH_TOKEN", TOKEN)


def _assert_clean(*texts: str) -> None:
    for text in texts:
        for secret in (KEY, SECRET, TOKEN):
            assert secret not in text


def test_settings_never_print_their_secrets(monkeypatch, tmp_path, db_url):
    _env(monkeypatch, tmp_path, db_url)
    s = load_settings()
    assert s.alpaca_api_key.get_secret_value() == KEY
    _assert_clean(repr(s), str(s), json.dumps(s.model_dump(mode="json")))


def test_stored_backtest_parameters_hold_no_secret(monkeypatch, tmp_path, db_url, capsys):
    _env(monkeypatch, tmp_path, db_url)
    assert main(["demo", "--quick"]) == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'state' / 'demo' / 'kevin.db'}")  # the demo's own database
    with engine.connect() as conn:
        params = [json.dumps(p) for p in conn.execute(select(BacktestRun.params)).scalars()]
    engine.dispose()
    assert params
    _assert_clean(*params, capsys.readouterr().out)


@responses.activate  # no URL registered: every request fails as a connection error, nothing leaves
def test_alpaca_failures_never_echo_the_keys(monkeypatch, tmp_path, db_url, capsys, caplog):
    _env(monkeypatch, tmp_path, db_url)
    monkeypatch.setenv("KEVIN_BROKER", "alpaca")
    import kevin_pipeline.brokers.alpaca as alpaca_mod

    monkeypatch.setattr(alpaca_mod.time, "sleep", lambda s: None, raising=False)
    caplog.set_level(logging.DEBUG)
    code = main(["-v", "account"])
    captured = capsys.readouterr()
    assert code == 2 and "error:" in captured.err
    _assert_clean(captured.out, captured.err, caplog.text)


# --- a bad setting: the error names the variable and shows no secret (issue 10, item 1) -------------

import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import dagster as dg  # noqa: E402
import pytest  # noqa: E402
from dagster._serdes import serialize_value  # noqa: E402

from kevin_pipeline.db.engine import safe_url  # noqa: E402
from kevin_pipeline.settings import SettingsError  # noqa: E402

DB_PASSWORD = "pg-Pa55w0rd-zq81"
KEVIN = Path(sys.executable).with_name("kevin")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _secret_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A clean environment (no KEVIN_*/ALPACA_* of the caller) with every secret set to a
    distinctive value; the database URL's password is one of them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEVIN_", "ALPACA_"))}
    env.update(
        KEVIN_STATE_DIR=str(tmp_path / "state"),
        KEVIN_DATABASE_URL=f"postgresql://kevin:{DB_PASSWORD}@127.0.0.1:{_closed_port()}/kevin",
        ALPACA_API_KEY=KEY,
        ALPACA_SECRET_KEY=SECRET,
        KEVIN_DASH_TOKEN=TOKEN,
    )
    env.update(extra)
    return env


def _assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in (KEY, SECRET, TOKEN, DB_PASSWORD):
            assert secret not in text, f"{secret!r} leaked"


CROSS_FIELD = [
    ({"KEVIN_MIN_CONVICTION": "1"}, "KEVIN_MIN_CONVICTION"),
    ({"KEVIN_MIN_TRADE_USD": "6000", "KEVIN_MAX_TRADE_USD": "5000"}, "KEVIN_MIN_TRADE_USD"),
]


@pytest.mark.parametrize(("bad", "variable"), CROSS_FIELD)
def test_a_cross_field_settings_error_names_the_variable_and_prints_no_secret(tmp_path, bad, variable):
    proc = subprocess.run([str(KEVIN), "trading", "status"], env=_secret_env(tmp_path, **bad),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert variable in proc.stderr and proc.stderr.startswith("error: ")
    assert "Traceback" not in proc.stderr
    _assert_no_secret(proc.stdout, proc.stderr)


def test_a_secret_pasted_into_another_variable_is_redacted_by_value(tmp_path, monkeypatch):
    # The value is what is secret, wherever it appears: here the API key typed into a number field.
    for name, value in _secret_env(tmp_path, KEVIN_DAILY_TRADE_CAP=KEY).items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "KEVIN_DAILY_TRADE_CAP" in str(caught.value)
    _assert_no_secret(str(caught.value))


def test_the_database_url_is_secret_and_errors_show_it_without_its_password(tmp_path, monkeypatch):
    from kevin_pipeline.db.engine import check_connection

    for name, value in _secret_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    s = load_settings()
    assert DB_PASSWORD in s.resolved_database_url
    _assert_no_secret(repr(s), str(s), json.dumps(s.model_dump(mode="json")))
    engine = make_engine(s.resolved_database_url)
    try:
        with pytest.raises(ValueError) as caught:
            check_connection(engine)
    finally:
        engine.dispose()
    assert safe_url(engine) in str(caught.value) and "kevin:***@127.0.0.1" in str(caught.value)
    _assert_no_secret(str(caught.value))


def test_an_unreachable_database_is_reported_without_its_password(tmp_path):
    proc = subprocess.run([str(KEVIN), "trading", "status"], env=_secret_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "cannot open the database postgresql+psycopg2://kevin:***@127.0.0.1" in proc.stderr
    _assert_no_secret(proc.stdout, proc.stderr)


def test_a_dagster_run_whose_settings_are_bad_keeps_the_secrets_out_of_the_event_log(tmp_path, monkeypatch):
    from kevin_pipeline.defs.assets import mentions
    from kevin_pipeline.defs.resources import KevinRuntimeResource

    for name, value in _secret_env(tmp_path, KEVIN_MIN_CONVICTION="1").items():
        monkeypatch.setenv(name, value)
    with dg.instance_for_test() as instance:
        result = dg.materialize([mentions], resources={"kevin_runtime": KevinRuntimeResource()}, instance=instance,
                                raise_on_error=False)
        assert not result.success
        records = [serialize_value(entry) for entry in instance.all_logs(result.run_id)]
        run = serialize_value(instance.get_run_by_id(result.run_id))
    history = "\n".join(records)
    assert "KEVIN_MIN_CONVICTION" in history  # the failure is recorded, and says which variable
    _assert_no_secret(history, run)
