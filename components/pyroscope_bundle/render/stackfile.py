"""Read ``stacks/Pulumi.<stack>.yaml`` and apply ``--set``/``--set-secret`` overrides.

``secure:`` values cannot be decrypted without the Pulumi CLI; they become opaque placeholders
that the program sees as secrets, so the render shows where they flow but never what they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pyroscope_bundle import constants
from pyroscope_bundle.render.secrets import SecretAtoms, public_fingerprint, user_secret_fingerprint

_PATH_RE = re.compile(r"[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*|\[\d+\])*")
_SEGMENT_RE = re.compile(r"([A-Za-z_][\w-]*)|\[(\d+)\]")


class StackFileError(ValueError):
    """A stack file or a --set flag that cannot be read."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML silently keeps the last of two equal keys; Pulumi's parser (gopkg.in/yaml.v3, used
    by sdk/go/common/encoding/marshal.go) refuses them, so the render must too."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"line {line}: mapping key {key!r} already defined at line {seen[key]}",
                    key_node.start_mark,
                )
            if isinstance(key, str | int | float | bool):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _UniqueKeyLoader.construct_mapping,
)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` that refuses duplicate mapping keys."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass


@dataclass
class StackConfig:
    """Config for one render: ``namespace:key`` -> value, and which keys are secret."""

    values: dict[str, Any] = field(default_factory=dict)
    secret_keys: set[str] = field(default_factory=set)
    # Every secret value the program will see, with its fingerprint (for redaction and review).
    atoms: SecretAtoms = field(default_factory=SecretAtoms)


def secure_placeholder(key: str, ciphertext: str = "") -> str:
    """The program's stand-in for a ``secure:`` value: opaque, and changed with its ciphertext (a
    rotated secret then rolls what depends on it, as a real rotation would)."""
    suffix = f"-{public_fingerprint(ciphertext)}" if ciphertext else ""
    return f"secure-placeholder-for-{key.replace(':', '-')}{suffix}"


def read_stack_file(project_dir: Path, stack: str) -> StackConfig:
    path = project_dir / "stacks" / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        available = sorted(
            p.name[len("Pulumi.") : -len(".yaml")] for p in (project_dir / "stacks").glob("Pulumi.*.yaml")
        )
        raise StackFileError(
            f"--stack: {stack!r} has no stack file {path}; available: {', '.join(available) or 'none'}"
        )
    try:
        document = load_yaml(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise StackFileError(f"{path}: is not valid YAML: {error}") from None
    except UnicodeDecodeError:
        raise StackFileError(f"{path}: is not UTF-8 text") from None
    if not isinstance(document, dict):
        raise StackFileError(f"{path}: is not a mapping with a `config` key")
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise StackFileError(f"{path}: `config` is not a mapping")
    result = StackConfig()
    for key, value in config.items():
        full_key = key if ":" in key else f"{constants.PROJECT_NAME}:{key}"
        cleaned, had_secret = _replace_secure(value, full_key, result.atoms)
        result.values[full_key] = cleaned
        if had_secret:
            result.secret_keys.add(full_key)
    return result


def _replace_secure(value: Any, key: str, atoms: SecretAtoms) -> tuple[Any, bool]:
    if isinstance(value, dict) and set(value) == {"secure"}:
        if not isinstance(value["secure"], str) or not value["secure"].strip():
            # Pulumi fails to decrypt it at `pulumi up`; the render would take it as set.
            raise StackFileError(
                f"{key}: `secure:` holds no ciphertext; set the value with "
                f"`pulumi config set --secret {key.split(':', 1)[-1]} ...`"
            )
        ciphertext = str(value["secure"])
        placeholder = secure_placeholder(key, ciphertext)
        atoms.add(placeholder, public_fingerprint(ciphertext))
        return placeholder, True
    if isinstance(value, dict):
        pairs = {k: _replace_secure(v, key, atoms) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(s for _, s in pairs.values())
    if isinstance(value, list):
        items = [_replace_secure(v, key, atoms) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


def apply_override(config: StackConfig, assignment: str, *, secret: bool, flag: str) -> None:
    """Apply ``KEY=VALUE`` where KEY is a path as with ``pulumi config set --path``."""
    key, sep, text = assignment.partition("=")
    if not sep or not key:
        raise StackFileError(f"{flag} {assignment!r}: use KEY=VALUE, e.g. server.retention=30d")
    try:
        value = load_yaml(text) if text else ""
    except yaml.YAMLError as error:
        raise StackFileError(f"{flag} {key}: value is not valid YAML: {error}") from None
    if secret and not isinstance(value, str):
        value = text
    if secret:
        config.atoms.add(value, user_secret_fingerprint(key, value))
    namespace = constants.PROJECT_NAME
    if ":" in key.split(".")[0].split("[")[0]:
        namespace, key = key.split(":", 1)
    if not _PATH_RE.fullmatch(key):
        raise StackFileError(
            f"{flag} {key!r}: not a config path; use e.g. server.retention or services[0].name"
        )
    segments: list[str | int] = [name if name else int(index) for name, index in _SEGMENT_RE.findall(key)]
    full_key = f"{namespace}:{segments[0]}"
    if len(segments) == 1:
        config.values[full_key] = value
    else:
        root = config.values.get(full_key)
        if root is None:
            root = [] if isinstance(segments[1], int) else {}
        config.values[full_key] = _set_path(root, segments[1:], value, flag, key)
    if secret:
        config.secret_keys.add(full_key)


def _set_path(node: Any, segments: list[str | int], value: Any, flag: str, key: str) -> Any:
    head, rest = segments[0], segments[1:]
    child_default: Any = ([] if isinstance(rest[0], int) else {}) if rest else None
    if isinstance(head, int):
        if not isinstance(node, list):
            raise StackFileError(f"{flag} {key!r}: [{head}] indexes something that is not a list")
        if head > len(node):
            raise StackFileError(
                f"{flag} {key!r}: index {head} is past the end of the list ({len(node)} items)"
            )
        if head == len(node):
            node.append(child_default)
        node[head] = _set_path(node[head], rest, value, flag, key) if rest else value
        return node
    if not isinstance(node, dict):
        raise StackFileError(f"{flag} {key!r}: .{head} names a key inside something that is not a mapping")
    node[head] = _set_path(node.get(head, child_default), rest, value, flag, key) if rest else value
    return node
