"""The shop stack's tests: its services are wired from the profiling stack's outputs.

They use only the bundle's public API and its testing kit (``pyroscope_bundle.testing``): the
program runs under the kit's mocks, with the StackReference answered by the outputs a profiling
stack exports (the password as a secret output, as the engine hands it over). Copy this
directory with the stack; ``pytest`` here runs them.
"""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path
from typing import Any

import profiled_shop as shop
import pulumi
import pytest
import yaml
from pyroscope_bundle import testing

EXAMPLE = Path(__file__).resolve().parents[1]
PROFILING_STACK = "acme/pyroscope/production"
TOKEN = "glc_example_token_0123456789abcdef"
IN_CLUSTER = "http://pyroscope-gateway.pyroscope.svc.cluster.local:4041"
EXTERNAL = "https://profiles.example.com"
SECRET_ARN = (
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:pyroscope/production/profiler-credentials-AbCdEf"
)
POLICY_ARN = "arn:aws:iam::123456789012:policy/pyroscope-production-profiler-secret-read"
# What the profiling stack exports with a Kubernetes server behind the gateway, exposed through
# an Ingress for ECS.
AUTHENTICATED_OUTPUTS = testing.profiling_stack_outputs(
    server_address=IN_CLUSTER,
    external_server_address=EXTERNAL,
    basic_auth_user="push",
    basic_auth_password=TOKEN,
    aws_secret_arn=SECRET_ARN,
    aws_secret_read_policy_arn=POLICY_ARN,
)


def _run(outputs: dict[str, Any], **settings: Any) -> testing.Result:
    def program() -> None:
        for name, value in shop.deploy_shop(
            shop.ShopSettings(profiling_stack=PROFILING_STACK, environment="dev", **settings)
        ).items():
            pulumi.export(name, value)

    return testing.run(program, stack="dev", project="shop", mocks=testing.Mocks({PROFILING_STACK: outputs}))


def _container_env(deployment: Any) -> dict[str, Any]:
    (container,) = deployment.inputs["spec"]["template"]["spec"]["containers"]
    return {entry["name"]: entry.get("value", entry.get("valueFrom")) for entry in container["env"]}


@pytest.fixture(scope="module")
def authenticated() -> testing.Result:
    return _run(AUTHENTICATED_OUTPUTS)


def test_reads_the_profiling_stack_by_name(authenticated):
    assert authenticated.references == (PROFILING_STACK,)


def test_deployment_gets_the_env_and_the_password_by_secret_key_ref(authenticated):
    deployment = authenticated.one("kubernetes:apps/v1:Deployment", "orders")
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
    assert template["metadata"]["annotations"]["pyroscope-bundle/credentials-hash"] == testing.rollout_hash(
        TOKEN
    )
    assert TOKEN not in json.dumps(testing.reveal(deployment.inputs), default=str)


def test_the_secret_it_references_is_in_the_deployments_namespace_and_stays_secret(authenticated):
    deployment = authenticated.one("kubernetes:apps/v1:Deployment", "orders")
    secret = authenticated.one("kubernetes:core/v1:Secret", "orders-profiler-credentials")
    assert secret.inputs["metadata"]["namespace"] == deployment.inputs["metadata"]["namespace"] == "shop"
    assert secret.inputs["metadata"]["name"] == "pyroscope-profiler-credentials"
    assert testing.is_secret(secret.inputs["stringData"])
    assert testing.reveal(secret.inputs["stringData"]) == {"password": TOKEN}
    # The Deployment waits for the Secret: pods never start without it.
    assert secret.urn in deployment.dependency_urns


def test_task_definition_gets_the_env_and_the_password_by_value_from(authenticated):
    task = authenticated.one("aws:ecs/taskDefinition:TaskDefinition", "invoices")
    (container,) = testing.task_definition_request(task)["containerDefinitions"]
    assert container["secrets"] == [
        {"name": "PYROSCOPE_BASIC_AUTH_PASSWORD", "valueFrom": f"{SECRET_ARN}:password::"}
    ]
    environment = {entry["name"]: entry["value"] for entry in container["environment"]}
    assert environment["LOG_LEVEL"] == "info"
    # ECS tasks cannot resolve in-cluster names: they get the external address.
    assert environment["PYROSCOPE_SERVER_ADDRESS"] == EXTERNAL
    assert environment["PYROSCOPE_BASIC_AUTH_USER"] == "push"
    assert environment["PYROSCOPE_APPLICATION_NAME"] == "invoices"
    assert environment["PYROSCOPE_BUNDLE_CREDENTIALS_HASH"] == testing.rollout_hash(TOKEN)
    assert "PYROSCOPE_BASIC_AUTH_PASSWORD" not in environment
    assert TOKEN not in json.dumps(testing.reveal(task.inputs))


