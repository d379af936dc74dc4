"""The wiring the real program registers under mocks, per platform and runtime."""

from __future__ import annotations

import json

import pytest
from pulumi.runtime import rpc
from pyroscope_bundle.render.writer import ecs_register_request
from pyroscope_bundle.testing import rollout_hash

from tests.harness import Deployed, deploy_with

TOKEN = "glc_eyJrIjoiZmFrZSJ9"
TOKEN_HASH = rollout_hash(TOKEN)
CLOUD = {"kind": "grafana-cloud", "url": "https://profiles-prod-001.grafana.net", "basicAuthUser": "123456"}
PATCH = "kubernetes:apps/v1:DeploymentPatch"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
RUNTIMES = ("java", "dotnet", "nodejs", "python", "go", "ruby")
SECRET_ARN = (
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:pyroscope/production/profiler-credentials-AbCdEf"
)
ECS_FILE = {
    "payments-api": "configs/ecs/payments-api.json",
    "billing-worker": "configs/ecs/billing-worker.json",
}


def k8s(name: str, runtime: str, **extra) -> dict:
    return {
        "name": name,
        "platform": "kubernetes",
        "runtime": runtime,
        "kubernetes": {"namespace": "shop"},
        **extra,
    }


def ecs(name: str, runtime: str, file: str = "payments-api", **extra) -> dict:
    ecs_settings = {"containerDefinitions": ECS_FILE[file], **extra.pop("ecs", {})}
    return {"name": name, "platform": "ecs", "runtime": runtime, "ecs": ecs_settings, **extra}


def deploy(services: list[dict], target: dict | None = None, **kwargs) -> Deployed:
    return deploy_with(
        {
            "server": {"enabled": False},
            "grafana": {"mode": "none"},
            "target": target or CLOUD,
            "services": services,
        },
        stack="production",
        secrets={"authToken": TOKEN},
        **kwargs,
    )


@pytest.fixture(scope="module")
def every_runtime() -> Deployed:
    """One Kubernetes and one ECS service per runtime, sent to Grafana Cloud."""
    services = [k8s(f"k8s-{runtime}", runtime, version="1.0.0") for runtime in RUNTIMES]
    services += [
        ecs(f"ecs-{runtime}", runtime, "billing-worker" if runtime == "dotnet" else "payments-api",
            ecs={"family": f"ecs-{runtime}"})
        for runtime in RUNTIMES
    ]  # fmt: skip
    return deploy(services)


def env_of_patch(resource) -> dict:
    (container,) = resource.inputs["spec"]["template"]["spec"]["containers"]
    return {entry["name"]: entry.get("value", entry.get("valueFrom")) for entry in container["env"]}


