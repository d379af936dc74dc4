"""Rendered ECS task definitions against the ECS API model (botocore) and moto's ECS, IAM, Secrets Manager."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
import yaml
from botocore.validate import ParamValidator
from moto import mock_aws
from pulumi.runtime import rpc
from pyroscope_bundle.render.writer import ecs_register_request

from tests.harness import PROJECT_DIR, STACKS, deploy_with

REGION = "us-east-1"  # the program's mocked ARNs without aws:region, and moto's default account
TOKEN = "glc_moto_token_0123456789"


def register_shape() -> Any:
    model = botocore.session.get_session().get_service_model("ecs")
    return model.operation_model("RegisterTaskDefinition").input_shape


def rendered_requests(rendered: dict[str, Path]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{stack}/{path.name}", json.loads(path.read_text()))
        for stack in STACKS
        for path in sorted((rendered[stack] / "ecs").glob("*.json"))
    ]


def test_every_rendered_task_definition_validates_against_register_task_definition(rendered):
    requests = rendered_requests(rendered)
    assert {name for name, _ in requests} >= {
        "staging/payments-api.json",
        "production/payments-api.json",
        "production/billing-worker.json",
    }
    shape = register_shape()
    for name, request in requests:
        report = ParamValidator().validate(request, shape)
        assert not report.has_errors(), f"{name}: {report.generate_report()}"
        for container in request["containerDefinitions"]:
            assert all(isinstance(entry["value"], str) for entry in container.get("environment", []))
            assert "PYROSCOPE_BASIC_AUTH_PASSWORD" not in {
                e["name"] for e in container.get("environment", [])
            }


def _create_roles(iam: Any, requests: list[dict[str, Any]]) -> None:
    from pyroscope_bundle.wiring.ecs import ecs_tasks_trust_policy

    trust = json.dumps(ecs_tasks_trust_policy())
    for request in requests:
        arn = request.get("executionRoleArn")
        if arn:
            iam.create_role(RoleName=arn.rsplit("/", 1)[-1], AssumeRolePolicyDocument=trust)


def _resolve_value_from(secrets_manager: Any, value_from: str) -> str:
    """What the ECS agent does with ``<arn>:<json-key>:<stage>:<version>``."""
    parts = value_from.split(":")
    arn, json_key = ":".join(parts[:7]), parts[7]
    secret_string = secrets_manager.get_secret_value(SecretId=arn)["SecretString"]
    return str(json.loads(secret_string)[json_key])


def stack_region(stack: str) -> str:
    """The stack file's aws:region: where its task definitions and secret live."""
    config = yaml.safe_load((PROJECT_DIR / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    return str(config.get("aws:region") or REGION)


def test_rendered_arns_name_the_stacks_region(rendered):
    """The render shows the region `pulumi up` deploys to (the stack's aws:region), not the
    mocks' default: a reviewer reads the valueFrom ARN the tasks will resolve."""
    for stack in ("staging", "production"):
        region = stack_region(stack)
        assert region != REGION
        for name, request in rendered_requests(rendered):
            if not name.startswith(f"{stack}/"):
                continue
            arns = [
                secret["valueFrom"]
                for container in request["containerDefinitions"]
                for secret in container.get("secrets", [])
            ]
            assert arns and all(arn.startswith(f"arn:aws:secretsmanager:{region}:") for arn in arns), arns
        outputs = json.loads((rendered[stack] / "outputs.json").read_text())
        assert outputs["profilerSecretArn"].startswith(f"arn:aws:secretsmanager:{region}:")


def test_rendered_stacks_register_in_moto(rendered):
    """Every rendered request (as written by `pyroscope-bundle render`) is accepted by ECS."""
    for stack in STACKS:
        _register_in_moto(rendered, stack)


def _register_in_moto(rendered: dict[str, Path], stack: str) -> None:
    region = stack_region(stack)
    with mock_aws():
        ecs = boto3.client("ecs", region_name=region)
        iam = boto3.client("iam", region_name=region)
        secrets_manager = boto3.client("secretsmanager", region_name=region)
        resources = json.loads((rendered[stack] / "resources.json").read_text())["resources"]
        requests = [request for name, request in rendered_requests(rendered) if name.startswith(f"{stack}/")]
        for resource in resources:
            if resource["type"] == "aws:secretsmanager/secret:Secret":
                created = secrets_manager.create_secret(
                    Name=resource["inputs"]["name"], SecretString=json.dumps({"password": TOKEN})
                )
                name = resource["inputs"]["name"]
                rendered_arn = f"arn:aws:secretsmanager:{region}:123456789012:secret:{name}-AbCdEf"
                requests = [json.loads(json.dumps(r).replace(rendered_arn, created["ARN"])) for r in requests]
        _create_roles(iam, requests)
        for request in requests:
            registered = ecs.register_task_definition(**request)["taskDefinition"]
            assert registered["family"] == request["family"]
            for container in registered["containerDefinitions"]:
                for secret in container.get("secrets", []):
                    assert _resolve_value_from(secrets_manager, secret["valueFrom"]) == TOKEN


def test_secret_policy_role_and_task_definition_work_together_in_moto():
    """The program's own Secret (value), policy and role: valueFrom resolves to the token."""
    deployed = deploy_with(
        {
            "server": {"enabled": False},
            "grafana": {"mode": "none"},
            "target": {
                "kind": "grafana-cloud",
                "url": "https://profiles-prod-001.grafana.net",
                "basicAuthUser": "123456",
            },
            "services": [
                {
                    "name": "payments-api",
                    "platform": "ecs",
                    "runtime": "python",
                    "ecs": {"containerDefinitions": "configs/ecs/payments-api.json"},
                },
                {
                    "name": "billing-worker",
                    "platform": "ecs",
                    "runtime": "dotnet",
                    "ecs": {"containerDefinitions": "configs/ecs/billing-worker.json"},
                },
            ],
        },
        stack="production",
        secrets={"authToken": TOKEN},
    )
    secret = deployed.one("aws:secretsmanager/secret:Secret")
    secret_string = rpc.unwrap_rpc_secret(
        deployed.one("aws:secretsmanager/secretVersion:SecretVersion").raw_inputs["secretString"]
    )
    policy = deployed.one("aws:iam/policy:Policy")
    rendered_arn = deployed.outputs["profilerSecretArn"]
    with mock_aws():
        secrets_manager = boto3.client("secretsmanager", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        ecs = boto3.client("ecs", region_name=REGION)
        real_arn = secrets_manager.create_secret(Name=secret.inputs["name"], SecretString=secret_string)[
            "ARN"
        ]
        document = policy.inputs["policy"].replace(rendered_arn, real_arn)
        policy_arn = iam.create_policy(PolicyName=policy.inputs["name"], PolicyDocument=document)["Policy"][
            "Arn"
        ]
        requests = [
            json.loads(json.dumps(ecs_register_request(task.record)).replace(rendered_arn, real_arn))
            for task in deployed.of_type("aws:ecs/taskDefinition:TaskDefinition")
        ]
        _create_roles(iam, requests)
        for attachment in deployed.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
            if attachment.inputs["policyArn"].endswith(policy.inputs["name"]):
                iam.attach_role_policy(RoleName=attachment.inputs["role"], PolicyArn=policy_arn)
        for request in requests:
            role = request["executionRoleArn"].rsplit("/", 1)[-1]
            attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
            assert [p["PolicyArn"] for p in attached] == [policy_arn]
            granted = json.loads(document)["Statement"][0]
            assert granted["Action"] == ["secretsmanager:GetSecretValue"] and granted["Resource"] == [
                real_arn
            ]
            task = ecs.register_task_definition(**request)["taskDefinition"]
            described = ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])[
                "taskDefinition"
            ]
            (container,) = described["containerDefinitions"]
            (password,) = container["secrets"]
            assert password["name"] == "PYROSCOPE_BASIC_AUTH_PASSWORD"
            assert password["valueFrom"] == f"{real_arn}:password::"
            assert _resolve_value_from(secrets_manager, password["valueFrom"]) == TOKEN
            assert TOKEN not in json.dumps(described, default=str)


@pytest.mark.parametrize("stack", ["production"])
def test_rendered_policy_documents_are_accepted_by_iam(rendered, stack):
    resources = json.loads((rendered[stack] / "resources.json").read_text())["resources"]
    policies = [r for r in resources if r["type"] == "aws:iam/policy:Policy"]
    assert policies
    with mock_aws():
        iam = boto3.client("iam", region_name=REGION)
        for policy in policies:
            iam.create_policy(PolicyName=policy["inputs"]["name"], PolicyDocument=policy["inputs"]["policy"])
