"""Input kevin cannot use at all stops it with ONE `error: ...` line and exit 2, never a traceback.

Each case runs the `kevin` command in a subprocess, as a user would, in a clean environment.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from kevin_pipeline.ingest.importer import sample_mentions_path

KEVIN = Path(sys.executable).with_name("kevin")
FIXTURES = Path(__file__).parent.parent / "fixtures"


def run_kevin(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KEVIN_", "ALPACA_"))}
    clean.update({"KEVIN_STATE_DIR": str(tmp_path / "state"), **env})
    return subprocess.run([str(KEVIN), *args], env=clean, capture_output=True, text=True, timeout=180)


def assert_one_error_line(proc: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for text in expected:
        assert text in lines[0]
    return lines[0]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_database_url_that_is_not_a_url(tmp_path):
    assert_one_error_line(run_kevin(tmp_path, "trading", "status", KEVIN_DATABASE_URL="garbage"),
                          "KEVIN_DATABASE_URL", "not a database URL")


def test_an_unsupported_database(tmp_path):
    proc = run_kevin(tmp_path, "trading", "status", KEVIN_DATABASE_URL="mysql://kevin:pw@localhost/kevin")
    assert_one_error_line(proc, "KEVIN_DATABASE_URL", "unsupported database 'mysql'")


def test_an_unreachable_postgresql(tmp_path):
    url = f"postgresql://kevin@127.0.0.1:{_closed_port()}/kevin"
    assert_one_error_line(run_kevin(tmp_path, "trading", "status", KEVIN_DATABASE_URL=url),
                          "cannot open the database postgresql+psycopg2://kevin@127.0.0.1")


def test_an_unreachable_postgresql_for_db_upgrade(tmp_path):
    url = f"postgresql://kevin@127.0.0.1:{_closed_port()}/kevin"
    assert_one_error_line(run_kevin(tmp_path, "db", "upgrade", KEVIN_DATABASE_URL=url), "cannot open the database")


def test_a_state_dir_that_is_a_file(tmp_path):
    a_file = tmp_path / "not-a-dir"
    a_file.write_text("x")
    proc = run_kevin(tmp_path, "trading", "status", KEVIN_STATE_DIR=str(a_file))
    assert_one_error_line(proc, "KEVIN_STATE_DIR", "is a file, not a directory")


def test_a_sqlite_database_under_a_file(tmp_path):
    a_file = tmp_path / "not-a-dir"
    a_file.write_text("x")
    proc = run_kevin(tmp_path, "trading", "status", KEVIN_DATABASE_URL=f"sqlite:///{a_file}/kevin.db")
    assert_one_error_line(proc, "cannot create the folder for the SQLite database")


def test_decide_now_garbage(tmp_path):
    assert_one_error_line(run_kevin(tmp_path, "decide", "--now", "garbage"), "--now 'garbage'", "not an ISO time")


def test_db_downgrade_to_an_unknown_revision(tmp_path):
    assert_one_error_line(run_kevin(tmp_path, "db", "downgrade", "bogus"), "db downgrade bogus", "bogus")


@pytest.mark.parametrize("command", [["trading", "status"], ["account"]])
def test_an_unknown_price_source_is_caught_at_start(tmp_path, command):
    proc = run_kevin(tmp_path, *command, KEVIN_PRICE_SOURCE="bogus")
    assert_one_error_line(proc, "KEVIN_PRICE_SOURCE", "'bundled', 'cache' or 'alpaca'")
    assert not (tmp_path / "state" / "kevin.db").exists()  # stopped before touching anything


def test_a_non_numeric_price_in_a_bars_file_is_skipped_with_its_row(tmp_path):
    lines = (FIXTURES / "bars_2019.csv").read_text().splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("AAPL,2019-03-06,"))
    cells = lines[row].split(",")
    cells[5] = "42.1x"  # close
    lines[row] = ",".join(cells)
    bars = tmp_path / "bars.csv"
    bars.write_text("\n".join(lines) + "\n")
    proc = run_kevin(tmp_path, "backtest", "--mentions", str(sample_mentions_path()), "--bars", str(bars), "--no-save")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "skipped bar: AAPL 2019-03-06: close is not a number" in proc.stderr.splitlines()
    assert "total return" in proc.stdout
