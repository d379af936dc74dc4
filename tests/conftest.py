"""Shared fixtures: a rendered stack, rendered once per session per stack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pyroscope_bundle.render.command import RenderResult, render

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
