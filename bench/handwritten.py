"""The baseline: a plain Pulumi program wiring the same services by hand, without the bundle.

Written the way a team would without the bundle: provider resources only (no components), the
profiler environment written out literally per runtime, one loop over the services in the
stack config. It registers the same provider resources with the same names and inputs as the
bundle (``tests/test_bench.py`` checks that), so the benchmark compares like with like.

With ``handwritten:components`` true it also groups them under component resources shaped like
the bundle's (same type tokens, names and count): ``bench.py --attribute`` uses that to tell
the cost of the bundle's component tree from the cost of the bundle's own code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes.apps.v1 as apps
import pulumi_kubernetes.core.v1 as core
import pulumi_kubernetes.networking.v1 as networking
import pulumi_random as random
from pulumi_aws import ecs, iam, secretsmanager

SECRET_NAME = "pyroscope-profiler-credentials"
SECRET_KEY = "password"
EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
PROFILER_LABELS = {
    "app.kubernetes.io/managed-by": "pyroscope-bundle",
    "app.kubernetes.io/name": "pyroscope-profiler",
}


def runtime_env(runtime: str) -> dict[str, str]:
    """What each runtime's agent needs besides address, credentials, name and labels."""
    if runtime == "java":
        return {
            "JAVA_TOOL_OPTIONS": "-javaagent:/opt/pyroscope/pyroscope.jar",
            "PYROSCOPE_AGENT_ENABLED": "true",
            "PYROSCOPE_PROFILER_EVENT": "itimer",
            "PYROSCOPE_PROFILING_INTERVAL": "10ms",
        }
    if runtime == "dotnet":
        return {
            "CORECLR_ENABLE_PROFILING": "1",
            "CORECLR_PROFILER": "{BD1A650D-AC5D-4896-B64F-D6FA25D6B26A}",
            "CORECLR_PROFILER_PATH": "/dotnet/Pyroscope.Profiler.Native.so",
            "LD_LIBRARY_PATH": "/dotnet",
            "LD_PRELOAD": "/dotnet/Pyroscope.Linux.ApiWrapper.x64.so",
            "PYROSCOPE_PROFILING_ALLOCATION_ENABLED": "false",
            "PYROSCOPE_PROFILING_CPU_ENABLED": "true",
            "PYROSCOPE_PROFILING_ENABLED": "true",
            "PYROSCOPE_PROFILING_EXCEPTION_ENABLED": "false",
            "PYROSCOPE_PROFILING_HEAP_ENABLED": "false",
            "PYROSCOPE_PROFILING_LOCK_ENABLED": "false",
            "PYROSCOPE_PROFILING_WALLTIME_ENABLED": "false",
        }
    return {
        "PYROSCOPE_PROFILE_TYPES": "cpu",
        "PYROSCOPE_PROFILING_ENABLED": "true",
        "PYROSCOPE_SAMPLE_RATE": "100",
    }


def plain_env(service: dict[str, Any], address: str, user: str, stack: str) -> dict[str, str]:
    return {
        "PYROSCOPE_APPLICATION_NAME": service["name"],
        "PYROSCOPE_BASIC_AUTH_USER": user,
        "PYROSCOPE_LABELS": f"environment={stack},service={service['name']}",
        "PYROSCOPE_SERVER_ADDRESS": address,
        **runtime_env(service["runtime"]),
    }


def _group(enabled: bool, token: str, name: str, depends_on: list[Any] | None = None) -> Any:
    """A component like the bundle's (attribution variant only), or None."""
    if not enabled:
        return None
    return pulumi.ComponentResource(token, name, None, pulumi.ResourceOptions(depends_on=depends_on))


def _under(group: Any, **options: Any) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(parent=group, **options)


def _done(group: Any) -> None:
    if group is not None:
        group.register_outputs({})


