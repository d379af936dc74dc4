"""The one error type bad configuration raises: every problem with its key path."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pyroscope_bundle_runtime.contract import redact_url_credentials

from pyroscope_bundle import constants


@dataclass(frozen=True)
class Problem:
    """One bad value: where it is, what it was, and what is allowed."""

    path: str
    message: str
    value: Any = None
    has_value: bool = True

    def __str__(self) -> str:
        if not self.has_value:
            return f"{self.path}: {self.message}"
        return f"{self.path}: {_show(self.value)} {self.message}"


def _show(value: Any) -> str:
    try:
        shown = json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        shown = repr(value)
    # The error text is printed and logged: never with a URL's user:password@.
    return redact_url_credentials(shown)


def key_path(top_level: str, *parts: str | int) -> str:
    """``pyroscope:server.storage.size`` / ``pyroscope:services[2].ecs``."""
    path = f"{constants.PROJECT_NAME}:{top_level}"
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.isprintable() and not any(char.isspace() for char in part) and part:
            path += f".{part}"
        else:  # a key with a newline or spaces: quoted, so the message stays one line
            path += f"[{json.dumps(part)}]"
    return path


class ConfigError(ValueError):
    """Raised before any resource is registered; its text is one line per problem."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"invalid configuration ({len(problems)} problem(s)):\n{lines}")
