"""Compare two renders: resources added / changed / removed, what replaces, what touches data.

The result is plain data (:class:`Report`); :mod:`pyroscope_bundle.review.format` turns it into
text or a PR comment. Values are compared exactly as rendered, so redacted secrets compare
equal: a rotated secret is invisible here by design (see :attr:`StackDiff.secret_inputs`).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pyroscope_bundle.constants import REDACTED
from pyroscope_bundle.review import findings, rules
from pyroscope_bundle.review.load import Render, Resource, load_side
from pyroscope_bundle.review.rules import Named

PathParts = tuple[str | int | Named, ...]
Status = Literal["added", "changed", "removed"]


class _Missing:
    def __repr__(self) -> str:
        return "(absent)"


MISSING: Any = _Missing()
# List items are matched by these fields when every item has a distinct one.
_ITEM_KEYS = (("name",), ("file",), ("metadata", "name"))
_ENV_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)=(.*)", re.DOTALL)


@dataclass(frozen=True)
class ValueChange:
    """One changed value: where (``inputs`` / ``options`` / ``parent``), path, before, after."""

    section: str
    path: PathParts
    before: Any
    after: Any

    @property
    def label(self) -> str:
        shown = format_path(self.path)
        if self.section in ("inputs", "outputs"):
            return shown or "(all inputs)"
        return f"({self.section}) {shown}".rstrip()


@dataclass
class ResourceDiff:
    status: Status
    type: str
    name: str
    key: str
    changes: list[ValueChange] = field(default_factory=list)
    replaced_by: list[str] = field(default_factory=list)
    replace_note: str = ""
    data_volume: bool = False
    data_paths: list[str] = field(default_factory=list)
    # What the change does to profiling data, beyond the volume paths (retention, protection...).
    data_reasons: list[str] = field(default_factory=list)
    # Changed input paths under ignoreChanges: `pulumi up` will NOT apply them.
    ignored: list[str] = field(default_factory=list)
    # Redacted inputs whose secret value changed (by fingerprint; the value is never shown).
    secret_changes: list[str] = field(default_factory=list)
    protected: bool = False
    retained: bool = False

    @property
    def replaces(self) -> bool:
        return bool(self.replaced_by)

    @property
    def not_applied(self) -> bool:
        """Every change of it is under ignoreChanges: the deploy leaves it as it is."""
        applied = [
            change
            for change in self.changes
            if change.section != "inputs" or format_path(change.path) not in self.ignored
        ]
        return bool(self.ignored) and not applied and not self.secret_changes


@dataclass(frozen=True)
class FileDiff:
    path: str
    status: Status
    unified: list[str]
    binary: bool = False
    # The file holds a secret whose value changed (its redacted text may be the same).
    secret_changed: bool = False


@dataclass
class StackDiff:
    stack: str
    status: Literal["added", "changed", "removed", "unchanged"]
    resources: list[ResourceDiff] = field(default_factory=list)
    files: list[FileDiff] = field(default_factory=list)
    outputs: list[ValueChange] = field(default_factory=list)
    # (resource key, input path) of every redacted input in the head render (base if removed).
    secret_inputs: list[tuple[str, str]] = field(default_factory=list)
    # Stack-wide data findings (a version across majors) and warnings (removed outputs, ...).
    data_findings: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return bool(self.resources or self.files or self.outputs) or self.status in ("added", "removed")

    def of_status(self, status: Status) -> list[ResourceDiff]:
        return [diff for diff in self.resources if diff.status == status]


@dataclass
class Report:
    stacks: list[StackDiff]

    @property
    def has_changes(self) -> bool:
        return any(stack.has_changes for stack in self.stacks)


def diff_dirs(base: Path, head: Path) -> Report:
    """Compare the renders under ``base`` and ``head`` (one render, or one per stack)."""
    base_side, head_side = load_side(base), load_side(head)
    stacks = []
    for stack in sorted(set(base_side) | set(head_side)):
        stacks.append(diff_renders(base_side.get(stack), head_side.get(stack), stack))
    return Report(stacks=stacks)


def aliased_keys(base: dict[str, Resource], head: dict[str, Resource]) -> dict[str, str]:
    """Base key -> head key of each resource the head registers under another type or name with
    an alias to its former one: the engine updates it in place (and its children, which inherit
    the alias), so it is one resource here too, not a delete and a create."""
    gone = {(r.type, r.name, r.parent): key for key, r in base.items() if key not in head}
    pairs: dict[str, str] = {}
    for key, resource in head.items():
        if key in base:
            continue
        for identity in resource.former_identities():
            former = gone.get(identity)
            if former is not None and former not in pairs:
                pairs[former] = key
                break
    return pairs


def diff_renders(base: Render | None, head: Render | None, stack: str) -> StackDiff:
    head_resources = head.resources if head else {}
    pairs = aliased_keys(base.resources, head_resources) if base else {}
    base_resources = {
        pairs.get(key, key): resource for key, resource in (base.resources if base else {}).items()
    }
    base_secrets = {
        pairs.get(key, key): paths for key, paths in (base.secret_fingerprints if base else {}).items()
    }
    renamed_parents = (
        {base.resources[old].name: head_resources[new].name for old, new in pairs.items()} if base else {}
    )
    resources = []
    for key in _ordered_keys(base_resources, head_resources):
        diff = diff_resource(
            base_resources.get(key),
            head_resources.get(key),
            base_secrets.get(key, {}),
            head.secret_fingerprints.get(key, {}) if head else {},
            renamed_parents,
        )
        if diff is not None:
            resources.append(diff)
    status: Literal["added", "changed", "removed", "unchanged"]
    if base is None:
        status = "added"
    elif head is None:
        status = "removed"
    else:
        status = "changed"
    result = StackDiff(
        stack=stack,
        status=status,
        resources=resources,
        files=diff_files(
            base.files if base else {},
            head.files if head else {},
            base.file_fingerprints if base else {},
            head.file_fingerprints if head else {},
        ),
        outputs=[
            ValueChange("outputs", change.path, change.before, change.after)
            for change in changed_values(base.outputs if base else {}, head.outputs if head else {})
        ],
        secret_inputs=_secret_inputs(head.resources if head else base.resources if base else {}),
        data_findings=findings.version_findings(base, head) if base and head else [],
        warnings=findings.removal_warnings(base, head) if base and head else [],
    )
    if status == "changed" and not result.has_changes:
        result.status = "unchanged"
    return result


def _ordered_keys(base: dict[str, Resource], head: dict[str, Resource]) -> list[str]:
    """Head order (registration order reads top-down), then what only the base had."""
    return list(head) + [key for key in base if key not in head]


def diff_resource(
    base: Resource | None,
    head: Resource | None,
    base_secrets: dict[str, str] | None = None,
    head_secrets: dict[str, str] | None = None,
    renamed_parents: dict[str, str] | None = None,
) -> ResourceDiff | None:
    either = head or base
    assert either is not None
    diff = ResourceDiff(status="changed", type=either.type, name=either.name, key=either.key)
    diff.protected = bool(either.options.get("protect"))
    diff.retained = bool(either.options.get("retainOnDelete"))
    if base is None or head is None:
        diff.status = "added" if base is None else "removed"
        diff.changes = [
            ValueChange(
                "inputs", path, MISSING if base is None else value, MISSING if head is None else value
            )
            for path, value in leaves(either.inputs)
        ]
        diff.data_volume = rules.holds_data(either.type, either.inputs)
        if head is None:
            diff.data_reasons = findings.removed_data_reasons(base) if base is not None else []
            diff.data_volume = diff.data_volume or bool(diff.data_reasons)
        return diff
    changes = [
        ValueChange("inputs", c.path, c.before, c.after) for c in changed_values(base.inputs, head.inputs)
    ]
    changes += [
        ValueChange("options", c.path, c.before, c.after) for c in changed_values(base.options, head.options)
    ]
    # A parent renamed with an alias passes it on to its children (no new URN for them).
    base_parent = (renamed_parents or {}).get(base.parent or "", base.parent)
    if base_parent != head.parent:
        changes.append(ValueChange("parent", (), base.entry.get("parent"), head.entry.get("parent")))
    old_secrets, new_secrets = base_secrets or {}, head_secrets or {}
    diff.secret_changes = sorted(
        path for path in set(old_secrets) & set(new_secrets) if old_secrets[path] != new_secrets[path]
    )
    if not changes and not diff.secret_changes:
        return None
    diff.changes = changes
    input_paths = [change.path for change in changes if change.section == "inputs"]
    # The engine skips ignoreChanges paths and replaces on replaceOnChanges paths, whatever
    # the provider says.
    ignored = [str(path) for path in head.options.get("ignoreChanges") or []]
    diff.ignored = [format_path(path) for path in input_paths if _under_any(format_path(path), ignored)]
    input_paths = [path for path in input_paths if not _under_any(format_path(path), ignored)]
    input_paths += [_parse_path(path) for path in diff.secret_changes]
    forced = [str(path) for path in head.options.get("replaceOnChanges") or []]
    replacing = [format_path(path) for path in rules.replacing_paths(either.type, input_paths)]
    replacing += [
        f"{format_path(path)} (replaceOnChanges)"
        for path in input_paths
        if _under_any(format_path(path), forced) and format_path(path) not in replacing
    ]
    if any(change.section == "parent" for change in changes):
        replacing.append("(parent): new URN, no alias")
    diff.replaced_by = replacing
    diff.replace_note = rules.rule_for(either.type).note if replacing else ""
    data_paths = rules.data_volume_paths(either.type, input_paths)
    diff.data_paths = [format_path(path) for path in data_paths]
    diff.data_reasons = findings.resource_data_reasons(base, head, replaced=bool(replacing))
    diff.data_volume = (
        bool(data_paths)
        or (either.type in rules.DATA_VOLUME_TYPES and bool(replacing))
        or bool(diff.data_reasons)
    )
    return diff


def _parse_path(text: str) -> PathParts:
    """``spec.template[0].name`` -> ("spec", "template", 0, "name") (for secret paths)."""
    parts: list[str | int | Named] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", text):
        parts.append(int(index) if index else name)
    return tuple(parts)


def leaves(value: Any, path: PathParts = ()) -> Iterator[tuple[PathParts, Any]]:
    """Every scalar (or empty container) inside ``value`` with its path, for one-sided changes."""
    if isinstance(value, dict) and value:
        for key in sorted(value, key=str):
            yield from leaves(value[key], (*path, key))
    elif isinstance(value, list) and value and any(isinstance(item, dict | list) for item in value):
        keyed = _keyed(value)
        if keyed:
            for name, item in keyed.items():
                yield from leaves(item, (*path, Named(name)))
        else:
            for index, item in enumerate(value):
                yield from leaves(item, (*path, index))
    else:
        yield path, value


def _under_any(path: str, prefixes: list[str]) -> bool:
    return any(prefix in ("*", path) or path.startswith((f"{prefix}.", f"{prefix}[")) for prefix in prefixes)


def changed_values(before: Any, after: Any, path: PathParts = ()) -> list[ValueChange]:
    """Leaf-level differences between two rendered values (JSON strings are compared parsed)."""
    if before == after:
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        found: list[ValueChange] = []
        for key in sorted(set(before) | set(after), key=str):
            found += changed_values(before.get(key, MISSING), after.get(key, MISSING), (*path, key))
        return found
    if isinstance(before, list) and isinstance(after, list):
        return _changed_items(before, after, path)
    parsed = _json_containers(before, after)
    if parsed is not None:
        return changed_values(*parsed, path)
    return [ValueChange("inputs", path, before, after)]


def _changed_items(before: list[Any], after: list[Any], path: PathParts) -> list[ValueChange]:
    keyed_before, keyed_after = _keyed(before), _keyed(after)
    if keyed_before is not None and keyed_after is not None:
        found: list[ValueChange] = []
        for name in list(keyed_before) + [name for name in keyed_after if name not in keyed_before]:
            found += changed_values(
                keyed_before.get(name, MISSING), keyed_after.get(name, MISSING), (*path, Named(name))
            )
        return found
    if all(isinstance(item, dict | list) for item in [*before, *after]):
        return _changed_unnamed_items(before, after, path)
    # A list of scalars (args, access modes, ...) reads best whole.
    return [ValueChange("inputs", path, before, after)]


def _changed_unnamed_items(before: list[Any], after: list[Any], path: PathParts) -> list[ValueChange]:
    """Items without a name matched by identity (their content), not by position: one added
    NetworkPolicy peer reads as one added item, not as every later peer changing."""
    old = [json.dumps(item, sort_keys=True) for item in before]
    new = [json.dumps(item, sort_keys=True) for item in after]
    found: list[ValueChange] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, old_start, old_end, new_start, new_end in matcher.get_opcodes():
        if tag == "equal":
            continue
        paired = min(old_end - old_start, new_end - new_start) if tag == "replace" else 0
        for offset in range(paired):
            found += changed_values(
                before[old_start + offset], after[new_start + offset], (*path, new_start + offset)
            )
        for index in range(old_start + paired, old_end):
            found.append(ValueChange("inputs", (*path, index), before[index], MISSING))
        for index in range(new_start + paired, new_end):
            found.append(ValueChange("inputs", (*path, index), MISSING, after[index]))
    return found


def _keyed(items: list[Any]) -> dict[str, Any] | None:
    """Items by a naming field (or ``K=V`` strings by K) when every item has a distinct one."""
    if not items:
        return {}
    for key in _ITEM_KEYS:
        names = [_lookup(item, key) for item in items]
        if all(isinstance(name, str) for name in names) and len(set(names)) == len(names):
            return dict(zip(names, items, strict=True))
    matches = [_ENV_ASSIGNMENT.fullmatch(item) if isinstance(item, str) else None for item in items]
    if all(matches):
        pairs = [(match.group(1), match.group(2)) for match in matches if match]
        if len({name for name, _ in pairs}) == len(pairs):
            return dict(pairs)
    return None


def _lookup(item: Any, key: tuple[str, ...]) -> Any:
    for part in key:
        item = item.get(part) if isinstance(item, dict) else None
    return item


def _json_containers(before: Any, after: Any) -> tuple[Any, Any] | None:
    """Both values parsed, when both are JSON objects/arrays serialized as strings."""
    parsed = []
    for value in (before, after):
        if not isinstance(value, str) or value[:1] not in ("{", "["):
            return None
        try:
            parsed.append(json.loads(value))
        except ValueError:
            return None
    return parsed[0], parsed[1]


def format_path(path: Sequence[object]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif isinstance(part, Named):
            text += str(part)
        else:
            text += f".{part}" if text else str(part)
    return text


def _secret_inputs(resources: dict[str, Resource]) -> list[tuple[str, str]]:
    found = []
    for key, resource in resources.items():
        for path in _redacted_paths(resource.inputs, ()):
            found.append((key, format_path(path) or "(all inputs)"))
    return found


def _redacted_paths(value: Any, path: PathParts) -> Iterator[PathParts]:
    parsed = _json_containers(value, value)
    if value == REDACTED:
        yield path
    elif parsed is not None:
        yield from _redacted_paths(parsed[0], path)
    elif isinstance(value, dict):
        for key in sorted(value, key=str):
            yield from _redacted_paths(value[key], (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _redacted_paths(item, (*path, index))


# --- files ----------------------------------------------------------------------------------

MAX_DIFF_LINES_PER_FILE = 120


def diff_files(
    base: dict[str, bytes],
    head: dict[str, bytes],
    base_secrets: dict[str, str] | None = None,
    head_secrets: dict[str, str] | None = None,
) -> list[FileDiff]:
    result = []
    old_secrets, new_secrets = base_secrets or {}, head_secrets or {}
    for path in sorted(set(base) | set(head)):
        old, new = base.get(path), head.get(path)
        secret_changed = (
            path in old_secrets and path in new_secrets and old_secrets[path] != new_secrets[path]
        )
        if old == new:
            if secret_changed:
                result.append(FileDiff(path, "changed", [], secret_changed=True))
            continue
        status: Status = "added" if old is None else "removed" if new is None else "changed"
        old_text, new_text = _text(old), _text(new)
        if old_text is None or new_text is None:
            result.append(FileDiff(path, status, [], binary=True))
            continue
        lines = list(
            difflib.unified_diff(
                old_text.splitlines(), new_text.splitlines(),
                fromfile=f"base/{path}" if old is not None else "/dev/null",
                tofile=f"head/{path}" if new is not None else "/dev/null",
                lineterm="",
            )
        )  # fmt: skip
        if len(lines) > MAX_DIFF_LINES_PER_FILE:
            hidden = len(lines) - MAX_DIFF_LINES_PER_FILE
            lines = [*lines[:MAX_DIFF_LINES_PER_FILE], f"... {hidden} more diff lines (see the render)"]
        result.append(FileDiff(path, status, lines, secret_changed=secret_changed))
    return result


def _text(content: bytes | None) -> str | None:
    if content is None:
        return ""
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return None
