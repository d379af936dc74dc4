"""Whole ECS task definitions, kept whole: everything but profiling reaches ECS unchanged (the
render's request against the original file), judged by botocore's RegisterTaskDefinition model
and moto's ECS; the injected agent is a non-essential container the app waits for."""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.validate import ParamValidator
from moto import mock_aws
from pyroscope_bundle.config import ConfigError, load_config
from pyroscope_bundle.ecs_files import TaskDefinitionError, parse_task_definition
from pyroscope_bundle.endpoints import Endpoint
from pyroscope_bundle.render.runner import run_program
from pyroscope_bundle.render.writer import ecs_register_request
from pyroscope_bundle.wiring import agents
from pyroscope_bundle.wiring.ecs import ProfiledTaskDefinition
from pyroscope_bundle.wiring.settings import build_settings

from tests.harness import PROJECT_DIR, deploy_with
from tests.test_wiring_transforms import engine as transform_engine

REGION = "us-east-1"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
# Every structure RegisterTaskDefinition takes that pulumi-aws can carry (EC2: host volumes,
# placement, pid/ipc modes; App Mesh proxy; ephemeral storage and ARM64).
EVERYTHING: dict[str, Any] = {
    "family": "ledger",
    "taskRoleArn": "arn:aws:iam::123456789012:role/ledger-task",
    "executionRoleArn": "arn:aws:iam::123456789012:role/ledger-execution",
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["EC2"],
    "cpu": "1024",
    "memory": "2048",
    "pidMode": "task",
    "ipcMode": "none",
    "placementConstraints": [
        {"type": "memberOf", "expression": "attribute:ecs.availability-zone == eu-west-1a"}
    ],
    "proxyConfiguration": {
        "type": "APPMESH",
        "containerName": "envoy",
        "properties": [{"name": "AppPorts", "value": "8080"}, {"name": "ProxyIngressPort", "value": "15000"}],
    },
    "ephemeralStorage": {"sizeInGiB": 40},
    "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
    "volumes": [
        {"name": "journal", "host": {"sourcePath": "/var/lib/ledger"}},
        {
            "name": "cache",
            "dockerVolumeConfiguration": {
                "scope": "shared",
                "autoprovision": True,
                "driver": "local",
                "driverOpts": {"type": "tmpfs", "device": "tmpfs"},
                "labels": {"app": "ledger"},
            },
        },
        {
            "name": "reports",
            "efsVolumeConfiguration": {
                "fileSystemId": "fs-0123456789abcdef0",
                "rootDirectory": "/reports",
                "transitEncryption": "ENABLED",
                "transitEncryptionPort": 2999,
                "authorizationConfig": {"accessPointId": "fsap-0123456789abcdef0", "iam": "ENABLED"},
            },
        },
    ],
    "containerDefinitions": [
        {
            "name": "ledger",
            "image": "eclipse-temurin:21-jre",
            "essential": True,
            "memoryReservation": 1024,
            "environment": [{"name": "JAVA_TOOL_OPTIONS", "value": "-XX:MaxRAMPercentage=75"}],
            "mountPoints": [{"sourceVolume": "journal", "containerPath": "/var/lib/ledger"}],
            "dependsOn": [{"containerName": "envoy", "condition": "HEALTHY"}],
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/ledger"}},
        },
        {
            "name": "envoy",
            "image": "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.12.1-prod",
            "essential": True,
            "user": "1337",
            "healthCheck": {"command": ["CMD-SHELL", "curl -s http://localhost:9901/ready"]},
        },
    ],
    "tags": [{"key": "team", "value": "ledger"}],
}
ENDPOINT = Endpoint(url="https://profiles.example.com", basic_auth_user="123456")


def register_shape() -> Any:
    model = botocore.session.get_session().get_service_model("ecs")
    return model.operation_model("RegisterTaskDefinition").input_shape


