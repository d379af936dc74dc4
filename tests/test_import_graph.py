"""The package's import graph has no cycle: not between modules, not between its packages.

Read statically from the source (every ``import``, also those inside functions and under
``TYPE_CHECKING``: a lazy import is still a dependency), so a cycle fails here even when Python
would happen to import it in a working order. ``from a.b import c`` depends on the module
``a.b.c`` when that is a module, else on ``a.b`` (its ``__init__``); the packages are the first
level under ``pyroscope_bundle`` (``config``, ``server``, ``wiring``, ... and each top-level
module), the rooms ``farm-studio look`` draws.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from tests.harness import PROJECT_DIR

ROOTS = {
    "pyroscope_bundle": PROJECT_DIR / "components" / "pyroscope_bundle",
    "pyroscope_bundle_runtime": PROJECT_DIR / "runtime" / "src" / "pyroscope_bundle_runtime",
}


def module_files() -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the two distributions."""
    modules: dict[str, Path] = {}
    for top, root in ROOTS.items():
        for path in sorted(root.rglob("*.py")):
            parts = [top, *path.relative_to(root).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _resolve(current: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = current.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(name: str, path: Path, known: Iterable[str]) -> set[str]:
    """The modules of this project that ``name`` imports (anywhere in its source)."""
    known = set(known)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in known}
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(name, path.name == "__init__.py", node)
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                if submodule in known:
                    found.add(submodule)
                elif module in known:
                    found.add(module)
    found.discard(name)
    return found


def module_graph() -> dict[str, set[str]]:
    modules = module_files()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def unit_of(module: str) -> str:
    """The room a module belongs to: ``pyroscope_bundle.<first level>``, or the runtime."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "pyroscope_bundle" and len(parts) > 1 else parts[0]


def package_graph(graph: Mapping[str, set[str]]) -> dict[str, set[str]]:
    units: dict[str, set[str]] = {}
    for module, targets in graph.items():
        units.setdefault(unit_of(module), set()).update(
            unit_of(target) for target in targets if unit_of(target) != unit_of(module)
        )
    return units


def find_cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    """One cycle of ``graph`` as ``[a, b, ..., a]``, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if state.get(start):
            continue
        path = [start]
        stack = [iter(sorted(graph.get(start, ())))]
        state[start] = 1
        while stack:
            target = next(stack[-1], None)
            if target is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(target) == 1:
                return [*path[path.index(target) :], target]
            elif not state.get(target):
                state[target] = 1
                path.append(target)
                stack.append(iter(sorted(graph.get(target, ()))))
    return None


def test_the_cycle_search_finds_cycles_and_only_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b", "c"}, "b": {"d"}, "c": {"d"}, "d": set()}) is None  # a diamond
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"x": {"a"}, "a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]


def test_imports_are_read_from_every_form(tmp_path: Path) -> None:
    known = {"p", "p.a", "p.b", "p.c", "p.d", "p.sub", "p.sub.e"}
    source = tmp_path / "mod.py"
    source.write_text(
        "import p.a\n"
        "from p import b\n"  # a submodule
        "from p.sub import NAME\n"  # a name of the package's __init__
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from p.c import Thing\n"
        "def lazy():\n    from .d import other\n"
    )
    assert imports_of("p.mod", source, known) == {"p.a", "p.b", "p.sub", "p.c", "p.d"}


def test_the_graph_is_read_from_the_real_source() -> None:
    graph = module_graph()
    assert len(graph) > 80
    # A few arrows every reader of docs/architecture.md can check.
    assert "pyroscope_bundle.config.checks" in graph["pyroscope_bundle.config.bundle"]
    assert "pyroscope_bundle.kube_manifests" in graph["pyroscope_bundle.gateway.kubernetes"]
    assert "pyroscope_bundle.server.k8s_common" in graph["pyroscope_bundle.server.helm"]


@pytest.mark.parametrize("level", ["modules", "packages"])
def test_no_import_cycle(level: str) -> None:
    graph = module_graph()
    cycle = find_cycle(graph if level == "modules" else package_graph(graph))
    assert cycle is None, f"import cycle between {level}: {' -> '.join(cycle or [])}"


# --- The import diagram in docs/architecture.md, generated from the graph above ------------------

ARCHITECTURE_DOC = PROJECT_DIR / "docs" / "architecture.md"
DIAGRAM_START = "<!-- import-graph:start (python -m tests.test_import_graph) -->"
DIAGRAM_END = "<!-- import-graph:end -->"


def transitive_reduction(graph: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    """The arrows no longer path implies (the graph is acyclic): what a reader must see."""

    def reachable(start: str) -> set[str]:
        seen: set[str] = set()
        stack = list(graph.get(start, ()))
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(graph.get(node, ()))
        return seen

    below = {node: reachable(node) for node in graph}
    return {
        node: {t for t in targets if not any(t in below[other] for other in targets if other != t)}
        for node, targets in graph.items()
    }


def _label(unit: str) -> str:
    if unit == "pyroscope_bundle_runtime":
        return "runtime (pyroscope_bundle_runtime)"
    name = unit.removeprefix("pyroscope_bundle.")
    path = ROOTS["pyroscope_bundle"] / name
    return f"{name}/" if path.is_dir() else f"{name}.py"


def import_diagram() -> str:
    """A mermaid flowchart of the packages: A --> B when A imports B and no longer path says so."""
    units = package_graph(module_graph())
    units.pop("pyroscope_bundle", None)  # the package's face: __version__ and __all__ only
    reduced = transitive_reduction({unit: targets - {"pyroscope_bundle"} for unit, targets in units.items()})
    ids = {unit: _label(unit).split(" ")[0].replace("/", "").replace(".py", "") for unit in reduced}
    lines = ["```mermaid", "flowchart TD"]
    lines += [f'    {ids[unit]}["{_label(unit)}"]' for unit in sorted(reduced)]
    lines += [
        f"    {ids[unit]} --> {ids[target]}" for unit in sorted(reduced) for target in sorted(reduced[unit])
    ]
    lines.append("```")
    return "\n".join(lines)


def test_the_architecture_doc_shows_the_import_graph_of_the_code() -> None:
    text = ARCHITECTURE_DOC.read_text()
    assert DIAGRAM_START in text and DIAGRAM_END in text
    shown = text.split(DIAGRAM_START, 1)[1].split(DIAGRAM_END, 1)[0].strip()
    assert shown == import_diagram(), "regenerate it: python -m tests.test_import_graph"


def test_the_reduction_keeps_only_arrows_no_longer_path_implies() -> None:
    graph = {"a": {"b", "c"}, "b": {"c"}, "c": set()}
    assert transitive_reduction(graph) == {"a": {"b"}, "b": {"c"}, "c": set()}


if __name__ == "__main__":  # rewrite the diagram in docs/architecture.md
    text = ARCHITECTURE_DOC.read_text()
    head, rest = text.split(DIAGRAM_START, 1)
    tail = rest.split(DIAGRAM_END, 1)[1]
    ARCHITECTURE_DOC.write_text(f"{head}{DIAGRAM_START}\n{import_diagram()}\n{DIAGRAM_END}{tail}")
