"""ONE checkov process for the whole test session (its start-up is most of its cost).

Every suite that judges objects with checkov puts them in a part (a subdirectory): the staging
and production server namespaces, the chart's objects, the wiring variants. The first worker to
ask writes all parts and runs checkov once over them; the others (pytest-xdist workers) wait on
a file lock and read the same report. Each test then looks only at its own part's results, with
the same documented skips as before.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.harness import PROJECT_DIR

CHECKOV = PROJECT_DIR / ".venv-checkov" / "bin" / "checkov"
REPORT = "checkov-report.json"


@dataclass(frozen=True)
class Part:
    """One part's checks: failed and passed, as checkov reports them (``file_path`` relative)."""

    failed: list[dict[str, Any]]
    passed: list[dict[str, Any]]
    files: list[str]


@dataclass(frozen=True)
class Scan:
    parts: dict[str, Part]

    def part(self, name: str) -> Part:
        return self.parts[name]


def checkov_command(directory: Path, skips: list[str]) -> list[str]:
    command = [str(CHECKOV), "-d", str(directory), "--framework", "kubernetes", "-o", "json", "--compact"]
    if skips:
        command += ["--skip-check", ",".join(skips)]
    return command


def _split(report: dict[str, Any], names: list[str], root: Path) -> dict[str, Part]:
    def of(kind: str, name: str) -> list[dict[str, Any]]:
        return [c for c in report["results"][kind] if c["file_path"].lstrip("/").split("/", 1)[0] == name]

    return {
        name: Part(
            of("failed_checks", name),
            of("passed_checks", name),
            sorted(p.name for p in (root / name).glob("*.yaml")),
        )
        for name in names
    }


def scan_once(shared: Path, parts: Mapping[str, Callable[[Path], None]], skips: list[str]) -> Scan:
    """Write every part under ``shared/checkov`` and scan them with one checkov run, unless
    another worker of this session already did (then read its report)."""
    root = shared / "checkov"
    root.mkdir(parents=True, exist_ok=True)
    with (shared / "checkov.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        report_path = root.parent / REPORT
        if not report_path.exists():
            for name, write in parts.items():
                (root / name).mkdir(exist_ok=True)
                write(root / name)
            result = subprocess.run(
                checkov_command(root, skips), capture_output=True, text=True, timeout=600, check=False
            )
            assert result.returncode in (0, 1), result.stderr[-2000:]
            report = json.loads(result.stdout)
            report = report[0] if isinstance(report, list) else report
            tmp = report_path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"report": report, "pid": os.getpid()}))
            tmp.replace(report_path)
        saved = json.loads(report_path.read_text())
    return Scan(_split(saved["report"], list(parts), root))
