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
