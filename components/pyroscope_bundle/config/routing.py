"""THE rule for where every client of the profiling server goes, for every backend and mode.

Docker, Kubernetes single binary and Kubernetes microservices all ask :func:`plan_routes`, and
the loader refuses what it cannot answer with :func:`routing_problems`, so one configuration
gives Grafana and the wired services the same answer on every backend. The plan is plain data
(URLs, user names, tenants) derived from the validated config alone; passwords are Pulumi
secrets that exist only once the gateway's credentials (or ``authToken``) are registered, and
``endpoints.to_endpoint`` joins the two.

The rules:

* **Push** (wired services): ``target.kind: self`` pushes to this stack's server - through the
  gateway when it is on, as the gateway user of ``target.tenantId`` (the user IS the tenant with
  multi-tenancy; the gateway sets X-Scope-OrgID from it), else directly with ``target.tenantId``
  as the header. ``external`` / ``grafana-cloud`` push to ``target.url`` with
  ``target.basicAuthUser`` + ``authToken`` and ``target.tenantId``.
* **Push from outside** (ECS tasks cannot resolve in-cluster names): the Ingress URL in front of
  the gateway (or of the single binary), with the same user; none on Docker.
* **Query** (Grafana): THIS stack's server whenever there is one - never the wiring target, whose
  tenant belongs to another server. A multi-tenant server is queried as each of its tenants, one
  datasource per tenant (the first keeps the configured uid): ``server.tenants``, or
  ``target.tenantId`` when no list is given. Behind the gateway each datasource authenticates as
  that tenant's user; without it each sends the X-Scope-OrgID header itself. No datasource ever
  queries a multi-tenant server without a tenant (:func:`routing_problems` refuses it).
* Without a server of its own (Grafana API mode), Grafana queries ``grafana.api.pyroscopeUrl``
  with the target's credentials and tenant.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from pyroscope_bundle import addresses, constants
from pyroscope_bundle.config.errors import Problem, key_path
from pyroscope_bundle.config.model import BundleFields, Server, Target

# Where a route's password comes from: the gateway's generated credentials or pyroscope:authToken.
Credential = Literal["gateway", "auth-token"]


__all__ = ["QueryRoute", "Route", "Routes", "config_routes", "plan_routes", "routing_problems"]


def gateway_users(server: Server) -> list[str]:
    """The gateway's basic-auth users: the tenants with multi-tenancy (the user IS the tenant id
    the gateway sends to Pyroscope), else one fixed user."""
    if server.multitenancy:
        return list(dict.fromkeys(server.tenants))
    return [constants.GATEWAY_SINGLE_USER]


def query_tenants(server: Server, target: Target) -> list[str]:
    """The tenants Grafana queries this server as, one datasource each; empty when the server is
    not multi-tenant (and when it is but names no tenant at all: refused by the loader)."""
    if not server.multitenancy:
        return []
    if server.tenants:
        return list(dict.fromkeys(server.tenants))
    if target.kind == "self" and target.tenant_id is not None:
        return [target.tenant_id]
    return []


@dataclass(frozen=True)
class Route:
    """Where one client sends, as plain data."""

    url: str
    # Basic-auth user: a gateway user, or target.basicAuthUser.
    user: str | None = None
    credential: Credential | None = None
    # X-Scope-OrgID the client sends itself (None: none, or the gateway sets it).
    tenant: str | None = None


@dataclass(frozen=True)
class QueryRoute:
    """One Grafana datasource: the tenant it shows (None: the single datasource) and its route."""

    tenant: str | None
    route: Route


@dataclass(frozen=True)
class Routes:
    """Every address the bundle hands out for one configuration."""

    # None: this stack runs no server.
    mode: Literal["docker", "single-binary", "microservices"] | None
    gateway: bool
    # Where wired services push (the target): from the server's network/cluster, and from outside
    # it (ECS tasks). None: target self without a server, or a server not exposed outside.
    push: Route | None
    external_push: Route | None
    # Grafana's datasources, the first keeping the configured uid; empty without any server.
    queries: tuple[QueryRoute, ...]
    # Pyroscope itself, as the gateway (or Grafana without it) reaches it: host:port.
    upstream: str | None = None
    # Where the gateway forwards pushes when that differs from ``upstream`` (the distributor).
    push_upstream: str | None = None
    # The Service the Ingress routes to; None: no Ingress.
    ingress_service: str | None = None
    # This stack's own server as a push target, whatever the wiring target is (the gateway's
    # credentials outputs, `smoke`, consumer stacks): inside and outside its network.
    server_push: Route | None = None
    server_external_push: Route | None = None
    # Whether wired services push to this stack's own server (target.kind self).
    to_self: bool = False

    @property
    def query(self) -> Route | None:
        return self.queries[0].route if self.queries else None


def _server_urls(server: Server, mode: str) -> tuple[str, str, str]:
    """(query host:port, push host:port, host-published URL) of Pyroscope itself."""
    port = constants.PYROSCOPE_HTTP_PORT
    namespace = server.kubernetes.namespace
    if mode == "docker":
        alias = f"{constants.DOCKER_PYROSCOPE_ALIAS}:{port}"
        return alias, alias, addresses.host_url(server.docker.publish_address, server.docker.host_port)
    if mode == "single-binary":
        host = f"{addresses.in_cluster_host(constants.KUBERNETES_SERVER_NAME, namespace)}:{port}"
        return host, host, f"http://{host}"
    release = constants.PYROSCOPE_HELM_RELEASE
    query = addresses.in_cluster_host(f"{release}-{constants.PYROSCOPE_QUERY_COMPONENT}", namespace)
    push = addresses.in_cluster_host(f"{release}-{constants.PYROSCOPE_PUSH_COMPONENT}", namespace)
    return f"{query}:{port}", f"{push}:{port}", f"http://{push}:{port}"


def gateway_url(server: Server, mode: str) -> str:
    """The gateway as Grafana and in-network/in-cluster services reach it."""
    if mode == "docker":
        return addresses.network_url(constants.GATEWAY_NAME, constants.GATEWAY_PORT)
    # The gateway's Service listens on Pyroscope's usual port.
    return addresses.in_cluster_url(constants.GATEWAY_NAME, server.kubernetes.namespace)


def ingress_url(server: Server) -> str | None:
    """The Ingress address when one is enabled (Kubernetes only)."""
    ingress = server.kubernetes.ingress
    if server.backend != "kubernetes" or not ingress.enabled or not ingress.host:
        return None
    return addresses.ingress_url(ingress.host, tls=bool(ingress.tls_secret_name))


def target_route(target: Target) -> Route | None:
    """An external / Grafana Cloud target, as wired services reach it (None for kind self)."""
    if target.kind == "self" or target.url is None:
        return None
    return Route(target.url, target.basic_auth_user, "auth-token", target.tenant_id)


def plan_routes(server: Server, target: Target, *, grafana_url: str | None = None) -> Routes:
    """Every route for ``server`` (its ``enabled`` flag included) and ``target``.

    ``grafana_url`` is ``grafana.api.pyroscopeUrl``: Grafana's URL for the server when it is not
    the in-network/in-cluster one (or the only one, without a server of its own).
    """
    external = target_route(target)
    if not server.enabled:
        queries: tuple[QueryRoute, ...] = ()
        if grafana_url is not None:
            credential: Credential | None = "auth-token" if target.basic_auth_user else None
            route = Route(grafana_url, target.basic_auth_user, credential, target.tenant_id)
            queries = (QueryRoute(None, route),)
        return Routes(
            mode=None,
            gateway=False,
            push=external,
            external_push=external,
            queries=queries,
            to_self=target.kind == "self",
        )

    mode = server.mode
    gateway = server.gateway_enabled
    upstream, push_host, published = _server_urls(server, mode)
    self_tenant = target.tenant_id if server.multitenancy and target.kind == "self" else None
    if gateway:
        users = gateway_users(server)
        user = self_tenant if self_tenant in users else next(iter(users), None)
        # Docker: processes on the host push to the published port; Kubernetes: the Service.
        push_url = published if mode == "docker" else gateway_url(server, mode)
        # The gateway overwrites X-Scope-OrgID from the user; the SDKs send it all the same.
        self_push = Route(push_url, user, "gateway", user if server.multitenancy else None)
        query_url = grafana_url or gateway_url(server, mode)
        if server.multitenancy:
            queries = tuple(QueryRoute(name, Route(query_url, name, "gateway")) for name in users)
        else:
            queries = (QueryRoute(None, Route(query_url, user, "gateway")),)
        ingress_service: str | None = constants.GATEWAY_NAME
    else:
        self_push = Route(published if mode == "docker" else f"http://{push_host}", tenant=self_tenant)
        query_url = grafana_url or f"http://{upstream}"
        if server.multitenancy:
            tenants = query_tenants(server, target)
            queries = tuple(QueryRoute(name, Route(query_url, tenant=name)) for name in tenants)
        else:
            queries = (QueryRoute(None, Route(query_url)),)
        # No authentication in the OSS server: only the single binary may be exposed without the
        # gateway (an explicit choice); the microservices' Ingress needs it.
        ingress_service = constants.KUBERNETES_SERVER_NAME if mode == "single-binary" else None
    outside = ingress_url(server) if ingress_service is not None else None
    if outside is None:
        ingress_service = None
    self_outside = None if outside is None else dataclasses.replace(self_push, url=outside)
    push, external_push = (self_push, self_outside) if target.kind == "self" else (external, external)
    return Routes(
        mode=mode,
        gateway=gateway,
        push=push,
        external_push=external_push,
        queries=queries,
        upstream=upstream,
        push_upstream=push_host if gateway and push_host != upstream else None,
        ingress_service=ingress_service,
        server_push=self_push,
        server_external_push=self_outside,
        to_self=target.kind == "self",
    )


def config_routes(config: BundleFields) -> Routes:
    """:func:`plan_routes` for a whole stack configuration (``grafana.api.pyroscopeUrl`` applies
    to the API mode only: a Grafana the bundle runs itself uses the in-network address)."""
    grafana_url = config.grafana.api.pyroscope_url if config.grafana_mode == "api" else None
    return plan_routes(config.server, config.target, grafana_url=grafana_url)


def routing_problems(config: BundleFields) -> list[Problem]:
    """What :func:`plan_routes` cannot answer for this configuration, on every backend: a gateway
    without users, a Grafana datasource without a tenant on a multi-tenant server, per-tenant uids
    Grafana would refuse."""
    server, grafana = config.server, config.grafana
    if not server.enabled or not server.multitenancy:
        return []
    problems: list[Problem] = []
    tenants = query_tenants(server, config.target)
    grafana_on = config.grafana_mode != "none"
    if server.gateway_enabled and not server.tenants:
        problems.append(
            Problem(
                key_path("server", "tenants"),
                "needs at least one tenant: the gateway issues one user per tenant",
                server.tenants,
            )
        )
    elif grafana_on and not tenants:
        problems.append(
            Problem(
                key_path("server", "tenants"),
                "needs at least one tenant: Grafana queries a multi-tenant server as a tenant "
                "(or set pyroscope:target.tenantId)",
                server.tenants,
            )
        )
    uid = grafana.datasource.uid
    longest = max((len(tenant) for tenant in tenants[1:]), default=-1)
    if grafana_on and len(uid) + 1 + longest > constants.GRAFANA_MAX_UID_LENGTH:
        problems.append(
            Problem(
                key_path("grafana", "datasource", "uid"),
                f"is too long for per-tenant uids (<uid>-<tenant> must be at most "
                f"{constants.GRAFANA_MAX_UID_LENGTH} characters); use a shorter uid or shorter tenant names",
                uid,
            )
        )
    return problems
