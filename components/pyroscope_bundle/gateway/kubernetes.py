"""The gateway on Kubernetes: ConfigMap (nginx.conf), Secret (one htpasswd per role),
Deployment (spread across nodes, a PodDisruptionBudget from 2 replicas), Service (HTTP and the
OTLP gRPC port).

The Deployment gets the same pod security as Pyroscope (non-root, read-only root filesystem
with an emptyDir for /tmp, no capabilities, RuntimeDefault seccomp). The Kubernetes backend
applies the NetworkPolicy that admits only :attr:`GatewayDeployment.pod_labels` to Pyroscope.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import pulumi

from pyroscope_bundle import constants
from pyroscope_bundle.addresses import in_cluster_url
from pyroscope_bundle.component import BundleComponent
from pyroscope_bundle.gateway.common import GatewayDeployment, GatewaySettings, gateway_labels, nginx_settings
from pyroscope_bundle.gateway.credentials import GatewayCredentials
from pyroscope_bundle.gateway.nginx import NginxSettings, render_nginx_conf
from pyroscope_bundle.gateway.routes import Component
from pyroscope_bundle.kube_manifests import HTTP_PORT_NAME

# Clients reach the gateway on Pyroscope's usual port; nginx listens on its unprivileged one.
GATEWAY_SERVICE_PORT = constants.PYROSCOPE_HTTP_PORT
GRPC_PORT_NAME = "otlp-grpc"
CONFIG_CHECKSUM_ANNOTATION = "pyroscope-bundle/gateway-config-sha256"
RESOURCES = {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"cpu": "1", "memory": "128Mi"}}


def kubernetes_nginx_settings(
    settings: GatewaySettings, upstream: str, component_upstreams: Mapping[Component, str] | None = None
) -> NginxSettings:
    # A Service's ClusterIP is stable: resolve it once, keep upstream connections alive.
    return nginx_settings(settings, upstream, component_upstreams=component_upstreams)


def common_labels(name: str) -> dict[str, str]:
    return {**gateway_labels(name), constants.LABEL_MANAGED_BY: constants.MANAGED_BY}


def spread(selector: Mapping[str, str]) -> dict[str, Any]:
    """Replicas on different nodes where possible: a node loss never takes all of them."""
    return {
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": dict(selector)},
            }
        ],
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "topologyKey": "kubernetes.io/hostname",
                            "labelSelector": {"matchLabels": dict(selector)},
                        },
                    }
                ]
            }
        },
    }


def gateway_pdb_spec(name: str, replicas: int) -> dict[str, Any] | None:
    """With 2+ replicas, a voluntary disruption (node drain) keeps at least one serving."""
    if replicas < 2:
        return None
    return {"maxUnavailable": 1, "selector": {"matchLabels": gateway_labels(name)}}


def gateway_deployment_spec(
    settings: GatewaySettings, name: str, *, config_map: str, secret: str, nginx_conf: str
) -> dict[str, Any]:
    """The Deployment's ``spec``.

    Readiness follows Pyroscope's ``/ready`` through the gateway (a gateway to a server that is
    not ready has nothing to offer); liveness is a TCP check, so a Pyroscope outage never
    restarts the gateway.
    """
    replicas = settings.replicas
    selector = gateway_labels(name)
    checksum = hashlib.sha256(nginx_conf.encode()).hexdigest()
    port_name = HTTP_PORT_NAME
    return {
        "replicas": replicas,
        "selector": {"matchLabels": selector},
        # Never below the wanted replica count while rolling.
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "template": {
            "metadata": {
                "labels": common_labels(name),
                # nginx reads its config once: a changed ConfigMap must roll the pods. The
                # htpasswd is re-read on every request, so a rotated Secret needs no restart.
                "annotations": {CONFIG_CHECKSUM_ANNOTATION: checksum},
            },
            "spec": {
                "automountServiceAccountToken": False,
                **spread(selector),
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": constants.GATEWAY_KUBERNETES_UID,
                    "runAsGroup": constants.GATEWAY_KUBERNETES_UID,
                    "fsGroup": constants.GATEWAY_KUBERNETES_UID,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [
                    {
                        "name": "nginx",
                        "image": settings.image,
                        "command": [
                            "nginx",
                            "-c",
                            f"{constants.GATEWAY_CONFIG_DIR}/nginx.conf",
                            "-g",
                            "daemon off;",
                        ],
                        "ports": [
                            {"name": port_name, "containerPort": constants.GATEWAY_PORT, "protocol": "TCP"},
                            {
                                "name": GRPC_PORT_NAME,
                                "containerPort": constants.GATEWAY_GRPC_PORT,
                                "protocol": "TCP",
                            },
                        ],
                        "securityContext": {
                            "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]},
                        },
                        "resources": RESOURCES,
                        "readinessProbe": {
                            "httpGet": {"path": constants.PYROSCOPE_READY_PATH, "port": port_name},
                            "periodSeconds": 10,
                            "timeoutSeconds": 5,
                        },
                        "livenessProbe": {
                            "tcpSocket": {"port": port_name},
                            "periodSeconds": 20,
                            "failureThreshold": 3,
                        },
                        "volumeMounts": [
                            {"name": "config", "mountPath": constants.GATEWAY_CONFIG_DIR, "readOnly": True},
                            {
                                "name": "htpasswd",
                                "mountPath": constants.GATEWAY_HTPASSWD_DIR,
                                "readOnly": True,
                            },
                            {"name": "tmp", "mountPath": constants.GATEWAY_TMP_DIR},
                        ],
                    }
                ],
                "volumes": [
                    {"name": "config", "configMap": {"name": config_map}},
                    # Readable by the nginx group only (fsGroup), not world-readable.
                    {"name": "htpasswd", "secret": {"secretName": secret, "defaultMode": 0o440}},
                    {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
                ],
                # Scheduling options (server.kubernetes.scheduling); a configured affinity replaces
                # the default spread.
                **settings.placement,
            },
        },
    }


def gateway_service_spec(name: str) -> dict[str, Any]:
    return {
        "type": "ClusterIP",
        "selector": gateway_labels(name),
        # The port name the Ingress backend refers to (server/k8s_manifests.py ingress_manifest).
        "ports": [
            {
                "name": HTTP_PORT_NAME,
                "port": GATEWAY_SERVICE_PORT,
                "targetPort": HTTP_PORT_NAME,
                "protocol": "TCP",
            },
            {
                "name": GRPC_PORT_NAME,
                "port": constants.GATEWAY_GRPC_PORT,
                "targetPort": GRPC_PORT_NAME,
                "protocol": "TCP",
                # Cleartext HTTP/2 (OTLP gRPC).
                "appProtocol": "kubernetes.io/h2c",
            },
        ],
    }


class KubernetesGateway(BundleComponent):
    """nginx-unprivileged Deployment and Service in front of Pyroscope's Service(s)."""

    def __init__(
        self,
        name: str,
        settings: GatewaySettings,
        *,
        namespace: pulumi.Input[str],
        upstream: str,
        credentials: GatewayCredentials,
        component_upstreams: Mapping[Component, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
        service_name: str | None = None,
    ) -> None:
        """``service_name``: the name of its Kubernetes objects (Service, Deployment, ConfigMap;
        default: the component's name), which clients' URLs spell."""
        super().__init__(name, opts)
        resource_name = name
        name = service_name or name
        import pulumi_kubernetes as k8s

        # A component's depends_on does not hold back its children: pass it on, so nothing is
        # created before the namespace it lives in.
        outer = list(opts.depends_on or []) if opts and isinstance(opts.depends_on, list) else []
        child = pulumi.ResourceOptions(parent=self, depends_on=outer)
        labels = common_labels(name)
        self.nginx_conf = render_nginx_conf(
            kubernetes_nginx_settings(settings, upstream, component_upstreams)
        )
        config_map_name = name
        secret_name = f"{name}-htpasswd"

        def meta(object_name: str) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=object_name, namespace=namespace, labels=labels)

        self.config_map = k8s.core.v1.ConfigMap(
            f"{resource_name}-config",
            metadata=meta(config_map_name),
            data={"nginx.conf": self.nginx_conf},
            opts=child,
        )
        # One key per role: the file names nginx.conf's auth_basic_user_file lines refer to.
        self.secret = k8s.core.v1.Secret(
            f"{resource_name}-htpasswd",
            metadata=meta(secret_name),
            type="Opaque",
            string_data=dict(credentials.htpasswd),
            opts=child,
        )
        self.deployment = k8s.apps.v1.Deployment(
            resource_name,
            metadata=meta(name),
            spec=gateway_deployment_spec(
                settings, name, config_map=config_map_name, secret=secret_name, nginx_conf=self.nginx_conf
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*outer, self.config_map, self.secret]),
        )
        self.service = k8s.core.v1.Service(
            f"{resource_name}-service", metadata=meta(name), spec=gateway_service_spec(name), opts=child
        )
        pdb = gateway_pdb_spec(name, settings.replicas)
        if pdb is not None:
            k8s.policy.v1.PodDisruptionBudget(
                f"{resource_name}-pdb", metadata=meta(name), spec=pdb, opts=child
            )
        self.register_outputs({"service": name})


