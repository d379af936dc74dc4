"""Pyroscope on Kubernetes: the single-binary StatefulSet, or the official Helm chart (microservices).

Single binary (default): one pod, its data on a PVC that outlives the StatefulSet, a NetworkPolicy
that admits only known clients, and nothing exposed outside the cluster unless asked. The objects
come from the pure builders in ``k8s_manifests.py``; this module only registers them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi_kubernetes.apps import v1 as apps_v1
from pulumi_kubernetes.core import v1 as core_v1
from pulumi_kubernetes.networking import v1 as networking_v1
from pulumi_kubernetes.policy import v1 as policy_v1

from pyroscope_bundle import constants
from pyroscope_bundle.config import BundleConfig
from pyroscope_bundle.config.routing import Routes
from pyroscope_bundle.endpoints import Endpoint, ServerDeployment, server_endpoints
from pyroscope_bundle.gateway.common import GatewayDeployment
from pyroscope_bundle.gateway.routes import Component
from pyroscope_bundle.server import k8s_manifests as manifests
from pyroscope_bundle.server.pyroscope_config import pyroscope_config_yaml

TYPE_TOKEN = "pyroscope-bundle:server:KubernetesPyroscope"


def data_options(config: BundleConfig, parent: pulumi.Resource, **extra: Any) -> pulumi.ResourceOptions:
    """Options for a resource that holds profiles: never deleted by Pulumi, protected in production."""
    return pulumi.ResourceOptions(
        parent=parent, protect=config.server.protect, retain_on_delete=True, **extra
    )


def register_namespace(config: BundleConfig, parent: pulumi.Resource) -> core_v1.Namespace | None:
    """The server's namespace when the bundle owns it. Deleting it would delete the PVCs with it."""
    kubernetes = config.server.kubernetes
    if not kubernetes.create_namespace:
        return None
    manifest = manifests.namespace_manifest(kubernetes.namespace)
    return core_v1.Namespace(
        f"{kubernetes.namespace}-namespace",
        metadata=manifest["metadata"],
        opts=data_options(config, parent),
    )


class KubernetesPyroscope(pulumi.ComponentResource):
    """Pyroscope single binary: Namespace, ConfigMap, StatefulSet + PVC, Services, PDB, NetworkPolicy."""

    url: str
    namespace: str

    def __init__(
        self, name: str, config: BundleConfig, routes: Routes, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        server = config.server
        namespace = server.kubernetes.namespace
        self.namespace = namespace
        created_namespace = register_namespace(config, self)
        in_namespace = [created_namespace] if created_namespace is not None else []

        def child(**extra: Any) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, depends_on=in_namespace, **extra)

        config_yaml = pyroscope_config_yaml(server)
        service_account = manifests.service_account_manifest(
            manifests.SERVER_NAME, namespace, manifests.COMPONENT_SERVER
        )
        core_v1.ServiceAccount(
            f"{manifests.SERVER_NAME}-serviceaccount",
            metadata=service_account["metadata"],
            automount_service_account_token=False,
            opts=child(),
        )
        config_map = manifests.pyroscope_config_map(namespace, config_yaml)
        config_map_resource = core_v1.ConfigMap(
            f"{manifests.SERVER_NAME}-configmap",
            metadata=config_map["metadata"],
            data=config_map["data"],
            opts=child(),
        )
        statefulset = manifests.statefulset_manifest(server, namespace, config_yaml)
        apps_v1.StatefulSet(
            f"{manifests.SERVER_NAME}-statefulset",
            metadata=statefulset["metadata"],
            spec=statefulset["spec"],
            # The PVCs of its volumeClaimTemplate hold every profile. volumeClaimTemplates are
            # immutable: a size change would replace the StatefulSet without growing the existing
            # PVC, so it is ignored here and the PVC is grown in place (docs/sizing.md).
            opts=data_options(
                config,
                self,
                depends_on=[*in_namespace, config_map_resource],
                ignore_changes=["spec.volumeClaimTemplates"],
            ),
        )
        for headless in (False, True):
            service = manifests.service_manifest(namespace, headless=headless)
            core_v1.Service(
                f"{service['metadata']['name']}-service",
                metadata=service["metadata"],
                spec=service["spec"],
                opts=child(),
            )
        pdb = manifests.pdb_manifest(namespace)
        policy_v1.PodDisruptionBudget(
            f"{manifests.SERVER_NAME}-pdb", metadata=pdb["metadata"], spec=pdb["spec"], opts=child()
        )

        # --- The authenticating gateway: the one call site (see deploy_gateway below). ---
        gateway = deploy_gateway(config, routes, self, in_namespace)
        peers = pyroscope_peers(config, gateway)
        policy = manifests.network_policy_manifest(
            manifests.SERVER_NAME,
            namespace,
            manifests.selector_labels(manifests.COMPONENT_SERVER),
            peers,
            constants.PYROSCOPE_HTTP_PORT,
            allow_own_pods=True,
        )
        networking_v1.NetworkPolicy(
            f"{manifests.SERVER_NAME}-networkpolicy",
            metadata=policy["metadata"],
            spec=policy["spec"],
            opts=child(),
        )
        register_front(config, routes, gateway, child())

        self.url = manifests.in_cluster_url(manifests.SERVER_NAME, namespace)
        self.gateway_url = gateway.url if gateway is not None else None
        # Every address and tenant from the routing rule; with the gateway, Grafana queries
        # through it too (Pyroscope's NetworkPolicy admits nothing else).
        self.gateway = gateway
        self.endpoints = server_endpoints(
            routes, gateway_passwords(gateway), gateway_query_passwords(gateway)
        )
        self.push = self.endpoints.push
        self.external_push = self.endpoints.external_push
        self.register_outputs({"pyroscopeUrl": self.url, "namespace": namespace})


