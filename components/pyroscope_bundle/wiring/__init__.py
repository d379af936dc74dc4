"""Per-service profiler wiring: env contract, Kubernetes Deployments, ECS task definitions.

:func:`deploy_wiring` wires every enabled service of ``pyroscope:services``: existing
Kubernetes Deployments through server-side-apply patches and ECS services through profiled task
definitions, with the token in a Kubernetes Secret / a Secrets Manager secret. The building
blocks (pure functions, transforms, components) live in :mod:`.kubernetes` and :mod:`.ecs`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pulumi

from pyroscope_bundle import names
from pyroscope_bundle.component import BundleComponent
from pyroscope_bundle.config import BundleConfig, Service
from pyroscope_bundle.config.routing import Routes
from pyroscope_bundle.endpoints import Endpoint, ServerDeployment, to_endpoint
from pyroscope_bundle.wiring.settings import (
    ProfilerSettings,
    build_settings,
    credentials_hash,
    is_wired,
    profiler_settings,
)

if TYPE_CHECKING:
    from pyroscope_bundle.wiring.kubernetes import SecretKeyRef

# Public API; consumer stacks import the submodules consumer, ecs, kubernetes and names, and a
# program wiring its own workloads to an Endpoint builds their settings and rollout hash here.
__all__ = [
    "DEFAULT_NAME",
    "ProfilerSettings",
    "WiredServices",
    "build_settings",
    "consumer",
    "credentials_hash",
    "deploy_wiring",
    "ecs",
    "kubernetes",
    "kubernetes_secret_ref",
    "names",
    "resolve_target",
]

# The bundle's wiring set: every name below starts with it (profiler-<service>, ...).
DEFAULT_NAME = "profiler"


class WiredServices(BundleComponent):
    """Groups the wiring of every service on one platform, so ``pulumi preview`` shows it in one
    place without a component per service (which would cost a third more registrations)."""

    def __init__(self, name: str, platform: str, opts: pulumi.ResourceOptions | None = None) -> None:
        # Registered as wiring:KubernetesServices / wiring:EcsServices before the token followed
        # the class name: aliased, so existing stacks keep the group and every wired resource.
        former = f"pyroscope-bundle:wiring:{platform.capitalize()}Services"
        super().__init__(name, opts, former_types=[former])
        self.register_outputs({})


def resolve_target(
    routes: Routes,
    server: ServerDeployment | None,
    auth_token: pulumi.Output[str] | None,
    *,
    from_outside: bool = False,
) -> Endpoint | None:
    """Where wired services send (``routes.push``, from ``config.routing``): the stack's own
    server, or an external / Grafana Cloud one with ``authToken``.

    ``from_outside`` asks for the address a client outside the server's cluster or host can use
    (ECS tasks): the server's exposed endpoint. None when the target is this stack's server and
    it has no (such) push endpoint.
    """
    if routes.to_self:
        if server is None:
            return None
        return server.external_push if from_outside else server.push
    route = routes.external_push if from_outside else routes.push
    return to_endpoint(route, auth_token=auth_token) if route is not None else None


def deploy_wiring(
    config: BundleConfig,
    target: Endpoint | None,
    project_root: Path,
    ecs_target: Endpoint | None = None,
    *,
    name: str = DEFAULT_NAME,
) -> dict[str, Any]:
    """Wire every enabled service in ``config.services`` to ``target`` (ECS services to
    ``ecs_target`` when given: they run outside the server's cluster); return stack outputs.

    ``name`` names the wiring set: its components (``<name>-kubernetes-services``,
    ``<name>-credentials``, ...), every resource in them (``<name>-<service>``) and, for a
    non-default name, the Secrets it creates, so two sets (two servers) coexist in one program.

    Disabled (globally or per service) means no wiring resources at all, so turning a switch
    off makes the next ``pulumi up`` remove them - except that an ECS service given by its whole
    task definition (``ecs.taskDefinition``) then gets that definition registered unprofiled, so
    the family's newest revision is one it can run without the profiler's secret and role.
    """
    services = [service for service in config.services if is_wired(config.target, service)]
    profiled = services if config.target.enabled and target is not None else []
    unprofiled = [
        service
        for service in config.services
        if service.platform == "ecs" and service.ecs.task_definition is not None and service not in profiled
    ]
    if not config.target.enabled or target is None:
        if target is None and config.target.enabled and services:
            pulumi.log.warn(
                "pyroscope:target.kind is self but the server has no push endpoint: "
                f"{', '.join(s.name for s in services)} are not wired"
            )
        if unprofiled:
            _register_unprofiled(unprofiled, project_root, WiredServices(f"{name}-ecs-services", "ecs"), name)
        return {}
    # Exported even when this stack wires no service itself: a central profiling stack is what
    # other stacks read with a StackReference (wiring/consumer.py).
    outputs: dict[str, Any] = {names.OUTPUT_SERVER_ADDRESS: target.url}
    if services:
        outputs[names.OUTPUT_WIRED_SERVICES] = sorted(service.name for service in services)
    if target.basic_auth_user is not None:
        outputs[names.OUTPUT_BASIC_AUTH_USER] = target.basic_auth_user
    if target.basic_auth_password is not None:
        outputs[names.OUTPUT_BASIC_AUTH_PASSWORD] = pulumi.Output.secret(target.basic_auth_password)
    if target.tenant_id:
        outputs[names.OUTPUT_TENANT_ID] = target.tenant_id
    kubernetes = [service for service in services if service.platform == "kubernetes"]
    ecs = [service for service in services if service.platform == "ecs"]
    if kubernetes:
        outputs.update(_wire_kubernetes(config, target, kubernetes, name))
    ecs_endpoint = ecs_target or target
    if ecs_endpoint.url != target.url:
        outputs[names.OUTPUT_EXTERNAL_SERVER_ADDRESS] = ecs_endpoint.url
    if ecs:
        outputs.update(_wire_ecs(config, ecs_endpoint, ecs, project_root, unprofiled, name=name))
    elif unprofiled:
        _register_unprofiled(unprofiled, project_root, WiredServices(f"{name}-ecs-services", "ecs"), name)
    return outputs


def _register_unprofiled(
    services: list[Service], project_root: Path, group: pulumi.Resource, name: str = DEFAULT_NAME
) -> None:
    """The whole task definitions of ECS services that are not profiled, registered as they are
    (same resource names as their profiled revisions: turning profiling off is an update)."""
    from pyroscope_bundle.ecs_files import load_task_definition
    from pyroscope_bundle.wiring.ecs import register_unprofiled_task_definition

    for service in services:
        assert service.ecs.task_definition is not None
        register_unprofiled_task_definition(
            f"{name}-{service.name}",
            load_task_definition(project_root / service.ecs.task_definition),
            opts=pulumi.ResourceOptions(parent=group),
        )


def kubernetes_secret_ref(name: str = DEFAULT_NAME) -> SecretKeyRef:
    """The Secret the wiring set ``name`` creates in each namespace (the default set keeps
    ``pyroscope-profiler-credentials``: the env contract's name)."""
    from pyroscope_bundle.wiring.kubernetes import SecretKeyRef as Ref

    return Ref() if name == DEFAULT_NAME else Ref(f"pyroscope-{name}-credentials")


def _wire_kubernetes(
    config: BundleConfig, target: Endpoint, services: list[Service], name: str = DEFAULT_NAME
) -> dict[str, Any]:
    from pyroscope_bundle.wiring.kubernetes import (
        KubernetesCredentials,
        SecretKeyRef,
        default_containers,
        register_service_wiring,
    )

    existing = config.target.existing_secrets
    password = target.basic_auth_password
    secret: SecretKeyRef | None = None
    rollout_hash = None
    credentials: dict[str, KubernetesCredentials] = {}
    if existing.kubernetes_secret_name is not None:
        secret = SecretKeyRef(existing.kubernetes_secret_name, existing.kubernetes_secret_key)
    elif password is not None:
        secret = kubernetes_secret_ref(name)
        rollout_hash = credentials_hash(password)
        for namespace in sorted({str(service.kubernetes.namespace) for service in services}):
            credentials[namespace] = KubernetesCredentials(
                f"{name}-credentials-{namespace}", namespace, password, secret
            )
    server_namespace = (
        config.server.kubernetes.namespace
        if config.target.kind == "self" and config.server.backend == "kubernetes"
        else None
    )
    group = WiredServices(f"{name}-kubernetes-services", "kubernetes")
    for service in services:
        namespace = str(service.kubernetes.namespace)
        deployment = service.kubernetes.deployment or service.name
        depends = [credentials[namespace]] if namespace in credentials else []
        register_service_wiring(
            f"{name}-{service.name}",
            profiler_settings(config.stack, service, target),
            namespace=namespace,
            deployment=deployment,
            containers=service.kubernetes.containers or default_containers(deployment),
            secret=secret,
            credentials_hash=rollout_hash,
            network_policy=service.kubernetes.network_policy,
            server_namespace=server_namespace,
            opts=pulumi.ResourceOptions(parent=group, depends_on=depends),
        )
    if secret is None:
        return {}
    return {names.OUTPUT_KUBERNETES_SECRET_NAME: secret.name, names.OUTPUT_KUBERNETES_SECRET_KEY: secret.key}


def _wire_ecs(
    config: BundleConfig,
    target: Endpoint,
    services: list[Service],
    project_root: Path,
    unprofiled: Sequence[Service] = (),
    *,
    name: str = DEFAULT_NAME,
) -> dict[str, Any]:
    from pyroscope_bundle.ecs_files import load_container_definitions, load_task_definition
    from pyroscope_bundle.wiring.ecs import (
        EcsCredentials,
        managed_execution_policy_arn,
        register_profiled_task_definition,
    )

    existing = config.target.existing_secrets
    credentials: EcsCredentials | None = None
    if existing.aws_secret_arn is not None or target.basic_auth_password is not None:
        credentials = EcsCredentials(
            f"{name}-credentials",
            stack=config.stack,
            password=target.basic_auth_password if existing.aws_secret_arn is None else None,
            existing_secret_arn=existing.aws_secret_arn,
            kms_key_arn=existing.kms_key_arn,
            json_key=existing.aws_secret_json_key,
        )
    pulumi.Output.from_input(target.url).apply(lambda url: _warn_if_cluster_local(url, services))
    group = WiredServices(f"{name}-ecs-services", "ecs")
    # One partition look-up for every task that gets a created execution role.
    needs_role = credentials is not None and any(s.ecs.execution_role_name is None for s in services)
    managed_policy = managed_execution_policy_arn() if needs_role else None
    for service in services:
        if service.ecs.task_definition is not None:
            task_definition = load_task_definition(project_root / service.ecs.task_definition)
            definitions = None
        else:
            assert service.ecs.container_definitions is not None  # checked by the config loader
            definitions = load_container_definitions(project_root / service.ecs.container_definitions)
            task_definition = None
        settings = profiler_settings(config.stack, service, target)
        if existing.aws_secret_arn is not None:
            # The bundle does not manage that secret's value: no rollout hash.
            settings = _without_password(settings)
        register_profiled_task_definition(
            f"{name}-{service.name}",
            settings,
            container_definitions=definitions,
            family=service.ecs.family or service.name,
            stack=config.stack,
            cpu=service.ecs.cpu,
            memory=service.ecs.memory,
            task_definition=task_definition,
            credentials=credentials,
            execution_role=service.ecs.execution_role_name,
            containers=service.ecs.containers,
            overwrite=service.ecs.overwrite_environment,
            managed_policy_arn=managed_policy,
            opts=pulumi.ResourceOptions(parent=group),
        )
    if unprofiled:
        _register_unprofiled(list(unprofiled), project_root, group, name)
    if credentials is None:
        return {}
    return {
        names.OUTPUT_SECRET_ARN: credentials.secret_arn,
        names.OUTPUT_SECRET_JSON_KEY: credentials.json_key,
        names.OUTPUT_SECRET_READ_POLICY_ARN: credentials.policy_arn,
    }


def _without_password(settings: ProfilerSettings) -> ProfilerSettings:
    return dataclasses.replace(settings, basic_auth_password=None)


def _warn_if_cluster_local(url: str, services: list[Service]) -> None:
    """ECS tasks cannot resolve in-cluster Service names: say so instead of failing silently."""
    host = urlsplit(url).hostname or ""
    if host.endswith((".svc", ".svc.cluster.local")):
        pulumi.log.warn(
            f"ECS services {', '.join(s.name for s in services)} push to {url}, an in-cluster address "
            "ECS tasks cannot reach; expose the server (pyroscope:server.kubernetes.ingress) or use "
            "pyroscope:target.kind external"
        )