def deploy_kubernetes_gateway(
    settings: GatewaySettings,
    namespace: str,
    upstream: str,
    credentials: GatewayCredentials,
    *,
    opts: pulumi.ResourceOptions | None = None,
    name: str = "pyroscope-gateway",
    component_upstreams: Mapping[Component, str] | None = None,
    service_name: str | None = None,
) -> GatewayDeployment:
    """Register the gateway; ``upstream`` is Pyroscope's Service as ``host:port`` (in
    microservices mode ``component_upstreams`` names the Service of each component).
    ``service_name``: its Kubernetes objects' name (default ``name``)."""
    component = KubernetesGateway(
        name,
        settings,
        namespace=namespace,
        upstream=upstream,
        credentials=credentials,
        component_upstreams=component_upstreams,
        opts=opts,
        service_name=service_name,
    )
    name = service_name or name
    return GatewayDeployment(
        url=in_cluster_url(name, namespace, GATEWAY_SERVICE_PORT),
        credentials=credentials,
        multitenancy=settings.multitenancy,
        pod_labels=gateway_labels(name),
        namespace=namespace,
        resource=component,
        grpc_address=f"{name}.{namespace}.{constants.KUBERNETES_SERVICE_DOMAIN}:{constants.GATEWAY_GRPC_PORT}",
    )
