"""The ECS files a stack names, read and checked: a container-definition list, or a whole task
definition (the ECS ``RegisterTaskDefinition`` request, camelCase JSON; ``aws ecs
describe-task-definition`` output is accepted too: its read-only fields are dropped).

Plain JSON and the standard library, no config and no provider SDK: the config checks
(``config/services.py``) and the wiring (``wiring/ecs_task.py``, ``wiring/ecs.py``) read the same
files the same way. Field names: botocore's ECS model (``RegisterTaskDefinition``) on one side,
pulumi-aws 7 ``ecs.TaskDefinition`` inputs on the other.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pyroscope_bundle import constants

# Request field -> TaskDefinition keyword argument (scalars and lists of scalars).
SCALAR_FIELDS: Mapping[str, str] = {
    "family": "family",
    "taskRoleArn": "task_role_arn",
    "executionRoleArn": "execution_role_arn",
    "networkMode": "network_mode",
    "requiresCompatibilities": "requires_compatibilities",
    "cpu": "cpu",
    "memory": "memory",
    "pidMode": "pid_mode",
    "ipcMode": "ipc_mode",
    "enableFaultInjection": "enable_fault_injection",
}
STRUCTURE_FIELDS = (
    "volumes",
    "placementConstraints",
    "proxyConfiguration",
    "ephemeralStorage",
    "runtimePlatform",
)
# Request fields pulumi-aws 7.51 cannot set.
UNSUPPORTED = ("inferenceAccelerators", "trustedExecutionConfiguration")
# What describe-task-definition adds to a registered definition; not part of a request.
READ_ONLY = (
    "taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities",
    "registeredAt", "registeredBy", "deregisteredAt",
)  # fmt: skip
REQUEST_FIELDS = (*SCALAR_FIELDS, *STRUCTURE_FIELDS, *UNSUPPORTED, "containerDefinitions", "tags")


class TaskDefinitionError(ValueError):
    """A task-definition file the wiring cannot keep whole."""


def parse_task_definition(data: Any) -> dict[str, Any]:
    """The request in ``data`` (a request, or describe output), validated enough to keep it whole."""
    if isinstance(data, Mapping) and isinstance(data.get("taskDefinition"), Mapping):
        tags = data.get("tags")  # describe-task-definition --include TAGS puts them beside it
        data = {**data["taskDefinition"], **({"tags": tags} if tags else {})}
    if not isinstance(data, Mapping):
        raise TaskDefinitionError("must hold a JSON object (a RegisterTaskDefinition request)")
    request = {key: copy.deepcopy(value) for key, value in data.items() if key not in READ_ONLY}
    unknown = sorted(set(request) - set(REQUEST_FIELDS))
    if unknown:
        raise TaskDefinitionError(
            f"has {', '.join(unknown)}, not RegisterTaskDefinition fields; "
            f"allowed: {', '.join(REQUEST_FIELDS)}"
        )
    unsupported = [key for key in UNSUPPORTED if request.get(key)]
    if unsupported:
        raise TaskDefinitionError(
            f"sets {', '.join(unsupported)}, which pulumi-aws TaskDefinition cannot register; "
            "wiring would drop it, so remove it or keep this service unwired"
        )
    for key in UNSUPPORTED:
        request.pop(key, None)
    if not isinstance(request.get("family"), str) or not request["family"]:
        raise TaskDefinitionError("has no family (required by RegisterTaskDefinition)")
    definitions = request.get("containerDefinitions")
    if (
        not isinstance(definitions, list)
        or not definitions
        or not all(isinstance(d, dict) for d in definitions)
    ):
        raise TaskDefinitionError("needs containerDefinitions: a non-empty list of objects")
    if not all(isinstance(d.get("name"), str) and d["name"] for d in definitions):
        raise TaskDefinitionError("has a container definition without a name")
    for volume in request.get("volumes") or []:
        if isinstance(volume, Mapping) and volume.get("name") == constants.AGENT_VOLUME:
            raise TaskDefinitionError(
                f"already has a volume named {constants.AGENT_VOLUME}, which the wiring uses"
            )
    tags = request.get("tags")
    if tags is not None and not (
        isinstance(tags, list) and all(isinstance(t, Mapping) and {"key", "value"} <= set(t) for t in tags)
    ):
        raise TaskDefinitionError('has tags that are not a list of {"key", "value"} objects')
    return request


def load_task_definition(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise TaskDefinitionError(f"is not valid JSON ({error})") from None
    except UnicodeDecodeError:
        raise TaskDefinitionError("is not UTF-8 text (a JSON file is)") from None
    return parse_task_definition(data)


def load_container_definitions(path: Path) -> list[dict[str, Any]]:
    """The container-definition list in ``path``; ValueError saying what is wrong with it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"is not valid JSON ({error})") from None
    except UnicodeDecodeError:
        raise ValueError("is not UTF-8 text (a JSON file is)") from None
    except OSError as error:
        raise ValueError(f"cannot be read ({error.strerror})") from None
    if not isinstance(data, list) or not data or not all(isinstance(item, dict) for item in data):
        raise ValueError("must hold a non-empty JSON list of container definitions (objects)")
    return check_container_definitions(data)


