"""deploy_stack's checks before anything starts: one stack per Dagster home, both PostgreSQL URLs
or neither, free ports; and the processes it starts are deploy_commands' (the image's) commands."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kevin_pipeline import deploy_commands as dc
from kevin_pipeline import deploy_stack as ds
from kevin_pipeline.process_groups import free_port
from kevin_pipeline.settings import Settings

PG = "postgresql+psycopg2://kevin:s3cret@db:5432/"


@pytest.fixture
def no_url_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KEVIN_DATABASE_URL", "DAGSTER_PG_URL", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)


def _dead_pid() -> int:
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    return done.pid


@pytest.fixture
def live_process() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


def test_the_lock_refuses_while_its_holder_lives_and_is_released_after(tmp_path: Path, live_process) -> None:
    lock = tmp_path / ds.LOCK_FILE
    lock.write_text(f"{live_process.pid}\nprod\n")
    with pytest.raises(ds.AlreadyRunning, match=rf"a kevin stack \(`prod`, pid {live_process.pid}\) already runs on DAGSTER_HOME"):
        with ds.stack_lock(tmp_path, "dev"):
            pass
    assert lock.read_text() == f"{live_process.pid}\nprod\n"  # the holder's lock is untouched

    lock.write_text(f"{_dead_pid()}\nprod\n")  # stale: its launcher is gone
    with ds.stack_lock(tmp_path, "dev"):
        assert lock.read_text() == f"{os.getpid()}\ndev\n"
    assert not lock.exists()


def test_both_urls_or_neither_and_both_postgresql(tmp_path: Path, no_url_env) -> None:
    out: list[str] = []
    with pytest.raises(ds.StackError, match="set both KEVIN_DATABASE_URL and DAGSTER_PG_URL"):
        ds.databases(Settings(database_url=PG + "kevin"), tmp_path, out.append)
    with pytest.raises(ds.StackError, match="set both"):
        ds.databases(Settings(dagster_pg_url=PG + "dagster"), tmp_path, out.append)
    sqlite = f"sqlite:///{tmp_path / 'kevin.db'}"
    with pytest.raises(ds.StackError, match="KEVIN_DATABASE_URL must be a PostgreSQL URL"):
        ds.databases(Settings(database_url=sqlite, dagster_pg_url=PG + "dagster"), tmp_path, out.append)
    with pytest.raises(ds.StackError, match="DAGSTER_PG_URL must name the psycopg2 driver"):
        ds.databases(Settings(database_url=PG + "kevin", dagster_pg_url="postgresql+psycopg://k@db/dagster"),
                     tmp_path, out.append)
    given = ds.databases(Settings(database_url=PG + "kevin", dagster_pg_url=PG + "dagster"), tmp_path, out.append)
    assert (given.kevin_url, given.dagster_url, given.stop) == (PG + "kevin", PG + "dagster", None)
    assert out == []  # no cluster started


def test_a_busy_port_is_refused_before_anything_starts(tmp_path: Path, no_url_env) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        settings = Settings(state_dir=tmp_path / "state", database_url=PG + "kevin", dagster_pg_url=PG + "dagster")
        lines: list[str] = []
        ports = ds.Ports(web=port, grpc=free_port(), dash=port)
        status = ds.run_stack("prod", settings, tmp_path / "home", ports, lines.append)
    assert status == ds.EXIT_FAILED
    assert lines == [f"kevin: port(s) {port} (webserver), {port} (dashboard) on 127.0.0.1 already in use "
                     "(another kevin stack?): stop it or pick other ports"]
    assert not (tmp_path / "home" / ds.LOCK_FILE).exists()  # released
    assert not (tmp_path / "home" / "dagster.yaml").exists()  # nothing prepared, nothing started


def test_a_held_home_exits_3_without_starting(tmp_path: Path, no_url_env, live_process) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ds.LOCK_FILE).write_text(f"{live_process.pid}\ndev\n")
    lines: list[str] = []
    assert ds.run_stack("prod", Settings(state_dir=tmp_path), home, ds.Ports(), lines.append) == ds.EXIT_ALREADY_RUNNING
    assert len(lines) == 1 and f"pid {live_process.pid}" in lines[0]


def test_the_production_processes_are_the_images_commands_on_loopback() -> None:
    workspace = Path(dc.WORKSPACE_FILE)
    services = ds.prod_services(ds.Ports(), workspace)
    assert [s.name for s in services] == list(dc.SERVICES)
    for service in services:  # the same words, but bound to 127.0.0.1 instead of every interface
        assert "0.0.0.0" not in " ".join(service.argv)
        assert [w.replace(ds.HOST, "0.0.0.0") for w in service.argv] == dc.command(service.name, "0.0.0.0"), service.name


def test_a_failed_migration_stops_the_start_quoting_its_log_without_the_password(tmp_path: Path) -> None:
    env = {**os.environ, "PROBE_PASSWORD": "s3cret"}
    supervisor = ds.Supervisor(tmp_path, env, tmp_path, secrets=["s3cret"])
    script = "import os, sys; print('could not connect as kevin:' + os.environ['PROBE_PASSWORD'] + '@db'); sys.exit(4)"
    failing = ["python", "-c", script]
    with pytest.raises(ds.StackError) as caught:
        supervisor.run_step(failing)
    message = str(caught.value)
    assert message.startswith(f"`{' '.join(failing)}` failed with 4; the end of {tmp_path / 'migrate.log'}:")
    assert "could not connect as kevin:[redacted]@db" in message and "s3cret" not in message
