"""Facts about the upstream software that several modules need: one place for each.

Versions are pinned here and nowhere else; every default in the config model, every image
reference and every test reads them from this module.
"""

from __future__ import annotations

from typing import Final

# The Pulumi project name: the config namespace (`pyroscope:server`, ...).
PROJECT_NAME: Final = "pyroscope"

# --- Pyroscope server -------------------------------------------------------------------------
PYROSCOPE_IMAGE: Final = "grafana/pyroscope"
# Current stable 2.x and the last 1.x (image tags carry no leading "v").
PYROSCOPE_DEFAULT_VERSION: Final = "2.2.1"
PYROSCOPE_LAST_V1_VERSION: Final = "1.21.1"
# Major versions whose configuration keys we know (retention differs between them).
PYROSCOPE_SUPPORTED_MAJORS: Final = (1, 2)
PYROSCOPE_HTTP_PORT: Final = 4040
PYROSCOPE_CONFIG_PATH: Final = "/etc/pyroscope/config.yaml"
PYROSCOPE_DATA_DIR: Final = "/data"
# The image is distroless and runs as this uid/gid; the data volume must be writable by it.
PYROSCOPE_UID: Final = 10001
PYROSCOPE_READY_PATH: Final = "/ready"
# Pyroscope cuts a block at most every hour; a retention shorter than that deletes data that
# has not even been compacted, so it is refused.
PYROSCOPE_MIN_RETENTION_SECONDS: Final = 3600
PYROSCOPE_MAX_RETENTION_SECONDS: Final = 10 * 366 * 86400
# The multi-tenancy header Pyroscope reads the tenant from.
TENANT_HEADER: Final = "X-Scope-OrgID"

# --- Grafana ----------------------------------------------------------------------------------
GRAFANA_IMAGE: Final = "grafana/grafana"
GRAFANA_DEFAULT_VERSION: Final = "12.3.0"
GRAFANA_HTTP_PORT: Final = 3000
GRAFANA_UID: Final = 472
GRAFANA_DATA_DIR: Final = "/var/lib/grafana"
GRAFANA_DATASOURCE_DIR: Final = "/etc/grafana/provisioning/datasources"
# Plugin type id since Grafana 10.1; older Grafana only knows the `phlare` alias.
DATASOURCE_TYPE: Final = "grafana-pyroscope-datasource"
DATASOURCE_TYPE_LEGACY: Final = "phlare"
DATASOURCE_TYPE_MIN_GRAFANA: Final = (10, 1)
# Oldest Grafana that has a Pyroscope/Phlare datasource at all.
GRAFANA_MIN_SUPPORTED: Final = (9, 4)
# Label the Grafana Helm chart's datasource sidecar watches, and its conventional value.
GRAFANA_SIDECAR_LABEL: Final = "grafana_datasource"
GRAFANA_SIDECAR_LABEL_VALUE: Final = "1"

# --- Kubernetes -------------------------------------------------------------------------------
# Label keys set on everything the bundle creates (recommended app.kubernetes.io labels).
LABEL_NAME: Final = "app.kubernetes.io/name"
LABEL_INSTANCE: Final = "app.kubernetes.io/instance"
LABEL_COMPONENT: Final = "app.kubernetes.io/component"
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
MANAGED_BY: Final = "pyroscope-bundle"

# --- Render -----------------------------------------------------------------------------------
# What every secret value is replaced with in rendered review output.
REDACTED: Final = "[secret]"
