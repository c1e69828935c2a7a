"""The command lines of kevin's production processes, and their health probes: one home for all.

The container image (deploy/Dockerfile), deploy/docker-compose.yml, the Helm files in deploy/helm/
and `make up-prod` run the same four processes; only the address they bind differs (0.0.0.0 in a
container, 127.0.0.1 on one machine). YAML and Dockerfiles cannot import Python, so they spell the
commands out; tests/deploy checks that every copy equals what this module builds, so a changed
flag here fails until each file agrees.

    code location   dagster code-server start -h HOST -p 4000 -m kevin_pipeline.definitions
    webserver       dagster-webserver -h HOST -p 3000 -w workspace.yaml
    daemon          dagster-daemon run -w workspace.yaml
    dashboard       gunicorn --workers 1 --threads 8 --bind HOST:8050 kevin_dash.app:server
    before them     kevin db upgrade && dagster instance migrate      (once, `migrate_steps`)

The code server's flags come in the order the Dagster Helm chart writes them
(`dagster code-server start -h 0.0.0.0 -p PORT` + `codeServerArgs`), so the chart's command and
ours are the same string. The dashboard runs ONE gunicorn worker with threads: a backtest started
from the dashboard lives in that process (`kevin_dash.jobs`), and a second worker would not know it.

`python -m kevin_pipeline.deploy_commands probe [SERVICE]` is the health check of each process
(exit 0 healthy, 1 not). Without SERVICE it finds the service from the container's main process
(PID 1), so the image's single HEALTHCHECK fits whichever command the container runs.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CODE_LOCATION_MODULE = "kevin_pipeline.definitions"
LOCATION_NAME = "kevin"
WORKSPACE_FILE = "workspace.yaml"
DASH_APP = "kevin_dash.app:server"
DASH_HEALTH_PATH = "/strategy"
WEBSERVER_HEALTH_PATH = "/server_info"

PORTS = {"code-server": 4000, "webserver": 3000, "dashboard": 8050}
SERVICES = ("code-server", "webserver", "daemon", "dashboard")
PROBE_TIMEOUT_SECONDS = 10


def code_server(host: str, port: int = PORTS["code-server"]) -> list[str]:
    """The code location served over gRPC: webserver, daemon and run workers load kevin through it."""
    return ["dagster", "code-server", "start", "-h", host, "-p", str(port), *code_server_args()]


def code_server_args() -> list[str]:
    """What follows `dagster code-server start -h H -p P` (the Helm chart's `codeServerArgs`)."""
    return ["-m", CODE_LOCATION_MODULE]


def webserver(host: str, port: int = PORTS["webserver"], workspace: str = WORKSPACE_FILE) -> list[str]:
    return ["dagster-webserver", "-h", host, "-p", str(port), "-w", workspace]


def daemon(workspace: str = WORKSPACE_FILE) -> list[str]:
    return ["dagster-daemon", "run", "-w", workspace]


def dashboard(host: str, port: int = PORTS["dashboard"]) -> list[str]:
    return ["gunicorn", "--workers", "1", "--threads", "8", "--bind", f"{host}:{port}", DASH_APP]


def migrate_steps() -> list[list[str]]:
    """The schema migrations to run once before the services start: kevin's (Alembic) and
    Dagster's. Every kevin process upgrades its schema on open, but PostgreSQL does not serialise
    two first upgrades at once; one step before the rest does."""
    return [["kevin", "db", "upgrade"], ["dagster", "instance", "migrate"]]


def migrate_shell() -> str:
    """`migrate_steps()` as one shell line (a container runs one command)."""
    return " && ".join(" ".join(step) for step in migrate_steps())


def command(service: str, host: str) -> list[str]:
    """The command of `service` bound to `host`, on its default port."""
    if service == "code-server":
        return code_server(host)
    if service == "webserver":
        return webserver(host)
    if service == "daemon":
        return daemon()
    if service == "dashboard":
        return dashboard(host)
    raise ValueError(f"unknown service {service!r} (known: {', '.join(SERVICES)})")


def grpc_workspace(host: str, port: int = PORTS["code-server"]) -> dict[str, Any]:
    """The workspace.yaml (as data) that points the webserver and the daemon at the gRPC code server."""
    return {"load_from": [{"grpc_server": {"host": host, "port": port, "location_name": LOCATION_NAME}}]}


def probe_command(service: str) -> list[str]:
    """The health check of `service` as a command line (compose `healthcheck.test` and the image)."""
    return ["python", "-m", __name__, "probe", service]


# --- the probes ----------------------------------------------------------------------------------


def service_of(cmdline: Sequence[str]) -> str | None:
    """Which service a process command line runs (`/proc/1/cmdline` in a container): the one whose
    command's words, minus the bind address, all appear in it in order."""
    for service in SERVICES:
        wanted = [word for word in command(service, "0.0.0.0") if "0.0.0.0" not in word]
        words = iter(Path(word).name if word.startswith("/") else word for word in cmdline)
        if all(any(word == want for word in words) for want in wanted):
            return service
    return None


def _main_process_cmdline() -> list[str]:
    raw = Path("/proc/1/cmdline").read_bytes()
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_SECONDS) as response:  # noqa: S310 (loopback)
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False


def beside_python(argv: Sequence[str]) -> list[str]:
    """`argv` with its program taken from this interpreter's directory when it is there (the
    virtualenv's console scripts: `dagster`, `gunicorn`, `kevin`), so the virtualenv need not be on PATH."""
    beside = Path(sys.executable).with_name(argv[0])
    return [str(beside) if beside.exists() else argv[0], *argv[1:]]


def _command_ok(argv: list[str], env: dict[str, str] | None = None) -> bool:
    try:
        done = subprocess.run(beside_python(argv), capture_output=True, timeout=PROBE_TIMEOUT_SECONDS * 3,
                              check=False, env=env)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def probe(service: str, port: int | None = None, env: dict[str, str] | None = None) -> bool:
    """Whether `service`, listening on loopback (in its container, or on this machine), is healthy.
    `port`: where it listens, when not on its default port (`PORTS`); `env`: the environment of
    the command-line probes (the daemon's names its DAGSTER_HOME), default this process's."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r} (known: {', '.join(SERVICES)})")
    if service == "daemon":
        return _command_ok(["dagster-daemon", "liveness-check"], env)  # a recent heartbeat in the instance
    port = port or PORTS[service]
    if service == "code-server":
        return _command_ok(["dagster", "api", "grpc-health-check", "-p", str(port)], env)
    path = WEBSERVER_HEALTH_PATH if service == "webserver" else DASH_HEALTH_PATH
    return _http_ok(f"http://127.0.0.1:{port}{path}")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "probe" or len(args) > 2:
        print(f"usage: python -m {__name__} probe [{'|'.join(SERVICES)}]", file=sys.stderr)
        return 2
    service = args[1] if len(args) == 2 else service_of(_main_process_cmdline())
    if service not in SERVICES:
        print(f"probe: not a kevin service ({service or 'the main process runs none of them'})", file=sys.stderr)
        return 1
    healthy = probe(service)
    print(f"{service}: {'healthy' if healthy else 'UNHEALTHY'}")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
