"""The rules across sections of the configuration: each problem names the key to change.

:class:`~pyroscope_bundle.config.bundle.BundleConfig` runs :func:`cross_check` as its model
validator, so a config built in Python is checked exactly like a stack file read by the loader.
The rules of one concern live beside it and are called from here: layout and collisions
(``structure.py``), the routing rule (``routing.py``), unauthenticated exposure
(``exposure.py``), self-monitoring (``monitoring_checks.py``), settings read from outside
``pyroscope:*`` (``environment.py``) and the services (``services.py``, which reads the ECS
files a stack names).
"""

from __future__ import annotations

from pathlib import Path

from pyroscope_bundle import constants
from pyroscope_bundle.config.environment import check_environment
from pyroscope_bundle.config.errors import Problem, key_path
from pyroscope_bundle.config.exposure import check_exposure
from pyroscope_bundle.config.model import BundleFields, Service
from pyroscope_bundle.config.monitoring_checks import check_monitoring
from pyroscope_bundle.config.routing import routing_problems
from pyroscope_bundle.config.services import check_services
from pyroscope_bundle.config.structure import check_structure
from pyroscope_bundle.config.types import nginx_size_bytes, version_tuple


def cross_check(config: BundleFields, project_root: Path | None = None) -> list[Problem]:
    """Checks that span keys: each names the key to change."""
    problems: list[Problem] = []
    server, target, grafana = config.server, config.target, config.grafana

    major = version_tuple(server.version)[0]
    if major not in constants.PYROSCOPE_SUPPORTED_MAJORS:
        majors = " or ".join(f"{m}.x" for m in constants.PYROSCOPE_SUPPORTED_MAJORS)
        problems.append(
            Problem(
                key_path("server", "version"),
                f"is not supported; use a {majors} version (default {constants.PYROSCOPE_DEFAULT_VERSION})",
                server.version,
            )
        )
    retention = server.retention
    if retention.seconds < constants.PYROSCOPE_MIN_RETENTION_SECONDS:
        problems.append(
            Problem(
                key_path("server", "retention"),
                "is shorter than one block (1h): data would be deleted before it is compacted; "
                "use at least 1h",
                retention.text,
            )
        )
    if retention.seconds > constants.PYROSCOPE_MAX_RETENTION_SECONDS:
        problems.append(
            Problem(key_path("server", "retention"), "is longer than 10y; use e.g. 365d", retention.text)
        )
    if server.storage.size.bytes < 2**30:
        problems.append(
            Problem(key_path("server", "storage", "size"), "is below the 1Gi floor", server.storage.size.text)
        )
    for side in ("requests", "limits"):
        memory = getattr(server.resources, side).memory
        if memory.bytes < 256 * 2**20:
            problems.append(
                Problem(key_path("server", "resources", side, "memory"), "is below 256Mi", memory.text)
            )
    if server.tenants and not server.multitenancy:
        problems.append(
            Problem(
                key_path("server", "tenants"), "needs pyroscope:server.multitenancy: true", server.tenants
            )
        )
    if server.backend == "kubernetes" and server.kubernetes.mode == "microservices" and major < 2:
        problems.append(
            Problem(
                key_path("server", "version"),
                f"is not supported with pyroscope:server.kubernetes.mode microservices (Helm chart "
                f"{server.kubernetes.helm.chart_version} runs the 2.x storage); use a 2.x version",
                server.version,
            )
        )
    ingress = server.kubernetes.ingress
    if (
        ingress.enabled
        and ingress.host
        and server.backend == "kubernetes"
        and not server.kubernetes.allow_from
    ):
        problems.append(
            Problem(
                key_path("server", "kubernetes", "allowFrom"),
                "is empty but the ingress is enabled: the NetworkPolicy would drop the ingress "
                "controller's traffic; add its namespace, e.g. [{namespace: ingress-nginx}]",
                [],
            )
        )
    if ingress.enabled and server.enabled and server.backend == "docker":
        problems.append(
            Problem(
                key_path("server", "kubernetes", "ingress", "enabled"),
                "has no effect with pyroscope:server.backend docker (an Ingress is a Kubernetes "
                "object: nothing would be exposed); remove it, or publish through the gateway with "
                "pyroscope:server.docker.publishAddress (docs/local.md)",
                True,
            )
        )
    if ingress.enabled and not ingress.host:
        problems.append(
            Problem(
                key_path("server", "kubernetes", "ingress", "host"),
                "is required when the ingress is enabled",
                has_value=False,
            )
        )
    problems += _check_ingress_body_size(config)

    grafana_major_minor = version_tuple(grafana.version)[:2]
    if grafana_major_minor < constants.GRAFANA_MIN_SUPPORTED or grafana_major_minor[0] > 13:
        problems.append(
            Problem(
                key_path("grafana", "version"),
                "is not supported; use Grafana 9.4 to 13.x "
                "(10.1+ gets the grafana-pyroscope-datasource type)",
                grafana.version,
            )
        )
    mode = config.grafana_mode
    if mode == "api" and not grafana.api.url:
        problems.append(
            Problem(
                key_path("grafana", "api", "url"),
                "is required when pyroscope:grafana.mode is api",
                has_value=False,
            )
        )
    if mode == "api" and not server.enabled and not grafana.api.pyroscope_url:
        problems.append(
            Problem(
                key_path("grafana", "api", "pyroscopeUrl"),
                "is required when pyroscope:grafana.mode is api and pyroscope:server.enabled is false",
                has_value=False,
            )
        )
    if mode in ("docker", "kubernetes-sidecar") and not server.enabled and target.kind == "self":
        problems.append(
            Problem(key_path("grafana", "mode"), "needs a server: pyroscope:server.enabled is false", mode)
        )
    if server.enabled and mode == "docker" and server.backend != "docker":
        problems.append(
            Problem(
                key_path("grafana", "mode"),
                "needs pyroscope:server.backend: docker; use kubernetes-sidecar or api",
                mode,
            )
        )
    if server.enabled and mode == "kubernetes-sidecar" and server.backend != "kubernetes":
        problems.append(
            Problem(
                key_path("grafana", "mode"),
                "needs pyroscope:server.backend: kubernetes; use docker or api",
                mode,
            )
        )

    problems += check_structure(config)
    problems += routing_problems(config)
    problems += check_exposure(config)
    problems += _check_target(config)
    problems += _check_services(config, project_root)
    problems += _check_tempo(config)
    problems += check_monitoring(config)
    problems += check_environment(config)
    problems += check_services(config, project_root)
    return problems


