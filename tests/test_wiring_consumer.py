"""Another stack reuses the profiling stack through a StackReference and wires its own services."""

from __future__ import annotations

import json
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockResourceArgs
from pyroscope_bundle.render.mocks import BundleMocks
from pyroscope_bundle.render.runner import run_program
from pyroscope_bundle.render.writer import ecs_register_request
from pyroscope_bundle.testing import rollout_hash
from pyroscope_bundle.wiring.consumer import shared_profiling
from pyroscope_bundle.wiring.ecs import resolved_env, secret_value_from, wire_container_definitions
from pyroscope_bundle.wiring.kubernetes import KubernetesCredentials, wire_workload_spec

TOKEN = "glc_shared_token_abcdef"
SECRET_ARN = (
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:pyroscope/production/profiler-credentials-AbCdEf"
)
POLICY_ARN = "arn:aws:iam::123456789012:policy/pyroscope-production-profiler-secret-read"
PROFILING_OUTPUTS = {
    "profilerServerAddress": "https://profiles-prod-001.grafana.net",
    "profilerBasicAuthUser": "123456",
    "profilerBasicAuthPassword": TOKEN,
    "profilerSecretArn": SECRET_ARN,
    "profilerSecretJsonKey": "password",
    "profilerSecretReadPolicyArn": POLICY_ARN,
}


class ReferenceMocks(BundleMocks):
    """The engine's StackReference: its `outputs` state is the other stack's outputs."""

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        if args.typ == "pulumi:pulumi:StackReference":
            return args.name, {
                "name": args.name,
                "outputs": PROFILING_OUTPUTS,
                "secretOutputNames": ["profilerBasicAuthPassword"],
            }
        return super().new_resource(args)


def consumer_program() -> None:
    """What docs/wiring.md shows: a consumer stack wiring one Deployment and one task definition."""
    import pulumi_kubernetes.apps.v1 as apps
    from pulumi_aws import ecs, iam

    shared = shared_profiling("acme/pyroscope/production")
    orders = shared.settings(service="orders", runtime="java", environment="shop-prod", version="3.1.0")
    password = shared.endpoint.basic_auth_password
    assert password is not None
    credentials = KubernetesCredentials("orders-profiler", "orders", password)
    spec = {
        "selector": {"matchLabels": {"app": "orders"}},
        "template": {
            "metadata": {"labels": {"app": "orders"}},
            "spec": {"containers": [{"name": "orders", "image": "orders:3.1.0"}]},
        },
    }
    apps.Deployment(
        "orders",
        metadata={"name": "orders", "namespace": "orders"},
        spec=wire_workload_spec(spec, orders, credentials.secret_ref, shared.rollout_hash),
        opts=pulumi.ResourceOptions(depends_on=[credentials]),
    )
    invoices = shared.settings(service="invoices", runtime="go", environment="shop-prod")
    value_from = pulumi.Output.all(shared.secret_arn, shared.secret_json_key).apply(
        lambda parts: secret_value_from(parts[0], parts[1])
    )
    definitions = [{"name": "invoices", "image": "invoices:1", "essential": True}]
    role = iam.Role("invoices-execution", name="invoices-execution", assume_role_policy="{}")
    iam.RolePolicyAttachment("invoices-read-profiler", role=role.name, policy_arn=shared.read_policy_arn)
    ecs.TaskDefinition(
        "invoices",
        family="invoices",
        cpu="256",
        memory="512",
        network_mode="awsvpc",
        requires_compatibilities=["FARGATE"],
        execution_role_arn=role.arn,
        container_definitions=resolved_env(invoices, value_from, shared.rollout_hash).apply(
            lambda env: json.dumps(wire_container_definitions(definitions, env), sort_keys=True)
        ),
    )


def test_consumer_stack_wires_its_services_from_the_stack_reference():
    run = run_program(consumer_program, stack="shop-prod", config={}, secret_keys=[], mocks=ReferenceMocks())
    records = {(r.type, r.name): r for r in run.recording.resources}
    secret = records[("kubernetes:core/v1:Secret", "orders-profiler")]
    assert rpc.is_rpc_secret(secret.inputs["stringData"])
    assert rpc.unwrap_rpc_secret(secret.inputs["stringData"]) == {"password": TOKEN}

    deployment = records[("kubernetes:apps/v1:Deployment", "orders")]
    template = deployment.inputs["spec"]["template"]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in template["spec"]["containers"][0]["env"]}
    assert env["PYROSCOPE_SERVER_ADDRESS"] == "https://profiles-prod-001.grafana.net"
    assert env["PYROSCOPE_BASIC_AUTH_USER"] == "123456"
    assert env["PYROSCOPE_BASIC_AUTH_PASSWORD"] == {
        "secretKeyRef": {"name": "pyroscope-profiler-credentials", "key": "password"}
    }
    assert env["PYROSCOPE_LABELS"] == "environment=shop-prod,service=orders,version=3.1.0"
    assert template["metadata"]["annotations"]["pyroscope-bundle/credentials-hash"] == rollout_hash(TOKEN)
    assert TOKEN not in json.dumps(deployment.inputs, default=str)

    attachment = records[("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "invoices-read-profiler")]
    assert attachment.inputs["policyArn"] == POLICY_ARN
    task = records[("aws:ecs/taskDefinition:TaskDefinition", "invoices")]
    assert not rpc.is_rpc_secret(task.inputs["containerDefinitions"])
    (container,) = ecs_register_request(task)["containerDefinitions"]
    assert container["secrets"] == [
        {"name": "PYROSCOPE_BASIC_AUTH_PASSWORD", "valueFrom": f"{SECRET_ARN}:password::"}
    ]
    environment = {e["name"]: e["value"] for e in container["environment"]}
    assert environment["PYROSCOPE_APPLICATION_NAME"] == "invoices"
    assert environment["PYROSCOPE_BUNDLE_CREDENTIALS_HASH"] == rollout_hash(TOKEN)
    assert TOKEN not in json.dumps(container)
