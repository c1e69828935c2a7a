"""The Dagster command lines of deploy_commands, run for real on 127.0.0.1: the code location served over
gRPC, and a webserver that loads it through a grpc_server workspace. Each healthy by its own probe,
then stopped with no process left. (The daemon is the `make up-prod` test's: here only that its probe
says unhealthy when no daemon is beating.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kevin_pipeline import deploy_commands as dc
from kevin_pipeline.process_groups import group_members  # live pids of a process group, from /proc
from tests.deploy.deploy_files import free_port

START_TIMEOUT_SECONDS = 120


@pytest.fixture
def dagster_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((Path(__file__).resolve().parents[2] / "dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # for the daemon probe run from this process
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("KEVIN_", "ALPACA_"))}
    env.update(DAGSTER_HOME=str(home), KEVIN_STATE_DIR=str(tmp_path / "state"),
               KEVIN_DATABASE_URL=f"sqlite:///{tmp_path / 'kevin.db'}")
    return env


class Started:
    """Processes started in their own process groups; all stopped (and checked gone) at the end."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd, self.env = cwd, env
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, argv: list[str], name: str) -> subprocess.Popen[bytes]:
        log = (self.cwd / f"{name}.log").open("wb")
        process = subprocess.Popen(dc.beside_python(argv), cwd=self.cwd, env=self.env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.processes.append(process)
        return process

    def wait_healthy(self, service: str, port: int, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not dc.probe(service, port):
            log = (self.cwd / f"{service}.log").read_text(errors="replace")
            assert process.poll() is None, f"{service} exited {process.returncode}:\n{log}"
            assert time.monotonic() < deadline, f"{service} not healthy after {START_TIMEOUT_SECONDS} s:\n{log}"
            time.sleep(0.5)

    def stop_all(self) -> list[int]:
        """SIGTERM each group, wait, and return the pids still alive (SIGKILLed, so none stays)."""
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        left: list[int] = []
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            deadline = time.monotonic() + 10
            while group_members(process.pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            members = group_members(process.pid)
            if members:
                left.extend(members)
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        return left


@pytest.fixture
def started(tmp_path: Path, dagster_env: dict[str, str]) -> Iterator[Started]:
    processes = Started(tmp_path, dagster_env)
    yield processes
    processes.stop_all()


def test_the_code_location_and_the_webserver_run_from_kevins_commands(tmp_path: Path, started: Started) -> None:
    grpc_port, web_port = free_port(), free_port()
    code = started.start(dc.code_server("127.0.0.1", grpc_port), "code-server")
    started.wait_healthy("code-server", grpc_port, code)

    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(yaml.safe_dump(dc.grpc_workspace("127.0.0.1", grpc_port)))
    web = started.start(dc.webserver("127.0.0.1", web_port, str(workspace)), "webserver")
    started.wait_healthy("webserver", web_port, web)

    # the webserver sees kevin's code location through the gRPC server, loaded without error
    query = b'{"query": "{ workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError { __typename } } } } }"}'
    request = urllib.request.Request(f"http://127.0.0.1:{web_port}/graphql", data=query,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        entries = json.load(response)["data"]["workspaceOrError"]["locationEntries"]
    assert [(e["name"], e["locationOrLoadError"]["__typename"]) for e in entries] == [(dc.LOCATION_NAME, "RepositoryLocation")]

    assert dc.probe("daemon") is False  # no daemon has beaten in this Dagster home

    assert started.stop_all() == []
    assert not dc.probe("code-server", grpc_port) and not dc.probe("webserver", web_port)
