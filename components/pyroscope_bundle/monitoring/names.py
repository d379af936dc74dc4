"""Names and labels of the monitoring objects (one place: rules, dashboard and tests read them)."""

from __future__ import annotations

from pyroscope_bundle import constants
from pyroscope_bundle.config.model import Monitoring

PODMONITOR_NAME = "pyroscope"
RULE_NAME = "pyroscope-bundle"
PROBE_NAME = "pyroscope-probe"
PROBE_PROFILE_CONFIG_MAP = "pyroscope-probe-profile"
DASHBOARD_NAME = "pyroscope-bundle-dashboard"
DASHBOARD_UID = "pyroscope-bundle-health"
# Key of the dashboard JSON in its ConfigMap / the provisioned file name.
DASHBOARD_FILE = "pyroscope-bundle-health.json"


def scrape_job(namespace: str) -> str:
    """The ``job`` label Prometheus Operator gives PodMonitor targets: <namespace>/<name>."""
    return f"{namespace}/{PODMONITOR_NAME}"


def monitoring_labels(monitoring: Monitoring, component: str) -> dict[str, str]:
    """The bundle's labels plus ``pyroscope:monitoring.labels`` (what the operator selects on)."""
    return {
        constants.LABEL_NAME: "pyroscope",
        constants.LABEL_INSTANCE: "pyroscope",
        constants.LABEL_COMPONENT: component,
        constants.LABEL_MANAGED_BY: constants.MANAGED_BY,
        **monitoring.labels,
    }
