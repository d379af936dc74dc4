"""The authenticating gateway in front of a self-hosted Pyroscope (nginx-unprivileged + basic auth).

It forwards an allow-list (:mod:`pyroscope_bundle.gateway.routes`) by role: push credentials
reach the push APIs, Grafana's read-only credentials the query APIs, an optional admin
credential everything else. How a server backend uses it::

    settings = gateway_settings(config.server, config.stack)
    credentials = GatewayCredentials("pyroscope-gateway-credentials", settings.users)
    gateway = deploy_kubernetes_gateway(settings, namespace, "pyroscope:4040", credentials)
    # NetworkPolicy: admit only gateway.pod_labels to Pyroscope's pods.
    push = gateway.endpoint()          # url + user + secret push password (+ tenant)
    grafana = gateway.query_endpoint() # url + user + secret read-only password

Docker: ``deploy_docker_gateway(settings, "pyroscope:4040", network.name, credentials,
upstream_network=internal.name)`` and do not publish Pyroscope's own port.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pyroscope_bundle.gateway.common import (
    GatewayDeployment,
    GatewaySettings,
    gateway_image,
    gateway_labels,
    gateway_settings,
)
from pyroscope_bundle.gateway.credentials import GatewayCredentials, gateway_users, htpasswd_lines
from pyroscope_bundle.gateway.nginx import NginxSettings, render_nginx_conf

if TYPE_CHECKING:
    from pyroscope_bundle.gateway.docker import deploy_docker_gateway
    from pyroscope_bundle.gateway.kubernetes import deploy_kubernetes_gateway

# Imported on first use: the Docker gateway needs pulumi_docker (~0.1-0.4 s to import), which a
# Kubernetes stack must not pay for, and vice versa.
_LAZY = {
    "deploy_docker_gateway": "pyroscope_bundle.gateway.docker",
    "deploy_kubernetes_gateway": "pyroscope_bundle.gateway.kubernetes",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "GatewayCredentials",
    "GatewayDeployment",
    "GatewaySettings",
    "NginxSettings",
    "deploy_docker_gateway",
    "deploy_kubernetes_gateway",
    "gateway_image",
    "gateway_labels",
    "gateway_settings",
    "gateway_users",
    "htpasswd_lines",
    "render_nginx_conf",
]