def program(project_root: Path) -> None:
    config = pulumi.Config("handwritten")
    components = config.get_bool("components") or False
    stack = pulumi.get_stack()
    address = config.require("serverAddress")
    user = config.require("basicAuthUser")
    token = config.require_secret("authToken")
    services: list[dict[str, Any]] = config.require_object("services")
    # Rolls the pods / starts a new task revision when the token changes: an HMAC under a key
    # of the stack's own, so the plain value reveals nothing about the token.
    key = random.RandomPassword("pyroscope-stack-key", length=64, special=False).result
    token_hash = pulumi.Output.unsecret(
        pulumi.Output.all(token, key).apply(
            lambda v: hmac.new(v[1].encode(), b"rollout-hash\0" + v[0].encode(), hashlib.sha256).hexdigest()[
                :16
            ]
        )
    )

    kubernetes = [s for s in services if s["platform"] == "kubernetes"]
    secrets: dict[str, core.Secret] = {}
    groups: dict[str, Any] = {}
    for namespace in sorted({s["namespace"] for s in kubernetes}):
        group = groups[namespace] = _group(
            components, "pyroscope-bundle:wiring:KubernetesCredentials", f"profiler-credentials-{namespace}"
        )
        secrets[namespace] = core.Secret(
            f"profiler-credentials-{namespace}",
            metadata={
                "name": SECRET_NAME,
                "namespace": namespace,
                "labels": {**PROFILER_LABELS, "app.kubernetes.io/component": "credentials"},
            },
            type="Opaque",
            string_data={SECRET_KEY: token},
            opts=_under(group),
        )
        _done(group)
    k8s_group = (
        _group(components, "pyroscope-bundle:wiring:WiredServices", "profiler-kubernetes-services")
        if kubernetes
        else None
    )
    for service in kubernetes:
        name, namespace = service["name"], service["namespace"]
        depends_on: list[Any] = [groups[namespace] if components else secrets[namespace]]
        env: list[dict[str, Any]] = [
            {"name": k, "value": v} for k, v in plain_env(service, address, user, stack).items()
        ]
        env.append(
            {
                "name": "PYROSCOPE_BASIC_AUTH_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": SECRET_NAME, "key": SECRET_KEY}},
            }
        )
        env.sort(key=lambda entry: entry["name"])
        apps.DeploymentPatch(
            f"profiler-{name}",
            metadata={"name": name, "namespace": namespace, "labels": {"pyroscope-bundle/profiled": "true"}},
            spec={
                "template": {
                    "metadata": {
                        "labels": {
                            "pyroscope-bundle/profiled": "true",
                            "pyroscope-bundle/runtime": service["runtime"],
                            "pyroscope-bundle/service": name,
                        },
                        "annotations": {
                            "pyroscope-bundle/application-name": name,
                            "pyroscope-bundle/credentials-hash": token_hash,
                        },
                    },
                    "spec": {"containers": [{"name": name, "env": env}]},
                }
            },
            opts=_under(k8s_group, depends_on=depends_on),
        )
        networking.NetworkPolicy(
            f"profiler-{name}-egress",
            metadata={
                "name": f"pyroscope-egress-{name}",
                "namespace": namespace,
                "labels": {**PROFILER_LABELS, "app.kubernetes.io/component": "egress"},
            },
            spec={
                "podSelector": {
                    "matchLabels": {"pyroscope-bundle/profiled": "true", "pyroscope-bundle/service": name}
                },
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                                },
                                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                            }
                        ],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    },
                    {
                        "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
                        "ports": [{"protocol": "TCP", "port": 443}],
                    },
                ],
            },
            opts=_under(k8s_group, depends_on=depends_on),
        )
    _done(k8s_group)

    ecs_services = [s for s in services if s["platform"] == "ecs"]
    if ecs_services:
        group = _group(components, "pyroscope-bundle:wiring:EcsCredentials", "profiler-credentials")
        secret = secretsmanager.Secret(
            "profiler-credentials",
            name=f"pyroscope/{stack}/profiler-credentials",
            description=f"Pyroscope profiler basic-auth password (JSON key: {SECRET_KEY})",
            recovery_window_in_days=0,
            opts=_under(group),
        )
        secretsmanager.SecretVersion(
            "profiler-credentials",
            secret_id=secret.id,
            secret_string=token.apply(lambda t: json.dumps({SECRET_KEY: t})),
            opts=_under(group),
        )
        read_policy = iam.Policy(
            "profiler-credentials-read",
            name=f"pyroscope-{stack}-profiler-secret-read",
            description="Lets ECS task execution roles read the Pyroscope profiler credentials secret.",
            policy=secret.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "ReadProfilerCredentials",
                                "Effect": "Allow",
                                "Action": ["secretsmanager:GetSecretValue"],
                                "Resource": [arn],
                            }
                        ],
                    },
                    sort_keys=True,
                )
            ),
            opts=_under(group),
        )
        _done(group)
        pulumi.export("profilerSecretArn", secret.arn)
        pulumi.export("profilerSecretReadPolicyArn", read_policy.arn)
    ecs_group = (
        _group(components, "pyroscope-bundle:wiring:WiredServices", "profiler-ecs-services")
        if ecs_services
        else None
    )
    for service in ecs_services:
        name = service["name"]
        group = ecs_group
        role = iam.Role(
            f"profiler-{name}-execution",
            name=f"{name}-{stack}-execution",
            description=f"ECS task execution role of {name} (created by pyroscope-bundle)",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                sort_keys=True,
            ),
            opts=_under(group),
        )
        managed = iam.RolePolicyAttachment(
            f"profiler-{name}-execution-managed",
            role=role.name,
            policy_arn=EXECUTION_POLICY,
            opts=_under(group),
        )
        read = iam.RolePolicyAttachment(
            f"profiler-{name}-read-credentials",
            role=role.name,
            policy_arn=read_policy.arn,
            opts=_under(group),
        )
        definitions = json.loads((project_root / service["containerDefinitions"]).read_text())
        variables = plain_env(service, address, user, stack)

        def wired(
            values: list[str],
            definitions: list[dict[str, Any]] = definitions,
            variables: dict[str, str] = variables,
        ) -> str:
            arn, token_digest = values
            for container in definitions:
                environment = [
                    *container.get("environment", []),
                    *({"name": k, "value": v} for k, v in variables.items()),
                    {"name": "PYROSCOPE_BUNDLE_CREDENTIALS_HASH", "value": token_digest},
                ]
                container["environment"] = sorted(environment, key=lambda entry: entry["name"])
                container["secrets"] = [
                    {"name": "PYROSCOPE_BASIC_AUTH_PASSWORD", "valueFrom": f"{arn}:{SECRET_KEY}::"}
                ]
            return json.dumps(definitions, sort_keys=True)

        ecs.TaskDefinition(
            f"profiler-{name}",
            family=name,
            cpu="256",
            memory="512",
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            execution_role_arn=role.arn,
            container_definitions=pulumi.Output.all(secret.arn, token_hash).apply(wired),
            skip_destroy=True,  # a replaced revision stays valid for the service running it
            opts=_under(group, depends_on=[managed, read]),
        )
    _done(ecs_group)
    pulumi.export("profilerServerAddress", address)
    pulumi.export("profiledServices", sorted(s["name"] for s in services))