RUNTIME_SPECIFIC = {
    "java": {
        "PYROSCOPE_AGENT_ENABLED",
        "PYROSCOPE_PROFILING_INTERVAL",
        "PYROSCOPE_PROFILER_EVENT",
        "JAVA_TOOL_OPTIONS",
    },
    "dotnet": {
        "PYROSCOPE_PROFILING_ENABLED", "CORECLR_ENABLE_PROFILING", "CORECLR_PROFILER",
        "CORECLR_PROFILER_PATH",
        "LD_PRELOAD", "LD_LIBRARY_PATH", "PYROSCOPE_PROFILING_CPU_ENABLED",
        "PYROSCOPE_PROFILING_WALLTIME_ENABLED",
        "PYROSCOPE_PROFILING_ALLOCATION_ENABLED", "PYROSCOPE_PROFILING_LOCK_ENABLED",
        "PYROSCOPE_PROFILING_EXCEPTION_ENABLED", "PYROSCOPE_PROFILING_HEAP_ENABLED",
    },
    "nodejs": {"PYROSCOPE_PROFILING_ENABLED", "PYROSCOPE_SAMPLE_RATE", "PYROSCOPE_PROFILE_TYPES",
               "PYROSCOPE_WALL_SAMPLING_INTERVAL_MICROS"},
    "python": {"PYROSCOPE_PROFILING_ENABLED", "PYROSCOPE_SAMPLE_RATE", "PYROSCOPE_PROFILE_TYPES"},
    "go": {"PYROSCOPE_PROFILING_ENABLED", "PYROSCOPE_PROFILE_TYPES"},
    "ruby": {"PYROSCOPE_PROFILING_ENABLED", "PYROSCOPE_SAMPLE_RATE", "PYROSCOPE_PROFILE_TYPES"},
}  # fmt: skip


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_kubernetes_patch_env_per_runtime(every_runtime, runtime):
    patch = every_runtime.one(PATCH, f"profiler-k8s-{runtime}")
    assert patch.inputs["metadata"] == {
        "name": f"k8s-{runtime}",
        "namespace": "shop",
        "labels": {"pyroscope-bundle/profiled": "true"},
    }
    env = env_of_patch(patch)
    assert env == {
        "PYROSCOPE_APPLICATION_NAME": f"k8s-{runtime}",
        "PYROSCOPE_SERVER_ADDRESS": "https://profiles-prod-001.grafana.net",
        "PYROSCOPE_BASIC_AUTH_USER": "123456",
        "PYROSCOPE_BASIC_AUTH_PASSWORD": {
            "secretKeyRef": {"name": "pyroscope-profiler-credentials", "key": "password"}
        },
        "PYROSCOPE_LABELS": f"environment=production,service=k8s-{runtime},version=1.0.0",
        **{name: env[name] for name in RUNTIME_SPECIFIC[runtime]},
    }
    (container,) = patch.inputs["spec"]["template"]["spec"]["containers"]
    assert [entry["name"] for entry in container["env"]] == sorted(env)
    assert container["name"] == f"k8s-{runtime}"
    template_metadata = patch.inputs["spec"]["template"]["metadata"]
    assert template_metadata["labels"]["pyroscope-bundle/runtime"] == runtime
    assert template_metadata["annotations"]["pyroscope-bundle/credentials-hash"] == TOKEN_HASH
    assert TOKEN not in json.dumps(patch.raw_inputs, default=str)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_ecs_task_definition_per_runtime(every_runtime, runtime):
    task = every_runtime.one(TASK, f"profiler-ecs-{runtime}")
    assert not task.is_secret("containerDefinitions")
    request = ecs_register_request(task.record)
    container = request["containerDefinitions"][0]
    environment = {e["name"]: e["value"] for e in container["environment"]}
    ours = {
        name: value for name, value in environment.items() if name not in ("LOG_LEVEL", "DOTNET_ENVIRONMENT")
    }
    assert ours == {
        "PYROSCOPE_APPLICATION_NAME": f"ecs-{runtime}",
        "PYROSCOPE_SERVER_ADDRESS": "https://profiles-prod-001.grafana.net",
        "PYROSCOPE_BASIC_AUTH_USER": "123456",
        "PYROSCOPE_LABELS": f"environment=production,service=ecs-{runtime}",
        "PYROSCOPE_BUNDLE_CREDENTIALS_HASH": TOKEN_HASH,
        **{name: ours[name] for name in RUNTIME_SPECIFIC[runtime]},
    }
    assert container["secrets"] == [
        {"name": "PYROSCOPE_BASIC_AUTH_PASSWORD", "valueFrom": f"{SECRET_ARN}:password::"}
    ]
    assert [e["name"] for e in container["environment"]] == sorted(environment)
    assert TOKEN not in json.dumps(request)
    assert request["executionRoleArn"] == f"arn:aws:iam::123456789012:role/ecs-{runtime}-production-execution"
    assert request["requiresCompatibilities"] == ["FARGATE"] and request["networkMode"] == "awsvpc"


def test_runtime_specific_values(every_runtime):
    java = env_of_patch(every_runtime.one(PATCH, "profiler-k8s-java"))
    assert java["PYROSCOPE_PROFILER_EVENT"] == "itimer" and java["PYROSCOPE_PROFILING_INTERVAL"] == "10ms"
    # Without the agent attached the JVM ignores every PYROSCOPE_* variable.
    assert java["JAVA_TOOL_OPTIONS"] == "-javaagent:/opt/pyroscope/pyroscope.jar"
    dotnet = env_of_patch(every_runtime.one(PATCH, "profiler-k8s-dotnet"))
    assert dotnet["CORECLR_PROFILER"] == "{BD1A650D-AC5D-4896-B64F-D6FA25D6B26A}"
    assert dotnet["LD_PRELOAD"] == "/dotnet/Pyroscope.Linux.ApiWrapper.x64.so"
    assert dotnet["PYROSCOPE_PROFILING_CPU_ENABLED"] == "true"
    python = env_of_patch(every_runtime.one(PATCH, "profiler-k8s-python"))
    assert python["PYROSCOPE_PROFILE_TYPES"] == "cpu" and python["PYROSCOPE_SAMPLE_RATE"] == "100"
    node = env_of_patch(every_runtime.one(PATCH, "profiler-k8s-nodejs"))
    assert node["PYROSCOPE_WALL_SAMPLING_INTERVAL_MICROS"] == "10000"


