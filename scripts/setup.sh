#!/usr/bin/env bash
# Create .venv at the repository root (if missing) and install the bundle (editable) with the
# given extras, together with its runtime distribution (runtime/, also editable).
# Usage: bash scripts/setup.sh [extras]      e.g. bash scripts/setup.sh test
# Supported Python: 3.11, 3.12 and 3.13 (pyproject.toml: requires-python >=3.11,<3.14); pick one
# with PYTHON=python3.12 bash scripts/setup.sh. An existing .venv is reused as it is.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python_bin="${PYTHON:-python3}"
if ! "$python_bin" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 14) else 1)'; then
  echo "error: Python 3.11, 3.12 or 3.13 is needed (found $("$python_bin" --version 2>&1)); set PYTHON=..." >&2
  exit 2
fi
if [ ! -x "$repo_root/.venv/bin/python" ]; then
  "$python_bin" -m venv "$repo_root/.venv"
fi
extras="${1:-}"
spec="$repo_root"
if [ -n "$extras" ]; then spec="$repo_root[$extras]"; fi
# One pip call: the bundle depends on pyroscope-bundle-runtime, which is not on PyPI; the local
# runtime/ satisfies it.
"$repo_root/.venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -e "$repo_root/runtime" -e "$spec"
