#!/usr/bin/env bash
# Quick start 2: set up .venv with the test tools and run the whole suite (lint, types, tests).
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
bash scripts/setup.sh test
bash scripts/system-packages.sh
# checkov pins libraries that clash with the project's: it gets a virtualenv of its own.
if [ ! -x .venv-checkov/bin/checkov ]; then
  "${PYTHON:-python3}" -m venv .venv-checkov
fi
.venv-checkov/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
# Two workers: the suite waits on real profiler agents and subprocesses as much as on the CPU.
.venv/bin/pytest -n 2 "$@"
