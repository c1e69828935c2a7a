"""deploy/helm: the Dagster chart values against the chart's value schema (kevin's subset of it,
tests/fixtures/helm/README.md), and the dashboard's Deployment + Service."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from kevin_pipeline import deploy_commands as dc
from tests.deploy.deploy_files import DEPLOY, ROOT, is_secret_name, load_yaml, load_yaml_documents

VALUES = DEPLOY / "helm" / "values.yaml"
DASH = DEPLOY / "helm" / "kevin-dash.yaml"
SCHEMA = ROOT / "tests" / "fixtures" / "helm" / "dagster-values.subset.schema.json"


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return load_yaml(VALUES)


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _errors(validator: jsonschema.Draft7Validator, document: Any) -> list[str]:
    """Every error, with those inside an `anyOf` (a nullable object) spelled out."""
    found, pending = [], list(validator.iter_errors(document))
    while pending:
        error = pending.pop()
        found.append(f"{'/'.join(map(str, error.absolute_path))}: {error.message}")
        pending.extend(error.context or [])
    return found


def test_the_values_validate_against_the_chart_schema(validator: jsonschema.Draft7Validator, values: dict[str, Any]) -> None:
    assert _errors(validator, values) == []


@pytest.mark.parametrize(
    ("path", "bad", "complaint"),
    [
        (("runLauncher", "type"), "K8sJobLauncher", "is not one of"),
        (("dagsterWebserver", "replicas"), 2, "Additional properties"),  # the chart's key is replicaCount
        (("dagster-user-deployments", "deployments", 0, "port"), "4000", "is not of type 'integer'"),
        (("dagsterDaemon", "runCoordinator", "config", "queuedRunCoordinator", "maxConcurrentRun"), 8, "Additional properties"),
    ],
)
def test_the_schema_rejects_what_the_chart_would(
    validator: jsonschema.Draft7Validator, values: dict[str, Any], path: tuple[Any, ...], bad: Any, complaint: str
) -> None:
    broken = json.loads(json.dumps(values))
    node = broken
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = bad
    errors = _errors(validator, broken)
    assert any(complaint in e for e in errors), errors


def test_the_code_location_is_kevins_image_and_command(values: dict[str, Any]) -> None:
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["name"] == dc.LOCATION_NAME
    assert deployment["port"] == dc.PORTS["code-server"]
    # the chart runs: dagster code-server start -h 0.0.0.0 -p <port> + codeServerArgs
    chart_command = ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", str(deployment["port"]), *deployment["codeServerArgs"]]
    assert chart_command == dc.code_server("0.0.0.0")
    assert "dagsterApiGrpcArgs" not in deployment  # it would win over codeServerArgs
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}
    assert deployment["envSecrets"] == [{"name": "kevin-secrets"}]


def test_runs_go_to_kubernetes_jobs_with_kevins_secrets(values: dict[str, Any]) -> None:
    launcher = values["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    assert launcher["config"]["k8sRunLauncher"]["envSecrets"] == [{"name": "kevin-secrets"}]


def test_the_daemon_queues_runs_as_the_local_instance_does(values: dict[str, Any]) -> None:
    daemon = values["dagsterDaemon"]
    assert daemon["enabled"] is True
    queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    local = load_yaml(DEPLOY / "dagster.yaml")["run_queue"]
    assert queued["maxConcurrentRuns"] == local["max_concurrent_runs"]
    assert queued["dequeueIntervalSeconds"] == local["dequeue_interval_seconds"]
    assert queued["tagConcurrencyLimits"] == local["tag_concurrency_limits"]


def test_every_component_requests_resources(values: dict[str, Any]) -> None:
    components = {
        "code location": values["dagster-user-deployments"]["deployments"][0],
        "webserver": values["dagsterWebserver"],
        "daemon": values["dagsterDaemon"],
        "run pods": values["runLauncher"]["config"]["k8sRunLauncher"],
    }
    for name, component in components.items():
        requests = component["resources"]["requests"]
        assert set(requests) == {"cpu", "memory"}, name
        assert "memory" in component["resources"]["limits"], name


def test_dagster_storage_is_an_external_postgres_whose_password_is_a_secret(values: dict[str, Any]) -> None:
    postgres = values["postgresql"]
    assert postgres["enabled"] is False and postgres["postgresqlHost"]
    assert "postgresqlPassword" not in postgres
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"]


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
            yield f"{path}/{key}", value
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}/{index}")
            yield f"{path}/{index}", value


def _literal_secrets(document: Any) -> list[str]:
    """Paths of secret-looking keys, or env entries named like a secret, that carry a literal value."""
    found = []
    for path, value in _walk(document):
        key = path.rsplit("/", 1)[-1]
        if isinstance(value, dict) and "name" in value and is_secret_name(str(value["name"])) and "value" in value:
            found.append(f"{path} ({value['name']})")
        elif is_secret_name(key) and not key.endswith("SecretName") and isinstance(value, (str, int)) and not isinstance(value, bool):
            found.append(path)
    return found


def test_no_literal_secret_in_the_values(values: dict[str, Any]) -> None:
    assert _literal_secrets(values) == []
    assert _literal_secrets({"postgresql": {"postgresqlPassword": "x"}}) == ["/postgresql/postgresqlPassword"]
    assert _literal_secrets({"env": [{"name": "KEVIN_DASH_TOKEN", "value": "x"}]}) == ["/env/0 (KEVIN_DASH_TOKEN)"]


@pytest.fixture(scope="module")
def dash_manifests() -> dict[str, dict[str, Any]]:
    documents = load_yaml_documents(DASH)
    return {doc["kind"]: doc for doc in documents}


def test_the_dashboard_is_a_deployment_and_a_service(dash_manifests: dict[str, dict[str, Any]]) -> None:
    assert set(dash_manifests) == {"Deployment", "Service"}
    deployment, service = dash_manifests["Deployment"], dash_manifests["Service"]
    assert deployment["apiVersion"] == "apps/v1" and service["apiVersion"] == "v1"
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["type"] == "ClusterIP"
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    port_names = {p["name"]: p["containerPort"] for p in container["ports"]}
    (port,) = service["spec"]["ports"]
    assert port_names[port["targetPort"]] == dc.PORTS["dashboard"]


def test_the_dashboard_runs_kevins_gunicorn_command_as_non_root(dash_manifests: dict[str, dict[str, Any]]) -> None:
    pod = dash_manifests["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == dc.dashboard("0.0.0.0")
    assert dash_manifests["Deployment"]["spec"]["replicas"] == 1  # backtest jobs live in the process
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["livenessProbe"]["exec"]["command"] == dc.probe_command("dashboard")
    assert container["readinessProbe"]["httpGet"]["path"] == dc.DASH_HEALTH_PATH
    (init,) = pod["initContainers"]
    assert init["command"] == dc.migrate_steps()[0]  # kevin's schema; Dagster's is the chart's job
    assert {c["image"] for c in (container, init)} == {"ghcr.io/your-org/kevin:0.1.0"}


def test_the_dashboard_token_comes_from_a_kubernetes_secret(dash_manifests: dict[str, dict[str, Any]]) -> None:
    (container,) = dash_manifests["Deployment"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["KEVIN_DASH_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "kevin-secrets", "key": "KEVIN_DASH_TOKEN"}
    assert env["KEVIN_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "kevin-secrets"
    for document in dash_manifests.values():
        assert _literal_secrets(document) == []
