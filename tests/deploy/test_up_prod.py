"""`make up-prod` for real: the production-shaped stack on PostgreSQL on 127.0.0.1 (issue 14, "Done when").

The launcher (`python -m kevin_pipeline.deploy_stack prod`) runs in its own process group with the
simulated broker and trading on. PostgreSQL: two fresh databases on the shared test server when
KEVIN_TEST_DATABASE_URL is set; otherwise the launcher starts its own throwaway cluster (its state
file in the Dagster home), which this test reads back. A BUY mention committed to kevin's database
must become an order at the simulated broker, placed by a run of `trade_on_mentions` that the
daemon's sensor launched through the gRPC code location. Then SIGTERM to the launcher must leave no
process, no open port and no lock behind. Meanwhile a second start, of either mode, on the same
Dagster home must refuse. About 50 s (the stack starts once for the module), so not gated as slow.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from kevin_pipeline import deploy_stack
from kevin_pipeline.bench.latency import BENCH_ENV, commit_mention, poll_orders, seed_database
from kevin_pipeline.process_groups import free_port, group_members, pid_alive, port_in_use

READY_TIMEOUT_S = 300.0  # a throwaway cluster, migrations, four processes healthy (slow under load)
ORDER_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 90.0
SYMBOL = "UPPROD"


def _postgres_can_start_here() -> bool:
    """scripts/pg_test_cluster.sh needs initdb (or root, to install it)."""
    return bool(shutil.which("initdb") or list(Path("/usr/lib/postgresql").glob("*/bin/initdb")) or os.geteuid() == 0)


@dataclass
class Stack:
    process: subprocess.Popen[bytes]
    home: Path
    log: Path
    ports: deploy_stack.Ports
    env: dict[str, str]
    kevin_url: str = ""
    dagster_url: str = ""

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def child_groups(self) -> list[int]:
        """The process groups the launcher started (the pids of its ready table lead them)."""
        return [int(pid) for pid in re.findall(r"^  \S+\s+pid (\d+)", self.output(), re.M)]

    def stop(self) -> int:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            for pgid in [self.process.pid, *self.child_groups()]:
                if group_members(pgid):
                    os.killpg(pgid, signal.SIGKILL)
            self.process.wait(timeout=10)
            raise


@pytest.fixture(scope="module")
def given_databases() -> Iterator[tuple[str, str] | None]:
    """(kevin URL, Dagster URL): fresh databases on the test server, or None (the launcher's own cluster)."""
    server = os.environ.get("KEVIN_TEST_DATABASE_URL")
    if not server:
        if not _postgres_can_start_here():
            pytest.skip("neither KEVIN_TEST_DATABASE_URL nor a PostgreSQL installation (initdb) for a throwaway cluster")
        yield None
        return
    admin = create_engine(make_url(server).set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    names = [f"upprod_{kind}_{os.getpid()}_{uuid.uuid4().hex[:8]}" for kind in ("kevin", "dagster")]
    with admin.connect() as conn:
        for name in names:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    urls = [make_url(server).set(drivername="postgresql+psycopg2", database=name).render_as_string(hide_password=False)
            for name in names]
    yield urls[0], urls[1]
    with admin.connect() as conn:
        for name in names:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _cluster_url(home: Path, env: dict[str, str]) -> str:
    """The URL of the throwaway cluster the launcher started (from its state file in the home)."""
    done = subprocess.run([str(deploy_stack.PG_CLUSTER_SCRIPT), "url"], capture_output=True, text=True, check=True,
                          env={**env, "KEVIN_PG_TEST_STATE": str(home / deploy_stack.PG_STATE_FILE),
                               "KEVIN_PG_TEST_DB": deploy_stack.KEVIN_DATABASE})
    return done.stdout.strip()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, given_databases: tuple[str, str] | None) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("up_prod")
    home = tmp / "dagster_home"
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("KEVIN_", "ALPACA_", "DAGSTER_"))}
    env |= BENCH_ENV | {"KEVIN_STATE_DIR": str(tmp / "state"), "PYTHONUNBUFFERED": "1"}
    if given_databases is not None:
        env |= {"KEVIN_DATABASE_URL": given_databases[0], "DAGSTER_PG_URL": given_databases[1]}
    ports = deploy_stack.Ports(web=free_port(), grpc=free_port(), dash=free_port())
    log = tmp / "launcher.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "kevin_pipeline.deploy_stack", "prod", "--dagster-home", str(home),
             "--web-port", str(ports.web), "--grpc-port", str(ports.grpc), "--dash-port", str(ports.dash)],
            cwd=tmp, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    started = Stack(process, home, log, ports, env)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while deploy_stack.READY not in started.output():
            assert process.poll() is None, f"the launcher exited with {process.returncode}:\n{started.output()}"
            assert time.monotonic() < deadline, f"not ready after {READY_TIMEOUT_S:.0f} s:\n{started.output()}"
            time.sleep(0.5)
        if given_databases is not None:
            started.kevin_url, started.dagster_url = given_databases
        else:
            started.kevin_url = _cluster_url(home, env)
            started.dagster_url = make_url(started.kevin_url).set(
                drivername="postgresql+psycopg2", database=deploy_stack.DAGSTER_DATABASE).render_as_string(hide_password=False)
        yield started
    finally:
        if process.poll() is None:
            started.stop()


