"""The gateway's own settings, and what a deployed gateway hands back to the server backend."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from pyroscope_bundle import constants
from pyroscope_bundle.config.model import Server
from pyroscope_bundle.endpoints import Endpoint
from pyroscope_bundle.gateway.credentials import GatewayCredentials, GatewayUser, gateway_users
from pyroscope_bundle.gateway.nginx import NginxSettings
from pyroscope_bundle.gateway.routes import Component
from pyroscope_bundle.placement import image_ref, pod_placement

GATEWAY_COMPONENT = "gateway"
# Replicas when the stack is production-like (server.protect: true) and nothing is set.
PRODUCTION_REPLICAS = 2


@dataclass(frozen=True)
class GatewaySettings:
    """Everything the gateway components read, taken from the stack config once."""

    version: str = constants.GATEWAY_DEFAULT_VERSION
    multitenancy: bool = False
    # Basic-auth user names (tenants with multi-tenancy).
    users: tuple[str, ...] = (constants.GATEWAY_SINGLE_USER,)
    # The optional operator credential.
    admin: bool = False
    # The end-to-end probe's own push and query credentials (Kubernetes, monitoring on).
    probe: bool = False
    replicas: int = 1
    stack: str = "dev"
    # Docker: host publication and container naming.
    publish_address: str = "127.0.0.1"
    host_port: int = constants.PYROSCOPE_HTTP_PORT
    grpc_host_port: int | None = None
    network_name: str = "pyroscope"
    # The image reference (under server.imageRegistry when set) and the Kubernetes pod
    # placement fields (nodeSelector, tolerations, affinity, ...).
    image: str = f"{constants.GATEWAY_IMAGE}:{constants.GATEWAY_DEFAULT_VERSION}"
    placement: Mapping[str, Any] = field(default_factory=dict)
    # Per-client abuse bounds (server.gateway.limits).
    connections_per_client: int = constants.GATEWAY_CONNECTIONS_PER_CLIENT
    failed_auth_per_second: int = constants.GATEWAY_FAILED_AUTH_PER_SECOND
    failed_auth_burst: int = constants.GATEWAY_FAILED_AUTH_BURST
    # Proxy networks whose X-Forwarded-For names the client (server.gateway.trustedProxies).
    trusted_proxies: tuple[str, ...] = ()


def gateway_replicas(configured: int | None, protect: bool) -> int:
    """``server.gateway.replicas``, else 2 for a production-like stack (``server.protect``): one
    gateway pod is a single point of failure for all ingestion."""
    if configured is not None:
        return configured
    return PRODUCTION_REPLICAS if protect else 1


def gateway_settings(server: Server, stack: str, *, probe: bool = False) -> GatewaySettings:
    """The one place the gateway reads the stack configuration: ``pyroscope:server`` and the
    stack name (the ``environment`` label); ``probe``: issue the end-to-end probe its own
    credentials (``BundleConfig.probe_enabled``)."""
    return GatewaySettings(
        version=server.gateway.version,
        multitenancy=server.multitenancy,
        users=tuple(gateway_users(server.multitenancy, server.tenants)),
        admin=server.gateway.admin_credential,
        probe=probe,
        replicas=gateway_replicas(server.gateway.replicas, server.protect),
        stack=stack,
        publish_address=server.docker.publish_address,
        host_port=server.docker.host_port,
        grpc_host_port=server.gateway.otlp_grpc_host_port,
        network_name=server.docker.network_name,
        image=image_ref(server, constants.GATEWAY_IMAGE, server.gateway.version),
        placement=pod_placement(server.kubernetes),
        connections_per_client=server.gateway.limits.connections_per_client,
        failed_auth_per_second=server.gateway.limits.failed_auth_per_second,
        failed_auth_burst=server.gateway.limits.failed_auth_burst,
        trusted_proxies=tuple(server.gateway.trusted_proxies),
    )


def gateway_image(settings: GatewaySettings) -> str:
    return settings.image


def gateway_labels(instance: str) -> dict[str, str]:
    """Labels of the gateway's pods: the Kubernetes backend's NetworkPolicy selects on them."""
    return {
        constants.LABEL_NAME: constants.PROJECT_NAME,
        constants.LABEL_INSTANCE: instance,
        constants.LABEL_COMPONENT: GATEWAY_COMPONENT,
    }


@dataclass(frozen=True)
class GatewayDeployment:
    """A running gateway: where it is reachable, and who may pass with which role."""

    # URL for clients on the same Docker network / in the cluster (Grafana, wired services).
    url: str
    credentials: GatewayCredentials
    multitenancy: bool
    # Docker: the host-published URL (server.docker.publishAddress/hostPort). None on Kubernetes.
    published_url: str | None = None
    # Kubernetes: labels of the gateway pods (the only peer the Pyroscope NetworkPolicy admits).
    pod_labels: dict[str, str] = field(default_factory=dict)
    namespace: str | None = None
    # The component, for depends_on.
    resource: pulumi.Resource | None = None
    # host:port of the OTLP gRPC (HTTP/2) listener for in-network/in-cluster clients.
    grpc_address: str | None = None

    def _endpoint(self, account: GatewayUser, *, published: bool, tenant: bool) -> Endpoint:
        url = self.published_url if published and self.published_url else self.url
        return Endpoint(
            url=url,
            basic_auth_user=account.name,
            basic_auth_password=account.password,
            # The gateway overwrites X-Scope-OrgID anyway; Grafana names datasources after it.
            tenant_id=account.name if self.multitenancy and tenant else None,
        )

    def endpoint(self, user: str | None = None, *, published: bool = False) -> Endpoint:
        """The PUSH credential of ``user`` (default: the first user): push APIs only."""
        name = user or next(iter(self.credentials.users))
        return self._endpoint(self.credentials.users[name], published=published, tenant=True)

    def endpoints(self, *, published: bool = False) -> dict[str, Endpoint]:
        """One push endpoint per user (per tenant with multi-tenancy)."""
        return {user: self.endpoint(user, published=published) for user in self.credentials.users}

    def query_endpoint(self, user: str | None = None) -> Endpoint:
        """Grafana's READ-ONLY credential: the in-network/in-cluster URL with ``user``'s query
        password (default: the first user) and no tenant header - the gateway derives
        X-Scope-OrgID from the user."""
        name = user or next(iter(self.credentials.query_users))
        return self._endpoint(self.credentials.query_users[name], published=False, tenant=False)

    def query_endpoints(self) -> dict[str, Endpoint]:
        """With multi-tenancy, Grafana's read-only endpoint per tenant (one datasource each)."""
        if not self.multitenancy:
            return {}
        return {user: self.query_endpoint(user) for user in self.credentials.query_users}

    def probe_endpoints(self) -> tuple[Endpoint, Endpoint] | None:
        """The probe's (push, query) credentials, when it has them: its own user (with
        multi-tenancy its own tenant), never a service's or Grafana's password."""
        push, query = self.credentials.probe_push, self.credentials.probe_query
        if push is None or query is None:
            return None
        return (
            self._endpoint(push, published=False, tenant=True),
            self._endpoint(query, published=False, tenant=True),
        )

    def admin_endpoint(self, *, published: bool = False) -> Endpoint | None:
        """The operator credential (every non-allow-listed path), when enabled."""
        if self.credentials.admin is None:
            return None
        return self._endpoint(self.credentials.admin, published=published, tenant=False)


def nginx_settings(
    settings: GatewaySettings,
    upstream: str,
    *,
    resolver: str | None = None,
    component_upstreams: Mapping[Component, str] | None = None,
) -> NginxSettings:
    """The nginx.conf settings every backend takes from the gateway section (roles, version,
    abuse bounds, trusted proxies); the arguments are what differs per backend: Docker
    re-resolves its upstream through ``resolver``, microservices route to ``component_upstreams``."""
    return NginxSettings(
        upstream=upstream,
        component_upstreams=dict(component_upstreams or {}),
        resolver=resolver,
        multitenancy=settings.multitenancy,
        admin=settings.admin,
        nginx_version=settings.version,
        connections_per_client=settings.connections_per_client,
        failed_auth_per_second=settings.failed_auth_per_second,
        failed_auth_burst=settings.failed_auth_burst,
        trusted_proxies=settings.trusted_proxies,
    )
