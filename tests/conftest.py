"""Shared fixtures: a rendered stack, rendered once per session per stack."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyroscope_bundle.render.command import RenderResult, render

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
