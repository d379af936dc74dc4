"""examples/consumer: a team's stack wires its own services from the profiling stack's outputs.

The consumer program runs under mocks; the engine's StackReference is mocked with the outputs
the profiling stack exports (the password as a secret output, as the engine hands it over).
"""

from __future__ import annotations

import importlib.util
import json
import runpy
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockResourceArgs
from pyroscope_bundle.render.mocks import BundleMocks
from pyroscope_bundle.render.runner import ProgramRun, run_program
from pyroscope_bundle.render.writer import ecs_register_request
from pyroscope_bundle.wiring.settings import credentials_hash_of

from tests.harness import PROJECT_DIR

EXAMPLE = PROJECT_DIR / "examples" / "consumer"
PROFILING_STACK = "acme/pyroscope/production"
TOKEN = "glc_example_token_0123456789abcdef"
IN_CLUSTER = "http://pyroscope-gateway.pyroscope.svc.cluster.local:4041"
EXTERNAL = "https://profiles.example.com"
SECRET_ARN = (
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:pyroscope/production/profiler-credentials-AbCdEf"
)
POLICY_ARN = "arn:aws:iam::123456789012:policy/pyroscope-production-profiler-secret-read"
# What the profiling stack exports with a Kubernetes server behind the gateway, exposed through
# an Ingress for ECS (see wiring/names.py and deploy_wiring).
AUTHENTICATED_OUTPUTS = {
    "profilerServerAddress": IN_CLUSTER,
    "profilerExternalServerAddress": EXTERNAL,
    "profilerBasicAuthUser": "push",
    "profilerBasicAuthPassword": TOKEN,
    "profilerSecretArn": SECRET_ARN,
    "profilerSecretJsonKey": "password",
    "profilerSecretReadPolicyArn": POLICY_ARN,
    "profilerKubernetesSecretName": "pyroscope-profiler-credentials",
    "profilerKubernetesSecretKey": "password",
}


class StackReferenceMocks(BundleMocks):
    """The engine's StackReference: its ``outputs`` state is the other stack's outputs."""

    def __init__(self, outputs: dict[str, Any]) -> None:
        super().__init__()
        self.outputs = outputs
        # StackReference is a read (ReadResource), which the render's recording does not list.
        self.references: list[str] = []

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        if args.typ == "pulumi:pulumi:StackReference":
            self.references.append(args.inputs["name"])
            secret = [name for name in ("profilerBasicAuthPassword",) if name in self.outputs]
            return args.name, {"name": args.name, "outputs": self.outputs, "secretOutputNames": secret}
        return super().new_resource(args)


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "examples_consumer_profiled_shop", EXAMPLE / "profiled_shop.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


shop = _load_example()


def _run(outputs: dict[str, Any], **settings: Any) -> tuple[ProgramRun, dict[tuple[str, Any], Any]]:
    def program() -> None:
        import pulumi

        for name, value in shop.deploy_shop(
            shop.ShopSettings(profiling_stack=PROFILING_STACK, environment="dev", **settings)
        ).items():
            pulumi.export(name, value)

    mocks = StackReferenceMocks(outputs)
    run = run_program(program, stack="dev", config={}, secret_keys=[], mocks=mocks)
    records: dict[tuple[str, Any], Any] = {(r.type, r.name): r for r in run.recording.resources}
    records[("references", None)] = mocks.references
    return run, records


def _container_env(deployment: Any) -> dict[str, Any]:
    (container,) = deployment.inputs["spec"]["template"]["spec"]["containers"]
    return {entry["name"]: entry.get("value", entry.get("valueFrom")) for entry in container["env"]}


@pytest.fixture(scope="module")
def authenticated() -> tuple[ProgramRun, dict[tuple[str, Any], Any]]:
    return _run(AUTHENTICATED_OUTPUTS)


def test_reads_the_profiling_stack_by_name(authenticated):
    _, records = authenticated
    assert records[("references", None)] == [PROFILING_STACK]


def test_deployment_gets_the_env_and_the_password_by_secret_key_ref(authenticated):
    _, records = authenticated
    deployment = records[("kubernetes:apps/v1:Deployment", "orders")]
    env = _container_env(deployment)
    assert env["SPRING_PROFILES_ACTIVE"] == "production"  # the team's own env is kept
    assert env["PYROSCOPE_SERVER_ADDRESS"] == IN_CLUSTER
    assert env["PYROSCOPE_APPLICATION_NAME"] == "orders"
    assert env["PYROSCOPE_BASIC_AUTH_USER"] == "push"
    assert env["PYROSCOPE_LABELS"] == "environment=dev,service=orders,version=3.1.0"
    assert env["PYROSCOPE_BASIC_AUTH_PASSWORD"] == {
        "secretKeyRef": {"name": "pyroscope-profiler-credentials", "key": "password"}
    }
    template = deployment.inputs["spec"]["template"]
    assert template["metadata"]["labels"]["pyroscope-bundle/profiled"] == "true"
    assert template["metadata"]["annotations"]["pyroscope-bundle/credentials-hash"] == credentials_hash_of(
        TOKEN
    )
    assert TOKEN not in json.dumps(deployment.inputs, default=str)


