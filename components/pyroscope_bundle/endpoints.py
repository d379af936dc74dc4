"""What the parts of the bundle hand to each other: where profiles go, and with which credentials.

The server backends produce a :class:`ServerDeployment`; the Grafana and wiring parts consume
:class:`Endpoint` values. Credentials stay Pulumi secret Outputs throughout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi


@dataclass(frozen=True)
class Endpoint:
    """An address to push to or query, and how to authenticate there."""

    url: pulumi.Input[str]
    basic_auth_user: pulumi.Input[str] | None = None
    # Always a secret Output when set.
    basic_auth_password: pulumi.Output[str] | None = None
    tenant_id: str | None = None


@dataclass(frozen=True)
class ServerDeployment:
    """A deployed Pyroscope server, as the rest of the bundle needs it."""

    backend: str
    version: str
    # Where wired services push (the gateway when there is one).
    push: Endpoint
    # Where Grafana queries (Docker network alias or in-cluster Service): the gateway, with its
    # credentials, when there is one (it is then the only client Pyroscope admits).
    query: Endpoint
    # Stack outputs this backend contributes (URLs, namespace, image versions).
    outputs: dict[str, Any] = field(default_factory=dict)
    # Kubernetes namespace of the server (NetworkPolicy peers are derived from it).
    namespace: str | None = None
    # Docker network that clients (Grafana) join to reach the server by alias.
    docker_network: pulumi.Input[str] | None = None
    # The push endpoint as seen from outside the cluster (Ingress in front of the gateway), for
    # clients that cannot resolve in-cluster names, such as ECS tasks. None when not exposed.
    external_push: Endpoint | None = None
    # A multi-tenant server behind the gateway: Grafana's endpoint per tenant (the gateway user IS
    # the tenant), in pyroscope:server.tenants order; ``query`` is the first. Empty otherwise.
    query_per_tenant: dict[str, Endpoint] = field(default_factory=dict)
    # The backend's component: what resources in its namespace depend on (monitoring).
    resource: pulumi.Resource | None = None
