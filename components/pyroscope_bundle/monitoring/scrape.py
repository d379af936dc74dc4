"""How Prometheus (Operator) scrapes Pyroscope: a PodMonitor and the NetworkPolicy peer for it.

A PodMonitor, not a ServiceMonitor: the single binary has two Services with the same labels
(ClusterIP and headless), which a ServiceMonitor would scrape twice; pods are selected once.
Pyroscope serves ``/metrics`` on its one HTTP port, next to the unauthenticated API, so the
NetworkPolicy admits only the Prometheus pods (``prometheusPodLabels``), never a whole
namespace. The gateway is NOT scraped: nginx OSS has no Prometheus endpoint (see
``metrics.py``), and the gateway never forwards ``/metrics`` to clients.
"""

from __future__ import annotations

from typing import Any

from pyroscope_bundle import constants
from pyroscope_bundle import kube_manifests as kube
from pyroscope_bundle.config.model import KubernetesServer, Monitoring
from pyroscope_bundle.monitoring.names import PODMONITOR_NAME, monitoring_labels

# Port names of the Pyroscope containers: the bundle's StatefulSet, and the chart's pods
# (operations/pyroscope/helm/pyroscope values.yaml `service.port_name`, chart 2.2.1).
SINGLE_BINARY_PORT = kube.HTTP_PORT_NAME
CHART_PORT = "http2"
METRICS_PATH = constants.PYROSCOPE_METRICS_PATH


def pod_selector(kubernetes: KubernetesServer) -> dict[str, str]:
    """The Pyroscope pods of this stack (never the gateway's or the probe's)."""
    if kubernetes.mode == "microservices":
        from pyroscope_bundle.server.helm import CHART_POD_LABELS

        return dict(CHART_POD_LABELS)
    return kube.selector_labels(kube.COMPONENT_SERVER)


def pod_monitor_manifest(kubernetes: KubernetesServer, monitoring: Monitoring) -> dict[str, Any]:
    """PodMonitor (monitoring.coreos.com/v1) for Pyroscope's /metrics."""
    namespace = kubernetes.namespace
    port = CHART_PORT if kubernetes.mode == "microservices" else SINGLE_BINARY_PORT
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {
            "name": PODMONITOR_NAME,
            "namespace": namespace,
            "labels": monitoring_labels(monitoring, "metrics"),
        },
        "spec": {
            "selector": {"matchLabels": pod_selector(kubernetes)},
            "namespaceSelector": {"matchNames": [namespace]},
            "podMetricsEndpoints": [
                {
                    "port": port,
                    "path": METRICS_PATH,
                    "interval": monitoring.scrape_interval.text,
                    "scheme": "http",
                }
            ],
        },
    }


def prometheus_peer(monitoring: Monitoring) -> kube.Peer:
    """Who scrapes: the Prometheus pods of the monitoring namespace."""
    return kube.Peer(monitoring.namespace, dict(monitoring.prometheus_pod_labels))


def metrics_network_policy(kubernetes: KubernetesServer, monitoring: Monitoring) -> dict[str, Any]:
    """An additional NetworkPolicy (policies add up) admitting only Prometheus's pods to the
    Pyroscope pods' HTTP port; the server's own policy stays "gateway only"."""

    return kube.network_policy_manifest(
        "pyroscope-metrics",
        kubernetes.namespace,
        pod_selector(kubernetes),
        [prometheus_peer(monitoring)],
        constants.PYROSCOPE_HTTP_PORT,
        component="metrics",
    )
