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
# Pyroscope's Prometheus endpoint, on the same port as its API: scraped by Prometheus directly
# (PodMonitor), never served by the gateway to any credential.
PYROSCOPE_METRICS_PATH: Final = "/metrics"
# Pyroscope cuts a block at most every hour; a retention shorter than that deletes data that
# has not even been compacted, so it is refused.
PYROSCOPE_MIN_RETENTION_SECONDS: Final = 3600
PYROSCOPE_MAX_RETENTION_SECONDS: Final = 10 * 366 * 86400
# Prefix of the per-service usage group Pyroscope counts received bytes under (see
# server/pyroscope_config.py): the monitoring rules select usage_group="service/<name>".
USAGE_GROUP_PREFIX: Final = "service/"
# The multi-tenancy header Pyroscope reads the tenant from.
TENANT_HEADER: Final = "X-Scope-OrgID"

# --- Authenticating gateway (nginx) -----------------------------------------------------------
# nginx built to run as a non-root user; the tag is checked against the upstream image repository
# (nginx/docker-nginx-unprivileged publishes one exact-version tag per release).
GATEWAY_IMAGE: Final = "nginxinc/nginx-unprivileged"
GATEWAY_DEFAULT_VERSION: Final = "1.30.5"
# The image's unprivileged listen port (EXPOSE 8080) and its nginx user/group.
GATEWAY_PORT: Final = 8080
# The gateway's HTTP/2 listener for OTLP profiles over gRPC (the usual OTLP gRPC port); nginx
# before 1.25.1 cannot serve cleartext HTTP/1.1 and HTTP/2 on one port.
GATEWAY_GRPC_PORT: Final = 4317
# The largest request the gateway (and an ingress-nginx Ingress in front of it) accepts: JFR
# pushes of a busy JVM exceed ingress-nginx's 1m default.
GATEWAY_MAX_BODY_SIZE: Final = "16m"
# How long the gateway waits for a query answer (wide-range flame graphs take minutes on a busy
# server); an ingress-nginx Ingress in front of it waits as long.
GATEWAY_QUERY_TIMEOUT_SECONDS: Final = 300
# ingress-nginx's annotations for its body limit (default 1m) and upstream read timeout (60 s);
# kubernetes/ingress-nginx docs/user-guide/nginx-configuration/annotations.md.
INGRESS_NGINX_BODY_SIZE_ANNOTATION: Final = "nginx.ingress.kubernetes.io/proxy-body-size"
INGRESS_NGINX_READ_TIMEOUT_ANNOTATION: Final = "nginx.ingress.kubernetes.io/proxy-read-timeout"
# Abuse bounds per client address (server.gateway.limits): concurrent requests (of the 1024 a
# gateway pod serves with its 2 workers), and failed authentications per second plus how many
# more may queue before the rest get 429.
GATEWAY_CONNECTIONS_PER_CLIENT: Final = 256
GATEWAY_FAILED_AUTH_PER_SECOND: Final = 10
GATEWAY_FAILED_AUTH_BURST: Final = 20
# Seconds a gateway client may take to send its request headers (nginx: 60): slow-header
# clients hold a connection before any per-address limit counts them.
GATEWAY_HEADER_TIMEOUT_SECONDS: Final = 10
GATEWAY_UID: Final = 101
# On Kubernetes the gateway runs as a high uid that no host account has (checkov CKV_K8S_40);
# nginx-unprivileged needs no particular uid: it writes only to its /tmp emptyDir.
GATEWAY_KUBERNETES_UID: Final = 10101
# Where the generated files go inside the gateway container, and its only writable path.
GATEWAY_CONFIG_DIR: Final = "/etc/nginx/gateway"
GATEWAY_HTPASSWD_DIR: Final = "/etc/nginx/gateway-auth"
GATEWAY_TMP_DIR: Final = "/tmp"  # noqa: S108 - a path inside the container (emptyDir)
# The one basic-auth user when multi-tenancy is off (with it on, one user per tenant).
GATEWAY_SINGLE_USER: Final = "pyroscope"
# The end-to-end probe's own gateway user (push and query roles, separate passwords). With
# multi-tenancy the user IS the tenant: the probe writes to and reads from this tenant only,
# which no Grafana datasource shows (docs/runbook.md#pyroscopeprobefailing).
PROBE_GATEWAY_USER: Final = "pyroscope-probe"
# Name of the gateway: its Docker container alias / Kubernetes Deployment and Service.
GATEWAY_NAME: Final = "pyroscope-gateway"
# Paths profilers push to (Connect push API, legacy /ingest); everything else is a query.
PYROSCOPE_PUSH_PATHS: Final = ("/push.v1.PusherService/Push", "/ingest", "/pyroscope/ingest")
PYROSCOPE_PUSH_PATH: Final = "/push.v1.PusherService/Push"
PYROSCOPE_LABEL_VALUES_PATH: Final = "/querier.v1.QuerierService/LabelValues"

