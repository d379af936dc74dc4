"""Turn raw stack configuration into a validated :class:`BundleConfig`, or a :class:`ConfigError`.

The raw input is what ``pulumi.Config`` holds for the ``pyroscope`` namespace: top-level keys
(``server``, ``grafana``, ``target``, ``services``, ``authToken``) mapped to parsed values.
Reading and validating only: the field checks and the rules across sections are the model's
(``bundle.py`` runs ``checks.py``), so ``load_config`` and ``BundleConfig.model_validate`` refuse
the same configurations.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from pyroscope_bundle.config.bundle import BundleConfig
from pyroscope_bundle.config.errors import ConfigError, Problem, key_path
from pyroscope_bundle.config.model import PATTERN_HINTS

STRUCTURED_KEYS = ("server", "grafana", "target", "services", "monitoring")
# Secret keys: only whether they are set enters the model; values stay Pulumi secret Outputs.
SECRET_KEYS = ("authToken", "grafanaAdminPassword")
TOP_LEVEL_KEYS = STRUCTURED_KEYS + SECRET_KEYS


def load_config(raw: Mapping[str, Any], stack: str, project_root: Path | None = None) -> BundleConfig:
    """Validate ``raw`` for ``stack``; raise :class:`ConfigError` listing every problem."""
    problems = [_unknown_top_level(key) for key in sorted(raw) if key not in TOP_LEVEL_KEYS]
    data: dict[str, Any] = {"stack": stack, "authTokenSet": raw.get("authToken") is not None}
    for key in STRUCTURED_KEYS:
        if raw.get(key) is not None:
            data[key] = raw[key]
    services = raw.get("services")
    if problems:
        raise ConfigError(problems, services=services)
    try:
        # The model runs the cross-section checks itself (config/bundle.py).
        return BundleConfig.model_validate(data, context={"project_root": project_root})
    except ValidationError as error:
        raise ConfigError(problems_of(error), services=services) from None


def _unknown_top_level(key: str) -> Problem:
    """An unknown ``pyroscope:<key>``; a key of a section (``pyroscope:backend``: a line that lost
    its indentation under ``pyroscope:server``) says where it belongs."""
    owners = [section for section in STRUCTURED_KEYS if key in _allowed_keys(section, [])]
    hint = "".join(
        f" (is it {key_path(section, key)}, indented under {key_path(section)}?)" for section in owners[:1]
    )
    return Problem(
        key_path(key),
        f"is not a known key{hint}; allowed: {', '.join(key_path(k) for k in TOP_LEVEL_KEYS)}",
        has_value=False,
    )


def problems_of(error: ValidationError) -> list[Problem]:
    """One :class:`Problem` per bad value: field errors, and the model's cross-section problems."""
    problems: list[Problem] = []
    for detail in error.errors():
        nested = detail.get("ctx", {}).get("error")
        if isinstance(nested, ConfigError):
            problems += nested.problems
        else:
            problems.append(_problem(detail))
    return problems


def _problem(detail: ErrorDetails) -> Problem:
    loc = list(detail["loc"])
    top = str(loc.pop(0)) if loc else "config"
    path = key_path(top, *loc)
    kind = detail["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(top, loc[:-1])
        return Problem(path, f"is not a known key; allowed: {', '.join(allowed)}", has_value=False)
    if kind == "missing":
        return Problem(path, "is required", has_value=False)
    if kind == "value_error":
        message = str(detail.get("ctx", {}).get("error", detail["msg"]))
    elif kind in ("model_type", "dict_type"):
        message = "is not a mapping of settings; see docs/configuration.md for the keys"
    elif kind == "list_type":
        message = "is not a list"
    elif kind == "string_type" and isinstance(detail.get("input"), int | float):
        message = 'is a number where text is meant; quote it in the stack file (e.g. "5")'
    elif kind in ("int_type", "int_parsing") and isinstance(detail.get("input"), bool | str):
        message = "is not a whole number; write the number itself, not quoted and not true/false"
    elif kind in ("float_type", "float_parsing") and isinstance(detail.get("input"), bool | str):
        message = 'is not a number; write one without quotes or a unit, e.g. 0.9 (not "90%")'
    elif kind == "string_pattern_mismatch" and detail.get("ctx", {}).get("pattern") in PATTERN_HINTS:
        message = PATTERN_HINTS[detail["ctx"]["pattern"]]
    elif kind in ("bool_type", "bool_parsing"):
        message = "is not a boolean; use true or false (not quoted)"
    else:
        message = f"is not allowed: {detail['msg'][0].lower()}{detail['msg'][1:]}"
    return Problem(path, message, detail.get("input"))


def _allowed_keys(top: str, loc: list[Any]) -> list[str]:
    """The camelCase keys allowed at ``loc`` (to suggest the right spelling of a typo)."""
    model: type[BaseModel] = BundleConfig
    for part in [top, *loc]:
        if isinstance(part, int):
            continue
        field = next((f for name, f in model.model_fields.items() if part in (name, f.alias)), None)
        annotation = getattr(field, "annotation", None)
        inner = _model_in(annotation)
        if inner is None:
            return []
        model = inner
    return sorted(f.alias or name for name, f in model.model_fields.items())


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