def _check_ingress_body_size(config: BundleFields) -> list[Problem]:
    """An ingress-nginx body limit in front of the gateway must be the gateway's own: a smaller
    one refuses at the Ingress (413) pushes the gateway accepts, a larger one (or 0, unlimited)
    lets the Ingress buffer bodies the gateway then refuses."""
    key = constants.INGRESS_NGINX_BODY_SIZE_ANNOTATION
    configured = config.server.kubernetes.ingress.annotations.get(key)
    if configured is None or not config.gateway_enabled:
        return []
    if nginx_size_bytes(configured) == nginx_size_bytes(constants.GATEWAY_MAX_BODY_SIZE):
        return []
    return [
        Problem(
            key_path("server", "kubernetes", "ingress", "annotations", key),
            f"does not match the gateway's body limit: use {constants.GATEWAY_MAX_BODY_SIZE!r} or leave "
            "it out (the bundle sets it); a smaller one makes the Ingress refuse large pushes the "
            "gateway accepts (413), a larger one (or 0) has it buffer bodies the gateway refuses",
            configured,
        )
    ]


def _check_tempo(config: BundleFields) -> list[Problem]:
    """An existing Tempo datasource can only be changed through Grafana's API; a provisioning
    file with its uid would create a second, conflicting datasource."""
    tempo = config.grafana.tempo
    if not tempo.existing:
        return []
    if tempo.url is not None:
        return [
            Problem(
                key_path("grafana", "tempo", "url"),
                "is set together with tempo.existing: true; existing links the datasource that is "
                "already in Grafana, url creates a new one - set one of them",
                tempo.url,
            )
        ]
    if config.grafana_mode != "api":
        return [
            Problem(
                key_path("grafana", "tempo", "existing"),
                f"needs grafana.mode api (is {config.grafana_mode}): only Grafana's API can update a "
                "datasource the bundle did not provision",
                True,
            )
        ]
    return []


