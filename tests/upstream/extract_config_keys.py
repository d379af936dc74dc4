"""Extract every YAML key path from Pyroscope's configuration reference at one release tag.

Usage (a grafana/pyroscope clone; no network):
    python tests/upstream/extract_config_keys.py /path/to/pyroscope v2.2.1 > \
        tests/upstream/pyroscope-2.2.1-config-keys.txt

The reference (docs/sources/configure-server/reference-configuration-parameters/index.md) is
generated upstream from the config structs (tools/doc-generator): each ``[key: <type> | ...]``
is a leaf, ``key:`` opens a nested map, and ``[key: <block>]`` includes the block documented
under ``### block``. Paths come out dotted (``metastore.index.cleanup_interval``).

Fields tagged ``doc:"hidden"`` are real keys the reference leaves out (``limits.retention_period``
in every 2.x; the whole ``metastore`` block in 2.0.x). The ones the bundle writes are listed in
HIDDEN with the Go file whose struct tag defines them; each is added only after its tag is found
in that file at the same tag, and is marked with the file.
"""

from __future__ import annotations

import re
import subprocess
import sys

REFERENCE = "docs/sources/configure-server/reference-configuration-parameters/index.md"
# key path -> the struct tags that define it, leaf first: (file at the tag, tag that must be in it).
# The root Config is pkg/pyroscope/pyroscope.go; limits inline retention.Config
# (pkg/validation/limits.go), the metastore Config inlines fsm.Config and index inlines cleaner.
ROOT = "pkg/pyroscope/pyroscope.go"
METASTORE = "pkg/metastore/metastore.go"
HIDDEN: dict[str, list[tuple[str, str]]] = {
    "limits.retention_period": [
        ("pkg/metastore/index/cleaner/retention/retention.go", 'yaml:"retention_period"'),
        ("pkg/validation/limits.go", "retention.Config"),
        (ROOT, 'yaml:"limits"'),
    ],
    "metastore.data_dir": [("pkg/metastore/fsm/fsm.go", 'yaml:"data_dir"'), (ROOT, 'yaml:"metastore"')],
    "metastore.raft.dir": [
        ("pkg/metastore/raftnode/node.go", 'yaml:"dir"'),
        (METASTORE, 'yaml:"raft"'),
        (ROOT, 'yaml:"metastore"'),
    ],
    "metastore.raft.snapshots_dir": [
        ("pkg/metastore/raftnode/node.go", 'yaml:"snapshots_dir"'),
        (METASTORE, 'yaml:"raft"'),
        (ROOT, 'yaml:"metastore"'),
    ],
    "metastore.index.cleanup_interval": [
        ("pkg/metastore/index/cleaner/cleaner.go", 'yaml:"cleanup_interval"'),
        ("pkg/metastore/index/index.go", "cleaner.Config"),
        (METASTORE, 'yaml:"index"'),
        (ROOT, 'yaml:"metastore"'),
    ],
    "compaction_worker.temp_dir": [
        ("pkg/compactionworker/worker.go", 'yaml:"temp_dir"'),
        (ROOT, 'yaml:"compaction_worker"'),
    ],
}
LEAF = re.compile(r"^(\s*)\[([A-Za-z0-9_-]+): <([^>]+)>(.*)\]\s*$")
MAP = re.compile(r"^(\s*)([A-Za-z0-9_-]+):\s*$")


def blocks(text: str) -> dict[str, list[str]]:
    """``### name`` -> the lines of its yaml code block; the root block is ``""``."""
    found: dict[str, list[str]] = {}
    name: str | None = None
    inside = False
    for line in text.splitlines():
        if line.startswith("## Configuration parameters") or line.startswith("### "):
            name = "" if line.startswith("## ") else line[4:].strip()
            continue
        if line.strip() == "```yaml" and name is not None and name not in found:
            found[name], inside = [], True
            continue
        if line.strip() == "```":
            inside = False
            continue
        if inside and name is not None:
            found[name].append(line)
    return found


def keys(all_blocks: dict[str, list[str]], name: str, prefix: str = "", depth: int = 0) -> list[str]:
    out: list[str] = []
    stack: list[tuple[int, str]] = []
    for line in all_blocks.get(name, []):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = LEAF.match(line) or MAP.match(line)
        if match is None:
            continue
        indent = len(match.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = ".".join([*(p for _, p in stack), match.group(2)])
        full = f"{prefix}{path}"
        if match.re is MAP:
            stack.append((indent, match.group(2)))
            out.append(full + ".")
            continue
        kind, rest = match.group(3), match.group(4)
        if "|" not in rest and kind in all_blocks and depth < 8:
            out.append(full + ".")
            out += keys(all_blocks, kind, full + ".", depth + 1)
        else:
            out.append(full)
    return out


def _defines(repo: str, tag: str, path: str, struct_tag: str) -> bool:
    command = ["git", "-C", repo, "show", f"{tag}:{path}"]
    source = subprocess.run(command, check=False, capture_output=True, text=True)
    return source.returncode == 0 and struct_tag in source.stdout


def main() -> int:
    repo, tag = sys.argv[1], sys.argv[2]
    text = subprocess.run(
        ["git", "-C", repo, "show", f"{tag}:{REFERENCE}"], capture_output=True, text=True, check=True
    ).stdout
    commit = subprocess.run(
        ["git", "-C", repo, "rev-list", "-n", "1", tag], capture_output=True, text=True, check=True
    ).stdout.strip()
    documented = set(keys(blocks(text), ""))
    print(f"# grafana/pyroscope {tag} (commit {commit}) {REFERENCE}")
    print("# Every YAML key path of the configuration file; a trailing '.' marks a map; keys the")
    print('# reference hides (doc:"hidden") follow their defining file, checked at the same tag.')
    lines = {key: key for key in documented}
    for key, chain in HIDDEN.items():
        if key not in documented and all(_defines(repo, tag, path, struct_tag) for path, struct_tag in chain):
            lines[key] = f"{key}  # hidden; {chain[0][0]}"
    for key in sorted(lines):
        print(lines[key])
    return 0


if __name__ == "__main__":
    sys.exit(main())
