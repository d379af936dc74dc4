"""Every bad configuration, through the real `render` path: exit 2, one message, no traceback,
nothing registered, nothing written."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pyroscope_bundle.program import main
from pyroscope_bundle.render.command import render_command
from pyroscope_bundle.render.mocks import BundleMocks, RecordingMonitor
from pyroscope_bundle.render.runner import run_program

from tests.harness import PROJECT_DIR
from tests.test_config_validation import BAD_CONFIGS


@pytest.fixture(scope="module")
def scratch_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project's inputs (stacks/, configs/) where a test can add a stack file."""
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(PROJECT_DIR / "configs", root / "configs")
    (root / "stacks").mkdir()
    return root


def write_stack(project: Path, name: str, config: dict[str, Any], secrets: dict[str, str]) -> None:
    document = {f"pyroscope:{key}": value for key, value in config.items()}
    document.update({f"pyroscope:{key}": {"secure": "v1:AAAA"} for key in secrets})
    (project / "stacks" / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump({"config": document}))


@pytest.mark.parametrize(
    ("config", "secrets", "path", "fragment"),
    [case[1:] for case in BAD_CONFIGS],
    ids=[case[0] for case in BAD_CONFIGS],
)
def test_render_rejects_bad_config_with_one_clear_message(
    scratch_project, tmp_path, capsys, config, secrets, path, fragment
):
    write_stack(scratch_project, "bad", config, secrets)
    out = tmp_path / "out"
    status = render_command(scratch_project, "bad", out, [], [])
    captured = capsys.readouterr()
    assert status == 2
    problem_lines = [line for line in captured.err.splitlines() if line.startswith("  - ")]
    assert len(problem_lines) == 1, captured.err
    assert problem_lines[0].startswith(f"  - {path}:")
    assert fragment in problem_lines[0]
    assert "Traceback" not in captured.err + captured.out
    assert not out.exists()


@pytest.mark.parametrize(
    ("config", "secrets", "path"),
    [(case[1], case[2], case[3]) for case in BAD_CONFIGS],
    ids=[case[0] for case in BAD_CONFIGS],
)
def test_program_registers_nothing_for_bad_config(config, secrets, path):
    monitor = RecordingMonitor(BundleMocks())
    values = {f"pyroscope:{key}": value for key, value in {**config, **secrets}.items()}
    with pytest.raises(pulumi.RunError) as caught:
        run_program(
            lambda: main(PROJECT_DIR),
            stack="test",
            config=values,
            secret_keys=[f"pyroscope:{key}" for key in secrets],
            monitor=monitor,
        )
    assert path in str(caught.value)
    assert monitor.recording.resources == []
