"""`make up` and `make up-prod`: kevin's processes on one machine, bound to 127.0.0.1, stopped together.

    python -m kevin_pipeline.deploy_stack prod   # make up-prod: the production shape
    python -m kevin_pipeline.deploy_stack dev    # make up: `dagster dev` + the dashboard

`prod` runs what the container image and the Helm chart run (the commands of `deploy_commands`):
PostgreSQL for both kevin (KEVIN_DATABASE_URL) and Dagster (DAGSTER_PG_URL, dagster_prod.yaml);
given both URLs it uses them, given neither it starts a throwaway cluster
(scripts/pg_test_cluster.sh: its data is deleted at stop). Then, in order: the migrations once
(`migrate_steps`), the code location as a gRPC server, the webserver and the daemon reading a
workspace.yaml generated into the Dagster home that points at that server, and the dashboard under
gunicorn. The Dagster home (DAGSTER_HOME, default STATE_DIR/dagster_home_prod) gets
dagster_prod.yaml as its dagster.yaml, the workspace file and a stack-logs/ folder, one log per process.

Every process leads its own process group (its workers, and the runs the code server starts, are in
it). Ctrl-C or SIGTERM stops them all: SIGTERM to each group, a grace period, SIGKILL for what is
left, the throwaway cluster stopped. A process that dies on its own stops the rest too.

One stack per Dagster home: a pid file there (`kevin-stack.pid`) holds the running launcher's pid,
and a second start of either mode on the same home refuses while that pid lives (a stale file is
replaced). Busy ports are refused before anything starts.

Exit status: 0 stopped by a signal, 1 failed, 3 another stack runs on this Dagster home.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import yaml

from kevin_pipeline import deploy_commands as dc
from kevin_pipeline.process_groups import finish_process_group, pid_alive, port_in_use, signal_group
from kevin_pipeline.db.engine import safe_url, url_passwords
from kevin_pipeline.settings import Settings, SettingsError, environment_with, load_settings, redact

ROOT = Path(__file__).resolve().parents[1]
PG_CLUSTER_SCRIPT = ROOT / "scripts" / "pg_test_cluster.sh"
PROD_INSTANCE_CONFIG = ROOT / "dagster_prod.yaml"
DEV_INSTANCE_CONFIG = ROOT / "dagster.yaml"
HOST = "127.0.0.1"
LOCK_FILE = "kevin-stack.pid"
PG_STATE_FILE = "pg-cluster.state"
DAGSTER_DATABASE = "dagster"
KEVIN_DATABASE = "kevin"
READY = "kevin stack ready"
START_TIMEOUT_S = 180.0
STOP_GRACE_S = 20.0
EXIT_FAILED, EXIT_ALREADY_RUNNING = 1, 3


class StackError(Exception):
    """The stack cannot start or has failed; the message says why and what to do."""


class AlreadyRunning(StackError):
    """Another launcher holds this Dagster home."""


class Stopped(BaseException):
    """Ctrl-C or SIGTERM: stop everything (a BaseException, so no `except Exception` swallows it)."""


# --- one stack per Dagster home ------------------------------------------------------------------


@contextmanager
def stack_lock(home: Path, mode: str) -> Iterator[Path]:
    """Hold `home`/kevin-stack.pid for this process; refuse while another live launcher holds it."""
    path = home / LOCK_FILE
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            pid, held_mode = _read_lock(path)
            if pid is not None and pid != os.getpid() and pid_alive(pid):
                raise AlreadyRunning(
                    f"a kevin stack (`{held_mode}`, pid {pid}) already runs on DAGSTER_HOME {home}: "
                    f"stop it first (Ctrl-C in its terminal, or `kill -TERM {pid}`); not starting a second daemon"
                ) from None
            path.unlink(missing_ok=True)  # stale: its launcher is gone
            continue
        with os.fdopen(fd, "w") as f:
            f.write(f"{os.getpid()}\n{mode}\n")
        break
    try:
        yield path
    finally:
        if _read_lock(path)[0] == os.getpid():
            path.unlink(missing_ok=True)


def _read_lock(path: Path) -> tuple[int | None, str]:
    try:
        lines = path.read_text().split()
    except OSError:
        return None, ""
    pid = int(lines[0]) if lines and lines[0].isdigit() else None
    return pid, lines[1] if len(lines) > 1 else "?"


# --- the processes -------------------------------------------------------------------------------


@dataclass
class Service:
    name: str  # a deploy_commands service (probed by its probe), or "dagster-dev"
    argv: list[str]
    where: str  # what a person opens or connects to
    port: int | None = None
    probe: str | None = None  # the deploy_commands probe that says it is healthy


@dataclass
class Supervisor:
    """The started process groups, in start order; stopped in reverse (the daemon before the code
    location it launches runs through)."""

    cwd: Path
    env: dict[str, str]
    log_dir: Path
    running: list[tuple[Service, subprocess.Popen[bytes]]] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)  # hidden from the log lines it quotes

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def start(self, service: Service) -> subprocess.Popen[bytes]:
        with self.log_path(service.name).open("ab") as log:
            process = subprocess.Popen(dc.beside_python(service.argv), cwd=self.cwd, env=self.env,
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self.running.append((service, process))
        return process

    def wait_healthy(self, service: Service, process: subprocess.Popen[bytes], deadline: float) -> None:
        while not (service.probe is None or dc.probe(service.probe, service.port, self.env)):
            if process.poll() is not None:
                raise StackError(f"{service.name} exited with {process.returncode} while starting{self.tail(service.name)}")
            if time.monotonic() > deadline:
                raise StackError(f"{service.name} not healthy after {START_TIMEOUT_S:.0f} s{self.tail(service.name)}")
            time.sleep(0.5)

    def exited(self) -> tuple[Service, int] | None:
        for service, process in self.running:
            if process.poll() is not None:
                return service, int(process.returncode)
        return None

    def stop_all(self) -> int:
        """SIGTERM every group (newest first), then wait for each; returns how many processes needed SIGKILL."""
        for _, process in reversed(self.running):
            signal_group(process.pid, signal.SIGTERM)
        return sum(finish_process_group(process, STOP_GRACE_S) for _, process in reversed(self.running))

    def run_step(self, argv: list[str]) -> None:
        """One migration step, to completion; its output appended to migrate.log."""
        with self.log_path("migrate").open("ab") as out:
            done = subprocess.run(dc.beside_python(argv), cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                                  stdout=out, stderr=subprocess.STDOUT, check=False)
        if done.returncode != 0:
            raise StackError(f"`{' '.join(argv)}` failed with {done.returncode}{self.tail('migrate')}")

    def tail(self, name: str, lines: int = 15) -> str:
        try:
            text = self.log_path(name).read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        quoted = redact("\n  ".join(text), self.secrets)
        return f"; the end of {self.log_path(name)}:\n  {quoted}" if text else ""


# --- PostgreSQL ----------------------------------------------------------------------------------


@dataclass
class Databases:
    kevin_url: str
    dagster_url: str
    stop: Callable[[], None] | None = None  # the throwaway cluster's stop, when we started one
    origin: str = "given"


def _require_postgres(name: str, url: str, driver: str | None = None) -> None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise StackError(f"{name} must be a PostgreSQL URL for the production stack (got {parsed.get_backend_name()})")
    if driver and parsed.get_driver_name() != driver:
        raise StackError(f"{name} must name the {driver} driver (postgresql+{driver}://...): dagster-postgres uses it")


def databases(settings: Settings, home: Path, out: Callable[[str], None]) -> Databases:
    """Both URLs from the settings, or a throwaway cluster with a database for each."""
    kevin = settings.database_url.get_secret_value() if settings.database_url else None
    dagster = settings.dagster_pg_url.get_secret_value() if settings.dagster_pg_url else None
    if kevin and dagster:
        _require_postgres("KEVIN_DATABASE_URL", kevin)
        _require_postgres("DAGSTER_PG_URL", dagster, "psycopg2")
        return Databases(kevin, dagster)
    if kevin or dagster:
        raise StackError("set both KEVIN_DATABASE_URL and DAGSTER_PG_URL (PostgreSQL), "
                         "or neither for a throwaway cluster")
    return throwaway_cluster(home, out)


def throwaway_cluster(home: Path, out: Callable[[str], None]) -> Databases:
    """scripts/pg_test_cluster.sh with its state in the Dagster home: databases `kevin` and `dagster`."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    if not PG_CLUSTER_SCRIPT.exists():
        raise StackError(f"no {PG_CLUSTER_SCRIPT} (a source checkout has it): set KEVIN_DATABASE_URL and DAGSTER_PG_URL")
    env = environment_with({"KEVIN_PG_TEST_STATE": str(home / PG_STATE_FILE), "KEVIN_PG_TEST_DB": KEVIN_DATABASE})

    def stop() -> None:
        subprocess.run([str(PG_CLUSTER_SCRIPT), "stop"], env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, check=False, timeout=120)

    out("starting a throwaway PostgreSQL cluster (its data is deleted at stop; set KEVIN_DATABASE_URL "
        "and DAGSTER_PG_URL to keep data)")
    done = subprocess.run([str(PG_CLUSTER_SCRIPT), "start"], env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, check=False, timeout=300)
    if done.returncode != 0:
        stop()
        raise StackError(f"could not start a throwaway PostgreSQL cluster:\n  {done.stderr.strip()}")
    kevin_url = done.stdout.strip().splitlines()[-1]
    dagster_url = make_url(kevin_url).set(drivername="postgresql+psycopg2", database=DAGSTER_DATABASE)
    admin = create_engine(make_url(kevin_url).set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = %s", (DAGSTER_DATABASE,)).scalar()
            if not exists:
                conn.exec_driver_sql(f'CREATE DATABASE "{DAGSTER_DATABASE}"')
    except Exception:
        stop()
        raise
    finally:
        admin.dispose()
    return Databases(kevin_url, dagster_url.render_as_string(hide_password=False), stop, "throwaway cluster")


# --- the two stacks ------------------------------------------------------------------------------


@dataclass
class Ports:
    web: int = dc.PORTS["webserver"]
    grpc: int = dc.PORTS["code-server"]
    dash: int = dc.PORTS["dashboard"]


def prod_services(ports: Ports, workspace: Path) -> list[Service]:
    """The production processes, in start order (the code location first: the others load it)."""
    return [
        Service("code-server", dc.code_server(HOST, ports.grpc), f"grpc://{HOST}:{ports.grpc}  (code location "
                f"\"{dc.LOCATION_NAME}\")", ports.grpc, "code-server"),
        Service("webserver", dc.webserver(HOST, ports.web, str(workspace)), f"http://{HOST}:{ports.web}  (Dagster UI)",
                ports.web, "webserver"),
        Service("daemon", dc.daemon(str(workspace)), "sensors, schedules, run queue", None, "daemon"),
        Service("dashboard", dc.dashboard(HOST, ports.dash), f"http://{HOST}:{ports.dash}  (dashboard, gunicorn)",
                ports.dash, "dashboard"),
    ]


def dev_services(ports: Ports) -> list[Service]:
    """`make up`: `dagster dev` (webserver, daemon, code server in one) and `kevin dash`."""
    return [
        Service("dagster-dev", ["dagster", "dev", "-m", dc.CODE_LOCATION_MODULE, "-h", HOST, "-p", str(ports.web)],
                f"http://{HOST}:{ports.web}  (Dagster UI; daemon and code server inside)", ports.web, "webserver"),
        Service("dashboard", ["kevin", "dash", "--host", HOST, "--port", str(ports.dash)],
                f"http://{HOST}:{ports.dash}  (dashboard)", ports.dash, "dashboard"),
    ]


def _check_ports_free(services: Sequence[Service]) -> None:
    busy = [s for s in services if s.port is not None and port_in_use(s.port)]
    if busy:
        names = ", ".join(f"{s.port} ({s.name})" for s in busy)
        raise StackError(f"port(s) {names} on {HOST} already in use (another kevin stack?): stop it or pick other ports")


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Stopped(signal.Signals(signum).name)


def run_stack(mode: str, settings: Settings, home: Path, ports: Ports, out: Callable[[str], None] = print) -> int:
    """Start the stack of `mode`, keep it running until a signal or a death, stop it all."""
    home.mkdir(parents=True, exist_ok=True)
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with stack_lock(home, mode):  # held until every process is stopped
            _run_locked(mode, settings, home, ports, out)
    except Stopped as stop:
        out(f"{stop}: stopped")
    except AlreadyRunning as exc:
        out(f"kevin: {exc}")
        return EXIT_ALREADY_RUNNING
    except StackError as exc:
        out(f"kevin: {exc}")
        return EXIT_FAILED
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _run_locked(mode: str, settings: Settings, home: Path, ports: Ports, out: Callable[[str], None]) -> None:
    log_dir = home / "stack-logs"  # not logs/: Dagster owns $DAGSTER_HOME/logs
    log_dir.mkdir(exist_ok=True)
    workspace = home / dc.WORKSPACE_FILE
    services = prod_services(ports, workspace) if mode == "prod" else dev_services(ports)
    _check_ports_free(services)
    overrides = {"DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    supervisor = Supervisor(home, environment_with(overrides), log_dir)
    dbs: Databases | None = None
    try:
        if mode == "prod":
            dbs = databases(settings, home, out)
            supervisor.env |= {"KEVIN_DATABASE_URL": dbs.kevin_url, "DAGSTER_PG_URL": dbs.dagster_url}
            supervisor.secrets = url_passwords(dbs.kevin_url) + url_passwords(dbs.dagster_url)
            shutil.copyfile(PROD_INSTANCE_CONFIG, home / "dagster.yaml")
            workspace.write_text(yaml.safe_dump(dc.grpc_workspace(HOST, ports.grpc), sort_keys=False))
            out("running the migrations once: " + "; ".join(" ".join(step) for step in dc.migrate_steps()))
            for step in dc.migrate_steps():
                supervisor.run_step(step)
        elif not (home / "dagster.yaml").exists():
            shutil.copyfile(DEV_INSTANCE_CONFIG, home / "dagster.yaml")
        deadline = time.monotonic() + START_TIMEOUT_S
        for service in services:
            out(f"starting {service.name}: {' '.join(service.argv)}")
            supervisor.wait_healthy(service, supervisor.start(service), deadline)
        _print_ready(out, mode, home, supervisor, dbs)
        while (died := supervisor.exited()) is None:
            time.sleep(0.5)
        service, code = died
        raise StackError(f"{service.name} exited with {code}; stopping the rest{supervisor.tail(service.name)}")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # nothing may cut the clean-up short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if supervisor.running:
            killed = supervisor.stop_all()
            out(f"stopped {len(supervisor.running)} process group(s)"
                + (f" ({killed} process(es) needed SIGKILL)" if killed else ""))
        if dbs is not None and dbs.stop is not None:
            dbs.stop()
            out("stopped the throwaway PostgreSQL cluster")


def _print_ready(out: Callable[[str], None], mode: str, home: Path, supervisor: Supervisor, dbs: Databases | None) -> None:
    lines = [f"kevin ({mode}) on {HOST}; DAGSTER_HOME {home}; logs in {supervisor.log_dir}"]
    for service, process in supervisor.running:
        lines.append(f"  {service.name:<12} pid {process.pid:<8} {service.where}")
    if dbs is not None:
        lines.append(f"  {'kevin db':<12} {safe_url(dbs.kevin_url)}  ({dbs.origin})")
        lines.append(f"  {'dagster db':<12} {safe_url(dbs.dagster_url)}")
    lines.append(f"{READY}: Ctrl-C stops every process above")
    out("\n".join(lines))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kevin_pipeline.deploy_stack", description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=("prod", "dev"), help="prod: make up-prod; dev: make up")
    parser.add_argument("--dagster-home", type=Path, help="default: DAGSTER_HOME, else STATE_DIR/dagster_home[_prod]")
    parser.add_argument("--web-port", type=int, default=dc.PORTS["webserver"])
    parser.add_argument("--grpc-port", type=int, default=dc.PORTS["code-server"])
    parser.add_argument("--dash-port", type=int, default=dc.PORTS["dashboard"])
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"kevin: {exc}", file=sys.stderr)
        return EXIT_FAILED
    default_home = settings.state_dir / ("dagster_home_prod" if args.mode == "prod" else "dagster_home")
    home = (args.dagster_home or settings.dagster_home or default_home).resolve()
    out = functools.partial(print, flush=True)
    return run_stack(args.mode, settings, home, Ports(args.web_port, args.grpc_port, args.dash_port), out)


if __name__ == "__main__":
    sys.exit(main())