def test_token_is_a_secret_everywhere_it_flows(every_runtime):
    secret = every_runtime.one("kubernetes:core/v1:Secret")
    assert secret.inputs["metadata"]["name"] == "pyroscope-profiler-credentials"
    assert secret.inputs["metadata"]["namespace"] == "shop"
    assert secret.is_secret("stringData")
    assert rpc.unwrap_rpc_secret(secret.raw_inputs["stringData"]) == {"password": TOKEN}
    version = every_runtime.one("aws:secretsmanager/secretVersion:SecretVersion")
    assert version.is_secret("secretString")
    assert json.loads(rpc.unwrap_rpc_secret(version.raw_inputs["secretString"])) == {"password": TOKEN}
    assert (
        every_runtime.one("aws:secretsmanager/secret:Secret").inputs["name"]
        == "pyroscope/production/profiler-credentials"
    )
    assert "profilerBasicAuthPassword" in every_runtime.run.secret_outputs
    plain_outputs = {
        k: v for k, v in every_runtime.outputs.items() if k not in every_runtime.run.secret_outputs
    }
    assert TOKEN not in json.dumps(plain_outputs, default=str)
    for resource in every_runtime.resources:
        if resource.type not in (
            "kubernetes:core/v1:Secret",
            "aws:secretsmanager/secretVersion:SecretVersion",
        ):
            assert TOKEN not in json.dumps(resource.inputs, default=str), resource.name


def test_iam_policy_grants_exactly_the_secret_to_the_execution_roles(every_runtime):
    policy = every_runtime.one("aws:iam/policy:Policy")
    document = json.loads(policy.inputs["policy"])
    assert document["Statement"] == [
        {
            "Sid": "ReadProfilerCredentials",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": [SECRET_ARN],
        }
    ]
    attachments = every_runtime.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    reads = {a.inputs["role"] for a in attachments if a.inputs["policyArn"].endswith("profiler-secret-read")}
    assert reads == {f"ecs-{runtime}-production-execution" for runtime in RUNTIMES}
    role = every_runtime.one("aws:iam/role:Role", "profiler-ecs-python-execution")
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    outputs = every_runtime.outputs
    assert outputs["profilerSecretArn"] == SECRET_ARN
    assert (
        outputs["profilerSecretReadPolicyArn"]
        == "arn:aws:iam::123456789012:policy/pyroscope-production-profiler-secret-read"
    )
    assert outputs["profilerServerAddress"] == "https://profiles-prod-001.grafana.net"


def test_existing_secrets_kms_key_and_named_execution_role():
    existing_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shared/profiling-XyZ123"
    kms = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    existing = {
        "awsSecretArn": existing_arn,
        "kmsKeyArn": kms,
        "awsSecretJsonKey": "pyroscopeToken",
        "kubernetesSecretName": "app-secrets",
        "kubernetesSecretKey": "PYROSCOPE_TOKEN",
    }
    target = {**CLOUD, "existingSecrets": existing}
    deployed = deploy(
        [k8s("checkout", "java"), ecs("payments-api", "python", ecs={"executionRoleName": "payments-exec"})],
        target,
    )
    assert not deployed.of_type("aws:secretsmanager/secret:Secret")
    assert not deployed.of_type("kubernetes:core/v1:Secret")
    assert not deployed.of_type("aws:iam/role:Role")
    statements = json.loads(deployed.one("aws:iam/policy:Policy").inputs["policy"])["Statement"]
    assert statements[0]["Resource"] == [existing_arn]
    assert statements[1] == {
        "Sid": "DecryptProfilerCredentials",
        "Effect": "Allow",
        "Action": ["kms:Decrypt"],
        "Resource": [kms],
    }
    (attachment,) = deployed.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert attachment.inputs["role"] == "payments-exec"
    request = ecs_register_request(deployed.one(TASK).record)
    assert request["executionRoleArn"] == "arn:aws:iam::123456789012:role/payments-exec"
    container = request["containerDefinitions"][0]
    assert container["secrets"] == [
        {"name": "PYROSCOPE_BASIC_AUTH_PASSWORD", "valueFrom": f"{existing_arn}:pyroscopeToken::"}
    ]
    assert "PYROSCOPE_BUNDLE_CREDENTIALS_HASH" not in {e["name"] for e in container["environment"]}
    env = env_of_patch(deployed.one(PATCH))
    assert env["PYROSCOPE_BASIC_AUTH_PASSWORD"] == {
        "secretKeyRef": {"name": "app-secrets", "key": "PYROSCOPE_TOKEN"}
    }


