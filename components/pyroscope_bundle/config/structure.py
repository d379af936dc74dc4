"""Rules a valid value can still break: bounds, collisions and sections that do not apply.

Each check takes the validated config and returns problems naming the key to change; the
model runs them (through :func:`pyroscope_bundle.config.checks.cross_check`), so a config built
in Python is refused exactly like a stack file. Every case here is something Kubernetes, Docker
or AWS would reject at apply time, or would deploy silently wrong.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from decimal import Decimal

from pyroscope_bundle import constants, names
from pyroscope_bundle.config.errors import Problem, key_path
from pyroscope_bundle.config.model import BundleFields, Service
from pyroscope_bundle.config.types import Size

# Namespaces the cluster itself runs in: the bundle never deploys into or patches workloads there.
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
# Upper bounds of what a single volume or container can be given (EBS/PD volumes end at 64Ti).
MAX_VOLUME = Size(bytes=64 * 2**40, text="64Ti")
MAX_MEMORY = Size(bytes=2**40, text="1Ti")
MAX_CPU_MILLICORES = 256_000
# Fargate task sizes: cpu units -> allowed memory MiB (AWS ECS Developer Guide, "Task CPU and
# memory" for Fargate on Linux): 256 takes 512, 1024 or 2048; the others a range in steps.
_FARGATE_RANGES = {
    512: (1024, 4096, 1024),
    1024: (2048, 8192, 1024),
    2048: (4096, 16384, 1024),
    4096: (8192, 30720, 1024),
    8192: (16384, 61440, 4096),
    16384: (32768, 122880, 8192),
}
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    **{cpu: tuple(range(low, high + 1, step)) for cpu, (low, high, step) in _FARGATE_RANGES.items()},
}


def check_structure(config: BundleFields) -> list[Problem]:
    """Every structural rule of the config, in key order."""
    return [
        *_check_resources(config),
        *_check_namespaces(config),
        *_check_docker_collisions(config),
        *_check_service_sections(config),
        *_check_service_collisions(config),
        *_check_ecs_sizes(config),
    ]


def millicores(cpu: str) -> int:
    """``250m`` -> 250, ``1.5`` -> 1500 (Kubernetes rounds sub-millicore values up to 1m)."""
    if cpu.endswith("m"):
        return int(cpu[:-1])
    return int((Decimal(cpu) * 1000).to_integral_value(rounding="ROUND_CEILING"))


def _check_resources(config: BundleFields) -> list[Problem]:
    server = config.server
    problems: list[Problem] = []
    resources = server.resources
    for side in ("requests", "limits"):
        amounts = getattr(resources, side)
        cpu = millicores(amounts.cpu)
        if cpu < 1 or cpu > MAX_CPU_MILLICORES:
            problems.append(
                Problem(
                    key_path("server", "resources", side, "cpu"),
                    f"is outside 1m to {MAX_CPU_MILLICORES // 1000} CPUs",
                    amounts.cpu,
                )
            )
        if amounts.memory.bytes > MAX_MEMORY.bytes:
            problems.append(
                Problem(
                    key_path("server", "resources", side, "memory"),
                    f"is above {MAX_MEMORY.text}; no node has that much memory",
                    amounts.memory.text,
                )
            )
    on_kubernetes = server.backend == "kubernetes"  # Docker applies only the memory limit
    if on_kubernetes and millicores(resources.requests.cpu) > millicores(resources.limits.cpu):
        problems.append(
            Problem(
                key_path("server", "resources", "requests", "cpu"),
                f"is above pyroscope:server.resources.limits.cpu ({resources.limits.cpu}); Kubernetes "
                "refuses requests above limits: raise the limit or lower the request",
                resources.requests.cpu,
            )
        )
    if on_kubernetes and resources.requests.memory.bytes > resources.limits.memory.bytes:
        problems.append(
            Problem(
                key_path("server", "resources", "requests", "memory"),
                f"is above pyroscope:server.resources.limits.memory ({resources.limits.memory.text}); "
                "Kubernetes refuses requests above limits: raise the limit or lower the request",
                resources.requests.memory.text,
            )
        )
    volumes = (
        (("storage", "size"), server.storage.size),
        (("kubernetes", "helm", "volumeSize"), server.kubernetes.helm.volume_size),
    )
    for parts, size in volumes:
        if size.bytes > MAX_VOLUME.bytes:
            problems.append(
                Problem(
                    key_path("server", *parts),
                    f"is above {MAX_VOLUME.text}, the largest volume a cloud disk provides",
                    size.text,
                )
            )
    helm_volume = server.kubernetes.helm.volume_size
    if helm_volume.bytes < 2**30:
        problems.append(
            Problem(
                key_path("server", "kubernetes", "helm", "volumeSize"),
                "is below the 1Gi floor",
                helm_volume.text,
            )
        )
    return problems


def _system_namespace_problem(path: str, namespace: str | None) -> list[Problem]:
    if namespace not in SYSTEM_NAMESPACES:
        return []
    return [
        Problem(
            path,
            f"is a system namespace ({', '.join(SYSTEM_NAMESPACES)}); the bundle does not deploy into "
            "or patch workloads there, use a namespace of its own",
            namespace,
        )
    ]


def _check_namespaces(config: BundleFields) -> list[Problem]:
    problems: list[Problem] = []
    if config.server.backend == "kubernetes":
        problems += _system_namespace_problem(
            key_path("server", "kubernetes", "namespace"), config.server.kubernetes.namespace
        )
    for index, service in enumerate(config.services):
        if service.platform == "kubernetes":
            problems += _system_namespace_problem(
                key_path("services", index, "kubernetes", "namespace"), service.kubernetes.namespace
            )
    return problems


def _addresses_overlap(first: str, second: str) -> bool:
    """Two published ports on one host collide when the addresses match or either is 0.0.0.0."""
    return first == second or "0.0.0.0" in (first, second)  # noqa: S104


def _check_docker_collisions(config: BundleFields) -> list[Problem]:
    server, grafana = config.server.docker, config.grafana.docker
    on_docker = config.server.enabled and config.server.backend == "docker"
    if not (on_docker and config.grafana_mode == "docker"):
        return []
    problems: list[Problem] = []
    if server.volume_name == grafana.volume_name:
        problems.append(
            Problem(
                key_path("grafana", "docker", "volumeName"),
                "is the volume of pyroscope:server.docker.volumeName; Grafana's database and the "
                "profiles need a volume each (e.g. grafana-data)",
                grafana.volume_name,
            )
        )
    if server.host_port == grafana.host_port and _addresses_overlap(
        server.publish_address, grafana.publish_address
    ):
        problems.append(
            Problem(
                key_path("grafana", "docker", "hostPort"),
                f"is also pyroscope:server.docker.hostPort on {server.publish_address}; Docker cannot "
                f"publish one port twice, use another (default {constants.GRAFANA_HTTP_PORT})",
                grafana.host_port,
            )
        )
    return problems


def _check_service_sections(config: BundleFields) -> list[Problem]:
    """A section for the other platform would be ignored without a word; a Kubernetes pod wired
    to this host's Docker server would send to its own loopback."""
    problems: list[Problem] = []
    for index, service in enumerate(config.services):
        other = "ecs" if service.platform == "kubernetes" else "kubernetes"
        if getattr(service, other).model_fields_set:
            problems.append(
                Problem(
                    key_path("services", index, other),
                    f"applies to platform {other}, but the service's platform is {service.platform}; "
                    f"remove it (or set pyroscope:services[{index}].platform: {other})",
                    getattr(service, other).model_dump(mode="json", by_alias=True, exclude_unset=True),
                )
            )
        reaches_docker = (
            service.platform == "kubernetes"
            and service.enabled
            and config.target.enabled
            and config.target.kind == "self"
            and config.server.enabled
            and config.server.backend == "docker"
        )
        if reaches_docker:
            problems.append(
                Problem(
                    key_path("services", index, "platform"),
                    "cannot reach a Docker server on this host (the pod would send to its own "
                    "127.0.0.1); use pyroscope:target.kind external with an address the cluster reaches",
                    service.platform,
                )
            )
    return problems