def _check_target(config: BundleFields) -> list[Problem]:
    problems: list[Problem] = []
    target, server = config.target, config.server
    if target.kind == "self":
        if not server.enabled:
            problems.append(
                Problem(
                    key_path("target", "kind"),
                    "needs pyroscope:server.enabled: true; or use external / grafana-cloud",
                    target.kind,
                )
            )
        if target.url:
            problems.append(
                Problem(
                    key_path("target", "url"),
                    "must not be set for kind self (the address is the stack's own server)",
                    target.url,
                )
            )
        if target.basic_auth_user:
            problems.append(
                Problem(
                    key_path("target", "basicAuthUser"),
                    "must not be set for kind self (the gateway issues credentials)",
                    target.basic_auth_user,
                )
            )
        if target.tenant_id is not None and not server.multitenancy:
            problems.append(
                Problem(
                    key_path("target", "tenantId"),
                    "is set but pyroscope:server.multitenancy is false",
                    target.tenant_id,
                )
            )
        if target.tenant_id is not None and server.tenants and target.tenant_id not in server.tenants:
            problems.append(
                Problem(
                    key_path("target", "tenantId"),
                    f"is not one of pyroscope:server.tenants ({', '.join(server.tenants)})",
                    target.tenant_id,
                )
            )
        if server.multitenancy and target.tenant_id is None and config.services:
            problems.append(
                Problem(
                    key_path("target", "tenantId"),
                    "is required: pyroscope:server.multitenancy is true",
                    has_value=False,
                )
            )
    elif not target.url:
        problems.append(
            Problem(key_path("target", "url"), f"is required for kind {target.kind}", has_value=False)
        )
    if target.kind == "grafana-cloud":
        if not target.basic_auth_user:
            problems.append(
                Problem(
                    key_path("target", "basicAuthUser"),
                    "is required for Grafana Cloud (the stack's numeric user id)",
                    has_value=False,
                )
            )
        elif not target.basic_auth_user.isdigit():
            problems.append(
                Problem(
                    key_path("target", "basicAuthUser"),
                    "is not a Grafana Cloud user id; use the stack's numeric user id",
                    target.basic_auth_user,
                )
            )
        if not config.auth_token_set:
            problems.append(
                Problem(
                    key_path("authToken"),
                    "is required for Grafana Cloud; set it with `pulumi config set --secret authToken`",
                    has_value=False,
                )
            )
        if target.tenant_id is not None:
            problems.append(
                Problem(
                    key_path("target", "tenantId"),
                    "must not be set for Grafana Cloud (the user id selects the tenant)",
                    target.tenant_id,
                )
            )
    if target.kind == "external" and target.basic_auth_user and not config.auth_token_set:
        problems.append(
            Problem(
                key_path("authToken"),
                "is required when pyroscope:target.basicAuthUser is set",
                has_value=False,
            )
        )
    return problems


def _check_services(config: BundleFields, project_root: Path | None) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for index, service in enumerate(config.services):
        if service.name in seen:
            problems.append(
                Problem(
                    key_path("services", index, "name"),
                    f"is a duplicate of pyroscope:services[{seen[service.name]}].name",
                    service.name,
                )
            )
        seen.setdefault(service.name, index)
        if service.platform == "kubernetes" and not service.kubernetes.namespace:
            problems.append(
                Problem(
                    key_path("services", index, "kubernetes", "namespace"),
                    "is required for platform kubernetes",
                    has_value=False,
                )
            )
        if service.platform == "ecs":
            problems += _check_ecs_source(index, service, project_root)
            problems += _check_ecs_reach(config, index)
    return problems


def _check_ecs_reach(config: BundleFields, index: int) -> list[Problem]:
    """ECS tasks run outside the server's cluster or host: the stack's own server must be
    exposed to them, or they would be wired to an address they can never reach."""
    service, server = config.services[index], config.server
    if config.target.kind != "self" or not service.enabled or not config.target.enabled:
        return []
    path = key_path("services", index, "platform")
    if server.backend == "docker":
        reason = "cannot reach a Docker server on this host; use pyroscope:target.kind external"
        return [Problem(path, reason, "ecs")]
    ingress = server.kubernetes.ingress
    if not (ingress.enabled and ingress.host and config.gateway_enabled):
        return [
            Problem(
                path,
                "cannot reach the in-cluster server: enable pyroscope:server.kubernetes.ingress in front of "
                "the authenticating gateway (server.gateway.enabled) or use pyroscope:target.kind external",
                "ecs",
            )
        ]
    return []


def _check_ecs_source(index: int, service: Service, project_root: Path | None) -> list[Problem]:
    """Exactly one of ecs.containerDefinitions and ecs.taskDefinition, and the file exists."""
    ecs = service.ecs
    if ecs.task_definition is None:
        return _check_ecs_file(index, ecs.container_definitions, project_root)
    path = key_path("services", index, "ecs", "taskDefinition")
    if ecs.container_definitions is not None:
        return [
            Problem(
                path,
                "and ecs.containerDefinitions are both set; the task definition file already holds the "
                "container definitions, remove ecs.containerDefinitions",
                ecs.task_definition,
            )
        ]
    overridden = sorted({"family", "cpu", "memory"} & ecs.model_fields_set)
    if overridden:
        return [
            Problem(
                path,
                f"comes with its own family, cpu and memory; remove ecs.{', ecs.'.join(overridden)}",
                ecs.task_definition,
            )
        ]
    if project_root is not None and not (project_root / ecs.task_definition).is_file():
        return [Problem(path, f"does not exist under {project_root}", ecs.task_definition)]
    return []


def _check_ecs_file(index: int, relative: str | None, project_root: Path | None) -> list[Problem]:
    path = key_path("services", index, "ecs", "containerDefinitions")
    if not relative:
        return [
            Problem(
                path,
                "is required for platform ecs (a container-definition JSON file, e.g. configs/ecs/api.json), "
                "unless ecs.taskDefinition names the whole task definition",
                has_value=False,
            )
        ]
    if project_root is not None and not (project_root / relative).is_file():
        return [Problem(path, f"does not exist under {project_root}", relative)]
    return []
