"""Pyroscope on Kubernetes in single-binary mode (the default; microservices: ``helm.py``).

One pod, its data on a PVC that outlives the StatefulSet, a NetworkPolicy
that admits only known clients, and nothing exposed outside the cluster unless asked. The objects
come from the pure builders in ``k8s_manifests.py``; this module only registers them, with the
helpers both Kubernetes modes share (``k8s_common.py``: namespace, gateway, Ingress, outputs).
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi_kubernetes.apps import v1 as apps_v1
from pulumi_kubernetes.core import v1 as core_v1
from pulumi_kubernetes.networking import v1 as networking_v1
from pulumi_kubernetes.policy import v1 as policy_v1

from pyroscope_bundle import addresses, constants
from pyroscope_bundle import kube_manifests as kube
from pyroscope_bundle.component import BundleComponent
from pyroscope_bundle.config import BundleConfig
from pyroscope_bundle.config.routing import Routes
from pyroscope_bundle.endpoints import ServerDeployment, server_endpoints
from pyroscope_bundle.server import k8s_manifests as manifests
from pyroscope_bundle.server.k8s_common import (
    DEFAULT_NAME,
    KubernetesServerArgs,
    data_options,
    deploy_gateway,
    gateway_outputs,
    gateway_passwords,
    gateway_query_passwords,
    kubernetes_server_args,
    pyroscope_peers,
    register_front,
    register_namespace,
    server_component_args,
)
from pyroscope_bundle.server.pyroscope_config import pyroscope_config_yaml

__all__ = [
    "KubernetesPyroscope",
    "deploy_kubernetes_server",
]


class KubernetesPyroscope(BundleComponent):
    """Pyroscope single binary: Namespace, ConfigMap, StatefulSet + PVC, Services, PDB, NetworkPolicy.

    Children are named after the component (``<name>-statefulset``, ``<name>-gateway``, ...; the
    bundle's ``pyroscope`` gives the names existing stacks hold). The Kubernetes objects keep
    their names in ``server.kubernetes.namespace``: a second server goes into another namespace.
    """

    url: str
    namespace: str

    def __init__(
        self,
        name: str,
        args: KubernetesServerArgs,
        opts: pulumi.ResourceOptions | None = None,
        *deprecated: Any,
    ) -> None:
        args, opts = server_component_args("KubernetesPyroscope", name, args, opts, deprecated)
        super().__init__(name, opts)
        server = args.server
        routes = args.routes
        namespace = server.kubernetes.namespace
        self.namespace = namespace
        created_namespace = register_namespace(server, self, name)
        in_namespace = [created_namespace] if created_namespace is not None else []

        def child(**extra: Any) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, depends_on=in_namespace, **extra)

        config_yaml = pyroscope_config_yaml(server)
        service_account = kube.service_account_manifest(
            manifests.SERVER_NAME, namespace, kube.COMPONENT_SERVER
        )
        core_v1.ServiceAccount(
            f"{name}-serviceaccount",
            metadata=service_account["metadata"],
            automount_service_account_token=False,
            opts=child(),
        )
        config_map = manifests.pyroscope_config_map(namespace, config_yaml)
        config_map_resource = core_v1.ConfigMap(
            f"{name}-configmap",
            metadata=config_map["metadata"],
            data=config_map["data"],
            opts=child(),
        )
        statefulset = manifests.statefulset_manifest(server, namespace, config_yaml)
        apps_v1.StatefulSet(
            f"{name}-statefulset",
            metadata=statefulset["metadata"],
            spec=statefulset["spec"],
            # The PVCs of its volumeClaimTemplate hold every profile. volumeClaimTemplates are
            # immutable: a size change would replace the StatefulSet without growing the existing
            # PVC, so it is ignored here and the PVC is grown in place (docs/sizing.md).
            opts=data_options(
                server.protect,
                self,
                depends_on=[*in_namespace, config_map_resource],
                ignore_changes=["spec.volumeClaimTemplates"],
            ),
        )
        for headless in (False, True):
            service = manifests.service_manifest(namespace, headless=headless)
            core_v1.Service(
                f"{name}{manifests.HEADLESS_SUFFIX if headless else ''}-service",
                metadata=service["metadata"],
                spec=service["spec"],
                opts=child(),
            )
        pdb = manifests.pdb_manifest(namespace)
        policy_v1.PodDisruptionBudget(f"{name}-pdb", metadata=pdb["metadata"], spec=pdb["spec"], opts=child())

        # --- The authenticating gateway: the one call site (see deploy_gateway below). ---
        gateway = deploy_gateway(args, self, in_namespace, name=name)
        peers = pyroscope_peers(args, gateway)
        policy = kube.network_policy_manifest(
            manifests.SERVER_NAME,
            namespace,
            kube.selector_labels(kube.COMPONENT_SERVER),
            peers,
            constants.PYROSCOPE_HTTP_PORT,
            component=kube.COMPONENT_SERVER,
            allow_own_pods=True,
        )
        networking_v1.NetworkPolicy(
            f"{name}-networkpolicy",
            metadata=policy["metadata"],
            spec=policy["spec"],
            opts=child(),
        )
        register_front(args, gateway, child(), name)

        self.url = addresses.in_cluster_url(manifests.SERVER_NAME, namespace)
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


def deploy_kubernetes_server(
    config: BundleConfig, routes: Routes, *, name: str = DEFAULT_NAME
) -> ServerDeployment | None:
    """Register the single binary on Kubernetes; return its endpoints and outputs."""
    server = config.server
    component = KubernetesPyroscope(name, kubernetes_server_args(config, routes))
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
        probe=component.gateway.probe_endpoints() if component.gateway is not None else None,
    )
