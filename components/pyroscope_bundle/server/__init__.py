"""Pyroscope server backends: Docker (one host) and Kubernetes (single binary or Helm chart)."""

from __future__ import annotations

from pyroscope_bundle.config import BundleConfig
from pyroscope_bundle.config.routing import Routes, config_routes
from pyroscope_bundle.endpoints import ServerDeployment

# Public API: the mode dispatch, and the modules of each backend.
__all__ = [
    "deploy_server",
    "docker",
    "helm",
    "k8s_common",
    "kubernetes",
]


def deploy_server(
    config: BundleConfig, routes: Routes | None = None, *, name: str = "pyroscope"
) -> ServerDeployment | None:
    """Register the server for ``config.server.mode``; addresses and tenants from ``routes``.
    ``name``: the server component's (its children are named after it)."""
    routes = routes or config_routes(config)
    mode = config.server.mode
    if mode == "docker":
        from pyroscope_bundle.server.docker import deploy_docker_server

        return deploy_docker_server(config, routes, name=name)
    if mode == "microservices":
        from pyroscope_bundle.server.helm import deploy_helm_server

        return deploy_helm_server(config, routes, name=name)
    from pyroscope_bundle.server.kubernetes import deploy_kubernetes_server

    return deploy_kubernetes_server(config, routes, name=name)
