"""A service's whole ECS task definition, kept whole: parse it, wire it, register it.

The input is the ECS ``RegisterTaskDefinition`` request (camelCase JSON; ``aws ecs
describe-task-definition`` output is accepted too: its read-only fields are dropped). Wiring
changes only what profiling needs - the wired containers' environment/secrets, and for an
injected agent one non-essential container, one task volume, a read-only mount and a
``dependsOn`` - and every other field reaches ``aws.ecs.TaskDefinition`` unchanged. The render
turns the registered inputs back into the request (:func:`register_request`), so what review
shows is what ECS receives, checked against botocore's model and moto in the tests.

Reading and checking the file is ``ecs_files.py`` (the config checks read it too). Field names:
botocore's ECS model (``RegisterTaskDefinition``) on one side, pulumi-aws 7 ``ecs.TaskDefinition``
inputs on the other. Where the provider has no input for a request field
(``inferenceAccelerators``, ``trustedExecutionConfiguration``) the file is refused: dropping it
would silently change the service.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pyroscope_bundle import constants
from pyroscope_bundle.ecs_files import SCALAR_FIELDS, TaskDefinitionError
from pyroscope_bundle.wiring import agents
from pyroscope_bundle.wiring.agents import AgentInjection

# Fields pulumi-aws stores as a string although ECS takes a number: cpu/memory are strings both ways.
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def fargate_request(
    family: str, container_definitions: list[dict[str, Any]], cpu: str, memory: str
) -> dict[str, Any]:
    """The request for a service given only by its container definitions: Fargate, awsvpc."""
    return {
        "family": family,
        "containerDefinitions": container_definitions,
        "cpu": cpu,
        "memory": memory,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
    }


def with_agent(
    request: Mapping[str, Any], injection: AgentInjection, containers: Sequence[str]
) -> dict[str, Any]:
    """The request with the agent container, its task volume, and the wired containers (those in
    ``containers``, or every one) mounting it read-only and waiting for it to complete."""
    wired = copy.deepcopy(dict(request))
    definitions = wired["containerDefinitions"]
    if any(d.get("name") == constants.AGENT_CONTAINER for d in definitions):
        raise TaskDefinitionError(f"already has a container named {constants.AGENT_CONTAINER}")
    targets = [d for d in definitions if not containers or d.get("name") in containers]
    for definition in targets:
        definition["mountPoints"] = [*(definition.get("mountPoints") or []), agents.ecs_mount()]
        definition["dependsOn"] = [*(definition.get("dependsOn") or []), agents.ecs_dependency()]
    # The agent container logs where the first wired container does (its errors say why a task
    # did not start).
    logs = targets[0].get("logConfiguration") if targets else None
    wired["containerDefinitions"] = [*definitions, agents.ecs_agent_container(injection, logs)]
    wired["volumes"] = [*(wired.get("volumes") or []), agents.ecs_volume()]
    return wired


# --- request <-> pulumi-aws TaskDefinition inputs ------------------------------------------------


def _volume_args(volume: Mapping[str, Any]) -> dict[str, Any]:
    args: dict[str, Any] = {"name": volume["name"]}
    host = volume.get("host")
    if isinstance(host, Mapping) and host.get("sourcePath"):
        args["host_path"] = host["sourcePath"]
    if "configuredAtLaunch" in volume:
        args["configure_at_launch"] = volume["configuredAtLaunch"]
    docker = volume.get("dockerVolumeConfiguration")
    if docker:
        args["docker_volume_configuration"] = {
            _snake(key): value for key, value in docker.items()
        }  # driverOpts/labels are maps: their own keys stay as they are
    efs = volume.get("efsVolumeConfiguration")
    if efs:
        args["efs_volume_configuration"] = _snake_structure(efs)
    fsx = volume.get("fsxWindowsFileServerVolumeConfiguration")
    if fsx:
        args["fsx_windows_file_server_volume_configuration"] = _snake_structure(fsx)
    s3files = volume.get("s3filesVolumeConfiguration")
    if s3files:
        args["s3files_volume_configuration"] = _snake_structure(s3files)
    return args


def _snake(key: str) -> str:
    return _CAMEL.sub("_", key).lower()


def _snake_structure(value: Mapping[str, Any]) -> dict[str, Any]:
    """Nested structures whose keys are all field names (no free-form maps inside)."""
    return {
        _snake(key): _snake_structure(item) if isinstance(item, Mapping) else item
        for key, item in value.items()
    }


def task_definition_args(request: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``aws.ecs.TaskDefinition`` (without ``container_definitions`` and
    ``tags``, which the caller sets) carrying every other field of ``request``."""
    args: dict[str, Any] = {
        SCALAR_FIELDS[key]: request[key] for key in SCALAR_FIELDS if request.get(key) is not None
    }
    if request.get("volumes"):
        args["volumes"] = [_volume_args(volume) for volume in request["volumes"]]
    if request.get("placementConstraints"):
        args["placement_constraints"] = [dict(item) for item in request["placementConstraints"]]
    proxy = request.get("proxyConfiguration")
    if proxy:
        args["proxy_configuration"] = {
            "container_name": proxy.get("containerName"),
            "type": proxy.get("type", "APPMESH"),
            "properties": {item["name"]: item["value"] for item in proxy.get("properties") or []},
        }
    storage = request.get("ephemeralStorage")
    if storage:
        args["ephemeral_storage"] = {"size_in_gib": storage["sizeInGiB"]}
    platform = request.get("runtimePlatform")
    if platform:
        args["runtime_platform"] = _snake_structure(platform)
    return args