def _duplicates(path: str, values: Iterable[str]) -> list[Problem]:
    repeated = sorted(value for value, count in Counter(values).items() if count > 1)
    if not repeated:
        return []
    return [Problem(path, f"lists {', '.join(repeated)} more than once; list each container once", repeated)]


def _check_service_collisions(config: BundleFields) -> list[Problem]:
    problems: list[Problem] = []
    server = config.server
    own_namespace = server.kubernetes.namespace if server.enabled and server.backend == "kubernetes" else None
    patched: dict[tuple[str, str], int] = {}
    policies: dict[str, int] = {}
    families: dict[str, int] = {}
    roles: dict[str, int] = {}
    for index, service in enumerate(config.services):
        if service.platform == "kubernetes":
            problems += _duplicates(
                key_path("services", index, "kubernetes", "containers"), service.kubernetes.containers
            )
            problems += _check_patch_target(config, index, own_namespace, patched)
            if service.kubernetes.network_policy:
                problems += _check_policy_name(
                    index, service, policies, names.network_policy_name(service.name)
                )
        else:
            problems += _duplicates(key_path("services", index, "ecs", "containers"), service.ecs.containers)
            if service.ecs.task_definition is not None:
                continue  # its family is in the file: config/services.py compares it
            family = service.ecs.family or service.name
            if family in families:
                problems.append(
                    Problem(
                        key_path("services", index, "ecs", "family"),
                        f"is also the family of pyroscope:services[{families[family]}]; two services "
                        "would register revisions of one task definition (set ecs.family apart)",
                        family,
                    )
                )
            elif service.ecs.execution_role_name is None:
                role = names.execution_role_name(family, config.stack)
                if role in roles:
                    problems.append(
                        Problem(
                            key_path("services", index, "ecs", "family"),
                            f"gives the execution role name {role!r} (cut to 64 characters) of "
                            f"pyroscope:services[{roles[role]}]; use a shorter or distinct family",
                            family,
                        )
                    )
                roles.setdefault(role, index)
            families.setdefault(family, index)
    return problems