def deploy_gateway(
    config: BundleConfig,
    routes: Routes,
    parent: pulumi.Resource,
    depends_on: list[Any],
    *,
    component_upstreams: Mapping[Component, str] | None = None,
) -> GatewayDeployment | None:
    """THE gateway call site: the authenticating nginx gateway (``pyroscope_bundle.gateway``) in
    front of Pyroscope (``routes.upstream``; in microservices mode ``component_upstreams`` is the
    Service of each component), when the routing puts one there."""
    if not routes.gateway:
        return None
    from pyroscope_bundle.gateway import GatewayCredentials, deploy_kubernetes_gateway, gateway_settings

    assert routes.upstream is not None
    settings = gateway_settings(config)
    credentials = GatewayCredentials(
        "pyroscope-gateway-credentials",
        settings.users,
        admin=settings.admin,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return deploy_kubernetes_gateway(
        settings,
        config.server.kubernetes.namespace,
        routes.upstream,
        credentials,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on),
        name=constants.GATEWAY_NAME,
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
    config: BundleConfig, routes: Routes, gateway: GatewayDeployment | None, opts: pulumi.ResourceOptions
) -> None:
    """What stands in front of the server in both modes: the gateway's NetworkPolicy and the
    optional Ingress to ``routes.ingress_service`` (the gateway when there is one: the OSS server
    has no authentication)."""
    if gateway is not None:
        policy = gateway_network_policy(config, gateway)
        networking_v1.NetworkPolicy(
            "pyroscope-gateway-networkpolicy", metadata=policy["metadata"], spec=policy["spec"], opts=opts
        )
    if routes.ingress_service is None:
        return
    ingress = manifests.ingress_manifest(config, routes.ingress_service)
    if ingress is not None:
        networking_v1.Ingress(
            f"{manifests.SERVER_NAME}-ingress", metadata=ingress["metadata"], spec=ingress["spec"], opts=opts
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


def gateway_network_policy(config: BundleConfig, gateway: GatewayDeployment) -> dict[str, Any]:
    """Only known clients reach the gateway's pods (it authenticates them, this fences the rest):
    wired services' namespaces, Grafana's sidecar namespace and ``allowFrom``."""
    peers = manifests.client_peers(config)
    if config.probe_enabled:
        from pyroscope_bundle.monitoring.probe import probe_pod_labels

        peers.append(manifests.Peer(config.server.kubernetes.namespace, probe_pod_labels()))
    return manifests.network_policy_manifest(
        "pyroscope-gateway",
        config.server.kubernetes.namespace,
        gateway.pod_labels,
        peers,
        (constants.GATEWAY_PORT, constants.GATEWAY_GRPC_PORT),
        component="gateway",
    )


def pyroscope_peers(config: BundleConfig, gateway: GatewayDeployment | None) -> list[manifests.Peer]:
    """Who may reach Pyroscope's port. With a gateway: ONLY the gateway pods - Grafana queries
    through the gateway with its credentials like every other client. Without: the known clients."""
    if gateway is None:
        return manifests.client_peers(config)
    return [manifests.Peer(config.server.kubernetes.namespace, gateway.pod_labels)]


def deploy_kubernetes_server(config: BundleConfig, routes: Routes) -> ServerDeployment | None:
    """Register the single binary on Kubernetes; return its endpoints and outputs."""
    server = config.server
    component = KubernetesPyroscope("pyroscope", config, routes)
    return ServerDeployment(
        backend="kubernetes",
        version=server.version,
        push=component.push,
        query=component.endpoints.query,
        query_per_tenant=component.endpoints.query_per_tenant,
        external_push=component.external_push,
        outputs={
            **gateway_outputs(component.gateway, component.push),
            "pyroscopeUrl": component.url,
            **({"pyroscopeExternalUrl": component.external_push.url} if component.external_push else {}),
            "namespace": component.namespace,
            "pyroscopeVersion": server.version,
        },
        namespace=component.namespace,
        resource=component,
    )