def test_a_second_start_on_the_same_dagster_home_refuses(stack: Stack) -> None:
    for mode in ("prod", "dev"):  # `make up-prod` and `make up` alike
        done = subprocess.run(
            [sys.executable, "-m", "kevin_pipeline.deploy_stack", mode, "--dagster-home", str(stack.home),
             "--web-port", str(free_port()), "--grpc-port", str(free_port()), "--dash-port", str(free_port())],
            env=stack.env, capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == deploy_stack.EXIT_ALREADY_RUNNING, done.stdout + done.stderr
        assert f"already runs on DAGSTER_HOME {stack.home}" in done.stdout
        assert f"pid {stack.process.pid}" in done.stdout
        assert "starting " not in done.stdout.replace("not starting a second", "")  # nothing was started
    assert stack.process.poll() is None  # the first stack runs on, its lock untouched
    assert (stack.home / deploy_stack.LOCK_FILE).read_text().split()[0] == str(stack.process.pid)


def test_a_mention_becomes_an_order_through_the_grpc_code_location(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
    from dagster._core.instance.ref import InstanceRef

    from kevin_pipeline.db.models import OrderRecord, SimOrder
    from kevin_pipeline.runtime import open_runtime
    from kevin_pipeline.settings import Settings

    runtime = open_runtime(Settings(state_dir=stack.home.parent / "state", database_url=stack.kevin_url,
                                    enable_trading=True))
    try:
        seed_database(runtime, [SYMBOL])  # trading switched on, bars cached (the bundled ones + SYMBOL)
        sample = commit_mention(runtime, 1, SYMBOL, datetime.now(UTC).strftime("%H%M%S"))  # published now
        client_order_id = f"kv-{sample.mention_id}-b"
        waiting = {client_order_id: sample}
        deadline = time.monotonic() + ORDER_TIMEOUT_S
        while waiting:
            assert stack.process.poll() is None, stack.output()
            assert time.monotonic() < deadline, f"no order within {ORDER_TIMEOUT_S:.0f} s:\n{stack.output()}"
            time.sleep(0.2)
            poll_orders(runtime, waiting)
        with runtime.sessions() as s:
            order = s.scalars(select(OrderRecord).where(OrderRecord.client_order_id == client_order_id)).one()
            at_broker = s.scalars(select(SimOrder).where(SimOrder.client_order_id == client_order_id)).one()
        assert (order.symbol, order.side, order.status) == (SYMBOL, "buy", "accepted")
        assert (at_broker.symbol, at_broker.side, at_broker.order_class) == (SYMBOL, "buy", "bracket")
    finally:
        runtime.close()

    # The run that placed it: launched by the daemon's sensor, loaded from the gRPC code server.
    monkeypatch.setenv("DAGSTER_PG_URL", stack.dagster_url)  # dagster_prod.yaml reads it
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(stack.home))) as instance:
        deadline = time.monotonic() + 60
        while True:
            runs = instance.get_runs(RunsFilter(job_name="trade_on_mentions"))
            if runs and all(run.status == DagsterRunStatus.SUCCESS for run in runs):
                break
            assert time.monotonic() < deadline, [(run.run_id, run.status) for run in runs]
            time.sleep(0.5)
        for run in runs:
            assert run.tags.get("dagster/sensor_name") == "new_mentions_sensor"
            origin = run.remote_job_origin.repository_origin.code_location_origin
            assert type(origin).__name__ == "GrpcServerCodeLocationOrigin"
            assert (origin.host, origin.port, origin.location_name) == ("127.0.0.1", stack.ports.grpc, "kevin")


def test_sigterm_stops_every_process_it_started(stack: Stack) -> None:
    groups = stack.child_groups()
    assert len(groups) == 4  # code-server, webserver, daemon, dashboard
    assert all(pid_alive(pid) for pid in groups)

    assert stack.stop() == 0, stack.output()

    assert "SIGTERM: stopped" in stack.output()
    assert [pgid for pgid in [stack.process.pid, *groups] if group_members(pgid)] == []
    busy = [port for port in (stack.ports.web, stack.ports.grpc, stack.ports.dash) if port_in_use(port)]
    assert busy == []
    if stack.kevin_url and "stopped the throwaway PostgreSQL cluster" in stack.output():
        assert not port_in_use(int(make_url(stack.kevin_url).port or 5432))
    assert not (stack.home / deploy_stack.LOCK_FILE).exists()
