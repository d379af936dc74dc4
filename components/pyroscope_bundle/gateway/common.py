"""What a deployed gateway hands back to the server backend that created it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pulumi

from pyroscope_bundle import constants
from pyroscope_bundle.config import BundleConfig
from pyroscope_bundle.endpoints import Endpoint
from pyroscope_bundle.gateway.credentials import GatewayCredentials
from pyroscope_bundle.placement import image_ref

GATEWAY_COMPONENT = "gateway"


def gateway_image(config: BundleConfig) -> str:
    return image_ref(config.server, constants.GATEWAY_IMAGE, config.server.gateway.version)


def gateway_labels(instance: str) -> dict[str, str]:
    """Labels of the gateway's pods: the Kubernetes backend's NetworkPolicy selects on them."""
    return {
        constants.LABEL_NAME: constants.PROJECT_NAME,
        constants.LABEL_INSTANCE: instance,
        constants.LABEL_COMPONENT: GATEWAY_COMPONENT,
    }


@dataclass(frozen=True)
class GatewayDeployment:
    """A running gateway: where it is reachable, and who may pass."""

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

    def endpoint(self, user: str | None = None, *, published: bool = False) -> Endpoint:
        """Push/query endpoint with ``user``'s credentials (default: the first user)."""
        name = user or next(iter(self.credentials.users))
        account = self.credentials.users[name]
        url = self.published_url if published and self.published_url else self.url
        return Endpoint(
            url=url,
            basic_auth_user=account.name,
            basic_auth_password=account.password,
            # The gateway overwrites X-Scope-OrgID anyway; Grafana names datasources after it.
            tenant_id=account.name if self.multitenancy else None,
        )

    def endpoints(self, *, published: bool = False) -> dict[str, Endpoint]:
        """One endpoint per user (per tenant with multi-tenancy)."""
        return {user: self.endpoint(user, published=published) for user in self.credentials.users}

    def query_endpoint(self, user: str | None = None) -> Endpoint:
        """Grafana's endpoint: the in-network/in-cluster URL with ``user``'s credentials (default:
        the first user) and no tenant header - the gateway derives X-Scope-OrgID from the user."""
        return replace(self.endpoint(user), tenant_id=None)

    def query_endpoints(self) -> dict[str, Endpoint]:
        """With multi-tenancy, Grafana's endpoint per tenant (one datasource each), in user order."""
        if not self.multitenancy:
            return {}
        return {user: self.query_endpoint(user) for user in self.credentials.users}
