"""The one error type bad configuration raises: every problem with its key path."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
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


_SERVICE_INDEX = re.compile(r"^" + re.escape(f"{constants.PROJECT_NAME}:services[") + r"(\d+)\]")


def service_names(services: Any) -> dict[int, str]:
    """Index -> name of the raw ``pyroscope:services`` entries that have a usable name."""
    if not isinstance(services, list):
        return {}
    return {
        index: entry["name"]
        for index, entry in enumerate(services)
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry["name"]
    }


def _line(problem: Problem, names: Mapping[int, str]) -> str:
    """One problem; a service is named, not only numbered (``services[9]`` is hard to find)."""
    match = _SERVICE_INDEX.match(problem.path)
    name = names.get(int(match.group(1))) if match else None
    return f"{problem} (service {name})" if name else str(problem)


class ConfigError(ValueError):
    """Raised before any resource is registered; its text is one line per problem.

    ``services``: the raw ``pyroscope:services`` list, so that lines about a service name it.
    """

    def __init__(self, problems: list[Problem], *, services: Any = None) -> None:
        self.problems = problems
        names = service_names(services)
        lines = "\n".join(f"  - {_line(problem, names)}" for problem in problems)
        super().__init__(f"invalid configuration ({len(problems)} problem(s)):\n{lines}")