# --- Grafana ----------------------------------------------------------------------------------
GRAFANA_IMAGE: Final = "grafana/grafana"
GRAFANA_DEFAULT_VERSION: Final = "13.1.2"
GRAFANA_HTTP_PORT: Final = 3000
GRAFANA_UID: Final = 472
GRAFANA_DATA_DIR: Final = "/var/lib/grafana"
# Grafana refuses longer datasource uids (grafana/grafana pkg/util: MaxUIDLength).
GRAFANA_MAX_UID_LENGTH: Final = 40
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

# --- Docker (local stack) ---------------------------------------------------------------------
# Network aliases on the stack's bridge network: how containers reach each other by name.
DOCKER_PYROSCOPE_ALIAS: Final = "pyroscope"
DOCKER_GRAFANA_ALIAS: Final = "grafana"
# The Pyroscope image is distroless (no shell, curl or wget) but ships profilecli, whose `ready`
# command GETs /ready and exits non-zero unless it answers 200; the command exists since 1.8.0.
PYROSCOPE_PROFILECLI: Final = "/usr/bin/profilecli"
PYROSCOPE_PROFILECLI_READY_SINCE: Final = (1, 8, 0)
# Grafana's liveness endpoint; the grafana/grafana images (Alpine and Ubuntu) ship curl.
GRAFANA_HEALTH_PATH: Final = "/api/health"
GRAFANA_ADMIN_USER: Final = "admin"
# The admin password is uploaded here and read by the image's entrypoint through
# GF_SECURITY_ADMIN_PASSWORD__FILE, so it never appears in the container's environment.
GRAFANA_ADMIN_PASSWORD_FILE: Final = "/run/secrets/grafana-admin-password"

# --- Kubernetes -------------------------------------------------------------------------------
# Label keys set on everything the bundle creates (recommended app.kubernetes.io labels).
LABEL_NAME: Final = "app.kubernetes.io/name"
# Every workload the bundle runs in its Kubernetes namespace is named this or starts with it and
# a '-' (the server StatefulSet, the gateway, the Helm release's components).
KUBERNETES_WORKLOAD_PREFIX: Final = "pyroscope"
LABEL_INSTANCE: Final = "app.kubernetes.io/instance"
LABEL_COMPONENT: Final = "app.kubernetes.io/component"
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
MANAGED_BY: Final = "pyroscope-bundle"
# In-cluster DNS suffix of Services (<svc>.<ns>.svc.cluster.local).
KUBERNETES_SERVICE_DOMAIN: Final = "svc.cluster.local"
# Name of the single-binary StatefulSet and its Service.
KUBERNETES_SERVER_NAME: Final = "pyroscope"
# Label every namespace carries (Kubernetes >= 1.22): what NetworkPolicy peers select on.
NAMESPACE_NAME_LABEL: Final = "kubernetes.io/metadata.name"
# Pod Security Admission level for a namespace the bundle creates.
POD_SECURITY_LEVEL: Final = "restricted"
# Writable scratch path for the read-only root filesystem (2.x compaction temp files).
PYROSCOPE_TMP_DIR: Final = "/tmp"  # noqa: S108 - a path inside the container (emptyDir)

