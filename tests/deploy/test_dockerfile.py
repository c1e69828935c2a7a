"""deploy/Dockerfile, read line by line: multi-stage, non-root, a healthcheck, kevin's commands, no secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from kevin_pipeline import deploy_commands as dc
from tests.deploy.deploy_files import DEPLOY, ROOT, Instruction, dockerfile_instructions, env_assignments, is_secret_name

DOCKERFILE = DEPLOY / "Dockerfile"


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return dockerfile_instructions(DOCKERFILE)


def _final_stage(instructions: list[Instruction]) -> list[Instruction]:
    starts = [i for i, ins in enumerate(instructions) if ins.keyword == "FROM"]
    return instructions[starts[-1]:]


def _of(instructions: list[Instruction], keyword: str) -> list[Instruction]:
    return [ins for ins in instructions if ins.keyword == keyword]


def test_two_stages_on_a_slim_python_base(instructions: list[Instruction]) -> None:
    stages = _of(instructions, "FROM")
    assert [s.arguments.split(" AS ")[-1] for s in stages] == ["build", "runtime"]
    base = {a.arguments.split("=", 1)[1] for a in _of(instructions, "ARG") if a.arguments.startswith("PYTHON_IMAGE=")}
    assert len(base) == 1 and base.pop().startswith("python:3.11-slim")
    assert all(s.arguments.startswith("${PYTHON_IMAGE}") for s in stages)


def test_the_final_stage_installs_the_wheel_built_in_the_first(instructions: list[Instruction]) -> None:
    build_runs = " ".join(r.arguments for r in _of(instructions[: instructions.index(_final_stage(instructions)[0])], "RUN"))
    assert "pip wheel" in build_runs and "--wheel-dir /wheels" in build_runs
    final_runs = [r.arguments for r in _of(_final_stage(instructions), "RUN")]
    install = [r for r in final_runs if "pip install" in r]
    assert len(install) == 1
    # from the build stage's wheels only (no index, no network), mounted so they leave no layer
    assert "--mount=type=bind,from=build,source=/wheels" in install[0]
    assert "--no-index --find-links=/wheels 'kevin[k8s]'" in install[0]  # with dagster-k8s: sweeps as pods
    # nothing from the source tree reaches the final stage but the two Dagster config files
    copies = [c.arguments for c in _of(_final_stage(instructions), "COPY")]
    assert copies == ["deploy/dagster.yaml deploy/workspace.yaml /opt/dagster/dagster_home/"]


def test_it_runs_as_a_non_root_user(instructions: list[Instruction]) -> None:
    users = _of(_final_stage(instructions), "USER")
    assert users, "the final stage sets no USER: it would run as root"
    user = users[-1].arguments.split(":")[0]
    assert user not in {"root", "0"}
    # the user the stage creates (a numeric USER lets Kubernetes verify runAsNonRoot)
    created = " ".join(r.arguments for r in _of(_final_stage(instructions), "RUN") if "useradd" in r.arguments)
    assert f"--uid {user} " in created


def test_copies_only_package_sources_never_the_whole_context_or_the_env_file(instructions: list[Instruction]) -> None:
    for copy in _of(instructions, "COPY") + _of(instructions, "ADD"):
        sources = [w for w in copy.arguments.split()[:-1] if not w.startswith("--")]
        assert "." not in sources and "./" not in sources, f"line {copy.line}: copies the whole build context"
        assert not any(Path(s).name.startswith(".env") for s in sources), f"line {copy.line}: copies an env file"
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    assert "**/.env" in ignore


def test_no_secret_is_set_in_the_image(instructions: list[Instruction]) -> None:
    for ins in _of(instructions, "ENV") + _of(instructions, "ARG"):
        pairs = env_assignments(ins.arguments) if ins.keyword == "ENV" else [tuple(ins.arguments.partition("=")[::2])]
        for name, value in pairs:
            assert not (is_secret_name(name) and value), f"line {ins.line}: {name} has a value in the image"


def test_the_healthcheck_is_kevins_probe(instructions: list[Instruction]) -> None:
    checks = _of(instructions, "HEALTHCHECK")
    assert len(checks) == 1
    assert "--interval=" in checks[0].arguments and "--start-period=" in checks[0].arguments
    assert checks[0].exec_form() == ["python", "-m", "kevin_pipeline.deploy_commands", "probe"]


def test_the_default_command_is_the_code_location(instructions: list[Instruction]) -> None:
    (cmd,) = _of(instructions, "CMD")
    assert cmd.exec_form() == dc.code_server("0.0.0.0")
    assert not _of(instructions, "ENTRYPOINT"), "an ENTRYPOINT would prefix the Helm chart's `args`"
    exposed = {int(p) for e in _of(instructions, "EXPOSE") for p in e.arguments.split()}
    assert exposed == set(dc.PORTS.values())


def test_the_config_files_it_copies_exist() -> None:
    for name in ("dagster.yaml", "workspace.yaml"):
        assert (DEPLOY / name).is_file()
    assert (ROOT / "README.md").is_file()  # pyproject's readme, copied into the build stage
