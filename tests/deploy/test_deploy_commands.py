"""kevin_pipeline.deploy_commands: the commands, and the health probe the image and compose run."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kevin_pipeline import deploy_commands as dc


def test_the_commands_bind_where_they_are_told() -> None:
    assert dc.code_server("127.0.0.1", 4100) == [
        "dagster", "code-server", "start", "-h", "127.0.0.1", "-p", "4100", "-m", "kevin_pipeline.definitions",
    ]
    assert dc.webserver("127.0.0.1", 3100, "/tmp/ws.yaml") == ["dagster-webserver", "-h", "127.0.0.1", "-p", "3100", "-w", "/tmp/ws.yaml"]
    assert dc.daemon("/tmp/ws.yaml") == ["dagster-daemon", "run", "-w", "/tmp/ws.yaml"]
    assert dc.dashboard("127.0.0.1", 8100) == [
        "gunicorn", "--workers", "1", "--threads", "8", "--bind", "127.0.0.1:8100", "kevin_dash.app:server",
    ]
    assert [dc.command(s, "0.0.0.0")[0] for s in dc.SERVICES] == ["dagster", "dagster-webserver", "dagster-daemon", "gunicorn"]
    with pytest.raises(ValueError, match="unknown service 'worker'"):
        dc.command("worker", "0.0.0.0")


@pytest.mark.parametrize(
    ("cmdline", "service"),
    [
        # as /proc/1/cmdline shows a console script: the interpreter, then the script's full path
        (["/opt/venv/bin/python", "/opt/venv/bin/dagster", *dc.code_server("0.0.0.0")[1:]], "code-server"),
        (["/opt/venv/bin/python", "/opt/venv/bin/dagster-webserver", *dc.webserver("0.0.0.0")[1:]], "webserver"),
        (["/sbin/docker-init", "--", *dc.daemon()], "daemon"),  # compose `init: true`
        (["/opt/venv/bin/python", "/opt/venv/bin/gunicorn", *dc.dashboard("0.0.0.0")[1:]], "dashboard"),
        (["sh", "-c", dc.migrate_shell()], None),
        (["dagster", "dev", "-m", "kevin_pipeline.definitions"], None),
        ([], None),
    ],
)
def test_the_probe_tells_the_service_from_the_main_process(cmdline: list[str], service: str | None) -> None:
    assert dc.service_of(cmdline) == service


class _Handler(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(self.status if self.path == dc.WEBSERVER_HEALTH_PATH else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_webserver() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    _Handler.status = 200


def test_the_webserver_probe_asks_for_server_info(fake_webserver: ThreadingHTTPServer) -> None:
    port = fake_webserver.server_address[1]
    assert dc.probe("webserver", port) is True
    _Handler.status = 503
    assert dc.probe("webserver", port) is False
    fake_webserver.shutdown()
    fake_webserver.server_close()
    assert dc.probe("webserver", port) is False  # nothing listening


def test_the_probe_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert dc.probe_command("daemon") == ["python", "-m", "kevin_pipeline.deploy_commands", "probe", "daemon"]
    assert dc.main([]) == 2
    assert "usage:" in capsys.readouterr().err
    assert dc.main(["probe", "worker"]) == 1
    assert "not a kevin service (worker)" in capsys.readouterr().err
    with pytest.raises(ValueError):
        dc.probe("worker")
