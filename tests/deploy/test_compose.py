"""deploy/docker-compose.yml: every service checked for health, started in order, with kevin's commands
and no secret written in it; deploy/.env is gitignored and its template holds no value."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import pytest

from kevin_pipeline import deploy_commands as dc
from tests.deploy.deploy_files import DEPLOY, ROOT, is_secret_name, load_yaml

COMPOSE = DEPLOY / "docker-compose.yml"
KEVIN_SERVICES = {"code-location": "code-server", "webserver": "webserver", "daemon": "daemon", "dashboard": "dashboard"}
ONE_SHOT = "migrate"
REFERENCE = re.compile(r"\$\{[A-Z_][A-Z0-9_]*(?::?[-?][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def test_the_stack_has_every_service(services: dict[str, Any]) -> None:
    assert set(services) == {"postgres", ONE_SHOT, *KEVIN_SERVICES}


def test_every_long_running_service_has_a_healthcheck(services: dict[str, Any]) -> None:
    for name, service in services.items():
        check = service.get("healthcheck") or {}
        if name == ONE_SHOT:
            # it exits when done: no health to check, and the image's HEALTHCHECK is switched off
            assert service["restart"] == "no" and check == {"disable": True}
            continue
        test = check.get("test")
        assert isinstance(test, list) and test[0] in {"CMD", "CMD-SHELL"} and len(test) > 1, name
        assert service.get("restart") == "unless-stopped", name


def test_kevin_services_are_probed_by_kevins_probe(services: dict[str, Any]) -> None:
    for name, kind in KEVIN_SERVICES.items():
        assert services[name]["healthcheck"]["test"] == ["CMD", *dc.probe_command(kind)], name
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"][1]


def test_services_start_only_after_what_they_need_is_healthy(services: dict[str, Any]) -> None:
    expected = {
        ONE_SHOT: {"postgres": "service_healthy"},
        "code-location": {ONE_SHOT: "service_completed_successfully"},
        "webserver": {"code-location": "service_healthy"},
        "daemon": {"code-location": "service_healthy"},
        "dashboard": {ONE_SHOT: "service_completed_successfully"},
    }
    for name, service in services.items():
        depends = {dep: spec["condition"] for dep, spec in (service.get("depends_on") or {}).items()}
        assert depends == expected.get(name, {}), name
        for dep, condition in depends.items():  # a service_healthy wait needs a healthcheck to wait for
            if condition == "service_healthy":
                assert "test" in services[dep]["healthcheck"], f"{name} waits for {dep}, which has no healthcheck"


def test_commands_are_kevins(services: dict[str, Any]) -> None:
    for name, kind in KEVIN_SERVICES.items():
        assert services[name]["command"] == dc.command(kind, "0.0.0.0"), name
    assert services[ONE_SHOT]["command"] == ["sh", "-c", dc.migrate_shell()]
    assert dc.migrate_shell() == "kevin db upgrade && dagster instance migrate"


def test_one_image_for_every_kevin_service(services: dict[str, Any]) -> None:
    images = {services[name]["image"] for name in [*KEVIN_SERVICES, ONE_SHOT]}
    builds = {(services[name]["build"]["context"], services[name]["build"]["dockerfile"]) for name in [*KEVIN_SERVICES, ONE_SHOT]}
    assert images == {"${KEVIN_IMAGE:-kevin:local}"}
    assert builds == {("..", "deploy/Dockerfile")}


def test_no_literal_secret_anywhere_in_the_file(services: dict[str, Any]) -> None:
    checked = 0
    for name, service in services.items():
        for key, value in _environment(service).items():
            if is_secret_name(key):
                checked += 1
                assert REFERENCE.search(value), f"{name}: {key} is written in the compose file"
                # the password part of a URL must be a reference too, not only the host
                if "://" in value:
                    userinfo = value.split("://", 1)[1].rsplit("@", 1)[0]
                    assert re.fullmatch(r"\$\{POSTGRES_USER[^}]*\}:\$\{POSTGRES_PASSWORD[^}]*\}", userinfo), f"{name}: {key}"
    assert checked >= 3  # the Dagster and kevin database credentials, PostgreSQL's own password
    text = COMPOSE.read_text()
    for line in text.splitlines():
        match = re.match(r"\s*-?\s*([A-Za-z_][A-Za-z0-9_]*)\s*[:=]\s*(\S.*)?$", line)
        if match and is_secret_name(match.group(1)) and match.group(2):
            assert REFERENCE.search(match.group(2)), f"literal secret on: {line.strip()}"


def test_kevin_services_take_their_secrets_from_the_env_file(services: dict[str, Any]) -> None:
    for name in [*KEVIN_SERVICES, ONE_SHOT]:
        assert services[name]["env_file"] == [".env"], name
    # PostgreSQL gets its own variables only, not the Alpaca keys and the dashboard token
    assert "env_file" not in services["postgres"]


def test_postgres_keeps_its_data_in_a_volume(compose: dict[str, Any], services: dict[str, Any]) -> None:
    volumes = services["postgres"]["volumes"]
    assert "pgdata:/var/lib/postgresql/data" in volumes
    assert "pgdata" in compose["volumes"]
    init = [v for v in volumes if v.endswith(":/docker-entrypoint-initdb.d:ro")]
    assert init and (DEPLOY / init[0].split(":")[0].removeprefix("./")).is_dir()


def test_only_the_two_web_uis_are_published_and_on_loopback(services: dict[str, Any]) -> None:
    published = {name: service["ports"] for name, service in services.items() if service.get("ports")}
    assert published == {
        "webserver": [f"127.0.0.1:{dc.PORTS['webserver']}:{dc.PORTS['webserver']}"],
        "dashboard": [f"127.0.0.1:{dc.PORTS['dashboard']}:{dc.PORTS['dashboard']}"],
    }


def test_the_env_file_is_gitignored_and_its_template_holds_no_secret() -> None:
    git = shutil.which("git")
    assert git, "git is needed to check .gitignore"
    ignored = subprocess.run([git, "check-ignore", "-q", "deploy/.env"], cwd=ROOT, check=False)
    assert ignored.returncode == 0, "deploy/.env is not gitignored"
    tracked = subprocess.run([git, "check-ignore", "-q", "deploy/.env.example"], cwd=ROOT, check=False)
    assert tracked.returncode == 1, "deploy/.env.example must be committed"
    names = []
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            names.append(name)
            if is_secret_name(name):
                assert value == "", f".env.example gives {name} a value"
    # every variable the compose file requires from the env file is in the template
    required = set(re.findall(r"\$\{([A-Z_]+):\?", COMPOSE.read_text()))
    assert required <= set(names)
