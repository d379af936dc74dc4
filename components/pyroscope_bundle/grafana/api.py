"""Grafana datasource via api (to be built)."""

from __future__ import annotations

from typing import Any

from pyroscope_bundle.config import BundleConfig
from pyroscope_bundle.endpoints import ServerDeployment


def deploy_api_datasource(config: BundleConfig, server: ServerDeployment | None) -> dict[str, Any]:
    return {}
