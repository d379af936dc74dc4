"""Grafana datasource provisioning: Docker Grafana, Kubernetes sidecar ConfigMap/Secret, or Grafana API."""

from __future__ import annotations

from typing import Any

from pyroscope_bundle.config import BundleConfig
from pyroscope_bundle.config.routing import Routes, config_routes
from pyroscope_bundle.config.source import StackSecrets
from pyroscope_bundle.endpoints import ServerDeployment

# Public API: the mode dispatch, and the modules of each Grafana mode.
__all__ = [
    "api",
    "deploy_grafana",
    "docker",
    "kubernetes",
]


def deploy_grafana(
    config: BundleConfig,
    server: ServerDeployment | None,
    secrets: StackSecrets | None = None,
    routes: Routes | None = None,
) -> dict[str, Any]:
    """Register the datasource for ``config.grafana_mode``; return stack outputs.

    ``secrets``: the Docker Grafana's admin password (``pyroscope:grafanaAdminPassword``) and,
    for the API mode without a server of its own, the external server's ``authToken``.
    """
    secrets = secrets or StackSecrets()
    mode = config.grafana_mode
    if mode == "docker":
        from pyroscope_bundle.grafana.docker import deploy_docker_grafana

        return deploy_docker_grafana(
            config.grafana,
            server,
            secrets.grafana_admin_password,
            stack=config.stack,
            network_name=config.server.docker.network_name,
            image_registry=config.server.image_registry,
            protect=config.server.protect,
        )
    if mode == "kubernetes-sidecar":
        from pyroscope_bundle.grafana.kubernetes import deploy_sidecar_datasource

        return deploy_sidecar_datasource(config.grafana, server)
    if mode == "api":
        from pyroscope_bundle.grafana.api import deploy_api_datasource

        return deploy_api_datasource(
            config.grafana, routes or config_routes(config), server, secrets.auth_token
        )
    return {}
