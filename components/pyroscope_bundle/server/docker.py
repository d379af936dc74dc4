"""Pyroscope on Docker (to be built: issue 3)."""

from __future__ import annotations

from pyroscope_bundle.config import BundleConfig
from pyroscope_bundle.endpoints import ServerDeployment


def deploy_docker_server(config: BundleConfig) -> ServerDeployment | None:
    return None
