"""The authenticating gateway in front of a self-hosted Pyroscope (nginx-unprivileged + basic auth).

How a server backend uses it::

    credentials = GatewayCredentials("pyroscope-gateway-credentials", gateway_users(config))
    gateway = deploy_kubernetes_gateway(config, namespace, "pyroscope:4040", credentials)
    # NetworkPolicy: admit only gateway.pod_labels to Pyroscope's pods.
    push = gateway.endpoint()          # url + user + secret password (+ tenant)

Docker: ``deploy_docker_gateway(config, "pyroscope:4040", network.name, credentials)`` and do
not publish Pyroscope's own port.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pyroscope_bundle.gateway.common import GatewayDeployment, gateway_image, gateway_labels
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
    "NginxSettings",
    "deploy_docker_gateway",
    "deploy_kubernetes_gateway",
    "gateway_image",
    "gateway_labels",
    "gateway_users",
    "htpasswd_lines",
    "render_nginx_conf",
]