def test_the_secret_it_references_is_in_the_deployments_namespace_and_stays_secret(authenticated):
    _, records = authenticated
    deployment = records[("kubernetes:apps/v1:Deployment", "orders")]
    secret = records[("kubernetes:core/v1:Secret", "orders-profiler-credentials")]
    assert secret.inputs["metadata"]["namespace"] == deployment.inputs["metadata"]["namespace"] == "shop"
    assert secret.inputs["metadata"]["name"] == "pyroscope-profiler-credentials"
    assert rpc.is_rpc_secret(secret.inputs["stringData"])
    assert rpc.unwrap_rpc_secret(secret.inputs["stringData"]) == {"password": TOKEN}


def test_task_definition_gets_the_env_and_the_password_by_value_from(authenticated):
    _, records = authenticated
    task = records[("aws:ecs/taskDefinition:TaskDefinition", "invoices")]
    (container,) = ecs_register_request(task)["containerDefinitions"]
    assert container["secrets"] == [
        {"name": "PYROSCOPE_BASIC_AUTH_PASSWORD", "valueFrom": f"{SECRET_ARN}:password::"}
    ]
    environment = {entry["name"]: entry["value"] for entry in container["environment"]}
    assert environment["LOG_LEVEL"] == "info"
    # ECS tasks cannot resolve in-cluster names: they get the external address.
    assert environment["PYROSCOPE_SERVER_ADDRESS"] == EXTERNAL
    assert environment["PYROSCOPE_BASIC_AUTH_USER"] == "push"
    assert environment["PYROSCOPE_APPLICATION_NAME"] == "invoices"
    assert environment["PYROSCOPE_BUNDLE_CREDENTIALS_HASH"] == credentials_hash_of(TOKEN)
    assert "PYROSCOPE_BASIC_AUTH_PASSWORD" not in environment
    assert TOKEN not in task.inputs["containerDefinitions"]


def test_execution_role_gets_the_read_policy_before_the_task_definition(authenticated):
    _, records = authenticated
    role = records[("aws:iam/role:Role", "invoices-execution")]
    attachment = records[
        ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "invoices-read-profiler-credentials")
    ]
    assert attachment.inputs["policyArn"] == POLICY_ARN
    assert attachment.inputs["role"] == role.inputs["name"] == "invoices-dev-execution"
    task = records[("aws:ecs/taskDefinition:TaskDefinition", "invoices")]
    assert task.inputs["executionRoleArn"] == f"arn:aws:iam::123456789012:role/{role.inputs['name']}"
    assert attachment.urn in task.dependency_urns
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}


def test_unauthenticated_server_wires_no_password_anywhere():
    """A server without auth (no gateway) exports only its address: nothing secret to wire."""
    run, records = _run({"profilerServerAddress": IN_CLUSTER}, authenticated=False)
    assert not [key for key in records if key[0] == "kubernetes:core/v1:Secret"]
    env = _container_env(records[("kubernetes:apps/v1:Deployment", "orders")])
    assert env["PYROSCOPE_SERVER_ADDRESS"] == IN_CLUSTER
    assert "PYROSCOPE_BASIC_AUTH_PASSWORD" not in env
    assert "PYROSCOPE_BASIC_AUTH_USER" not in env
    (container,) = ecs_register_request(records[("aws:ecs/taskDefinition:TaskDefinition", "invoices")])[
        "containerDefinitions"
    ]
    assert "secrets" not in container
    assert {entry["name"]: entry["value"] for entry in container["environment"]}[
        "PYROSCOPE_SERVER_ADDRESS"
    ] == IN_CLUSTER
    attachments = [
        r for (t, _), r in records.items() if t == "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
    ]
    assert [a.inputs["policyArn"] for a in attachments] == [shop.ECS_EXECUTION_POLICY]
    assert run.outputs["ordersDeployment"] == "shop/orders"


def _run_path(directory: Path) -> None:
    """What the Pulumi Python host does with the project directory."""
    runpy.run_path(str(directory), run_name="__main__")


def test_the_stack_entry_point_runs_with_its_stack_file():
    """`pulumi up` in examples/consumer: __main__.py reads Pulumi.dev.yaml's keys."""
    project = yaml.safe_load((EXAMPLE / "Pulumi.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    stack_config = yaml.safe_load((EXAMPLE / "Pulumi.dev.yaml").read_text())["config"]
    assert stack_config[f"{project['name']}:profilingStack"] == PROFILING_STACK
    for key in project["config"]:
        assert key in {"profilingStack", "namespace", "authenticated"}
    config = {key: value for key, value in stack_config.items() if key.startswith(f"{project['name']}:")}
    path = list(sys.path)
    try:
        run = run_program(
            lambda: _run_path(EXAMPLE),
            stack="dev",
            config=config,
            secret_keys=[],
            mocks=StackReferenceMocks(AUTHENTICATED_OUTPUTS),
        )
    finally:
        sys.path[:] = path
        sys.modules.pop("profiled_shop", None)
    assert run.outputs["ordersDeployment"] == "shop/orders"
    assert run.outputs["invoicesTaskDefinitionArn"].endswith(":task-definition/invoices:1")


def test_requirements_install_this_package_from_the_checkout():
    lines = [
        line.strip()
        for line in (EXAMPLE / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines == ["../.."]
    assert (EXAMPLE / Path(lines[0]) / "pyproject.toml").resolve() == (
        PROJECT_DIR / "pyproject.toml"
    ).resolve()
