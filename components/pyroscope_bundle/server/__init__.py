"""Pyroscope server backends: Docker (one host) and Kubernetes (single binary or Helm chart)."""

from __future__ import annotations

from pyroscope_bundle.config import BundleConfig
from pyroscope_bundle.endpoints import ServerDeployment


def deploy_server(config: BundleConfig) -> ServerDeployment | None:
    """Register the server for ``config.server.backend``."""
    if config.server.backend == "docker":
        from pyroscope_bundle.server.docker import deploy_docker_server

        return deploy_docker_server(config)
    from pyroscope_bundle.server.kubernetes import deploy_kubernetes_server

    return deploy_kubernetes_server(config)
