"""Replace every Pulumi secret in recorded values by the fixed marker, and make values plain."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime import rpc

from pyroscope_bundle.constants import REDACTED

UNKNOWN = "[unknown]"


def plain(value: Any) -> Any:
    """Recorded (deserialized) property values as JSON-able data, secrets redacted."""
    if rpc.is_rpc_secret(value):
        return REDACTED
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
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
