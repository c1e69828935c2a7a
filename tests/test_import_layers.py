"""Imports point down, never in a circle: the layering of DESIGN.md, checked on the source text.

Every module under `kevin_pipeline/` and `kevin_dash/` is parsed with `ast` (nothing is imported).
Every import counts: top-level, inside a function (a lazy import is still a dependency) and under
`if TYPE_CHECKING:` (a type from a higher layer in a lower layer's signature is still the lower
layer knowing about the higher one).

Layers, lowest first. A module may import its own layer and any layer below it, never one above.

    rank  layer      modules
    0     domain     kevin_pipeline.domain.*, the kevin_pipeline package marker
                     (pure rules and models: no I/O, no Dagster, no clock)
    1     adapters   kevin_pipeline.db.*
    2     adapters   kevin_pipeline.settings      (the one settings object; checks URLs with db.engine;
                                                   the only reader of os.environ)
    3     adapters   kevin_pipeline.runtime       (the runtime: settings + an opened database)
                     kevin_pipeline.logs          (log formats, secrets redacted with the settings')
    4     adapters   kevin_pipeline.brokers.*, market_data.*, ingest.*  (built on db, settings, runtime)
                     kevin_pipeline.transcripts.*, extraction.*  (caption files / YouTube captions,
                                                   and the extractors that turn them into calls)
                     kevin_pipeline.videos.*      (video sources: RSS feed, yt-dlp metadata, a URL;
                                                   reuses ingest's inbox mechanics)
    5     use        kevin_pipeline.trading.* (the live path), kevin_pipeline.research.* (research:
                     backtests, sweeps, replay, scorecard), kevin_pipeline.calls.* (videos ->
                     transcripts -> extracted mentions, the steps Dagster, the CLI and the demo share)
    6     wiring     kevin_pipeline.defs.*, definitions, cli.*, demo, doctor, bench.*, deploy_commands,
                     deploy_stack, process_groups,
                     kevin_dash.*  (Dagster, the `kevin` command, the benchmarks, the production
                     process commands, the dashboard)

The adapters are one layer in DESIGN.md; ranks 1-4 order it inside, so that storage cannot import an
importer's type (db -> ingest) and settings cannot reach for the runtime. Inside a rank any import
is allowed as long as no two modules import each other, directly or through others.

A new module must be placed in the table (`LAYERS`): an unplaced one fails the test.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("kevin_pipeline", "kevin_dash")

# (pattern, rank, layer name). "a.b.*" is the package a.b and everything under it; "a.b" only a.b.
LAYERS: tuple[tuple[str, int, str], ...] = (
    ("kevin_pipeline", 0, "domain"),
    ("kevin_pipeline.domain.*", 0, "domain"),
    ("kevin_pipeline.db.*", 1, "adapters: storage"),
    ("kevin_pipeline.settings", 2, "adapters: settings"),
    ("kevin_pipeline.runtime", 3, "adapters: runtime"),
    ("kevin_pipeline.logs", 3, "adapters: logging"),
    ("kevin_pipeline.brokers.*", 4, "adapters"),
    ("kevin_pipeline.market_data.*", 4, "adapters"),
    ("kevin_pipeline.ingest.*", 4, "adapters"),
    ("kevin_pipeline.transcripts.*", 4, "adapters"),
    ("kevin_pipeline.extraction.*", 4, "adapters"),
    ("kevin_pipeline.videos.*", 4, "adapters"),
    ("kevin_pipeline.trading.*", 5, "trading"),
    ("kevin_pipeline.research.*", 5, "research"),
    ("kevin_pipeline.calls.*", 5, "calls"),
    ("kevin_pipeline.defs.*", 6, "wiring: Dagster"),
    ("kevin_pipeline.definitions", 6, "wiring: Dagster"),
    ("kevin_pipeline.cli.*", 6, "wiring: CLI"),
    ("kevin_pipeline.demo", 6, "wiring: demo"),
    ("kevin_pipeline.doctor", 6, "wiring: doctor"),
    ("kevin_pipeline.deploy_commands", 6, "wiring: deployment"),
    ("kevin_pipeline.deploy_stack", 6, "wiring: deployment"),
    ("kevin_pipeline.process_groups", 6, "wiring: processes"),
    ("kevin_pipeline.bench.*", 6, "wiring: benchmarks"),
    ("kevin_dash.*", 6, "wiring: dashboard"),
)

ENVIRONMENT_READERS = frozenset({"kevin_pipeline.settings"})

Layers = Sequence[tuple[str, int, str]]


# --- the checker -------------------------------------------------------------------------------


def module_files(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under each package directory."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imported_names(name: str, path: Path, tree: ast.Module) -> set[str]:
    """Every module name an import statement in `tree` may refer to (relative ones resolved)."""
    out: set[str] = set()
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.add(module)
            out.update(f"{module}.{alias.name}" for alias in node.names)  # `from pkg import submodule`
    return out


def import_graph(root: Path, packages: Iterable[str]) -> dict[str, set[str]]:
    """module -> the modules of `packages` it imports (by name; an imported name that is a module
    counts as that module, else the module it comes from)."""
    files = module_files(root, packages)
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        names = _imported_names(name, path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
        # `from a.b import c`: a.b always (Python runs it), and a.b.c too when c is a module
        graph[name] = {n for n in names if n in files} - {name}
    return graph


def layer_of(module: str, layers: Layers) -> tuple[int, str] | None:
    """The rank and name of the most specific pattern that covers `module`, None if none does."""
    best: tuple[int, int, str] | None = None
    for pattern, rank, label in layers:
        if pattern.endswith(".*"):
            prefix = pattern[:-2]
            hit = module == prefix or module.startswith(prefix + ".")
            length = len(prefix)
        else:
            hit, length = module == pattern, len(pattern) + 1  # an exact name beats a package
        if hit and (best is None or length > best[0]):
            best = (length, rank, label)
    return None if best is None else (best[1], best[2])


def unplaced(graph: Mapping[str, set[str]], layers: Layers) -> list[str]:
    return sorted(m for m in graph if layer_of(m, layers) is None)


def upward_imports(graph: Mapping[str, set[str]], layers: Layers) -> list[str]:
    """"a (layer) imports b (higher layer)" for every import that points up."""
    found = []
    for module, deps in sorted(graph.items()):
        here = layer_of(module, layers)
        for dep in sorted(deps):
            there = layer_of(dep, layers)
            if here is not None and there is not None and there[0] > here[0]:
                found.append(f"{module} ({here[1]}, rank {here[0]}) imports {dep} ({there[1]}, rank {there[0]})")
    return found


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Every set of modules that import each other (strongly connected components of two or more),
    each sorted; Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def environment_reads(root: Path, packages: Iterable[str], allowed: Iterable[str]) -> list[str]:
    """"module:line" for every os.environ / os.getenv / `from os import environ|getenv` outside `allowed`."""
    found = []
    allowed = set(allowed)
    for name, path in module_files(root, packages).items():
        if name in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            hit = (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
                and node.attr in {"environ", "getenv", "environb", "getenvb"}
            ) or (
                isinstance(node, ast.ImportFrom)
                and node.module == "os"
                and any(a.name in {"environ", "getenv", "environb", "getenvb"} for a in node.names)
            )
            if hit:
                found.append(f"{name}:{node.lineno}")
    return sorted(found)


# --- the project -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(ROOT, PACKAGES)


def test_every_module_has_a_layer(graph: dict[str, set[str]]) -> None:
    assert len(graph) > 50  # the walk found the packages
    assert unplaced(graph, LAYERS) == [], "place these modules in LAYERS (and the docstring's table)"


def test_imports_point_down(graph: dict[str, set[str]]) -> None:
    assert upward_imports(graph, LAYERS) == []


def test_no_module_imports_itself_back(graph: dict[str, set[str]]) -> None:
    assert cycles(graph) == []


def test_only_settings_reads_the_environment() -> None:
    assert environment_reads(ROOT, PACKAGES, ENVIRONMENT_READERS) == []


def test_the_live_path_reads_prices_without_the_backtest_engine(graph: dict[str, set[str]]) -> None:
    # PriceBook/Bar live in domain.prices: the broker and the order path need bars, not the engine.
    live = [m for m in graph if m.startswith(("kevin_pipeline.trading", "kevin_pipeline.brokers"))]
    assert [m for m in live if "kevin_pipeline.domain.backtest" in graph[m]] == []


def test_defs_holds_dagster_wiring_only() -> None:
    # Plain code the assets call (e.g. the drop folder, ingest.inbox) belongs in the layer below.
    files = module_files(ROOT, ["kevin_pipeline"])
    without = [
        name
        for name, path in files.items()
        if name.startswith("kevin_pipeline.defs.")
        and "dagster" not in _imported_names(name, path, ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert without == []


# --- the checker catches what it is for (a tiny package in tmp_path) ----------------------------

TOY_LAYERS: Layers = (
    ("toy", 0, "domain"),
    ("toy.domain.*", 0, "domain"),
    ("toy.adapters.*", 1, "adapters"),
    ("toy.wiring", 2, "wiring"),
)


def _toy(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in {"toy/__init__.py": "", "toy/domain/__init__.py": "", "toy/adapters/__init__.py": "", **files}.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


CLEAN = {
    "toy/domain/rules.py": "from decimal import Decimal\n",
    "toy/domain/models.py": "from toy.domain.rules import Decimal\nfrom . import rules\n",
    "toy/adapters/store.py": "from toy.domain import models\nimport os\nX = 1\n",
    "toy/wiring.py": "import toy.adapters.store\nfrom toy.domain.models import Decimal\n",
}


def test_a_clean_package_passes(tmp_path: Path) -> None:
    graph = import_graph(_toy(tmp_path, CLEAN), ["toy"])
    assert graph["toy.domain.models"] == {"toy.domain", "toy.domain.rules"}  # relative import resolved
    assert graph["toy.wiring"] == {"toy.adapters.store", "toy.domain.models"}
    assert (unplaced(graph, TOY_LAYERS), upward_imports(graph, TOY_LAYERS), cycles(graph)) == ([], [], [])


def test_an_upward_import_is_caught_wherever_it_hides(tmp_path: Path) -> None:
    planted = {
        **CLEAN,
        # lazy, inside a function, and type-only: each still counts
        "toy/domain/rules.py": "def f():\n    from toy.adapters.store import X\n    return X\n",
        "toy/domain/models.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..wiring import main\n",
    }
    graph = import_graph(_toy(tmp_path, planted), ["toy"])
    assert upward_imports(graph, TOY_LAYERS) == [
        "toy.domain.models (domain, rank 0) imports toy.wiring (wiring, rank 2)",
        "toy.domain.rules (domain, rank 0) imports toy.adapters.store (adapters, rank 1)",
    ]


def test_a_cycle_within_one_layer_is_caught(tmp_path: Path) -> None:
    planted = {
        **CLEAN,
        "toy/adapters/a.py": "from toy.adapters import b\n",
        "toy/adapters/b.py": "def g():\n    from toy.adapters.c import y\n",
        "toy/adapters/c.py": "from .a import x\n",
    }
    graph = import_graph(_toy(tmp_path, planted), ["toy"])
    assert upward_imports(graph, TOY_LAYERS) == []  # all one layer: only the cycle is wrong
    assert cycles(graph) == [["toy.adapters.a", "toy.adapters.b", "toy.adapters.c"]]


def test_an_unplaced_module_is_named(tmp_path: Path) -> None:
    graph = import_graph(_toy(tmp_path, {**CLEAN, "toy/extra.py": ""}), ["toy"])
    assert unplaced(graph, TOY_LAYERS) == ["toy.extra"]


def test_an_environment_read_outside_settings_is_caught(tmp_path: Path) -> None:
    root = _toy(tmp_path, {
        **CLEAN,
        "toy/settings.py": "import os\nA = os.environ.get('A')\n",
        "toy/adapters/store.py": "import os\nB = os.getenv('B')\n",
        "toy/wiring.py": "from os import environ\n",
    })
    assert environment_reads(root, ["toy"], {"toy.settings"}) == ["toy.adapters.store:2", "toy.wiring:1"]