def _check_patch_target(
    config: BundleFields, index: int, own_namespace: str | None, patched: dict[tuple[str, str], int]
) -> list[Problem]:
    service = config.services[index]
    namespace = service.kubernetes.namespace
    if namespace is None:
        return []  # reported by the loader
    deployment = service.kubernetes.deployment or service.name
    key = "deployment" if service.kubernetes.deployment else "name"
    path = key_path("services", index, *(("kubernetes", "deployment") if key == "deployment" else ("name",)))
    problems: list[Problem] = []
    other = patched.get((namespace, deployment))
    # The same name twice is reported as a duplicate name by the loader.
    if other is not None and config.services[other].name != service.name:
        problems.append(
            Problem(
                path,
                f"patches Deployment {namespace}/{deployment}, which pyroscope:services"
                f"[{other}] patches too; wire each Deployment once "
                "(list several containers in kubernetes.containers)",
                deployment,
            )
        )
    patched.setdefault((namespace, deployment), index)
    prefix = constants.KUBERNETES_WORKLOAD_PREFIX
    if namespace == own_namespace and (deployment == prefix or deployment.startswith(f"{prefix}-")):
        problems.append(
            Problem(
                path,
                f"names the bundle's own workload in {namespace} (the server and gateway are "
                f"{prefix} and {prefix}-*); wire your application's Deployment",
                deployment,
            )
        )
    return problems


def _check_policy_name(index: int, service: Service, policies: dict[str, int], policy: str) -> list[Problem]:
    path = key_path("services", index, "name")
    problems: list[Problem] = []
    if policy.endswith("-"):
        problems.append(
            Problem(
                path,
                f"gives the NetworkPolicy name {policy!r} (cut to 63 characters), which ends in '-' "
                "and Kubernetes refuses; use a shorter service name",
                service.name,
            )
        )
    namespace = service.kubernetes.namespace or ""
    scoped = f"{namespace}/{policy}"
    if scoped in policies:
        problems.append(
            Problem(
                path,
                f"gives the NetworkPolicy name {policy!r} (cut to 63 characters) of "
                f"pyroscope:services[{policies[scoped]}] in namespace {namespace}; use a shorter "
                "service name",
                service.name,
            )
        )
    policies.setdefault(scoped, index)
    return problems


def _check_ecs_sizes(config: BundleFields) -> list[Problem]:
    problems: list[Problem] = []
    for index, service in enumerate(config.services):
        if service.platform != "ecs":
            continue
        cpu, memory = int(service.ecs.cpu), int(service.ecs.memory)
        if cpu not in FARGATE_SIZES:
            problems.append(
                Problem(
                    key_path("services", index, "ecs", "cpu"),
                    f"is not a Fargate task size; use one of {', '.join(map(str, FARGATE_SIZES))}",
                    service.ecs.cpu,
                )
            )
            continue
        if memory not in FARGATE_SIZES[cpu]:
            if cpu in _FARGATE_RANGES:
                low, high, step = _FARGATE_RANGES[cpu]
                shown = f"{low} to {high} in steps of {step}"
            else:
                shown = ", ".join(map(str, FARGATE_SIZES[cpu]))
            problems.append(
                Problem(
                    key_path("services", index, "ecs", "memory"),
                    f"is not a Fargate memory size for cpu {cpu}; use {shown} (MiB)",
                    service.ecs.memory,
                )
            )
    return problems
