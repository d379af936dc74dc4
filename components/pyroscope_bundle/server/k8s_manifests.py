"""Kubernetes objects for Pyroscope in single-binary mode, as plain dicts in API (camelCase) form.

Pure functions of the configuration: what they return is exactly what is applied (pulumi-kubernetes
passes camelCase dicts through unchanged), so tests and ``kubernetes-validate`` check the same
objects the cluster gets. The Pulumi component in ``server/kubernetes.py`` only registers them.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyroscope_bundle import constants
from pyroscope_bundle.config.model import BundleConfig, Server
from pyroscope_bundle.placement import image_ref, pod_placement

# Names of the objects (deterministic: reviewers read them in the render).
SERVER_NAME = "pyroscope"
HEADLESS_SUFFIX = "-headless"
CONFIG_SUFFIX = "-config"
DATA_VOLUME = "data"
CONFIG_VOLUME = "config"
TMP_VOLUME = "tmp"
HTTP_PORT_NAME = "http"
CONFIG_KEY = posixpath.basename(constants.PYROSCOPE_CONFIG_PATH)
CHECKSUM_ANNOTATION = "checksum/config"
COMPONENT_SERVER = "server"
# A config change needs a restart: the pod template carries the config's hash.

# Probes. Pyroscope's /ready answers 503 until every module (ring, metastore raft) is up, which
# can take minutes after a restart with a large data volume: the startup probe allows 10 min,
# liveness only restarts after 5 min of continuous failure, readiness reacts in 30 s.
STARTUP_PROBE = {"periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 60}
LIVENESS_PROBE = {"periodSeconds": 30, "timeoutSeconds": 5, "failureThreshold": 10}
READINESS_PROBE = {"periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3, "successThreshold": 1}
# Time to flush in-memory segments on shutdown before SIGKILL.
TERMINATION_GRACE_SECONDS = 300


@dataclass(frozen=True)
class Peer:
    """Who may reach a port: every pod of ``namespace``, or only those with ``pod_labels``."""

    namespace: str
    pod_labels: Mapping[str, str] = field(default_factory=dict)


def labels(component: str, instance: str = SERVER_NAME) -> dict[str, str]:
    """Recommended labels on every object the bundle creates."""
    return {
        constants.LABEL_NAME: "pyroscope",
        constants.LABEL_INSTANCE: instance,
        constants.LABEL_COMPONENT: component,
        constants.LABEL_MANAGED_BY: constants.MANAGED_BY,
    }


def selector_labels(component: str, instance: str = SERVER_NAME) -> dict[str, str]:
    """The immutable subset used in selectors (managed-by may change without a re-create)."""
    return {
        key: value for key, value in labels(component, instance).items() if key != constants.LABEL_MANAGED_BY
    }


def _metadata(
    name: str, namespace: str | None, object_labels: Mapping[str, str], **extra: Any
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "labels": dict(object_labels)}
    if namespace is not None:
        metadata["namespace"] = namespace
    metadata.update({key: value for key, value in extra.items() if value})
    return metadata


def in_cluster_url(service: str, namespace: str, port: int = constants.PYROSCOPE_HTTP_PORT) -> str:
    """The Service's cluster-internal address, resolvable from every namespace."""
    return f"http://{service}.{namespace}.{constants.KUBERNETES_SERVICE_DOMAIN}:{port}"


def config_checksum(config_yaml: str) -> str:
    return hashlib.sha256(config_yaml.encode()).hexdigest()


def namespace_manifest(name: str) -> dict[str, Any]:
    """A namespace that only admits pods meeting the ``restricted`` Pod Security Standard."""
    level = constants.POD_SECURITY_LEVEL
    namespace_labels = {
        constants.LABEL_MANAGED_BY: constants.MANAGED_BY,
        "pod-security.kubernetes.io/enforce": level,
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/audit": level,
        "pod-security.kubernetes.io/warn": level,
    }
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": namespace_labels}}


