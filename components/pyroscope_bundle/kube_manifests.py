"""Generic Kubernetes objects of the bundle, as plain dicts in API (camelCase) form.

What every Kubernetes part (the server in both modes, the gateway, self-monitoring) builds the
same way: the bundle's labels, object metadata, Namespace, ServiceAccount, ConfigMap, the
restricted container security context and ingress-only NetworkPolicies. Pure functions without a
provider SDK or the bundle's config, so any part can import them without importing another part.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyroscope_bundle import constants

# ``app.kubernetes.io/name`` of every object, and the default ``instance``.
APP_NAME = "pyroscope"
# The name of the HTTP port on every container and Service (Ingress backends refer to it).
HTTP_PORT_NAME = "http"
# ``app.kubernetes.io/component`` values that other parts select pods by.
COMPONENT_SERVER = "server"
COMPONENT_PROBE = "probe"


@dataclass(frozen=True)
class Peer:
    """Who may reach a port: every pod of ``namespace``, or only those with ``pod_labels``."""

    namespace: str
    pod_labels: Mapping[str, str] = field(default_factory=dict)


def labels(component: str, instance: str = APP_NAME) -> dict[str, str]:
    """Recommended labels on every object the bundle creates."""
    return {
        constants.LABEL_NAME: APP_NAME,
        constants.LABEL_INSTANCE: instance,
        constants.LABEL_COMPONENT: component,
        constants.LABEL_MANAGED_BY: constants.MANAGED_BY,
    }


def selector_labels(component: str, instance: str = APP_NAME) -> dict[str, str]:
    """The immutable subset used in selectors (managed-by may change without a re-create)."""
    return {
        key: value for key, value in labels(component, instance).items() if key != constants.LABEL_MANAGED_BY
    }


def metadata(
    name: str, namespace: str | None, object_labels: Mapping[str, str], **extra: Any
) -> dict[str, Any]:
    """``name``, ``namespace`` (None: cluster-scoped), labels and every non-empty ``extra`` field."""
    result: dict[str, Any] = {"name": name, "labels": dict(object_labels)}
    if namespace is not None:
        result["namespace"] = namespace
    result.update({key: value for key, value in extra.items() if value})
    return result


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
    """An own ServiceAccount whose token is never mounted (the bundle's pods need no API access)."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(name, namespace, labels(component), annotations=dict(annotations or {})),
        "automountServiceAccountToken": False,
    }


def config_map_manifest(name: str, namespace: str, component: str, data: Mapping[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(name, namespace, labels(component)),
        "data": dict(data),
    }


def container_security_context() -> dict[str, Any]:
    """Non-root, read-only root filesystem, no capabilities, no privilege escalation."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
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
    component: str,
    allow_same_namespace: bool = False,
    allow_own_pods: bool = False,
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
        "metadata": metadata(name, namespace, labels(component)),
        "spec": {
            "podSelector": {"matchLabels": dict(pod_selector)},
            "policyTypes": ["Ingress"],
            "ingress": rules,
        },
    }
