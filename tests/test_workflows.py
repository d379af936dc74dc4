"""The GitHub workflows: valid against the workflow schema, clean under zizmor, least privilege.

The schema check and the audit run the real tools offline (both are test dependencies); the
structural tests pin what a reviewer of these files relies on.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.harness import PROJECT_DIR

WORKFLOWS_DIR = PROJECT_DIR / ".github" / "workflows"
WORKFLOWS = sorted(WORKFLOWS_DIR.glob("*.yml"))
BIN = Path(sys.executable).parent
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
STACKS = sorted(
    path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    for path in (PROJECT_DIR / "stacks").glob("Pulumi.*.yaml")
)


def load(name: str) -> dict[Any, Any]:
    document = yaml.safe_load((WORKFLOWS_DIR / name).read_text())
    assert isinstance(document, dict)
    return document


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the bare key `on` as True.
    return workflow.get("on") or workflow[True]


def steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_the_three_workflows_exist() -> None:
    assert {path.name for path in WORKFLOWS} >= {"render-diff.yml", "preview.yml", "test.yml"}


@pytest.mark.slow
def test_workflows_match_the_github_workflow_schema() -> None:
    result = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("persona", ["regular", "pedantic"])
def test_zizmor_finds_nothing(persona: str) -> None:
    result = subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--persona", persona, "--format", "json", str(WORKFLOWS_DIR)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    findings = json.loads(result.stdout or "[]")
    assert findings == [], json.dumps(findings, indent=2)[:4000]
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege_and_pinned_actions(path: Path) -> None:
    workflow = load(path.name)
    assert workflow.get("permissions") == {}, "no default token permissions at the top level"
    for job_name, job in workflow["jobs"].items():
        assert "permissions" in job, f"{job_name} states what its token may do"
        assert "write-all" not in json.dumps(job["permissions"])
    for step in steps(workflow):
        uses = step.get("uses")
        if uses is None:
            continue
        assert PINNED.match(uses), f"{uses} is pinned to a full commit SHA"
        if uses.startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False
    text = path.read_text()
    for line in text.splitlines():
        if "uses:" in line:
            assert re.search(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), f"version comment on: {line.strip()}"


def test_render_diff_needs_no_cloud_credentials_and_keeps_one_comment() -> None:
    workflow = load("render-diff.yml")
    text = (WORKFLOWS_DIR / "render-diff.yml").read_text()
    assert "pull_request" in triggers(workflow) and "pull_request_target" not in triggers(workflow)
    assert "secrets." not in text
    render_job, comment_job = workflow["jobs"]["render"], workflow["jobs"]["comment"]
    # The job that runs the PR's code can only read; the one that writes runs no PR code.
    assert render_job["permissions"] == {"contents": "read"}
    assert comment_job["permissions"] == {"pull-requests": "write"}
    assert all("run" not in step for step in comment_job["steps"])
    render_script = "\n".join(step.get("run", "") for step in render_job["steps"])
    # Each side installs its own checkout's packages (own code for base and head, own venv).
    assert 'cd "$side" && "$venv/bin/pip" install --quiet -r requirements.txt' in render_script
    assert 'pyroscope-bundle" render --stack' in render_script and "stacks/Pulumi.*.yaml" in render_script
    assert 'pyroscope-bundle" diff --format markdown' in render_script
    script = comment_job["steps"][-1]["with"]["script"]
    assert "<!-- pyroscope-bundle:render-diff -->" in script
    assert "updateComment" in script and "createComment" in script
    # Untrusted text reaches the script through the environment, never through ${{ }} in code.
    assert "${{" not in script


def test_preview_runs_pulumi_preview_diff_for_every_stack() -> None:
    workflow = load("preview.yml")
    (job,) = workflow["jobs"].values()
    assert sorted(job["strategy"]["matrix"]["stack"]) == STACKS
    (pulumi_step,) = [step for step in job["steps"] if step.get("uses", "").startswith("pulumi/actions@")]
    assert pulumi_step["with"] == {
        "command": "preview", "stack-name": "${{ matrix.stack }}", "diff": True,
        "comment-on-pr": True, "edit-pr-comment": True,
    }  # fmt: skip
    assert job["permissions"]["pull-requests"] == "write"
    for value in pulumi_step["env"].values():
        assert re.fullmatch(r"\$\{\{ secrets\.[A-Z_]+ \}\}", value), "secrets are referenced by name only"


def test_test_workflow_runs_the_ci_script() -> None:
    workflow = load("test.yml")
    runs = [step["run"] for step in steps(workflow) if "run" in step]
    # The CI script is the last step; before it only the system package the gateway test needs.
    assert runs[-1] == "bash .ci/run"
    assert all("apt-get" in run for run in runs[:-1])
    assert {"push", "pull_request"} <= set(triggers(workflow))