def test_execution_role_gets_the_read_policy_before_the_task_definition(authenticated):
    role = authenticated.one("aws:iam/role:Role", "invoices-execution")
    attachment = authenticated.one(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "invoices-read-profiler-credentials"
    )
    assert attachment.inputs["policyArn"] == POLICY_ARN
    assert attachment.inputs["role"] == role.inputs["name"] == "invoices-dev-execution"
    task = authenticated.one("aws:ecs/taskDefinition:TaskDefinition", "invoices")
    assert (
        task.inputs["executionRoleArn"]
        == f"arn:aws:iam::{testing.FAKE_ACCOUNT_ID}:role/{role.inputs['name']}"
    )
    assert attachment.urn in task.dependency_urns
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}


def test_unauthenticated_server_wires_no_password_anywhere():
    """A server without auth (no gateway) exports only its address: nothing secret to wire."""
    outputs = testing.profiling_stack_outputs(
        server_address=IN_CLUSTER, basic_auth_user=None, basic_auth_password=None, aws_secret_arn=None
    )
    result = _run(outputs, authenticated=False)
    assert result.of_type("kubernetes:core/v1:Secret") == []
    env = _container_env(result.one("kubernetes:apps/v1:Deployment", "orders"))
    assert env["PYROSCOPE_SERVER_ADDRESS"] == IN_CLUSTER
    assert "PYROSCOPE_BASIC_AUTH_PASSWORD" not in env
    assert "PYROSCOPE_BASIC_AUTH_USER" not in env
    task = result.one("aws:ecs/taskDefinition:TaskDefinition", "invoices")
    (container,) = testing.task_definition_request(task)["containerDefinitions"]
    assert "secrets" not in container
    environment = {entry["name"]: entry["value"] for entry in container["environment"]}
    assert environment["PYROSCOPE_SERVER_ADDRESS"] == IN_CLUSTER
    attachments = result.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert [a.inputs["policyArn"] for a in attachments] == [shop.ECS_EXECUTION_POLICY]
    assert result.outputs["ordersDeployment"] == "shop/orders"


def test_the_stack_entry_point_runs_with_its_stack_file():
    """`pulumi up` here: __main__.py reads Pulumi.dev.yaml's keys (run as the Python host runs it)."""
    project = yaml.safe_load((EXAMPLE / "Pulumi.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    stack_config = yaml.safe_load((EXAMPLE / "Pulumi.dev.yaml").read_text())["config"]
    assert stack_config[f"{project['name']}:profilingStack"] == PROFILING_STACK
    assert set(project["config"]) == {"profilingStack", "namespace", "authenticated"}
    config = {key: value for key, value in stack_config.items() if key.startswith(f"{project['name']}:")}
    path = list(sys.path)
    try:
        result = testing.run(
            lambda: runpy.run_path(str(EXAMPLE), run_name="__main__"),
            stack="dev",
            project=project["name"],
            config=config,
            mocks=testing.Mocks({PROFILING_STACK: AUTHENTICATED_OUTPUTS}),
        )
    finally:
        sys.path[:] = path
    assert result.outputs["ordersDeployment"] == "shop/orders"
    assert result.outputs["invoicesTaskDefinitionArn"].endswith(":task-definition/invoices:1")


def test_requirements_name_the_release_this_example_is_written_for():
    """The commented release lines pin the bundle's current version (a tag-ready CHANGELOG entry)."""
    import pyroscope_bundle

    text = (EXAMPLE / "requirements.txt").read_text()
    assert f"@v{pyroscope_bundle.__version__}#subdirectory=runtime" in text
    assert (
        f"pyroscope-bundle @ git+https://github.com/<your-org>/pyroscope-bundle@v{pyroscope_bundle.__version__}\n"
        in text
    )
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert lines == ["../../runtime", "../.."]
