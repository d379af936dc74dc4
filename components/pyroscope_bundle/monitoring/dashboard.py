"""The Grafana dashboard: Pyroscope health and per-service ingestion, on the provisioned datasources.

Built as plain JSON (Grafana dashboard model, schemaVersion 39). Every panel names its
datasource by uid: the Prometheus datasource that scrapes Pyroscope
(``monitoring.dashboard.prometheusDatasourceUid``) or the bundle's own Pyroscope datasource
(``grafana.datasource.uid``). Provisioned like the datasource: a ConfigMap labelled for the
Grafana chart's dashboards sidecar, or ``grafana.oss.Dashboard`` in API mode.
"""

from __future__ import annotations

import json
from typing import Any

from pyroscope_bundle import constants
from pyroscope_bundle.config import BundleConfig
from pyroscope_bundle.config.model import Dashboard, Grafana
from pyroscope_bundle.grafana.datasource import datasource_type
from pyroscope_bundle.monitoring import metrics as m
from pyroscope_bundle.monitoring.alerts import ingress_controller
from pyroscope_bundle.monitoring.names import DASHBOARD_UID, scrape_job

SCHEMA_VERSION = 39
PANEL_WIDTH = 12
PANEL_HEIGHT = 8
CPU_PROFILE_TYPE = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"


def _prometheus(dashboard: Dashboard) -> dict[str, str]:
    return {"type": "prometheus", "uid": dashboard.prometheus_datasource_uid}


def _pyroscope(grafana: Grafana) -> dict[str, str]:
    return {"type": datasource_type(grafana.version), "uid": grafana.datasource.uid}


