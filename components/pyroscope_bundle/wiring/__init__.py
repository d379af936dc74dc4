"""Per-service profiler wiring: env contract, Kubernetes Deployments, ECS task definitions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi

from pyroscope_bundle.config import BundleConfig
from pyroscope_bundle.endpoints import Endpoint, ServerDeployment


def resolve_target(
    config: BundleConfig, server: ServerDeployment | None, auth_token: pulumi.Output[str] | None
) -> Endpoint | None:
    """Where wired services send: the stack's own server, or an external / Grafana Cloud one."""
    target = config.target
    if target.kind == "self":
        return server.push if server is not None else None
    assert target.url is not None  # checked by the config loader
    return Endpoint(
        url=target.url,
        basic_auth_user=target.basic_auth_user,
        basic_auth_password=pulumi.Output.secret(auth_token) if auth_token is not None else None,
        tenant_id=target.tenant_id,
    )


def deploy_wiring(config: BundleConfig, target: Endpoint | None, project_root: Path) -> dict[str, Any]:
    """Wire every enabled service in ``config.services`` to ``target``; return stack outputs."""
    return {}
