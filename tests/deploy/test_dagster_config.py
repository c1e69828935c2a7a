"""deploy/dagster.yaml and deploy/workspace.yaml, checked by Dagster's own config schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster._core.storage.config import pg_config
from dagster_postgres.utils import pg_url_from_config

from kevin_pipeline import deploy_commands as dc
from tests.deploy.deploy_files import DEPLOY, load_yaml

PG_ENV = {
    "DAGSTER_PG_HOST": "postgres",
    "DAGSTER_PG_PORT": "5433",
    "DAGSTER_PG_DB": "dagster",
    "DAGSTER_PG_USER": "kevin",
    "DAGSTER_PG_PASSWORD": "s3cretpw",
}


@pytest.fixture
def pg_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in PG_ENV.items():
        monkeypatch.setenv(name, value)


def test_the_instance_config_is_valid_and_stores_in_postgres_from_the_environment(pg_env: None, tmp_path: Path) -> None:
    (tmp_path / "dagster.yaml").write_text((DEPLOY / "dagster.yaml").read_text())
    config, custom_class = dagster_instance_config(str(tmp_path))
    assert custom_class is None
    # the values as the storage class receives them: every env reference resolved
    postgres = process_config(pg_config(), config["storage"]["postgres"])
    assert postgres.success, postgres.errors
    assert pg_url_from_config(postgres.value) == "postgresql://kevin:s3cretpw@postgres:5433/dagster"
    assert config["run_launcher"]["class"] == "DefaultRunLauncher"
    assert config["telemetry"] == {"enabled": False}


def test_the_instance_config_names_no_credential_itself() -> None:
    raw = load_yaml(DEPLOY / "dagster.yaml")
    for key, value in raw["storage"]["postgres"]["postgres_db"].items():
        assert set(value) == {"env"}, f"{key} is written in deploy/dagster.yaml"


def test_the_run_queue_matches_the_repositorys_production_config() -> None:
    ours = load_yaml(DEPLOY / "dagster.yaml")
    repository = load_yaml(DEPLOY.parent / "dagster_prod.yaml")
    for key in ("run_queue", "sensors", "schedules", "telemetry"):
        assert ours[key] == repository[key], key


def test_the_workspace_points_at_the_grpc_code_location() -> None:
    assert load_yaml(DEPLOY / "workspace.yaml") == dc.grpc_workspace("code-location")
    compose = load_yaml(DEPLOY / "docker-compose.yml")
    assert "code-location" in compose["services"]
    assert dc.grpc_workspace("127.0.0.1", 4123) == {
        "load_from": [{"grpc_server": {"host": "127.0.0.1", "port": 4123, "location_name": "kevin"}}]
    }