def _panel(
    kind: str, title: str, datasource: dict[str, str], targets: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    return {"type": kind, "title": title, "datasource": datasource, "targets": targets, **extra}


def _prom_target(dashboard: Dashboard, expr: str, legend: str = "") -> dict[str, Any]:
    return {"datasource": _prometheus(dashboard), "expr": expr, "legendFormat": legend}


def _not_probe(config: BundleConfig) -> str:
    """The matcher that keeps the probe's synthetic profiles out of the per-service views
    (``usage_group`` in Prometheus); without multi-tenancy they share the services' tenant."""
    if not config.probe_enabled:
        return ""
    return f', usage_group!="{constants.USAGE_GROUP_PREFIX}{config.monitoring.probe.service_name}"'


def _not_probe_profiles(config: BundleConfig) -> str:
    """The same for the flame graph's label selector (``service_name`` in Pyroscope)."""
    if not config.probe_enabled:
        return ""
    return f', service_name!="{config.monitoring.probe.service_name}"'


def _panels(config: BundleConfig) -> list[dict[str, Any]]:
    ns = config.server.kubernetes.namespace
    own = f'{{namespace="{ns}"}}'
    prom = _prometheus(config.monitoring.dashboard)

    def series(title: str, expr: str, legend: str = "", unit: str = "short") -> dict[str, Any]:
        return _panel(
            "timeseries",
            title,
            prom,
            [_prom_target(config.monitoring.dashboard, expr, legend)],
            fieldConfig={"defaults": {"unit": unit}, "overrides": []},
        )

    def stat(title: str, expr: str) -> dict[str, Any]:
        return _panel("stat", title, prom, [_prom_target(config.monitoring.dashboard, expr)])

    panels = [
        stat("Pyroscope targets up", f'sum({m.UP}{{job="{scrape_job(ns)}"}})'),
        stat("Metastore raft leaders", f'sum({m.RAFT_STATE}{{namespace="{ns}", state="{m.RAFT_LEADER}"}})'),
        series("Profiles received / s", f"sum(rate({m.RECEIVED_PROFILES}{own}[5m]))", "profiles"),
        series(
            "Received bytes / s per service",
            f'sum by (usage_group) (rate({m.USAGE_GROUP_RECEIVED}{{namespace="{ns}", '
            f'usage_group=~"{constants.USAGE_GROUP_PREFIX}$service"{_not_probe(config)}}}[5m]))',
            "{{usage_group}}",
            "Bps",
        ),
        series(
            "Discarded bytes / s by reason",
            f"sum by (reason) (rate({m.DISCARDED_BYTES}{own}[5m]))",
            "{{reason}}",
            "Bps",
        ),
        series(
            "Compaction jobs / s by status",
            f"sum by (status) (rate({m.COMPACTION_JOBS}{own}[15m]))",
            "{{status}}",
        ),
        series(
            "Data volume used",
            f'1 - {m.VOLUME_AVAILABLE}{{namespace="{ns}"}} / {m.VOLUME_CAPACITY}{{namespace="{ns}"}}',
            "{{persistentvolumeclaim}}",
            "percentunit",
        ),
        series(
            "Memory working set / limit",
            f'max by (pod, container) ({m.MEMORY_WORKING_SET}{{namespace="{ns}", container!=""}}) / '
            f'max by (pod, container) ({m.MEMORY_LIMIT}{{namespace="{ns}", resource="memory"}})',
            "{{pod}}/{{container}}",
            "percentunit",
        ),
        series("Container restarts (1h)", f"increase({m.RESTARTS}{own}[1h])", "{{pod}}/{{container}}"),
    ]
    if config.probe_enabled:
        panels.append(
            stat(
                "Seconds since the probe succeeded",
                f'time() - {m.CRONJOB_LAST_SUCCESS}{{namespace="{ns}", cronjob="pyroscope-probe"}}',
            )
        )
    if ingress_controller(config.monitoring, config.server) == "ingress-nginx":
        panels.append(
            series(
                "Gateway answers / s by status (Ingress)",
                f"sum by (status) (rate({m.INGRESS_REQUESTS}"
                f'{{exported_namespace="{ns}", ingress="pyroscope"}}[5m]))',
                "{{status}}",
            )
        )
    panels.append(
        _panel(
            "flamegraph",
            "CPU of $service",
            _pyroscope(config.grafana),
            [
                {
                    "datasource": _pyroscope(config.grafana),
                    "queryType": "profile",
                    "profileTypeId": CPU_PROFILE_TYPE,
                    "labelSelector": '{service_name=~"$service"' + _not_probe_profiles(config) + "}",
                    "groupBy": [],
                }
            ],
        )
    )
    x = y = 0
    for index, panel in enumerate(panels):
        panel["id"] = index + 1
        width = 24 if panel["type"] == "flamegraph" else PANEL_WIDTH
        if x + width > 24:  # next row
            x, y = 0, y + PANEL_HEIGHT
        panel["gridPos"] = {"x": x, "y": y, "w": width, "h": PANEL_HEIGHT}
        x += width
    return panels


def dashboard(config: BundleConfig, uid: str = DASHBOARD_UID) -> dict[str, Any]:
    """The dashboard model (without ``id``: Grafana assigns it; the uid is stable). It reads the
    server, monitoring, Grafana and probe settings, hence the whole config."""
    ns = config.server.kubernetes.namespace
    return {
        "uid": uid,
        "title": f"Pyroscope health ({config.stack})",
        "tags": ["pyroscope", "pyroscope-bundle"],
        "editable": False,
        "schemaVersion": SCHEMA_VERSION,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "1m",
        "templating": {
            "list": [
                {
                    "name": "service",
                    "label": "service_name",
                    "type": "query",
                    "datasource": _prometheus(config.monitoring.dashboard),
                    "query": (
                        f'label_values({m.USAGE_GROUP_RECEIVED}{{namespace="{ns}"{_not_probe(config)}}}, '
                        "usage_group)"
                    ),
                    "regex": f"/^{constants.USAGE_GROUP_PREFIX}(.+)$/",
                    "includeAll": True,
                    "allValue": ".+",
                    "multi": True,
                    "refresh": 2,
                    "current": {},
                }
            ]
        },
        "panels": _panels(config),
    }


def dashboard_json(config: BundleConfig, uid: str = DASHBOARD_UID) -> str:
    """Deterministic JSON text (what the ConfigMap and the API get)."""
    return json.dumps(dashboard(config, uid), indent=2, sort_keys=True) + "\n"
