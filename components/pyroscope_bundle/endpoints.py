"""What the parts of the bundle hand to each other: where profiles go, and with which credentials.

The server backends produce a :class:`ServerDeployment`; the Grafana and wiring parts consume
:class:`Endpoint` values. Credentials stay Pulumi secret Outputs throughout.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from pyroscope_bundle.config.routing import Route, Routes

# Public: the types a program built from the components hands around (``server.endpoints.push``,
# an Endpoint of its own for the wiring functions).
__all__ = ["Endpoint", "ServerDeployment", "ServerEndpoints"]


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
    # credentials, when there is one (it is then the only client Pyroscope admits). None only for
    # a multi-tenant server that names no tenant (the loader refuses it unless Grafana is off).
    query: Endpoint | None
    # Stack outputs this backend contributes (URLs, namespace, image versions).
    outputs: dict[str, Any] = field(default_factory=dict)
    # Kubernetes namespace of the server (NetworkPolicy peers are derived from it).
    namespace: str | None = None
    # Docker network that clients (Grafana) join to reach the server by alias.
    docker_network: pulumi.Input[str] | None = None
    # The push endpoint as seen from outside the cluster (Ingress in front of the gateway), for
    # clients that cannot resolve in-cluster names, such as ECS tasks. None when not exposed.
    external_push: Endpoint | None = None
    # A multi-tenant server: Grafana's endpoint per tenant (behind the gateway the user IS the
    # tenant; without it the endpoint sends the tenant header), in routing order; ``query`` is
    # the first. Empty otherwise.
    query_per_tenant: dict[str, Endpoint] = field(default_factory=dict)
    # The backend's component: what resources in its namespace depend on (monitoring).
    resource: pulumi.Resource | None = None
    # The end-to-end probe's own (push, query) gateway credentials; None without the probe.
    probe: tuple[Endpoint, Endpoint] | None = None


def to_endpoint(
    route: Route,
    gateway_passwords: Mapping[str, pulumi.Output[str]] | None = None,
    auth_token: pulumi.Output[str] | None = None,
) -> Endpoint:
    """``route`` (plain data from ``config.routing``) with its password: the gateway user's
    generated one, or ``pyroscope:authToken``; always a secret Output."""
    password: pulumi.Output[str] | None = None
    if route.credential == "gateway":
        if route.user is None or gateway_passwords is None or route.user not in gateway_passwords:
            raise ValueError(f"the gateway has no user {route.user!r} for {route.url}")
        password = gateway_passwords[route.user]
    elif route.credential == "auth-token" and auth_token is not None:
        password = pulumi.Output.secret(auth_token)
    return Endpoint(
        url=route.url, basic_auth_user=route.user, basic_auth_password=password, tenant_id=route.tenant
    )


def query_endpoints(
    routes: Routes,
    gateway_passwords: Mapping[str, pulumi.Output[str]] | None = None,
    auth_token: pulumi.Output[str] | None = None,
) -> tuple[Endpoint | None, dict[str, Endpoint]]:
    """Grafana's first datasource endpoint and, on a multi-tenant server, one per tenant."""
    endpoints = [
        (query.tenant, to_endpoint(query.route, gateway_passwords, auth_token)) for query in routes.queries
    ]
    first = endpoints[0][1] if endpoints else None
    return first, {tenant: endpoint for tenant, endpoint in endpoints if tenant is not None}


@dataclass(frozen=True)
class ServerEndpoints:
    """The endpoints of this stack's own server, from its routes and the gateway's passwords."""

    push: Endpoint
    query: Endpoint | None
    query_per_tenant: dict[str, Endpoint]
    external_push: Endpoint | None


def server_endpoints(
    routes: Routes,
    gateway_passwords: Mapping[str, pulumi.Output[str]] | None = None,
    query_passwords: Mapping[str, pulumi.Output[str]] | None = None,
) -> ServerEndpoints:
    """What a backend hands the rest of the bundle; every address and tenant from ``routes``.
    Grafana's queries use the gateway's read-only ``query_passwords`` when given."""
    if routes.server_push is None:
        raise ValueError("these routes have no server of this stack")
    query, per_tenant = query_endpoints(routes, query_passwords or gateway_passwords)
    external = routes.server_external_push
    return ServerEndpoints(
        push=to_endpoint(routes.server_push, gateway_passwords),
        query=query,
        query_per_tenant=per_tenant,
        external_push=to_endpoint(external, gateway_passwords) if external is not None else None,
    )
