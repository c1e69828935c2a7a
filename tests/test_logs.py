"""kevin_pipeline.logs: JSON lines for a collector (KEVIN_LOG_FORMAT=json), text otherwise; never a secret."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from kevin_pipeline.logs import JsonFormatter, RedactingTextFormatter, configure_logging, log_secrets
from kevin_pipeline.settings import REDACTED, Settings, SettingsError

SECRET = "pk-live-8fj3K\"q\\z"  # a quote and a backslash: JSON escapes both


def _record(message: str, *args: object, exc: bool = False, **extra: object) -> logging.LogRecord:
    logger = logging.getLogger("kevin.test")
    exc_info = None
    if exc:
        try:
            raise RuntimeError(f"broker said no to {SECRET}")
        except RuntimeError:
            exc_info = sys.exc_info()
    return logger.makeRecord("kevin.test", logging.WARNING, __file__, 1, message, args, exc_info, extra=extra)


def test_a_record_is_one_json_object_on_one_line() -> None:
    record = _record("ordered %s x%d", "AAPL", 3, symbol="AAPL", notional=Decimal("1500.50"), legs=("stop", "target"))
    line = JsonFormatter(secrets=[]).format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "ordered AAPL x3"
    assert entry["level"] == "WARNING" and entry["logger"] == "kevin.test"
    assert entry["symbol"] == "AAPL" and entry["notional"] == "1500.50" and entry["legs"] == ["stop", "target"]
    when = datetime.fromisoformat(entry["time"])
    assert when.utcoffset().total_seconds() == 0
    assert abs(when.timestamp() - record.created) < 1e-3
    assert not {"args", "msg", "levelno", "pathname", "exc_info"} & set(entry)  # the record's plumbing stays out


def test_an_exception_is_one_field_of_the_same_line() -> None:
    line = JsonFormatter(secrets=[]).format(_record("order failed", exc=True))
    entry = json.loads(line)
    assert entry["exception"].startswith("Traceback") and "RuntimeError: broker said no" in entry["exception"]
    assert line.count("\n") == 0


def test_no_secret_survives_in_message_extras_keys_or_traceback() -> None:
    record = _record("key %s in the message", SECRET, exc=True, detail={"nested": [f"x{SECRET}y"], SECRET: 1}, raw=SECRET.encode())
    line = JsonFormatter(secrets=[SECRET]).format(record)
    entry = json.loads(line)
    assert SECRET not in json.dumps(entry) and SECRET not in line
    assert json.dumps(SECRET)[1:-1] not in line  # nor its JSON-escaped spelling
    assert entry["message"] == f"key {REDACTED} in the message"
    assert entry["detail"] == {"nested": [f"x{REDACTED}y"], REDACTED: 1}
    assert REDACTED in entry["exception"]
    text = RedactingTextFormatter([SECRET]).format(record)
    assert SECRET not in text and text.startswith(f"WARNING key {REDACTED} in the message")


def test_the_secrets_come_from_the_settings_and_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPACA_SECRET_KEY", "env-secret-1")
    settings = Settings(dash_token="dash-token-2", database_url="postgresql+psycopg2://u:db-pw-3@h/kevin")
    assert {"env-secret-1", "dash-token-2", "db-pw-3"} <= log_secrets(settings)
    assert "env-secret-1" in log_secrets(None)


def test_the_setting_accepts_text_and_json_only(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().log_format == "text"
    monkeypatch.setenv("KEVIN_LOG_FORMAT", "JSON")
    assert Settings().log_format == "json"
    monkeypatch.setenv("KEVIN_LOG_FORMAT", "xml")
    with pytest.raises(SettingsError, match="KEVIN_LOG_FORMAT"):
        Settings()


@contextmanager
def bare_root() -> Iterator[logging.Logger]:
    """The root logger with no handlers, as in a fresh `kevin` process (pytest's own capture handlers,
    added for the test's body, removed meanwhile); restored afterwards."""
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    root.handlers.clear()
    try:
        yield root
    finally:
        root.handlers[:] = saved
        root.setLevel(level)


def test_configure_logging_writes_json_lines_at_the_chosen_level() -> None:
    with bare_root() as root:
        _json_then_text(root)


def _json_then_text(root: logging.Logger) -> None:
    out = io.StringIO()
    configure_logging(Settings(log_format="json", dash_token=SECRET), verbose=False, stream=out)
    log = logging.getLogger("kevin.somewhere")
    log.info("not shown without -v")
    log.warning("token %s refused", SECRET, extra={"action": "close"})
    (line,) = out.getvalue().splitlines()
    assert json.loads(line) == {**json.loads(line), "level": "WARNING", "message": f"token {REDACTED} refused", "action": "close"}

    out = io.StringIO()
    configure_logging(Settings(), verbose=True, stream=out)  # a second call replaces the first handler
    log.info("shown with -v")
    assert out.getvalue() == "INFO shown with -v\n"
    assert len(root.handlers) == 1 and root.level == logging.INFO


def test_configure_logging_leaves_a_setup_it_did_not_make() -> None:
    with bare_root() as root:
        theirs = logging.NullHandler()
        root.addHandler(theirs)
        assert configure_logging(Settings(log_format="json")) is None
        assert root.handlers == [theirs]


def test_the_kevin_command_logs_json_lines_and_redacts(tmp_path: Path) -> None:
    """End to end, in a fresh process: `kevin -v db upgrade` with KEVIN_LOG_FORMAT=json. The dashboard
    token is set to a word Alembic logs ("SQLiteImpl"), so redaction shows in real output."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("KEVIN_", "ALPACA_"))}
    env.update(
        KEVIN_LOG_FORMAT="json",
        KEVIN_STATE_DIR=str(tmp_path),
        KEVIN_DATABASE_URL=f"sqlite:///{tmp_path / 'kevin.db'}",
        KEVIN_DASH_TOKEN="SQLiteImpl",
    )
    kevin = Path(sys.executable).with_name("kevin")
    done = subprocess.run([str(kevin), "-v", "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines, "nothing logged"
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert {e["logger"] for e in entries} >= {"alembic.runtime.migration"}
    assert all(e["level"] == "INFO" and e["time"].endswith("+00:00") for e in entries)
    assert any(e["message"] == f"Context impl {REDACTED}." for e in entries)
    assert "SQLiteImpl" not in done.stderr
    assert "at revision" in done.stdout  # the command's own output is unchanged