def request_tags(request: Mapping[str, Any]) -> dict[str, str]:
    return {str(tag["key"]): str(tag["value"]) for tag in request.get("tags") or []}


_INPUT_FIELDS = (*SCALAR_FIELDS, "containerDefinitions")


def register_request(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """A TaskDefinition's registered inputs (pulumi wire names) as the RegisterTaskDefinition
    request ECS receives - the inverse of :func:`task_definition_args`."""
    request: dict[str, Any] = {key: inputs[key] for key in _INPUT_FIELDS if inputs.get(key) is not None}
    volumes = inputs.get("volumes")
    if isinstance(volumes, list) and volumes:
        request["volumes"] = [_volume_request(volume) for volume in volumes]
    if inputs.get("placementConstraints"):
        request["placementConstraints"] = inputs["placementConstraints"]
    proxy = inputs.get("proxyConfiguration")
    if isinstance(proxy, Mapping):
        request["proxyConfiguration"] = {
            "containerName": proxy.get("containerName"),
            "type": proxy.get("type"),
            "properties": [
                {"name": k, "value": v} for k, v in sorted((proxy.get("properties") or {}).items())
            ],
        }
    storage = inputs.get("ephemeralStorage")
    if isinstance(storage, Mapping) and storage.get("sizeInGib") is not None:
        request["ephemeralStorage"] = {"sizeInGiB": int(storage["sizeInGib"])}
    if isinstance(inputs.get("runtimePlatform"), Mapping):
        request["runtimePlatform"] = dict(inputs["runtimePlatform"])
    tags = inputs.get("tags")
    if isinstance(tags, Mapping) and tags:
        request["tags"] = [{"key": key, "value": value} for key, value in sorted(tags.items())]
    return request


def _volume_request(volume: Mapping[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = {"name": volume.get("name")}
    if volume.get("hostPath"):
        request["host"] = {"sourcePath": volume["hostPath"]}
    if "configureAtLaunch" in volume:
        request["configuredAtLaunch"] = volume["configureAtLaunch"]
    for key in (
        "dockerVolumeConfiguration",
        "efsVolumeConfiguration",
        "fsxWindowsFileServerVolumeConfiguration",
        "s3filesVolumeConfiguration",
    ):
        if volume.get(key):
            request[key] = volume[key]
    return request
