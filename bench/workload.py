"""The benchmark's workload: N services, half Kubernetes, half ECS, as config for both programs.

Both programs get the same services from stack config (as a real program would): the bundle
its ``pyroscope:*`` keys, the hand-written program a minimal ``handwritten:*`` schema of its
own. The target is an external server with basic auth, so no server or Grafana is registered
and the measurement is the per-service wiring alone (a server is a constant that does not
grow with N, and would be the same for both programs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyroscope_bundle import constants

STACK = "bench"
SERVER_ADDRESS = "https://profiles.example.com"
BASIC_AUTH_USER = "profiler"
# High-entropy, like a Grafana Cloud access policy token (the credentials hash is derived from it).
AUTH_TOKEN = "glc_bench_0123456789abcdef0123456789abcdef"
# Kubernetes services are spread over this many namespaces (one credentials Secret per namespace).
NAMESPACES = 5
# (runtime, container-definition file): the two files the repository ships in configs/ecs/.
ECS_VARIANTS = (
    ("python", "configs/ecs/payments-api.json"),
    ("dotnet", "configs/ecs/billing-worker.json"),
)
KUBERNETES_RUNTIMES = ("java", "python")
HANDWRITTEN_NAMESPACE = "handwritten"


@dataclass(frozen=True)
class BenchService:
    """One wired service, in the terms both programs understand."""

    name: str
    platform: str  # kubernetes | ecs
    runtime: str
    namespace: str | None = None  # kubernetes
    container_definitions: str | None = None  # ecs: path relative to the project root


def services(count: int) -> list[BenchService]:
    """``count`` services: even indexes on Kubernetes, odd ones on ECS (half and half)."""
    result: list[BenchService] = []
    for index in range(count):
        name = f"svc-{index:04d}"
        variant = index // 2
        if index % 2 == 0:
            result.append(
                BenchService(
                    name=name,
                    platform="kubernetes",
                    runtime=KUBERNETES_RUNTIMES[variant % len(KUBERNETES_RUNTIMES)],
                    namespace=f"team-{variant % NAMESPACES}",
                )
            )
        else:
            runtime, path = ECS_VARIANTS[variant % len(ECS_VARIANTS)]
            result.append(BenchService(name, "ecs", runtime, container_definitions=path))
    return result


def bundle_config(count: int) -> tuple[dict[str, Any], list[str]]:
    """Config (``namespace:key`` -> value) and secret keys for ``pyroscope_bundle.program.main``."""
    project = constants.PROJECT_NAME
    entries: list[dict[str, Any]] = []
    for service in services(count):
        entry: dict[str, Any] = {
            "name": service.name,
            "platform": service.platform,
            "runtime": service.runtime,
        }
        if service.platform == "kubernetes":
            entry["kubernetes"] = {"namespace": service.namespace, "networkPolicy": True}
        else:
            entry["ecs"] = {"containerDefinitions": service.container_definitions}
        entries.append(entry)
    config: dict[str, Any] = {
        f"{project}:server": {"enabled": False},
        f"{project}:grafana": {"mode": "none"},
        f"{project}:target": {"kind": "external", "url": SERVER_ADDRESS, "basicAuthUser": BASIC_AUTH_USER},
        f"{project}:services": entries,
        f"{project}:authToken": AUTH_TOKEN,
    }
    return config, [f"{project}:authToken"]


def handwritten_config(count: int, *, components: bool = False) -> tuple[dict[str, Any], list[str]]:
    """The same services for the hand-written program, in its own (minimal) config schema.

    ``components``: group the resources like the bundle does (the attribution variant).
    """
    prefix = HANDWRITTEN_NAMESPACE
    entries: list[dict[str, Any]] = []
    for service in services(count):
        entry: dict[str, Any] = {
            "name": service.name,
            "platform": service.platform,
            "runtime": service.runtime,
        }
        if service.platform == "kubernetes":
            entry["namespace"] = service.namespace
        else:
            entry["containerDefinitions"] = service.container_definitions
        entries.append(entry)
    config: dict[str, Any] = {
        f"{prefix}:serverAddress": SERVER_ADDRESS,
        f"{prefix}:basicAuthUser": BASIC_AUTH_USER,
        f"{prefix}:services": entries,
        f"{prefix}:authToken": AUTH_TOKEN,
        f"{prefix}:components": "true" if components else "false",
    }
    return config, [f"{prefix}:authToken"]
