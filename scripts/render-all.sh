#!/usr/bin/env bash
# Quick start 1: set up .venv and render every stack into rendered/<stack> (no cloud, no credentials).
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
bash scripts/setup.sh
stacks=()
for file in stacks/Pulumi.*.yaml; do
  name="${file#stacks/Pulumi.}"; stacks+=(--stack "${name%.yaml}")
done
.venv/bin/pyroscope-bundle render "${stacks[@]}" --out rendered
