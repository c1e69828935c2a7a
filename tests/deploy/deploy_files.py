"""Reading the files in deploy/ for the tests: YAML, the Dockerfile's instructions, secret-looking names."""

from __future__ import annotations

import json
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"

# A variable or key that holds a credential: its value must come from elsewhere (an env file, a
# ${VAR} reference, a Kubernetes Secret), never be written in a committed file.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY|_KEY$|DATABASE_URL|PG_URL|CREDENTIAL", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_yaml_documents(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, ENV, ...
    arguments: str
    line: int

    def exec_form(self) -> list[str]:
        """The JSON array of an exec-form CMD/ENTRYPOINT (after any HEALTHCHECK options)."""
        start = self.arguments.index("[")
        return json.loads(self.arguments[start:])


def dockerfile_instructions(path: Path) -> list[Instruction]:
    """Instructions with their continuation lines joined; comments and blank lines dropped."""
    found: list[Instruction] = []
    pending: list[str] = []
    first_line = 0
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if not pending:
            first_line = number
        if line.startswith("#"):
            continue
        pending.append(line.removesuffix("\\").strip())
        if not line.endswith("\\"):
            keyword, _, arguments = " ".join(part for part in pending if part).partition(" ")
            found.append(Instruction(keyword.upper(), arguments.strip(), first_line))
            pending = []
    assert not pending, f"{path}: the last instruction ends with a line continuation"
    return found


def env_assignments(arguments: str) -> list[tuple[str, str]]:
    """The NAME=value pairs of an ENV instruction (`ENV A=1 B="x y"`, or the old `ENV A 1`)."""
    if "=" not in arguments.split(" ", 1)[0]:
        name, _, value = arguments.partition(" ")
        return [(name, value.strip())]
    return [(name, value.strip('"')) for name, value in re.findall(r'(\S+?)=("[^"]*"|\S*)', arguments)]
