"""The package declares its public API, and consumers use nothing else.

Every package of ``pyroscope_bundle`` has an ``__all__`` whose names exist (attributes, lazy
attributes or submodules); the consumer example and the snippets of the README and docs import
only public names: each package on the way lists the next module, the module lists the name.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re

import pyroscope_bundle
import pytest

from tests.harness import PROJECT_DIR

CONSUMER_SOURCES = sorted((PROJECT_DIR / "examples").rglob("*.py"))
SNIPPET_DOCS = sorted(
    [PROJECT_DIR / "README.md", PROJECT_DIR / "examples" / "README.md", *(PROJECT_DIR / "docs").glob("*.md")]
)
_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
_IMPORT = re.compile(
    r"^(?:from pyroscope_bundle\S* import (?:\([^)]*\)|.+)|import pyroscope_bundle\S*)", re.MULTILINE
)


def packages() -> list[str]:
    found = ["pyroscope_bundle"]
    found += [
        m.name for m in pkgutil.walk_packages(pyroscope_bundle.__path__, "pyroscope_bundle.") if m.ispkg
    ]
    return sorted(found)


def exists(module_name: str, name: str) -> bool:
    module = importlib.import_module(module_name)
    if name in vars(module) or hasattr(module, name):  # also a package's lazy __getattr__
        return True
    try:
        importlib.import_module(f"{module_name}.{name}")
    except ModuleNotFoundError:
        return False
    return True


@pytest.mark.parametrize("package", packages())
def test_every_package_declares_its_public_api(package: str) -> None:
    module = importlib.import_module(package)
    declared = getattr(module, "__all__", None)
    assert isinstance(declared, list) and declared, f"{package} declares no __all__"
    assert len(set(declared)) == len(declared), f"{package}.__all__ lists a name twice"
    missing = [name for name in declared if not exists(package, name)]
    assert not missing, f"{package}.__all__ names what it does not have: {missing}"


def _imports_in(source: str) -> list[ast.ImportFrom | ast.Import]:
    try:
        tree = ast.parse(source)
    except SyntaxError:  # a snippet with placeholders: read its import statements alone
        tree = ast.parse("\n".join(match.group(0) for match in _IMPORT.finditer(source)))
    return [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]


def consumer_imports() -> list[tuple[str, str, str | None]]:
    """(where, module, name) of every import of the bundle by the example and the docs."""
    sources = [(path, path.read_text()) for path in CONSUMER_SOURCES]
    sources += [(path, block) for path in SNIPPET_DOCS for block in _BLOCK.findall(path.read_text())]
    found: list[tuple[str, str, str | None]] = []
    for path, source in sources:
        where = str(path.relative_to(PROJECT_DIR))
        for node in _imports_in(source):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "pyroscope_bundle":
                found += [(where, node.module or "", alias.name) for alias in node.names]
            elif isinstance(node, ast.Import):
                found += [
                    (where, a.name, None) for a in node.names if a.name.split(".")[0] == "pyroscope_bundle"
                ]
    return found


def public(module: str, name: str | None) -> str | None:
    """None if ``module`` (and ``name`` in it) is public, else why not."""
    parts = module.split(".")
    for depth in range(1, len(parts)):
        parent, child = ".".join(parts[:depth]), parts[depth]
        if child not in getattr(importlib.import_module(parent), "__all__", ()):
            return f"{parent}.__all__ does not list {child}"
    if name is not None and name not in getattr(importlib.import_module(module), "__all__", ()):
        return f"{module}.__all__ does not list {name}"
    return None


def test_the_consumers_import_only_public_names() -> None:
    imports = consumer_imports()
    # The example and the docs do import the bundle (the scan reads them).
    assert any(where.startswith("examples/") for where, _, _ in imports)
    assert any(where.startswith("docs/") for where, _, _ in imports)
    problems = [
        f"{where}: {module} {name or ''}: {why}"
        for where, module, name in imports
        if (why := public(module, name))
    ]
    assert not problems, "\n".join(problems)


def test_a_private_import_is_caught() -> None:
    assert (
        public("pyroscope_bundle.wiring.ecs", "_wire_one")
        == "pyroscope_bundle.wiring.ecs.__all__ does not list _wire_one"
    )
    assert (
        public("pyroscope_bundle.wiring.settings", "ProfilerSettings")
        == "pyroscope_bundle.wiring.__all__ does not list settings"
    )
    assert public("pyroscope_bundle.wiring.consumer", "shared_profiling") is None


def test_snippet_imports_are_read_from_invalid_snippets() -> None:
    snippet = "from pyroscope_bundle.wiring.ecs import (\n    resolved_env,\n    _wire_one,\n)\n"
    snippet += "spec = wire(...) ...:\n"  # not Python: the import is read on its own
    names = [
        (node.module, [a.name for a in node.names])
        for node in _imports_in(snippet)
        if isinstance(node, ast.ImportFrom)
    ]
    assert names == [("pyroscope_bundle.wiring.ecs", ["resolved_env", "_wire_one"])]
