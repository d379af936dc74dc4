"""Turn recorded values into plain JSON-able data with every Pulumi secret redacted.

:func:`plain` replaces each secret whole by the marker. :class:`Redactor` knows the render's
secret values (:class:`~pyroscope_bundle.render.secrets.SecretAtoms`): it keeps the keys of a
secret mapping and the non-secret parts of a generated file that holds a secret, and records a
fingerprint per redacted place so the review diff can say "secret changed".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import rpc

from pyroscope_bundle.constants import REDACTED
from pyroscope_bundle.render.secrets import SecretAtoms

UNKNOWN = "[unknown]"
Path = tuple[str | int, ...]


def plain(value: Any) -> Any:
    """Recorded (deserialized) property values as JSON-able data, secrets redacted whole."""
    return Redactor(None).plain(value)


def format_path(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@dataclass
class Redactor:
    """Plain data from recorded values; with ``atoms``, secrets redacted value by value."""

    atoms: SecretAtoms | None
    # Redacted place (input path) -> fingerprint of the secret there.
    fingerprints: dict[str, str] = field(default_factory=dict)

    def plain(self, value: Any, path: Path = (), hint: str = "") -> Any:
        if rpc.is_rpc_secret(value):
            return self.secret(rpc.unwrap_rpc_secret(value), path, hint)
        if isinstance(value, dict):
            return {
                str(key): self.plain(item, (*path, str(key)), _hint(value, str(key)))
                for key, item in sorted(value.items(), key=lambda kv: str(kv[0]))
            }
        if isinstance(value, list | tuple):
            return [self.plain(item, (*path, index), hint) for index, item in enumerate(value)]
        return _scalar(value)

    def secret(self, value: Any, path: Path, hint: str) -> Any:
        """A secret value: keys of mappings stay, strings keep what is not secret (or go whole)."""
        if rpc.is_rpc_secret(value):
            return self.secret(rpc.unwrap_rpc_secret(value), path, hint)
        if self.atoms is not None and isinstance(value, dict):
            return {
                str(key): self.secret(item, (*path, str(key)), _hint(value, str(key)))
                for key, item in sorted(value.items(), key=lambda kv: str(kv[0]))
            }
        if self.atoms is not None and isinstance(value, list | tuple):
            return [self.secret(item, (*path, index), hint) for index, item in enumerate(value)]
        if self.atoms is None:
            return REDACTED
        if isinstance(value, str):
            self.fingerprints[format_path(path)] = self.atoms.fingerprint(value)
            return self.atoms.redact_text(value, hint)
        if value is None or isinstance(value, bool):
            return _scalar(value)
        self.fingerprints[format_path(path)] = self.atoms.fingerprint(value)
        return REDACTED


def _hint(mapping: dict[Any, Any], key: str) -> str:
    """What a value is stored as: its key, or for an upload's ``content`` the file it becomes."""
    if key == "content" and isinstance(mapping.get("file"), str):
        return str(mapping["file"])
    return key


def _scalar(value: Any) -> Any:
    if isinstance(value, pulumi.StringAsset):
        return {"asset": "string", "text": value.text}
    if isinstance(value, pulumi.FileAsset):
        return {"asset": "file", "path": value.path}
    if isinstance(value, pulumi.Resource):
        return {"resource": getattr(value, "_name", type(value).__name__)}
    if value == rpc.UNKNOWN:
        return UNKNOWN
    if isinstance(value, float) and value.is_integer():
        # The wire format has only doubles: 4040 arrives as 4040.0. Show what the program wrote.
        return int(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def contains_secret(value: Any) -> bool:
    if rpc.is_rpc_secret(value):
        return True
    if isinstance(value, dict):
        return any(contains_secret(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(contains_secret(item) for item in value)
    return False