def registered_request(
    request: dict[str, Any], injection: agents.AgentInjection | None, containers: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Run the component under mocks and return the request the render shows (= what ECS gets)."""
    settings = build_settings(
        service="ledger",
        runtime="java",
        environment="prod",
        endpoint=ENDPOINT,
        agent=injection,
        java_options_variable="JDK_JAVA_OPTIONS",
    )

    def program() -> None:
        ProfiledTaskDefinition(
            "profiler-ledger",
            settings,
            task_definition=request,
            stack="prod",
            credentials=None,
            containers=containers,
        )

    run = run_program(program, stack="prod", config={}, secret_keys=[])
    (record,) = [r for r in run.recording.resources if r.type == TASK]
    assert record.inputs["skipDestroy"] is True, "replaced or unwired revisions stay registered"
    return ecs_register_request(record)


# What the wiring sets (the tasks' own JAVA_TOOL_OPTIONS is not among it).
WIRED_PREFIXES = ("PYROSCOPE_", "JDK_JAVA_OPTIONS", "CORECLR_", "LD_PRELOAD", "LD_LIBRARY_PATH")


def without_wiring(request: dict[str, Any]) -> dict[str, Any]:
    """``request`` minus what profiling adds, to compare with the original file."""
    stripped = copy.deepcopy(request)
    stripped["containerDefinitions"] = [
        c for c in stripped["containerDefinitions"] if c["name"] != "pyroscope-agent"
    ]
    stripped["volumes"] = [v for v in stripped.get("volumes", []) if v["name"] != "pyroscope-agent"]
    for container in stripped["containerDefinitions"]:
        container["environment"] = [
            e for e in container.get("environment", []) if not e["name"].startswith(WIRED_PREFIXES)
        ]
        for key, marker in (("mountPoints", "sourceVolume"), ("dependsOn", "containerName")):
            kept = [e for e in container.get(key, []) if e[marker] != "pyroscope-agent"]
            if kept:
                container[key] = kept
            else:
                container.pop(key, None)
        if not container["environment"]:
            container.pop("environment")
    return stripped


def normalised(request: dict[str, Any]) -> str:
    return json.dumps(request, sort_keys=True)


@pytest.mark.parametrize("agent", ["copy", "image"])
def test_every_field_of_the_task_definition_is_kept(agent):
    injection = (
        agents.copy_injection("java", "registry.example.com/agents/java:2.9.1") if agent == "copy" else None
    )
    request = registered_request(EVERYTHING, injection, containers=("ledger",))
    assert normalised(without_wiring(request)) == normalised(EVERYTHING)
    report = ParamValidator().validate(request, register_shape())
    assert not report.has_errors(), report.generate_report()


def test_the_agent_container_fills_a_task_volume_the_app_waits_for():
    injection = agents.copy_injection("java", "registry.example.com/agents/java:2.9.1")
    request = registered_request(EVERYTHING, injection, containers=("ledger",))
    by_name = {c["name"]: c for c in request["containerDefinitions"]}
    agent, app, envoy = by_name["pyroscope-agent"], by_name["ledger"], by_name["envoy"]
    assert agent["essential"] is False
    assert agent["image"] == "registry.example.com/agents/java:2.9.1"
    assert [*agent["entryPoint"], *agent["command"]] == [
        "cp",
        "/pyroscope.jar",
        "/pyroscope-agent/pyroscope.jar",
    ]
    assert agent["mountPoints"] == [{"sourceVolume": "pyroscope-agent", "containerPath": "/pyroscope-agent"}]
    assert agent["readonlyRootFilesystem"] is True
    assert agent["linuxParameters"] == {"capabilities": {"drop": ["ALL"]}}
    assert agent["dockerLabels"] == {
        "pyroscope-bundle/agent-source": "copied from registry.example.com/agents/java:2.9.1"
    }
    assert agent["logConfiguration"] == app["logConfiguration"], "its errors land where the app's do"
    assert {"containerName": "pyroscope-agent", "condition": "COMPLETE"} in app["dependsOn"]
    assert {"containerName": "envoy", "condition": "HEALTHY"} in app["dependsOn"], "the app's own stay"
    assert {"sourceVolume": "pyroscope-agent", "containerPath": "/pyroscope-agent", "readOnly": True} in app[
        "mountPoints"
    ]
    environment = {e["name"]: e["value"] for e in app["environment"]}
    assert environment["JAVA_TOOL_OPTIONS"] == "-XX:MaxRAMPercentage=75", "the task's own flags stay"
    assert environment["JDK_JAVA_OPTIONS"] == "-javaagent:/pyroscope-agent/pyroscope.jar"
    assert "pyroscope-agent" not in json.dumps(envoy), "containers not wired are untouched"
    assert {"name": "pyroscope-agent"} in request["volumes"]


@pytest.mark.parametrize("launch", ["EC2", "FARGATE"])
def test_moto_registers_it_and_keeps_role_volumes_and_platform(launch):
    request = copy.deepcopy(EVERYTHING)
    request["requiresCompatibilities"] = [launch]
    if launch == "FARGATE":
        # Fargate takes no host volumes, placement constraints or pid/ipc task modes.
        request["volumes"] = [
            v for v in request["volumes"] if "host" not in v and "dockerVolumeConfiguration" not in v
        ]
        request["containerDefinitions"][0]["mountPoints"] = []
        for key in ("placementConstraints", "pidMode", "ipcMode"):
            request.pop(key)
        request["containerDefinitions"][0].pop("mountPoints")
    wired = registered_request(request, agents.copy_injection("java", "agents:2.9.1"), containers=("ledger",))
    with mock_aws():
        ecs = boto3.client("ecs", region_name=REGION)
        registered = ecs.register_task_definition(**wired)["taskDefinition"]
        described = ecs.describe_task_definition(taskDefinition=registered["taskDefinitionArn"])[
            "taskDefinition"
        ]
    assert described["taskRoleArn"] == EVERYTHING["taskRoleArn"]
    assert described["runtimePlatform"] == {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}
    assert described["requiresCompatibilities"] == [launch]
    assert [v["name"] for v in described["volumes"]] == [v["name"] for v in request["volumes"]] + [
        "pyroscope-agent"
    ]
    assert [c["name"] for c in described["containerDefinitions"]] == ["ledger", "envoy", "pyroscope-agent"]


def test_shipped_whole_task_definitions_keep_everything(rendered):
    for stack, family in (("production", "billing-worker"), ("staging", "ledger")):
        original = json.loads(
            (PROJECT_DIR / "configs" / "ecs" / f"{family}.task-definition.json").read_text()
        )
        request = json.loads((rendered[stack] / "ecs" / f"{family}.json").read_text())
        if "executionRoleArn" not in original:
            # No execution role of its own: one is created to read the profiler secret.
            assert request.pop("executionRoleArn").endswith(f":role/{family}-{stack}-execution")
        stripped = without_wiring(request)
        for container in stripped["containerDefinitions"]:
            container.pop("secrets", None)  # the profiler password, from Secrets Manager
        assert normalised(stripped) == normalised(original), family
        assert request["runtimePlatform"]["cpuArchitecture"] == "ARM64"
        assert request["taskRoleArn"] == original["taskRoleArn"]


REFUSED: dict[str, tuple[dict[str, Any], str]] = {
    "inference-accelerators": (
        {"inferenceAccelerators": [{"deviceName": "d", "deviceType": "eia2.medium"}]},
        "cannot register",
    ),
    "unknown-field": ({"taskRole": "arn:aws:iam::1:role/x"}, "not RegisterTaskDefinition fields"),
    "no-family": ({"family": ""}, "no family"),
    "agent-volume-taken": ({"volumes": [{"name": "pyroscope-agent"}]}, "already has a volume"),
    "no-containers": ({"containerDefinitions": []}, "non-empty list"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_file_the_wiring_cannot_keep_whole_is_refused(case):
    change, message = REFUSED[case]
    with pytest.raises(TaskDefinitionError, match=message):
        parse_task_definition({**EVERYTHING, **change})


def test_describe_task_definition_output_is_accepted():
    described = {
        "taskDefinition": {
            **EVERYTHING,
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/ledger:7",
            "revision": 7,
            "status": "ACTIVE",
            "compatibilities": ["EC2", "FARGATE"],
            "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.task-iam-role"}],
            "registeredAt": "2026-11-30T10:00:00Z",
            "registeredBy": "arn:aws:iam::123456789012:user/ci",
        }
    }
    assert parse_task_definition(described) == {k: v for k, v in EVERYTHING.items()}


def ecs_service(ecs: dict[str, Any], runtime: str = "java") -> dict[str, Any]:
    return {"name": "ledger", "platform": "ecs", "runtime": runtime, "ecs": ecs}


@pytest.mark.parametrize(
    ("ecs", "key", "fragment"),
    [
        (
            {
                "taskDefinition": "configs/ecs/ledger.task-definition.json",
                "containerDefinitions": "configs/ecs/payments-api.json",
            },
            "ecs.taskDefinition",
            "both set",
        ),
        (
            {"taskDefinition": "configs/ecs/ledger.task-definition.json", "cpu": "512"},
            "ecs.taskDefinition",
            "ecs.cpu",
        ),
        ({"taskDefinition": "configs/ecs/missing.json"}, "ecs.taskDefinition", "does not exist"),
        # The ledger task sets JAVA_TOOL_OPTIONS itself: the default variable would take it over.
        (
            {"taskDefinition": "configs/ecs/ledger.task-definition.json"},
            "ecs.taskDefinition",
            "JAVA_TOOL_OPTIONS",
        ),
    ],
    ids=["both-files", "cpu-beside-file", "missing-file", "java-options-taken"],
)
def test_task_definition_config_mistakes_are_refused(ecs, key, fragment):
    with pytest.raises(ConfigError) as caught:
        load_config(
            {"target": {"kind": "external", "url": "https://p.example.com"}, "services": [ecs_service(ecs)]},
            "t",
            project_root=PROJECT_DIR,
        )
    message = str(caught.value)
    assert f"pyroscope:services[0].{key}" in message and fragment in message, message


def test_the_java_options_variable_resolves_the_conflict():
    config = load_config(
        {
            "target": {"kind": "external", "url": "https://p.example.com"},
            "services": [
                {
                    **ecs_service({"taskDefinition": "configs/ecs/ledger.task-definition.json"}),
                    "agent": {"javaOptionsVariable": "JDK_JAVA_OPTIONS"},
                }
            ],
        },
        "t",
        project_root=PROJECT_DIR,
    )
    assert config.services[0].agent.java_options_variable == "JDK_JAVA_OPTIONS"


LEDGER = {
    "name": "ledger",
    "platform": "ecs",
    "runtime": "java",
    "agent": {"delivery": "copy", "image": "agents:2.9.1", "javaOptionsVariable": "JDK_JAVA_OPTIONS"},
    "ecs": {"taskDefinition": "configs/ecs/ledger.task-definition.json"},
}


@pytest.mark.parametrize(
    ("target_switch", "service_switch"), [(False, True), (True, False)], ids=["global-off", "service-off"]
)
def test_turning_profiling_off_registers_the_services_own_definition(target_switch, service_switch):
    """The family's newest revision is then one the service can run: no agent, no profiler secret
    or role; under the same resource name, so it is an update of the profiled one (skipDestroy
    keeps that registered for tasks still running it)."""
    deployed = deploy_with(
        {
            "server": {"enabled": False},
            "grafana": {"mode": "none"},
            "target": {"kind": "external", "url": "https://p.example.com", "enabled": target_switch},
            "services": [{**LEDGER, "enabled": service_switch}],
        },
        secrets={"authToken": "glc_token_0123456789"},
    )
    (task,) = deployed.of_type(TASK)
    assert task.name == "profiler-ledger" and task.inputs["skipDestroy"] is True
    original = json.loads((PROJECT_DIR / "configs" / "ecs" / "ledger.task-definition.json").read_text())
    request = ecs_register_request(task.record)
    assert normalised(request) == normalised(original)
    assert not ParamValidator().validate(request, register_shape()).has_errors()
    assert [r.type for r in deployed.resources if r.type.startswith("aws:")] == [TASK], (
        "no secret, role, policy"
    )
    on = deploy_with(
        {
            "server": {"enabled": False},
            "grafana": {"mode": "none"},
            "target": {"kind": "external", "url": "https://p.example.com"},
            "services": [LEDGER],
        },
        secrets={"authToken": "glc_token_0123456789"},
    )
    assert on.one(TASK).record.urn == task.record.urn, "the same resource: profiling off is an update"


engine = transform_engine  # the fixture: an event loop and mocks for Outputs


def test_the_ecs_transform_adds_the_agent_container_on_the_agent_tag(engine):
    from pyroscope_bundle.wiring.ecs import ecs_transform

    from tests.test_wiring_transforms import ARN, args, resolve, task_definition
    from tests.test_wiring_transforms import endpoint as cloud

    transform = ecs_transform(cloud(), "production", ARN)
    props = task_definition({"pyroscope-bundle:runtime": "dotnet", "pyroscope-bundle:agent": "copy"})
    props["volumes"] = [{"name": "data", "hostPath": "/data"}]
    result = transform(args(TASK, props))
    assert result is not None
    app, agent = json.loads(resolve(result.props["containerDefinitions"]))
    assert agent["name"] == "pyroscope-agent" and agent["essential"] is False
    assert agent["image"] == "grafana/pyroscope-dotnet:0.15.0-glibc"
    assert {"containerName": "pyroscope-agent", "condition": "COMPLETE"} in app["dependsOn"]
    environment = {e["name"]: e["value"] for e in app["environment"]}
    assert environment["CORECLR_PROFILER_PATH"] == "/pyroscope-agent/Pyroscope.Profiler.Native.so"
    assert result.props["volumes"] == [{"name": "data", "hostPath": "/data"}, {"name": "pyroscope-agent"}]
    # Python cannot be injected: the tag is refused, naming it.
    refused = task_definition({"pyroscope-bundle:runtime": "python", "pyroscope-bundle:agent": "copy"})
    with pytest.raises(ValueError, match="pyroscope-bundle:agent"):
        transform(args(TASK, refused))
