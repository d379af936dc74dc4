"""Security posture of what the bundle deploys on Kubernetes, judged by checkov (an independent
scanner, in its own virtualenv: its pins clash with the project's). Every check that fails for the
Pyroscope workload is fixed, or skipped deliberately with its reason in docs/security.md."""

from __future__ import annotations

import re

import pytest

from tests.checkov_scan import CHECKOV, Scan
from tests.harness import PROJECT_DIR

__all__ = ["CHECKOV", "SECURITY_DOC", "documented_skips"]

SECURITY_DOC = PROJECT_DIR / "docs" / "security.md"
SKIP_ROW = re.compile(r"^\|\s*`?(CKV2?_K8S_\d+)`?\s*\|")
# The namespaces whose objects the bundle owns outright (wired services' Deployments are the
# users' workloads: the bundle only patches their env, so their posture is not judged here).
SERVER_NAMESPACE = "pyroscope"


def documented_skips() -> list[str]:
    return [m.group(1) for line in SECURITY_DOC.read_text().splitlines() if (m := SKIP_ROW.match(line))]


@pytest.mark.slow
@pytest.mark.parametrize("stack", ["staging", "production"])
def test_checkov_finds_nothing_in_the_pyroscope_workload(checkov_scan: Scan, stack: str) -> None:
    part = checkov_scan.part(stack)
    assert [f for f in part.files if f.startswith("statefulset-")], "the Pyroscope StatefulSet is scanned"
    failed = [(c["check_id"], c["resource"], c["check_name"]) for c in part.failed]
    assert failed == []
    assert len(part.passed) > 50


def test_every_skip_has_a_reason():
    rows = [line for line in SECURITY_DOC.read_text().splitlines() if SKIP_ROW.match(line)]
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert len(cells) >= 2 and len(cells[-1]) > 20, f"skip without a reason: {row}"
