"""Grafana datasource provisioning: Docker Grafana, Kubernetes sidecar ConfigMap, or Grafana API."""

from __future__ import annotations

from typing import Any

from pyroscope_bundle.config import BundleConfig
from pyroscope_bundle.endpoints import ServerDeployment


def deploy_grafana(config: BundleConfig, server: ServerDeployment | None) -> dict[str, Any]:
    """Register the datasource for ``config.grafana_mode``; return stack outputs."""
    return {}
