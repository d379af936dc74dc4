"""What both Kubernetes server modes register around Pyroscope (single binary and the chart).

The namespace and the options of data-holding resources, THE gateway call site, who may reach
Pyroscope (its peers), what stands in front of it (the gateway's NetworkPolicy and the Ingress)
and the gateway's stack outputs. ``server/kubernetes.py`` and ``server/helm.py`` both call these;
neither imports the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_kubernetes.core import v1 as core_v1
from pulumi_kubernetes.networking import v1 as networking_v1

from pyroscope_bundle import constants
from pyroscope_bundle import kube_manifests as kube
from pyroscope_bundle.config import BundleConfig
from pyroscope_bundle.config.model import Server
from pyroscope_bundle.config.routing import Routes
from pyroscope_bundle.deprecation import bundle_config
from pyroscope_bundle.endpoints import Endpoint
from pyroscope_bundle.gateway.common import GatewayDeployment
from pyroscope_bundle.gateway.routes import Component
from pyroscope_bundle.naming import child_name, claim
from pyroscope_bundle.server import k8s_manifests as manifests

__all__ = [
    "DEFAULT_NAME",
    "KubernetesServerArgs",
    "kubernetes_server_args",
]

# The server component's name in the bundle's program (= the Pyroscope objects' name).
DEFAULT_NAME = manifests.SERVER_NAME


@dataclass(frozen=True)
class KubernetesServerArgs:
    """What a Kubernetes server component (single binary or chart) reads.

    ``clients``: who may reach Pyroscope (without the gateway) or the gateway - wired services'
    namespaces, Grafana's, ``server.kubernetes.allowFrom`` (:func:`kubernetes_server_args`
    derives them from the stack config); ``probe``: admit the self-monitoring probe's pods to
    the gateway; ``stack``: the ``environment`` label and tag.
    """

    server: Server
    routes: Routes
    stack: str
    clients: tuple[kube.Peer, ...] = ()
    probe: bool = False


def kubernetes_server_args(config: BundleConfig, routes: Routes) -> KubernetesServerArgs:
    """The stack config mapped onto a server component's arguments (``program.py``'s mapping)."""
    return KubernetesServerArgs(
        server=config.server,
        routes=routes,
        stack=config.stack,
        clients=tuple(manifests.client_peers(config)),
        probe=config.probe_enabled,
    )


def server_component_args(
    component: str,
    name: str,
    args: KubernetesServerArgs | BundleConfig,
    opts: Any,
    deprecated: tuple[Any, ...],
) -> tuple[KubernetesServerArgs, pulumi.ResourceOptions | None]:
    """A Kubernetes server component's arguments and options, from the current signature
    ``(name, args, opts)`` or the deprecated ``(name, config, routes, opts)`` (warned about);
    then the component's claim on its namespace, before it registers anything."""
    config = bundle_config(args, component, "KubernetesServerArgs (kubernetes_server_args)", depth=1)
    if config is not None:
        args, opts = kubernetes_server_args(config, opts), (deprecated[0] if deprecated else None)
    assert isinstance(args, KubernetesServerArgs)
    claim_namespace(f"{component} {name}", args.server)
    return args, opts


def claim_namespace(owner: str, server: Server) -> None:
    """One server per namespace: its objects have fixed names there (``pyroscope``, the chart's
    release, ``pyroscope-gateway``), which the routes' in-cluster URLs spell."""
    claim(
        owner,
        "pyroscope:server.kubernetes.namespace",
        "Pyroscope server namespace",
        server.kubernetes.namespace,
    )


def data_options(protect: bool, parent: pulumi.Resource, **extra: Any) -> pulumi.ResourceOptions:
    """Options for a resource that holds profiles: never deleted by Pulumi, protected in
    production (``server.protect``)."""
    return pulumi.ResourceOptions(parent=parent, protect=protect, retain_on_delete=True, **extra)


def register_namespace(
    server: Server, parent: pulumi.Resource, name: str = DEFAULT_NAME
) -> core_v1.Namespace | None:
    """The server's namespace when the bundle owns it. Deleting it would delete the PVCs with it."""
    kubernetes = server.kubernetes
    if not kubernetes.create_namespace:
        return None
    manifest = kube.namespace_manifest(kubernetes.namespace)
    return core_v1.Namespace(
        child_name(name, DEFAULT_NAME, f"{kubernetes.namespace}-namespace"),
        metadata=manifest["metadata"],
        opts=data_options(server.protect, parent),
    )


