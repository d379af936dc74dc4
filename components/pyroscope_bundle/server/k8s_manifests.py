"""Kubernetes objects of Pyroscope itself, as plain dicts in API (camelCase) form.

The single binary's ConfigMap, StatefulSet, Services and PDB, and what both server modes share:
the Pyroscope image's pod security context, who may reach the server (``client_peers``) and the
Ingress. Generic objects (labels, ServiceAccount, NetworkPolicy, ...) are in ``kube_manifests.py``.
Pure functions of the configuration: what they return is exactly what is applied (pulumi-kubernetes
passes camelCase dicts through unchanged), so tests and ``kubernetes-validate`` check the same
objects the cluster gets. ``server/kubernetes.py`` and ``server/k8s_common.py`` register them.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Mapping
from typing import Any

from pyroscope_bundle import constants
from pyroscope_bundle.config import BundleConfig
from pyroscope_bundle.config.model import KubernetesServer, Server, Sidecar
from pyroscope_bundle.kube_manifests import (
    COMPONENT_SERVER,
    HTTP_PORT_NAME,
    Peer,
    config_map_manifest,
    container_security_context,
    dedupe_peers,
    labels,
    metadata,
    selector_labels,
)
from pyroscope_bundle.placement import image_ref, pod_placement

# Names of the objects (deterministic: reviewers read them in the render).
SERVER_NAME = "pyroscope"
HEADLESS_SUFFIX = "-headless"
CONFIG_SUFFIX = "-config"
DATA_VOLUME = "data"
CONFIG_VOLUME = "config"
TMP_VOLUME = "tmp"
CONFIG_KEY = posixpath.basename(constants.PYROSCOPE_CONFIG_PATH)
CHECKSUM_ANNOTATION = "checksum/config"
# A config change needs a restart: the pod template carries the config's hash.

# Probes. Pyroscope's /ready answers 503 until every module (ring, metastore raft) is up, which
# can take minutes after a restart with a large data volume: the startup probe allows 10 min,
# liveness only restarts after 5 min of continuous failure, readiness reacts in 30 s.
STARTUP_PROBE = {"periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 60}
LIVENESS_PROBE = {"periodSeconds": 30, "timeoutSeconds": 5, "failureThreshold": 10}
READINESS_PROBE = {"periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3, "successThreshold": 1}
# Time to flush in-memory segments on shutdown before SIGKILL.
TERMINATION_GRACE_SECONDS = 300


def config_checksum(config_yaml: str) -> str:
    return hashlib.sha256(config_yaml.encode()).hexdigest()


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
        "metadata": metadata(SERVER_NAME, namespace, labels(component)),
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
        "metadata": metadata(name, namespace, labels(COMPONENT_SERVER)),
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
        "metadata": metadata(SERVER_NAME, namespace, labels(COMPONENT_SERVER)),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector_labels(COMPONENT_SERVER)}},
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
        peers.append(grafana_peer(config.grafana.sidecar))
    peers += [Peer(client.namespace, client.pod_labels) for client in config.server.kubernetes.allow_from]
    return dedupe_peers(peers)


def grafana_peer(sidecar: Sidecar) -> Peer:
    """The Grafana Helm release's pods (the sidecar's namespace)."""
    return Peer(sidecar.namespace)


def ingress_manifest(kubernetes: KubernetesServer, service: str) -> dict[str, Any] | None:
    """An Ingress to ``service`` when enabled. The OSS server has no authentication."""
    ingress = kubernetes.ingress
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
        "metadata": metadata(
            SERVER_NAME,
            kubernetes.namespace,
            labels(COMPONENT_SERVER),
            annotations=ingress_annotations(ingress.class_name, ingress.annotations),
        ),
        "spec": spec,
    }


# ingress-nginx's body limit (default 1m: large JFR pushes get 413) and its read timeout.
INGRESS_NGINX_BODY_SIZE = constants.INGRESS_NGINX_BODY_SIZE_ANNOTATION
INGRESS_NGINX_READ_TIMEOUT = constants.INGRESS_NGINX_READ_TIMEOUT_ANNOTATION


def ingress_annotations(class_name: str | None, configured: Mapping[str, str]) -> dict[str, str]:
    """The configured annotations; for the ingress-nginx class also a body limit matching the
    gateway's ``client_max_body_size`` and its query timeout, unless configured."""
    annotations: dict[str, str] = {}
    if class_name == "nginx":
        annotations[INGRESS_NGINX_BODY_SIZE] = constants.GATEWAY_MAX_BODY_SIZE
        annotations[INGRESS_NGINX_READ_TIMEOUT] = str(constants.GATEWAY_QUERY_TIMEOUT_SECONDS)
    annotations.update(configured)
    return annotations
