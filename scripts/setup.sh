#!/usr/bin/env bash
# Create .venv at the repository root (if missing) and install the bundle with the given extras.
# Usage: source scripts/setup.sh [extras]   e.g. "test"
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python_bin="${PYTHON:-python3}"
if ! "$python_bin" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "error: Python 3.11 or newer is needed (found $("$python_bin" --version 2>&1))" >&2
  exit 1
fi
if [ ! -x "$repo_root/.venv/bin/python" ]; then
  "$python_bin" -m venv "$repo_root/.venv"
fi
extras="${1:-}"
spec="$repo_root"
if [ -n "$extras" ]; then spec="$repo_root[$extras]"; fi
"$repo_root/.venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$spec"
