"""Shared fixtures: a rendered stack, rendered once per session per stack."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pyroscope_bundle.render.command import RenderResult, render

from tests.checkov_scan import CHECKOV, Scan, scan_once
from tests.gateway_stack import Receiver, ensure_nginx, running_receiver
from tests.harness import PROJECT_DIR, STACKS


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every stack rendered with its stack file, as `pyroscope-bundle render` writes it."""
    base = tmp_path_factory.mktemp("rendered")
    return {stack: _render(base, stack) for stack in STACKS}


def _render(base: Path, stack: str) -> Path:
    out = base / stack
    result: RenderResult = render(PROJECT_DIR, stack, out)
    assert result.counts["resources"] >= 0
    return out


@pytest.fixture(scope="module")
def nginx() -> str:
    """Debian's nginx for the tests that run the generated gateway config for real."""
    path, why = ensure_nginx()
    if path is None:
        print(f"skipping the real-nginx gateway tests: {why}")
        pytest.skip(why)
    return path


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """A recording stand-in for Pyroscope behind the gateway."""
    with running_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="session")
def microservices_render(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`render --stack staging --set server.kubernetes.mode=microservices --chart <archive>`."""
    from tests.test_chart_render import MICROSERVICES, chart_archive

    out = tmp_path_factory.mktemp("microservices") / "staging"
    result = render(PROJECT_DIR, "staging", out, MICROSERVICES, chart=chart_archive())
    assert [expansion.expanded for expansion in result.charts] == [True]
    return out


def _chart_available() -> bool:
    from tests.test_chart_render import chart_archive

    try:
        import helm_python  # noqa: F401  # Helm's template engine (test extra)

        chart_archive()
    except (ImportError, pytest.skip.Exception):
        return False
    return True


def _copy_namespace(render_dir: Path, namespace: str = "pyroscope") -> Callable[[Path], None]:
    def write(target: Path) -> None:
        for path in sorted((render_dir / "kubernetes" / namespace).glob("*.yaml")):
            shutil.copy(path, target / path.name)

    return write


@pytest.fixture(scope="session")
def checkov_scan(
    request: pytest.FixtureRequest, rendered: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Scan:
    """Every object the suite judges with checkov, in ONE checkov run per session (xdist workers
    share it through a lock in the session's temp root)."""
    if not CHECKOV.exists():
        pytest.skip("checkov is installed by scripts/test.sh into .venv-checkov")
    from tests.test_security_posture import documented_skips
    from tests.test_wiring_agents import checkov_manifests, write_manifests

    parts: dict[str, Callable[[Path], None]] = {
        "staging": _copy_namespace(rendered["staging"]),
        "production": _copy_namespace(rendered["production"]),
        "wiring": lambda target: write_manifests(target, checkov_manifests()),
    }
    # No chart archive or no Helm engine: no chart part (the chart's checkov test skips itself).
    # The chart is rendered only if this worker is the one that scans.
    if _chart_available():

        def chart(target: Path) -> None:
            _copy_namespace(request.getfixturevalue("microservices_render"))(target)

        parts["chart"] = chart
    base = tmp_path_factory.getbasetemp()
    # Under xdist every worker has its own basetemp below the session's; alone, basetemp is it.
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    return scan_once(shared, parts, documented_skips())