def check_container_definitions(data: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``data`` if ECS would take it: named containers, once each, string env values."""
    if not all(isinstance(item.get("name"), str) and item["name"] for item in data):
        raise ValueError("has a container definition without a name")
    names = [item["name"] for item in data]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"has more than one container named {', '.join(repeated)}; ECS refuses that")
    for item in data:
        for section, value_key in (("environment", "value"), ("secrets", "valueFrom")):
            entries = item.get(section, [])
            if not isinstance(entries, list):
                raise ValueError(f"container {item['name']}: {section} is not a list")
            for entry in entries:
                if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
                    raise ValueError(f"container {item['name']}: {section} has an entry without a name")
                if not isinstance(entry.get(value_key), str):
                    raise ValueError(
                        f"container {item['name']}: {section} {entry['name']} has a {value_key} that is "
                        f"not a string ({json.dumps(entry.get(value_key))}); ECS takes strings only, quote it"
                    )
    return data


# Plain environment values that look like credentials: ECS shows `environment` to anyone who
# can describe the task definition, so they belong in `secrets` (valueFrom).
_SECRET_NAME_RE = re.compile(
    r"(?:^|_)(?:TOKEN|PASSWORD|PASSWD|SECRET|API_?KEY|PRIVATE_?KEY|CREDENTIALS?)(?:_|$)"
)
_SECRET_VALUE_RE = re.compile(
    r"glc_[A-Za-z0-9+/=_-]{20,}|AKIA[0-9A-Z]{16}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.|"
    r"gh[pousr]_[A-Za-z0-9]{30,}|xox[abpr]-[A-Za-z0-9-]{10,}|-----BEGIN [A-Z ]*PRIVATE KEY-----"
)


# Names that point at a secret rather than hold one (DB_PASSWORD_FILE, API_KEY_SECRET_ARN).
_REFERENCE_SUFFIXES = ("_FILE", "_PATH", "_ARN", "_NAME", "_ID", "_URL", "_REGION", "_ENABLED")


def plain_secret_problems(definitions: list[dict[str, Any]]) -> list[str]:
    """``environment`` entries of ``definitions`` that look like credentials (name or value)."""
    found: list[str] = []
    for item in definitions:
        for entry in item.get("environment", []):
            name, value = entry["name"], entry["value"]
            by_name = _SECRET_NAME_RE.search(name.upper()) and not name.upper().endswith(_REFERENCE_SUFFIXES)
            if value and (by_name or _SECRET_VALUE_RE.search(value)):
                found.append(f"{item['name']}: {name}")
    return found
