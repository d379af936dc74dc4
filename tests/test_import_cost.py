"""A Kubernetes stack does not import the Docker provider SDK (issue #14: 0.1 s of every render)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.harness import PROJECT_DIR

PROBE = """
import sys
from pathlib import Path
from pyroscope_bundle.render.command import render
render(Path({root!r}), {stack!r}, Path({out!r}))
print(sorted(name for name in sys.modules if name.split(".")[0] == "pulumi_docker")[:3])
"""


def imported_docker_modules(stack: str, out: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR / "components")}
    code = PROBE.format(root=str(PROJECT_DIR), stack=stack, out=out)
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=300
    )
    return result.stdout.strip().splitlines()[-1]


def test_staging_render_never_imports_pulumi_docker(tmp_path):
    assert imported_docker_modules("staging", str(tmp_path / "staging")) == "[]"


def test_the_probe_sees_pulumi_docker_where_it_is_used(tmp_path):
    # The checker can fail: the Docker stack does import it.
    assert imported_docker_modules("local", str(tmp_path / "local")) != "[]"
