"""The dashboard under gunicorn, exactly as the image and `make up-prod` run it (deploy_commands.dashboard),
on 127.0.0.1 against a temporary SQLite database: it serves the page and stops without a trace."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kevin_pipeline import deploy_commands as dc
from kevin_pipeline.process_groups import group_members  # live pids of a process group, from /proc
from tests.deploy.deploy_files import free_port

START_TIMEOUT_SECONDS = 90


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    port = free_port()
    argv = dc.beside_python(dc.dashboard("127.0.0.1", port))  # this virtualenv's gunicorn
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("KEVIN_", "ALPACA_"))}
    env.update(KEVIN_STATE_DIR=str(tmp_path / "state"), KEVIN_DATABASE_URL=f"sqlite:///{tmp_path / 'kevin.db'}")
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not dc.probe("dashboard", port):
            assert process.poll() is None, f"gunicorn exited {process.returncode}:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"no dashboard after {START_TIMEOUT_SECONDS} s:\n{log.read_text()}"
            time.sleep(0.3)
        yield Served(process, port, log)
    finally:
        if group_members(process.pid):  # a failed test: leave nothing running either way
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def test_gunicorn_serves_the_dashboard_and_stops_leaving_no_process(served: Served) -> None:
    with urllib.request.urlopen(served.url("/"), timeout=20) as response:  # redirected to the home page
        assert response.status == 200
        assert response.url == served.url(dc.DASH_HEALTH_PATH)
        page = response.read().decode()
    assert "<title>kevin</title>" in page and "_dash-config" in page
    # the layout comes from the Dash app inside the gunicorn worker (the token field of the shell)
    with urllib.request.urlopen(served.url("/_dash-layout"), timeout=20) as response:
        assert "shell-token" in json.dumps(json.load(response))
    assert (served.log.parent / "kevin.db").stat().st_size > 0  # the app opened (and migrated) our database

    workers = [pid for pid in group_members(served.process.pid) if pid != served.process.pid]
    assert len(workers) == 1  # --workers 1

    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=30) == 0
    deadline = time.monotonic() + 10
    while group_members(served.process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert group_members(served.process.pid) == []
    assert not dc.probe("dashboard", served.port)
    assert "Booting worker" in served.log.read_text()  # it was gunicorn, not Flask's development server
