"""A consumer stack: wires its OWN services to the shared profiling stack.

The profiling stack (this repository's program) exports where to push and how to authenticate
(``profilerServerAddress``, ``profilerBasicAuthUser``, the secret ``profilerBasicAuthPassword``,
the Secrets Manager ``profilerSecretArn`` / ``profilerSecretJsonKey`` and the IAM
``profilerSecretReadPolicyArn``). This stack reads them with a ``StackReference`` and wires:

- ``orders``: a Kubernetes Deployment it owns, with the profiler env added to its spec and the
  password in a Secret of its own namespace (``secretKeyRef``; pods roll when the token rotates);
- ``invoices``: an ECS task definition it owns, the password referenced from the profiling
  stack's secret (``secrets[].valueFrom``) and the read policy attached to its execution role.

All the logic is in :func:`deploy_shop` so that ``tests/`` run it under the bundle's testing
kit (``pyroscope_bundle.testing``). It uses only the bundle's public API.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes.apps.v1 as apps
from pulumi_aws import ecs, iam
from pyroscope_bundle.wiring import names
from pyroscope_bundle.wiring.consumer import SharedProfiling, shared_profiling
from pyroscope_bundle.wiring.ecs import (
    ecs_tasks_trust_policy,
    resolved_env,
    secret_value_from,
    wire_container_definitions,
)
from pyroscope_bundle.wiring.kubernetes import wire_workload_spec

# AWS-managed: image pulls and logs for the task (not the profiler secret: that is the read policy).
ECS_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"


@dataclass(frozen=True)
class ShopSettings:
    """This stack's configuration (``shop:*`` keys, see Pulumi.yaml)."""

    profiling_stack: str
    environment: str
    namespace: str = "shop"
    authenticated: bool = True
    orders_image: str = "ghcr.io/acme/orders:3.1.0"
    invoices_image: str = "ghcr.io/acme/invoices:1.8.0"


def orders_spec(image: str) -> dict[str, Any]:
    """The team's own Deployment spec, as it was before profiling (camelCase, as in YAML)."""
    labels = {"app.kubernetes.io/name": "orders"}
    return {
        "replicas": 2,
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "containers": [
                    {
                        "name": "orders",
                        "image": image,
                        "ports": [{"name": "http", "containerPort": 8080}],
                        "env": [{"name": "SPRING_PROFILES_ACTIVE", "value": "production"}],
                    }
                ]
            },
        },
    }


def invoices_container_definitions(image: str) -> list[dict[str, Any]]:
    """The team's own ECS container definitions, as they were before profiling."""
    return [
        {
            "name": "invoices",
            "image": image,
            "essential": True,
            "command": ["python", "-m", "invoices"],
            "portMappings": [{"containerPort": 8000, "protocol": "tcp"}],
            "environment": [{"name": "LOG_LEVEL", "value": "info"}],
        }
    ]


def deploy_orders(settings: ShopSettings, shared: SharedProfiling) -> apps.Deployment:
    """The Deployment, wired: env (password via secretKeyRef), labels, rollout annotation."""
    profiler = shared.settings(
        service="orders", runtime="java", environment=settings.environment, version="3.1.0"
    )
    # The Secret the pods' secretKeyRef reads, in the Deployment's namespace.
    credentials = (
        shared.credentials(settings.namespace, name="orders-profiler-credentials")
        if settings.authenticated
        else None
    )
    spec = wire_workload_spec(
        orders_spec(settings.orders_image),
        profiler,
        credentials.secret_ref if credentials is not None else None,
        shared.rollout_hash,
    )
    return apps.Deployment(
        "orders",
        metadata={"name": "orders", "namespace": settings.namespace},
        spec=spec,
        opts=pulumi.ResourceOptions(depends_on=[credentials] if credentials is not None else []),
    )


def deploy_invoices(
    settings: ShopSettings, shared: SharedProfiling, reference: pulumi.StackReference
) -> ecs.TaskDefinition:
    """The task definition, wired, with an execution role that may read the profiler secret."""
    # ECS tasks run outside the server's cluster: its external address when it exports one.
    profiler = shared.outside_settings(service="invoices", runtime="python", environment=settings.environment)
    role = iam.Role(
        "invoices-execution",
        name=f"invoices-{settings.environment}-execution",
        assume_role_policy=json.dumps(ecs_tasks_trust_policy(), sort_keys=True),
    )
    attachments = [
        iam.RolePolicyAttachment(
            "invoices-execution-managed", role=role.name, policy_arn=ECS_EXECUTION_POLICY
        )
    ]
    value_from = None
    if settings.authenticated:
        # Required outputs: a clear error when the profiling stack manages no such secret.
        secret_arn = reference.require_output(names.OUTPUT_SECRET_ARN)
        value_from = pulumi.Output.all(secret_arn, shared.secret_json_key).apply(
            lambda parts: secret_value_from(parts[0], parts[1])
        )
        attachments.append(
            iam.RolePolicyAttachment(
                "invoices-read-profiler-credentials",
                role=role.name,
                policy_arn=reference.require_output(names.OUTPUT_SECRET_READ_POLICY_ARN),
            )
        )
    definitions = invoices_container_definitions(settings.invoices_image)
    wired = resolved_env(profiler, value_from, shared.rollout_hash if value_from is not None else None).apply(
        lambda env: json.dumps(wire_container_definitions(definitions, env), sort_keys=True)
    )
    return ecs.TaskDefinition(
        "invoices",
        family="invoices",
        cpu="256",
        memory="512",
        network_mode="awsvpc",
        requires_compatibilities=["FARGATE"],
        execution_role_arn=role.arn,
        container_definitions=wired,
        # The role must be able to read the secret before a task starts.
        opts=pulumi.ResourceOptions(depends_on=attachments),
    )


def deploy_shop(settings: ShopSettings) -> dict[str, Any]:
    """Register the shop's profiled services; return the stack outputs."""
    reference = pulumi.StackReference(settings.profiling_stack)
    shared = shared_profiling(reference, authenticated=settings.authenticated)
    orders = deploy_orders(settings, shared)
    invoices = deploy_invoices(settings, shared, reference)
    return {
        "ordersDeployment": orders.metadata.apply(lambda metadata: f"{metadata.namespace}/{metadata.name}"),
        "invoicesTaskDefinitionArn": invoices.arn,
    }
