"""`serve()` as `kevin dash` runs it: a real process on 127.0.0.1 answering both pages."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from kevin_dash.app import _is_loopback


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_binds_the_configured_port_and_answers(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "KEVIN_STATE_DIR": str(tmp_path),
        "KEVIN_DATABASE_URL": f"sqlite:///{tmp_path / 'kevin.db'}",
        "KEVIN_DASH_PORT": str(port),
    }
    env.pop("KEVIN_DASH_HOST", None)
    env.pop("KEVIN_DASH_TOKEN", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", "from kevin_dash.app import serve; serve()"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                resp = requests.get(f"http://127.0.0.1:{port}/", timeout=2, allow_redirects=False)
                break
            except requests.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read() if proc.stdout else ""
                    pytest.fail(f"kevin dash did not start: {out[-2000:]}")
                time.sleep(0.2)
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/strategy")
        for path in ("/strategy", "/paper-account", "/_dash-layout"):
            assert requests.get(f"http://127.0.0.1:{port}{path}", timeout=5).status_code == 200
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}/strategy" in out
    assert "KEVIN_DASH_TOKEN is not set: the dashboard is read-only" in out


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False), ("example.org", False)])
def test_only_loopback_hosts_count_as_local(host: str, loopback: bool) -> None:
    assert _is_loopback(host) is loopback