# --- Scale-out: the official Helm chart -------------------------------------------------------
PYROSCOPE_HELM_REPOSITORY: Final = "https://grafana.github.io/helm-charts"
PYROSCOPE_HELM_CHART: Final = "pyroscope"
# Chart 2.2.1 ships appVersion 2.2.1 (operations/pyroscope/helm/pyroscope/Chart.yaml, #5474).
PYROSCOPE_HELM_CHART_VERSION: Final = "2.2.1"
# Helm release name; with fullnameOverride every object is "<release>-<component>". Pushes go to
# the distributor, queries to the query-frontend (values.yaml, architecture.microservices.v2).
PYROSCOPE_HELM_RELEASE: Final = "pyroscope"
PYROSCOPE_PUSH_COMPONENT: Final = "distributor"
PYROSCOPE_QUERY_COMPONENT: Final = "query-frontend"
# The bucket's lifecycle expiry runs this many days after the server's own retention, so the
# bucket never deletes a block Pyroscope still lists (the metastore cleaner goes first).
BUCKET_EXPIRY_MARGIN_DAYS: Final = 7

# --- Render -----------------------------------------------------------------------------------
# What every secret value is replaced with in rendered review output.
REDACTED: Final = "[secret]"

# --- Profiler agents injected without an image rebuild (wiring/agents.py) ------------------------
# The runtimes whose agent is a separate artifact (a jar, two native libraries) that can be copied
# or downloaded next to the application; the others are compiled or installed into it.
INJECTABLE_AGENT_RUNTIMES: Final = ("java", "dotnet")
# Java: grafana/pyroscope-java v2.9.1 (gradle.properties `pyroscope_version=2.9.1`). Its release
# workflow (.github/workflows/release-please.yml) uploads `agent/build/libs/pyroscope.jar` to the
# GitHub release and publishes no checksum: a download needs the sha256 from the user.
JAVA_AGENT_VERSION: Final = "2.9.1"
JAVA_AGENT_FILE: Final = "pyroscope.jar"
JAVA_AGENT_URL: Final = (
    f"https://github.com/grafana/pyroscope-java/releases/download/v{JAVA_AGENT_VERSION}/{JAVA_AGENT_FILE}"
)
# .NET: grafana/pyroscope-dotnet v0.15.0-pyroscope, the last release published as an image
# (release-draft.yml / Makefile `docker/manifest`: a multi-arch x86_64 + aarch64 manifest
# `grafana/pyroscope-dotnet:<version>-glibc`; releases from pyroscope-1.0.0 on ship tarballs only,
# commit ecaa90e3). Pyroscope.Dockerfile at that tag: `FROM busybox:1.37.0-glibc` with the two
# libraries at the image root, so `cp` exists in it.
DOTNET_AGENT_VERSION: Final = "0.15.0"
DOTNET_AGENT_IMAGE: Final = f"grafana/pyroscope-dotnet:{DOTNET_AGENT_VERSION}-glibc"
DOTNET_AGENT_IMAGE_DIR: Final = "/"
# The downloader of a `download` delivery: curl/curl-container 8.21.0 (Alpine 3.24 base: busybox
# `sh`, `sha256sum`, `mv`; create_base_image.sh).
AGENT_DOWNLOADER_IMAGE: Final = "curlimages/curl:8.21.0"
# Where injected agents live: an emptyDir (Kubernetes) or task volume (ECS), read-only in the
# wired containers.
AGENT_VOLUME: Final = "pyroscope-agent"
AGENT_DIR: Final = "/pyroscope-agent"
AGENT_CONTAINER: Final = "pyroscope-agent"
# Any uid no image maps to a user: the init container only copies world-readable files.
AGENT_UID: Final = 65532