def deploy_gateway(
    args: KubernetesServerArgs,
    parent: pulumi.Resource,
    depends_on: list[Any],
    *,
    name: str = DEFAULT_NAME,
    component_upstreams: Mapping[Component, str] | None = None,
) -> GatewayDeployment | None:
    """THE gateway call site: the authenticating nginx gateway (``pyroscope_bundle.gateway``) in
    front of Pyroscope (``routes.upstream``; in microservices mode ``component_upstreams`` is the
    Service of each component), when the routing puts one there. Its components are named after
    the server's (``<name>-gateway``); its Service keeps the name the routes spell."""
    routes = args.routes
    if not routes.gateway:
        return None
    from pyroscope_bundle.gateway import GatewayCredentials, deploy_kubernetes_gateway, gateway_settings

    assert routes.upstream is not None
    settings = gateway_settings(args.server, args.stack, probe=args.probe)
    credentials = GatewayCredentials(
        f"{name}-gateway-credentials",
        settings.users,
        admin=settings.admin,
        probe=settings.probe,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return deploy_kubernetes_gateway(
        settings,
        args.server.kubernetes.namespace,
        routes.upstream,
        credentials,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on),
        name=f"{name}-gateway",
        service_name=constants.GATEWAY_NAME,
        component_upstreams=component_upstreams
        or ({"distributor": routes.push_upstream} if routes.push_upstream else None),
    )


def gateway_passwords(gateway: GatewayDeployment | None) -> dict[str, pulumi.Output[str]] | None:
    """Each gateway user's generated password (secret Outputs)."""
    if gateway is None:
        return None
    return {user: account.password for user, account in gateway.credentials.users.items()}


def gateway_query_passwords(gateway: GatewayDeployment | None) -> dict[str, pulumi.Output[str]] | None:
    """Each gateway user's read-only (query) password: what Grafana's datasources get."""
    if gateway is None:
        return None
    return {user: account.password for user, account in gateway.credentials.query_users.items()}


def register_front(
    args: KubernetesServerArgs,
    gateway: GatewayDeployment | None,
    opts: pulumi.ResourceOptions,
    name: str = DEFAULT_NAME,
) -> None:
    """What stands in front of the server in both modes: the gateway's NetworkPolicy and the
    optional Ingress to ``routes.ingress_service`` (the gateway when there is one: the OSS server
    has no authentication)."""
    if gateway is not None:
        policy = gateway_network_policy(args, gateway)
        networking_v1.NetworkPolicy(
            f"{name}-gateway-networkpolicy", metadata=policy["metadata"], spec=policy["spec"], opts=opts
        )
    if args.routes.ingress_service is None:
        return
    ingress = manifests.ingress_manifest(args.server.kubernetes, args.routes.ingress_service)
    if ingress is not None:
        networking_v1.Ingress(
            f"{name}-ingress", metadata=ingress["metadata"], spec=ingress["spec"], opts=opts
        )


def gateway_outputs(gateway: GatewayDeployment | None, push: Endpoint) -> dict[str, Any]:
    """Where the gateway is and who pushes through it, and that user's read-only password (both
    secret): what `smoke` and other clients need, whatever the stack's own services send to."""
    if gateway is None:
        return {}
    user = push.basic_auth_user if isinstance(push.basic_auth_user, str) else None
    query = gateway.query_endpoint(user)
    return {
        "gatewayUrl": gateway.url,
        "gatewayUser": push.basic_auth_user,
        "gatewayPassword": pulumi.Output.secret(push.basic_auth_password),
        "gatewayQueryPassword": pulumi.Output.secret(query.basic_auth_password),
    }


def gateway_network_policy(args: KubernetesServerArgs, gateway: GatewayDeployment) -> dict[str, Any]:
    """Only known clients reach the gateway's pods (it authenticates them, this fences the rest):
    wired services' namespaces, Grafana's sidecar namespace and ``allowFrom``."""
    namespace = args.server.kubernetes.namespace
    peers = list(args.clients)
    if args.probe:
        # The self-monitoring probe's pods (monitoring/probe.py probe_pod_labels).
        peers.append(kube.Peer(namespace, kube.selector_labels(kube.COMPONENT_PROBE)))
    return kube.network_policy_manifest(
        "pyroscope-gateway",
        namespace,
        gateway.pod_labels,
        peers,
        (constants.GATEWAY_PORT, constants.GATEWAY_GRPC_PORT),
        component="gateway",
    )


def pyroscope_peers(args: KubernetesServerArgs, gateway: GatewayDeployment | None) -> list[kube.Peer]:
    """Who may reach Pyroscope's port. With a gateway: ONLY the gateway pods - Grafana queries
    through the gateway with its credentials like every other client. Without: the known clients."""
    if gateway is None:
        return list(args.clients)
    return [kube.Peer(args.server.kubernetes.namespace, gateway.pod_labels)]