def service_account_manifest(
    name: str, namespace: str, component: str, annotations: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """An own ServiceAccount whose token is never mounted (Pyroscope needs no API access)."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _metadata(name, namespace, labels(component), annotations=dict(annotations or {})),
        "automountServiceAccountToken": False,
    }


def config_map_manifest(name: str, namespace: str, component: str, data: Mapping[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(name, namespace, labels(component)),
        "data": dict(data),
    }


def pyroscope_config_map(namespace: str, config_yaml: str) -> dict[str, Any]:
    return config_map_manifest(
        SERVER_NAME + CONFIG_SUFFIX, namespace, COMPONENT_SERVER, {CONFIG_KEY: config_yaml}
    )


def _resources(server: Server) -> dict[str, Any]:
    amounts = server.resources
    return {
        "requests": {"cpu": amounts.requests.cpu, "memory": amounts.requests.memory.text},
        "limits": {"cpu": amounts.limits.cpu, "memory": amounts.limits.memory.text},
    }


def _probe(settings: Mapping[str, int]) -> dict[str, Any]:
    return {"httpGet": {"path": constants.PYROSCOPE_READY_PATH, "port": HTTP_PORT_NAME}, **settings}


def pod_security_context() -> dict[str, Any]:
    """The image's own uid/gid; fsGroup makes the volume writable by it."""
    uid = constants.PYROSCOPE_UID
    return {
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        # Skip the recursive chown of a large volume on every start once ownership is right.
        "fsGroupChangePolicy": "OnRootMismatch",
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def writable_paths() -> dict[str, str]:
    """Volume name -> mount path of every writable location (the root filesystem is read-only)."""
    return {DATA_VOLUME: constants.PYROSCOPE_DATA_DIR, TMP_VOLUME: constants.PYROSCOPE_TMP_DIR}


def statefulset_manifest(server: Server, namespace: str, config_yaml: str) -> dict[str, Any]:
    """One Pyroscope (``-target=all``) with its data on a PVC that outlives the StatefulSet."""
    component = COMPONENT_SERVER
    storage = server.storage
    claim_spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": storage.size.text}},
    }
    if storage.storage_class:
        claim_spec["storageClassName"] = storage.storage_class
    config_dir = posixpath.dirname(constants.PYROSCOPE_CONFIG_PATH)
    container = {
        "name": "pyroscope",
        "image": image_ref(server, constants.PYROSCOPE_IMAGE, server.version),
        "imagePullPolicy": "IfNotPresent",
        "args": ["-target=all", f"-config.file={constants.PYROSCOPE_CONFIG_PATH}"],
        "ports": [
            {"name": HTTP_PORT_NAME, "containerPort": constants.PYROSCOPE_HTTP_PORT, "protocol": "TCP"}
        ],
        "startupProbe": _probe(STARTUP_PROBE),
        "livenessProbe": _probe(LIVENESS_PROBE),
        "readinessProbe": _probe(READINESS_PROBE),
        "resources": _resources(server),
        "securityContext": container_security_context(),
        "volumeMounts": [
            {"name": CONFIG_VOLUME, "mountPath": config_dir, "readOnly": True},
            *({"name": name, "mountPath": path} for name, path in writable_paths().items()),
        ],
    }
    pod_spec = {
        "serviceAccountName": SERVER_NAME,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security_context(),
        "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
        "containers": [container],
        "volumes": [
            {"name": CONFIG_VOLUME, "configMap": {"name": SERVER_NAME + CONFIG_SUFFIX}},
            {"name": TMP_VOLUME, "emptyDir": {}},
        ],
        **pod_placement(server.kubernetes),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _metadata(SERVER_NAME, namespace, labels(component)),
        "spec": {
            # Single binary on a ReadWriteOnce volume: exactly one replica (scale out = microservices).
            "replicas": 1,
            "serviceName": SERVER_NAME + HEADLESS_SUFFIX,
            "selector": {"matchLabels": selector_labels(component)},
            "updateStrategy": {"type": "RollingUpdate"},
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
            "template": {
                "metadata": {
                    "labels": labels(component),
                    "annotations": {CHECKSUM_ANNOTATION: config_checksum(config_yaml)},
                },
                "spec": pod_spec,
            },
            "volumeClaimTemplates": [
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": DATA_VOLUME, "labels": selector_labels(component)},
                    "spec": claim_spec,
                }
            ],
        },
    }


def service_manifest(namespace: str, *, headless: bool = False) -> dict[str, Any]:
    """The ClusterIP Service clients use, or the headless one that names the StatefulSet's pods."""
    spec: dict[str, Any] = {
        "type": "ClusterIP",
        "selector": selector_labels(COMPONENT_SERVER),
        "ports": [
            {
                "name": HTTP_PORT_NAME,
                "port": constants.PYROSCOPE_HTTP_PORT,
                "targetPort": HTTP_PORT_NAME,
                "protocol": "TCP",
            }
        ],
    }
    if headless:
        spec["clusterIP"] = "None"
        # DNS records exist while the pod starts, so peers and probes can find it.
        spec["publishNotReadyAddresses"] = True
    name = SERVER_NAME + (HEADLESS_SUFFIX if headless else "")
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(name, namespace, labels(COMPONENT_SERVER)),
        "spec": spec,
    }


def pdb_manifest(namespace: str) -> dict[str, Any]:
    """Voluntary disruptions take at most one pod at a time.

    With one replica ``maxUnavailable: 0`` would block every node drain forever; the data is on the
    PVC, so an eviction costs a restart (clients retry), not data.
    """
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(SERVER_NAME, namespace, labels(COMPONENT_SERVER)),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector_labels(COMPONENT_SERVER)}},
    }


def _peer(peer: Peer) -> dict[str, Any]:
    selected: dict[str, Any] = {
        "namespaceSelector": {"matchLabels": {constants.NAMESPACE_NAME_LABEL: peer.namespace}}
    }
    if peer.pod_labels:
        selected["podSelector"] = {"matchLabels": dict(sorted(peer.pod_labels.items()))}
    return selected