def test_created_secret_uses_the_customer_managed_key():
    kms = "arn:aws:kms:eu-west-1:123456789012:key/33333333-3333-3333-3333-333333333333"
    deployed = deploy([ecs("payments-api", "python")], {**CLOUD, "existingSecrets": {"kmsKeyArn": kms}})
    assert deployed.one("aws:secretsmanager/secret:Secret").inputs["kmsKeyId"] == kms
    actions = [
        s["Action"] for s in json.loads(deployed.one("aws:iam/policy:Policy").inputs["policy"])["Statement"]
    ]
    assert actions == [["secretsmanager:GetSecretValue"], ["kms:Decrypt"]]


def test_network_policy_only_when_asked():
    deployed = deploy(
        [
            k8s("checkout", "java", kubernetes={"namespace": "shop", "networkPolicy": True}),
            k8s("search", "go"),
        ]
    )
    (policy,) = deployed.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    assert policy.inputs["metadata"]["name"] == "pyroscope-egress-checkout"
    assert policy.inputs["spec"]["egress"][1]["ports"] == [{"protocol": "TCP", "port": 443}]


@pytest.mark.parametrize(
    ("target_switch", "service_switch"), [(False, True), (True, False)], ids=["global-off", "service-off"]
)
def test_disabled_means_no_wiring_resources(target_switch, service_switch):
    deployed = deploy(
        [
            k8s("checkout", "java", enabled=service_switch),
            ecs("payments-api", "python", enabled=service_switch),
        ],
        {**CLOUD, "enabled": target_switch},
    )
    wiring = [r for r in deployed.resources if r.type != "pulumi:providers:kubernetes"]
    assert wiring == []
    assert "profiledServices" not in deployed.outputs
    if not target_switch:
        assert not any(key.startswith("profiler") for key in deployed.outputs)
    else:
        # Where to push stays exported for consumer stacks even when this stack wires nothing.
        assert deployed.outputs["profilerServerAddress"] == CLOUD["url"]


def test_self_target_without_push_endpoint_wires_nothing(tmp_path):
    from pyroscope_bundle.config import load_config
    from pyroscope_bundle.config.routing import config_routes
    from pyroscope_bundle.wiring import deploy_wiring, resolve_target

    config = load_config({"server": {"backend": "kubernetes"}, "services": [k8s("checkout", "java")]}, "test")
    assert config.target.kind == "self"
    assert resolve_target(config_routes(config), None, None) is None
    assert deploy_wiring(config, None, tmp_path) == {}


def test_rendering_twice_gives_identical_wiring():
    services = [k8s("checkout", "java"), ecs("payments-api", "python")]
    first, second = deploy(services), deploy(services)
    wiring_types = (PATCH, TASK, "aws:iam/policy:Policy")
    assert [r.inputs for r in first.resources if r.type in wiring_types] == [
        r.inputs for r in second.resources if r.type in wiring_types
    ]


def test_java_agent_path_is_configurable_or_left_to_the_image():
    deployed = deploy(
        [
            k8s("custom-jar", "java", javaAgentPath="/app/agents/pyroscope.jar"),
            k8s("image-attaches", "java", javaAgentPath=None),
        ]
    )
    custom = env_of_patch(deployed.one(PATCH, "profiler-custom-jar"))
    assert custom["JAVA_TOOL_OPTIONS"] == "-javaagent:/app/agents/pyroscope.jar"
    assert "JAVA_TOOL_OPTIONS" not in env_of_patch(deployed.one(PATCH, "profiler-image-attaches"))


def test_wired_services_take_resource_options():
    """Another program can parent the grouping component under its own (and protect, alias...)."""
    import pulumi
    from pyroscope_bundle.render.runner import run_program
    from pyroscope_bundle.wiring import WiredServices

    def program() -> None:
        outer = pulumi.ComponentResource("consumer:index:Profiling", "profiling")
        WiredServices("shop-services", "kubernetes", opts=pulumi.ResourceOptions(parent=outer))

    run = run_program(program, stack="test", config={}, secret_keys=[])
    [group] = [r for r in run.recording.resources if r.name == "shop-services"]
    assert group.type == "pyroscope-bundle:wiring:WiredServices"
    # Registered as wiring:KubernetesServices before: aliased, deployed stacks keep the group.
    assert {"type": "pyroscope-bundle:wiring:KubernetesServices"} in group.aliases
    assert group.parent_urn.endswith("consumer:index:Profiling::profiling")
