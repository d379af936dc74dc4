"""Pyroscope on Kubernetes (to be built: issue 4)."""

from __future__ import annotations

from pyroscope_bundle.config import BundleConfig
from pyroscope_bundle.endpoints import ServerDeployment


def deploy_kubernetes_server(config: BundleConfig) -> ServerDeployment | None:
    return None