def dedupe_peers(peers: Iterable[Peer]) -> list[Peer]:
    """Sorted, without duplicates; a whole-namespace peer makes label-restricted ones redundant."""
    whole = {peer.namespace for peer in peers if not peer.pod_labels}
    unique: dict[tuple[str, tuple[tuple[str, str], ...]], Peer] = {}
    for peer in peers:
        if peer.pod_labels and peer.namespace in whole:
            continue
        unique[(peer.namespace, tuple(sorted(peer.pod_labels.items())))] = peer
    return [unique[key] for key in sorted(unique)]


def network_policy_manifest(
    name: str,
    namespace: str,
    pod_selector: Mapping[str, str],
    peers: Iterable[Peer],
    port: int | Sequence[int],
    *,
    allow_same_namespace: bool = False,
    allow_own_pods: bool = False,
    component: str = COMPONENT_SERVER,
) -> dict[str, Any]:
    """Admit TCP ``port`` only from ``peers``; everything else to the selected pods is denied.

    A pod selected by any NetworkPolicy with ``Ingress`` in ``policyTypes`` drops all ingress not
    admitted by some policy, so an empty peer list means "nobody". ``allow_same_namespace``
    admits every port from pods of the same namespace (microservices talk gRPC/memberlist/raft);
    ``allow_own_pods`` every port from the selected pods themselves (a single binary dials its
    own ring address, the pod IP, whether or not the CNI counts that as pod-to-self traffic).
    """
    rules: list[dict[str, Any]] = []
    selected_peers = [_peer(peer) for peer in dedupe_peers(list(peers))]
    if selected_peers:
        ports = [port] if isinstance(port, int) else list(port)
        rules.append({"from": selected_peers, "ports": [{"protocol": "TCP", "port": p} for p in ports]})
    if allow_same_namespace:
        rules.append({"from": [{"podSelector": {}}]})
    elif allow_own_pods:
        rules.append({"from": [{"podSelector": {"matchLabels": dict(pod_selector)}}]})
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(name, namespace, labels(component)),
        "spec": {
            "podSelector": {"matchLabels": dict(pod_selector)},
            "policyTypes": ["Ingress"],
            "ingress": rules,
        },
    }


def client_peers(config: BundleConfig) -> list[Peer]:
    """Who talks to the server (or the gateway): wired Kubernetes services (when they send to this
    stack's server, not to an external target), Grafana's sidecar namespace and ``allowFrom``."""
    peers = [
        Peer(service.kubernetes.namespace)
        for service in config.services
        if config.target.enabled
        and config.target.kind == "self"
        and service.enabled
        and service.platform == "kubernetes"
        and service.kubernetes.namespace
    ]
    if config.grafana_mode == "kubernetes-sidecar":
        peers.append(grafana_peer(config))
    peers += [Peer(client.namespace, client.pod_labels) for client in config.server.kubernetes.allow_from]
    return dedupe_peers(peers)


def grafana_peer(config: BundleConfig) -> Peer:
    return Peer(config.grafana.sidecar.namespace)


def ingress_url(config: BundleConfig) -> str | None:
    """The Ingress address clients outside the cluster use (https when a TLS secret is set)."""
    ingress = config.server.kubernetes.ingress
    if not ingress.enabled or not ingress.host:
        return None
    return f"{'https' if ingress.tls_secret_name else 'http'}://{ingress.host}"


def ingress_manifest(config: BundleConfig, service: str) -> dict[str, Any] | None:
    """An Ingress to ``service`` when enabled. The OSS server has no authentication."""
    ingress = config.server.kubernetes.ingress
    if not ingress.enabled or not ingress.host:
        return None
    spec: dict[str, Any] = {
        "rules": [
            {
                "host": ingress.host,
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": service, "port": {"name": HTTP_PORT_NAME}}},
                        }
                    ]
                },
            }
        ]
    }
    if ingress.class_name:
        spec["ingressClassName"] = ingress.class_name
    if ingress.tls_secret_name:
        spec["tls"] = [{"hosts": [ingress.host], "secretName": ingress.tls_secret_name}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _metadata(
            SERVER_NAME,
            config.server.kubernetes.namespace,
            labels(COMPONENT_SERVER),
            annotations=ingress_annotations(ingress.class_name, ingress.annotations),
        ),
        "spec": spec,
    }


# ingress-nginx's body limit (default 1m: large JFR pushes get 413) and its read timeout.
INGRESS_NGINX_BODY_SIZE = "nginx.ingress.kubernetes.io/proxy-body-size"
INGRESS_NGINX_READ_TIMEOUT = "nginx.ingress.kubernetes.io/proxy-read-timeout"


def ingress_annotations(class_name: str | None, configured: Mapping[str, str]) -> dict[str, str]:
    """The configured annotations; for the ingress-nginx class also a body limit matching the
    gateway's ``client_max_body_size`` and its query timeout, unless configured."""
    annotations: dict[str, str] = {}
    if class_name == "nginx":
        annotations[INGRESS_NGINX_BODY_SIZE] = constants.GATEWAY_MAX_BODY_SIZE
        annotations[INGRESS_NGINX_READ_TIMEOUT] = "300"
    annotations.update(configured)
    return annotations
