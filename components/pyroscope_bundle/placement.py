"""Where the bundle's pods run and where their images come from (``server.kubernetes.scheduling``,
``server.kubernetes.imagePullSecrets``, ``server.imageRegistry``): one builder for every workload.

Platform teams pin profiling infrastructure to a node pool (nodeSelector + tolerations), keep it
off or next to other pods (affinity), give it a priority class, and pull every image from a
private mirror. Each workload builder (Pyroscope StatefulSet, gateway Deployment, probe CronJob,
chart values) merges :func:`pod_placement` into its pod spec and names images with
:func:`image_ref`, so no workload is forgotten.
"""

from __future__ import annotations

from typing import Any

from pyroscope_bundle.config.model import KubernetesServer, Server


def image_ref(server: Server, image: str, tag: str) -> str:
    """``image:tag``, under ``server.imageRegistry`` when one is set (private mirror)."""
    registry = server.image_registry
    return f"{registry}/{image}:{tag}" if registry else f"{image}:{tag}"


def image_repository(server: Server, image: str) -> str:
    """The repository part alone (Helm values take repository and tag separately)."""
    registry = server.image_registry
    return f"{registry}/{image}" if registry else image


def pod_placement(kubernetes: KubernetesServer) -> dict[str, Any]:
    """Pod-spec fields (API form) for scheduling and image pulls; empty settings add nothing."""
    scheduling = kubernetes.scheduling
    spec: dict[str, Any] = {}
    if scheduling.node_selector:
        spec["nodeSelector"] = dict(sorted(scheduling.node_selector.items()))
    if scheduling.tolerations:
        spec["tolerations"] = [
            toleration.model_dump(by_alias=True, exclude_none=True) for toleration in scheduling.tolerations
        ]
    if scheduling.affinity:
        spec["affinity"] = scheduling.affinity
    if scheduling.priority_class_name:
        spec["priorityClassName"] = scheduling.priority_class_name
    if kubernetes.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": name} for name in kubernetes.image_pull_secrets]
    return spec
