"""Pyroscope server backends: Docker (one host) and Kubernetes (single binary or Helm chart)."""

from __future__ import annotations

from pyroscope_bundle.config import BundleConfig
from pyroscope_bundle.endpoints import ServerDeployment


def deploy_server(config: BundleConfig) -> ServerDeployment | None:
    """Register the server for ``config.server.backend``."""
    return None
