"""The typed configuration of one stack: ``pyroscope:server``, ``pyroscope:grafana``,
``pyroscope:target``, ``pyroscope:services`` and the secret ``pyroscope:authToken``.

Every field has a default a newcomer can leave alone; unknown keys are errors so that typos
never pass silently. Field descriptions are the documentation: ``docs/configuration.md`` is
generated from them (``pyroscope-bundle docs``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel
from pyroscope_bundle_runtime.contract import JAVA_DEFAULT_AGENT_PATH, ProfileType, Runtime

from pyroscope_bundle import constants
from pyroscope_bundle.config.types import (
    AnnotationKey,
    AwsRegion,
    BasicAuthUser,
    CpuField,
    DnsLabel,
    DnsSubdomain,
    DockerName,
    DockerNetworkName,
    DurationField,
    EcsContainerName,
    EcsUnits,
    HostName,
    HttpUrl,
    IamRole,
    IamRoleArn,
    ImageReference,
    ImageRegistry,
    IPv4,
    KmsKeyArn,
    LabelKey,
    LabelValue,
    PlainText,
    RelativePath,
    S3Bucket,
    SecretArn,
    SizeField,
    StackName,
    TenantId,
    TrustedProxy,
    Version,
    parse_duration,
    parse_size,
)

Platform = Literal["kubernetes", "ecs"]


class Model(BaseModel):
    """Base for every config section: camelCase keys as in Pulumi stack files, no unknown keys.

    Strict: ``true`` is never a port, ``"yes"`` never a boolean, ``5`` never a string (ids that
    are numbers convert explicitly in their validators).
    """

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        validate_default=True,
    )


# --- pyroscope:server ---------------------------------------------------------------------------


class Storage(Model):
    size: SizeField = Field(
        default=parse_size("10Gi"),
        description="Size of the data volume (Kubernetes PVC). At least 1Gi; see docs/sizing.md.",
    )
    storage_class: DnsSubdomain | None = Field(
        default=None, description="Kubernetes StorageClass of the data volume; null uses the cluster default."
    )


class ResourceAmounts(Model):
    cpu: CpuField = Field(default="500m", description="CPU, as a Kubernetes quantity (250m, 1, 1.5).")
    memory: SizeField = Field(default=parse_size("1Gi"), description="Memory, as a Kubernetes quantity.")


class ResourceLimits(Model):
    """Like :class:`ResourceAmounts`, with the limits' own defaults (setting one keeps the other)."""

    cpu: CpuField = Field(default="2", description="CPU limit, as a Kubernetes quantity.")
    memory: SizeField = Field(
        default=parse_size("4Gi"), description="Memory limit; also the Docker container's memory limit."
    )


class Resources(Model):
    requests: ResourceAmounts = Field(default_factory=ResourceAmounts, description="Guaranteed resources.")
    limits: ResourceLimits = Field(default_factory=ResourceLimits, description="Upper bounds.")


class DockerServer(Model):
    publish_address: IPv4 = Field(
        default="127.0.0.1",
        description=(
            "Host address the Pyroscope (or gateway) port is published on. The OSS server has no "
            "authentication: anything other than 127.0.0.1 exposes it to the network."
        ),
    )
    host_port: int = Field(default=constants.PYROSCOPE_HTTP_PORT, ge=1, le=65535, description="Host port.")
    network_name: DockerNetworkName = Field(
        default="pyroscope", description="User-defined bridge network name."
    )
    volume_name: DockerName = Field(
        default="pyroscope-data", description="Named Docker volume that holds the profiling data."
    )


class AllowedClient(Model):
    namespace: DnsLabel = Field(description="Namespace whose pods may reach Pyroscope.")
    pod_labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, description="Only pods with these labels (empty: every pod of the namespace)."
    )


class Ingress(Model):
    enabled: bool = Field(
        default=False,
        description="Expose Pyroscope through an Ingress. Off: the OSS server has no authentication.",
    )
    host: HostName | None = Field(
        default=None, description="Ingress host name, e.g. profiles.example.com (required when enabled)."
    )
    class_name: DnsSubdomain | None = Field(default=None, description="IngressClass name.")
    tls_secret_name: DnsSubdomain | None = Field(default=None, description="TLS Secret for the host.")
    annotations: dict[AnnotationKey, str] = Field(
        default_factory=dict,
        description=(
            "Extra Ingress annotations (cert-manager issuer, timeouts); values are strings. For "
            "className nginx the bundle adds ingress-nginx's proxy-body-size matching the "
            "gateway's 16m limit (its 1m default refuses large JFR pushes with 413) and a 300 s "
            "proxy-read-timeout (the gateway's query timeout) unless set here; with the gateway "
            "a proxy-body-size other than 16m is refused."
        ),
    )


class HelmObjectStorage(Model):
    bucket_name: S3Bucket | None = Field(
        default=None, description="S3 bucket to create for profile blocks; null derives one from the stack."
    )
    region: AwsRegion | None = Field(
        default=None, description="AWS region of the bucket; null: the AWS provider's (aws:region)."
    )
    irsa_role_arn: IamRoleArn | None = Field(
        default=None,
        description="IAM role for the Pyroscope service account (IRSA). Null: credentials from a Secret.",
    )


class Helm(Model):
    chart_version: Version = Field(
        default=constants.PYROSCOPE_HELM_CHART_VERSION,
        description=(
            "Version of the official grafana/pyroscope Helm chart (pinned; 2.2.1 ships Pyroscope 2.2.1)."
        ),
    )
    object_storage: HelmObjectStorage = Field(
        default_factory=HelmObjectStorage, description="Object storage shared by the microservices."
    )
    volume_size: SizeField = Field(
        default=parse_size("10Gi"),
        description=(
            "PVC size of each chart StatefulSet pod (metastore raft state, segment-writer). "
            "Profiles live in the bucket, so this stays small; storage.size is single-binary only."
        ),
    )


class Toleration(Model):
    key: LabelKey | None = Field(
        default=None, description="Taint key (null with operator Exists: every taint)."
    )
    operator: Literal["Equal", "Exists"] = Field(default="Equal", description="Equal or Exists.")
    value: LabelValue | None = Field(default=None, description="Taint value (operator Equal).")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        default=None, description="Taint effect; null matches every effect."
    )
    toleration_seconds: int | None = Field(
        default=None, ge=0, description="NoExecute only: how long the pod stays bound after the taint."
    )


# Text fields with a shape: the pattern, and what a refusal says is allowed (a user never sees
# the regular expression; tests/test_refusals.py checks every pattern here has its words).
CRON_PATTERN = r"^[!-~]+ [!-~]+ [!-~]+ [!-~]+ [!-~]+$"
SECRET_KEY_PATTERN = r"^[-._a-zA-Z0-9]+$"
AGENT_PATH_PATTERN = r"^/[A-Za-z0-9._/+@-]*$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
JAR_PATH_PATTERN = r"^/[A-Za-z0-9._/+@-]+\.jar$"
_PATH_CHARACTERS = "letters, digits and . _ / + @ - only"
PATTERN_HINTS = {
    CRON_PATTERN: 'is not a cron schedule; use five fields separated by single spaces, e.g. "*/5 * * * *"',
    SECRET_KEY_PATTERN: "is not a key name; use letters, digits, '-', '_' and '.' only, e.g. password",
    AGENT_PATH_PATTERN: f"is not an absolute path; use e.g. /opt/pyroscope ({_PATH_CHARACTERS})",
    SHA256_PATTERN: "is not a sha256 digest; use the 64 lowercase hex digits `sha256sum` prints",
    JAR_PATH_PATTERN: (
        f"is not an absolute path of a .jar; use e.g. /opt/pyroscope/pyroscope.jar ({_PATH_CHARACTERS})"
    ),
}

AFFINITY_KEYS = ("nodeAffinity", "podAffinity", "podAntiAffinity")


class Scheduling(Model):
    """Where the bundle's pods may run: applied to EVERY workload it deploys in the server's
    namespace (Pyroscope StatefulSet, gateway Deployment, probe CronJob, chart components)."""

    node_selector: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, description="Pod nodeSelector (empty: any node)."
    )
    tolerations: list[Toleration] = Field(
        default_factory=list, description="Pod tolerations (e.g. for a dedicated, tainted node pool)."
    )
    affinity: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Pod affinity, a Kubernetes Affinity object in API form (keys nodeAffinity, "
            "podAffinity, podAntiAffinity); empty: none."
        ),
    )
    priority_class_name: DnsLabel | None = Field(
        default=None, description="PriorityClass of the pods (it must exist); null: the cluster default."
    )

    @field_validator("affinity")
    @classmethod
    def _affinity_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(AFFINITY_KEYS))
        if unknown:
            raise ValueError(f"has unknown keys {unknown}; allowed: {', '.join(AFFINITY_KEYS)}")
        return value


class KubernetesServer(Model):
    namespace: DnsLabel = Field(default="pyroscope", description="Namespace Pyroscope runs in.")
    create_namespace: bool = Field(default=True, description="Create the namespace (false: it exists).")
    mode: Literal["single-binary", "microservices"] = Field(
        default="single-binary",
        description=(
            "single-binary: a StatefulSet with a PVC (one node). microservices: the official Helm "
            "chart with object storage, for scale past one node."
        ),
    )
    allow_from: list[AllowedClient] = Field(
        default_factory=list,
        description=(
            "Extra clients the NetworkPolicy admits on the HTTP port. The namespaces of wired "
            "Kubernetes services and of the Grafana sidecar are admitted automatically."
        ),
    )
    ingress: Ingress = Field(default_factory=Ingress, description="Optional Ingress (off).")
    scheduling: Scheduling = Field(
        default_factory=Scheduling, description="nodeSelector, tolerations, affinity, priority class."
    )
    image_pull_secrets: list[DnsLabel] = Field(
        default_factory=list,
        description="Secrets (in the server namespace) every pod pulls its images with (private mirrors).",
    )
    helm: Helm = Field(default_factory=Helm, description="Settings for mode=microservices.")


class GatewayLimits(Model):
    """Abuse bounds per client address (an Ingress's clients all share its controller's address)."""

    connections_per_client: int = Field(
        default=constants.GATEWAY_CONNECTIONS_PER_CLIENT,
        ge=1,
        le=1024,
        description=(
            "Concurrent authenticated requests per client address, and separately as many others "
            "(wrong or no credentials, refused paths); beyond, 429. A gateway pod serves about 1024 "
            "(2 nginx workers, each proxied request holds 2 of their 1024 connections)."
        ),
    )
    failed_auth_per_second: int = Field(
        default=constants.GATEWAY_FAILED_AUTH_PER_SECOND,
        ge=1,
        le=100_000,
        description=(
            "Failed authentications per second per client address. Faster failures wait their "
            "turn; valid credentials are never limited."
        ),
    )
    failed_auth_burst: int = Field(
        default=constants.GATEWAY_FAILED_AUTH_BURST,
        ge=0,
        le=100_000,
        description=(
            "Failed authentications per client address that may wait beyond the rate; the rest "
            "get 429 at once (with the WWW-Authenticate challenge)."
        ),
    )


class Gateway(Model):
    enabled: bool | None = Field(
        default=None,
        description=(
            "Authenticating nginx gateway in front of Pyroscope. null: on for the kubernetes "
            "backend, off for docker."
        ),
    )
    version: Version = Field(
        default=constants.GATEWAY_DEFAULT_VERSION, description="nginxinc/nginx-unprivileged image tag."
    )
    replicas: int | None = Field(
        default=None,
        ge=1,
        le=20,
        description=(
            "Gateway pods on Kubernetes (spread across nodes, with a PodDisruptionBudget from 2). "
            "null: 2 when server.protect is true (production-like), else 1."
        ),
    )
    admin_credential: bool = Field(
        default=False,
        description=(
            "Issue a separate operator credential (user admin) that reaches every non-allow-listed "
            "path (admin, ops, debug, status pages, settings writes). Off: nothing reaches them."
        ),
    )
    allow_unauthenticated: bool = Field(
        default=False,
        description=(
            "With enabled: false, allow exposing Pyroscope anyway (an Ingress, or a Docker publishAddress "
            "other than 127.0.0.1). The OSS server has no authentication: false refuses that."
        ),
    )
    otlp_grpc_host_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description=(
            "Docker: host port for the gateway's OTLP gRPC listener (published on publishAddress). "
            "null: reachable on the Docker network only (pyroscope-gateway:4317)."
        ),
    )
    limits: GatewayLimits = Field(
        default_factory=GatewayLimits,
        description="Per-client bounds on connections and failed authentications.",
    )
    trusted_proxies: list[TrustedProxy] = Field(
        default_factory=list,
        max_length=64,
        description=(
            "Networks of the proxies in front of the gateway (an Ingress controller's pods, a load "
            "balancer), as CIDRs. From them the gateway takes the client address from "
            "X-Forwarded-For, so every client behind the proxy gets its own limits; from anywhere "
            "else the header is ignored. Empty (default): X-Forwarded-For is never trusted and "
            "clients behind a proxy share its address's limits. Never 0.0.0.0/0 or ::/0."
        ),
    )


class Server(Model):
    enabled: bool = Field(default=True, description="Deploy a Pyroscope server in this stack.")
    backend: Literal["docker", "kubernetes"] = Field(
        default="docker", description="Where the server runs: docker (this host) or kubernetes."
    )
    version: Version = Field(
        default=constants.PYROSCOPE_DEFAULT_VERSION,
        description=(
            "grafana/pyroscope image tag. 2.x (default) and 1.x are supported; retention is "
            "rendered with the keys of the selected major version."
        ),
    )
    retention: DurationField = Field(
        default=parse_duration("30d"),
        description="How long profiles are kept before they are deleted (1h to 10y).",
    )
    multitenancy: bool = Field(default=False, description="Require an X-Scope-OrgID tenant on every request.")
    tenants: list[DnsLabel] = Field(
        default_factory=list,
        description="Tenants the gateway issues credentials for (multitenancy only).",
    )
    storage: Storage = Field(default_factory=Storage, description="Data volume.")
    resources: Resources = Field(default_factory=Resources, description="Requests and limits.")
    protect: bool = Field(
        default=False,
        description="Pulumi-protect data-holding resources (volume, PVC, bucket) from deletion.",
    )
    image_registry: ImageRegistry | None = Field(
        default=None,
        description=(
            "Registry prefix for EVERY image the bundle runs (Pyroscope, gateway, probe, Docker "
            "Grafana, chart images), e.g. registry.example.com/dockerhub: images become "
            "<prefix>/grafana/pyroscope:<tag>. null: Docker Hub."
        ),
    )
    docker: DockerServer = Field(default_factory=DockerServer, description="Settings for backend=docker.")
    kubernetes: KubernetesServer = Field(
        default_factory=KubernetesServer, description="Settings for backend=kubernetes."
    )
    gateway: Gateway = Field(default_factory=Gateway, description="Authenticating gateway.")

    @property
    def mode(self) -> Literal["docker", "single-binary", "microservices"]:
        """The one place backend and Kubernetes mode become a deployment mode."""
        if self.backend == "docker":
            return "docker"
        return self.kubernetes.mode

    @property
    def gateway_enabled(self) -> bool:
        """On by default on Kubernetes (the OSS server has no authentication), opt-in on Docker
        (published on 127.0.0.1 only)."""
        if not self.enabled:
            return False
        if self.gateway.enabled is not None:
            return self.gateway.enabled
        return self.backend == "kubernetes"


# --- pyroscope:grafana --------------------------------------------------------------------------


class Datasource(Model):
    name: PlainText = Field(default="Pyroscope", description="Datasource name shown in Grafana.")
    uid: DnsLabel = Field(default="pyroscope", description="Stable datasource uid (dashboards link to it).")
    is_default: bool = Field(default=False, description="Make it Grafana's default datasource.")
    min_step: DurationField = Field(default=parse_duration("15s"), description="jsonData.minStep.")


class Tempo(Model):
    url: HttpUrl | None = Field(
        default=None, description="Tempo URL; set it to provision a Tempo datasource linked to profiles."
    )
    datasource_uid: DnsLabel = Field(default="tempo", description="uid of the Tempo datasource.")
    name: PlainText = Field(default="Tempo", description="Name of the Tempo datasource the bundle creates.")
    existing: bool = Field(
        default=False,
        description=(
            "The Tempo datasource `datasourceUid` already exists in Grafana: add the trace-to-profile "
            "link to it (mode api: its jsonData is read and updated in place) instead of creating one. "
            "Leave url unset."
        ),
    )


class DockerGrafana(Model):
    publish_address: IPv4 = Field(default="127.0.0.1", description="Host address Grafana is published on.")
    host_port: int = Field(default=constants.GRAFANA_HTTP_PORT, ge=1, le=65535, description="Host port.")
    volume_name: DockerName = Field(default="grafana-data", description="Named volume for Grafana's data.")


class Sidecar(Model):
    namespace: DnsLabel = Field(default="monitoring", description="Namespace of the Grafana Helm release.")
    label: LabelKey = Field(default=constants.GRAFANA_SIDECAR_LABEL, description="Label the sidecar watches.")
    label_value: LabelValue = Field(default=constants.GRAFANA_SIDECAR_LABEL_VALUE, description="Its value.")


class GrafanaApi(Model):
    url: HttpUrl | None = Field(
        default=None,
        description="URL of an existing Grafana; its credentials come from the grafana:auth provider config.",
    )
    pyroscope_url: HttpUrl | None = Field(
        default=None,
        description=(
            "URL that Grafana uses to reach Pyroscope. Null: the server's address inside its Docker "
            "network or cluster. Required when this stack runs no server."
        ),
    )


class Grafana(Model):
    mode: Literal["docker", "kubernetes-sidecar", "api", "none"] | None = Field(
        default=None,
        description=(
            "docker: run Grafana next to the server; kubernetes-sidecar: a ConfigMap for the Grafana "
            "Helm chart's sidecar; api: create the datasource in an existing Grafana; none. null: "
            "docker for the docker backend, kubernetes-sidecar for kubernetes."
        ),
    )
    version: Version = Field(
        default=constants.GRAFANA_DEFAULT_VERSION,
        description="Grafana version (image tag for docker; decides the datasource type id).",
    )
    datasource: Datasource = Field(default_factory=Datasource, description="The Pyroscope datasource.")
    tempo: Tempo = Field(default_factory=Tempo, description="Optional trace-to-profile link.")
    docker: DockerGrafana = Field(default_factory=DockerGrafana, description="Settings for mode=docker.")
    sidecar: Sidecar = Field(default_factory=Sidecar, description="Settings for mode=kubernetes-sidecar.")
    api: GrafanaApi = Field(default_factory=GrafanaApi, description="Settings for mode=api.")


# --- pyroscope:monitoring ---------------------------------------------------------------------


class Alerts(Model):
    """Thresholds of the PrometheusRule; docs/runbook.md#alerts explains each alert."""

    no_profiles_for: DurationField = Field(
        default=parse_duration("15m"),
        description="A wired service (or the probe) that sends nothing for this long pages (one alert each).",
    )
    not_ingesting_for: DurationField = Field(
        default=parse_duration("15m"),
        description="Pyroscope is up but receives no profile at all for this long.",
    )
    no_leader_for: DurationField = Field(
        default=parse_duration("5m"), description="The v2 metastore has no raft leader for this long."
    )
    compaction_stalled_for: DurationField = Field(
        default=parse_duration("3h"),
        description=(
            "No successful compaction job while profiles arrive, for this long (retention then stops "
            "deleting data: the compaction workers delete expired blocks)."
        ),
    )
    volume_full_within: DurationField | None = Field(
        default=None,
        description=(
            "Alert when the data volume is predicted (predict_linear over 6h) to fill within this "
            "window; null: the retention period, capped at 30d."
        ),
    )
    discarded_ratio: float = Field(
        default=0.01, gt=0, le=1, description="Share of received bytes discarded (limits, size, validation)."
    )
    gateway_error_ratio: float = Field(
        default=0.05, gt=0, le=1, description="Share of 5xx answers at the gateway's Ingress."
    )
    auth_failures_per_second: float = Field(
        default=0.2, gt=0, description="Rate of 401/403 answers at the gateway's Ingress (per second, 10m)."
    )
    memory_ratio: float = Field(
        default=0.9, gt=0, le=1, description="Working set of the Pyroscope container over its memory limit."
    )
    restarts_per_hour: int = Field(default=3, ge=1, description="Container restarts within an hour.")


class Probe(Model):
    enabled: bool | None = Field(
        default=None,
        description=(
            "A CronJob that pushes a synthetic profile through the gateway with its own push-only "
            "credential and queries it back with its own read-only one (gateway user pyroscope-probe; "
            "with multi-tenancy its own tenant). null: on when monitoring and the gateway are on."
        ),
    )
    schedule: str = Field(
        default="*/5 * * * *",
        pattern=CRON_PATTERN,
        description="Cron schedule of the probe (five fields).",
    )
    service_name: DnsLabel = Field(
        default="pyroscope-bundle-probe", description="service_name label of the probe's profiles."
    )


class Dashboard(Model):
    enabled: bool = Field(
        default=True,
        description="Provision the health and per-service ingestion dashboard (like the datasource).",
    )
    prometheus_datasource_uid: DnsLabel = Field(
        default="prometheus", description="uid of the Grafana Prometheus datasource that scrapes Pyroscope."
    )
    sidecar_label: LabelKey = Field(
        default="grafana_dashboard",
        description="Label the Grafana chart's dashboards sidecar watches (sidecar.dashboards.label).",
    )
    sidecar_label_value: LabelValue = Field(default="1", description="Its value.")


class Monitoring(Model):
    enabled: bool | None = Field(
        default=None,
        description=(
            "Self-monitoring for the Prometheus Operator (PodMonitor, PrometheusRule), the dashboard "
            "and the probe. null: on for the kubernetes backend, off for docker (docs/runbook.md)."
        ),
    )
    namespace: DnsLabel = Field(
        default="monitoring", description="Namespace Prometheus runs in (admitted to Pyroscope's port)."
    )
    prometheus_pod_labels: dict[LabelKey, LabelValue] = Field(
        default_factory=lambda: {"app.kubernetes.io/name": "prometheus"},
        description=(
            "Labels of the Prometheus pods: only they, not the whole namespace, may reach Pyroscope's "
            "port (its /metrics shares the port with the unauthenticated API). Empty: every pod."
        ),
    )
    labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict,
        description=(
            "Extra labels on the PodMonitor and PrometheusRule, for the operator's selectors "
            "(kube-prometheus-stack: release: <its release name>)."
        ),
    )
    scrape_interval: DurationField = Field(default=parse_duration("30s"), description="Scrape interval.")
    ingress_controller: Literal["ingress-nginx", "none"] | None = Field(
        default=None,
        description=(
            "Where the gateway's status codes come from (nginx OSS exports no Prometheus metrics): "
            "the ingress-nginx controller's metrics for traffic through the Ingress. null: "
            "ingress-nginx when the Ingress is on with className nginx."
        ),
    )
    runbook_url: PlainText = Field(
        default="docs/runbook.md",
        description=(
            "Base of every alert's runbook_url (the alert's section is appended as #anchor): where "
            "your copy of docs/runbook.md is browsable, e.g. https://github.com/ORG/REPO/blob/main/docs/runbook.md."
        ),
    )
    alerts: Alerts = Field(default_factory=Alerts, description="Alert thresholds.")
    probe: Probe = Field(default_factory=Probe, description="Continuous end-to-end probe.")
    dashboard: Dashboard = Field(default_factory=Dashboard, description="Grafana dashboard.")


# --- pyroscope:target ---------------------------------------------------------------------------


class ExistingSecrets(Model):
    aws_secret_arn: SecretArn | None = Field(
        default=None,
        description="Existing Secrets Manager secret (JSON) holding the credentials; null creates one.",
    )
    kms_key_arn: KmsKeyArn | None = Field(
        default=None, description="Customer-managed KMS key of that secret (adds kms:Decrypt)."
    )
    kubernetes_secret_name: DnsLabel | None = Field(
        default=None, description="Existing Kubernetes Secret in each service namespace; null creates one."
    )
    kubernetes_secret_key: str = Field(
        default="password",
        pattern=SECRET_KEY_PATTERN,
        description="Key of the password in that Kubernetes Secret (the bundle's own uses `password`).",
    )
    aws_secret_json_key: str = Field(
        default="password",
        pattern=SECRET_KEY_PATTERN,
        description="JSON key of the password in the Secrets Manager secret (valueFrom `<arn>:<key>::`).",
    )


class Target(Model):
    enabled: bool = Field(default=True, description="Global profiling switch: false removes all wiring.")
    kind: Literal["self", "external", "grafana-cloud"] = Field(
        default="self",
        description=(
            "self: this stack's server; external: another Pyroscope; grafana-cloud: Grafana Cloud Profiles."
        ),
    )
    url: HttpUrl | None = Field(default=None, description="Server address (required unless kind=self).")
    basic_auth_user: BasicAuthUser | None = Field(
        default=None,
        description="Basic-auth user (Grafana Cloud: the stack's numeric user id); password is authToken.",
    )
    tenant_id: TenantId | None = Field(
        default=None, description="X-Scope-OrgID tenant (multi-tenant servers only; not Grafana Cloud)."
    )
    existing_secrets: ExistingSecrets = Field(
        default_factory=ExistingSecrets, description="Reuse secrets managed elsewhere."
    )


# --- pyroscope:services -------------------------------------------------------------------------


class KubernetesService(Model):
    namespace: DnsLabel | None = Field(default=None, description="Namespace of the Deployment (required).")
    deployment: DnsLabel | None = Field(
        default=None, description="Existing Deployment to patch; null: the service name."
    )
    containers: list[DnsLabel] = Field(
        default_factory=list,
        description=(
            "Containers of the Deployment to wire (the patch matches them by name); empty: the "
            "container named like the Deployment."
        ),
    )
    network_policy: bool = Field(
        default=False,
        description=(
            "Add a NetworkPolicy letting the wired pods reach DNS and the profiling server; set it "
            "when the namespace denies egress by default."
        ),
    )


class EcsService(Model):
    container_definitions: RelativePath | None = Field(
        default=None,
        description=(
            "Container-definition JSON file, relative to the repository root (this or "
            "taskDefinition is required), e.g. configs/ecs/api.json."
        ),
    )
    task_definition: RelativePath | None = Field(
        default=None,
        description=(
            "The service's whole task definition: a RegisterTaskDefinition request JSON file "
            "(`aws ecs describe-task-definition` output's taskDefinition works too), relative to the "
            "repository root. Everything in it is kept (task role, volumes, runtime platform, launch "
            "type, ...); family, cpu and memory then come from it."
        ),
    )
    family: DnsLabel | None = Field(
        default=None, description="Task definition family; null: the service name."
    )
    cpu: EcsUnits = Field(
        default="256", description="Task CPU units (Fargate: 256, 512, 1024, 2048, 4096, 8192, 16384)."
    )
    memory: EcsUnits = Field(
        default="512", description="Task memory in MiB (a Fargate combination with cpu, e.g. 512 for 256)."
    )
    execution_role_name: IamRole | None = Field(
        default=None, description="Existing task execution role to grant the secret to; null creates one."
    )
    containers: list[EcsContainerName] = Field(
        default_factory=list, description="Containers to wire; empty: every container."
    )
    overwrite_environment: bool = Field(
        default=False,
        description=(
            "Replace profiler variables (PYROSCOPE_*, and CORECLR_*/LD_PRELOAD for dotnet) that the "
            "container-definition file already sets; false refuses such a file."
        ),
    )


class Agent(Model):
    delivery: Literal["image", "copy", "download"] = Field(
        default="image",
        description=(
            "How the profiler agent reaches the container. image: the service's image already has it "
            "(javaAgentPath, /dotnet). copy: an init container (ECS: a non-essential container the app "
            "waits for) copies it from `image` into a shared volume. download (java): it downloads "
            "`url` and checks `sha256`. Only java and dotnet agents can be injected."
        ),
    )
    image: ImageReference | None = Field(
        default=None,
        description=(
            "copy: the image holding the agent (it needs `cp`); null: the upstream .NET image "
            f"{constants.DOTNET_AGENT_IMAGE} (required for java: there is no official Java agent "
            "image). download: the downloader image (needs sh, curl, sha256sum); null: "
            f"{constants.AGENT_DOWNLOADER_IMAGE}."
        ),
    )
    path: str | None = Field(
        default=None,
        pattern=AGENT_PATH_PATTERN,
        description=(
            "copy: where the agent is in `image`: java, the jar (null: /pyroscope.jar); dotnet, the "
            "directory of the two libraries (null: /, the upstream image's layout)."
        ),
    )
    url: HttpUrl | None = Field(
        default=None,
        description=(
            f"download: where pyroscope.jar is fetched from; null: the pinned release "
            f"{constants.JAVA_AGENT_URL}. Set a mirror for clusters without internet access."
        ),
    )
    sha256: str | None = Field(
        default=None,
        pattern=SHA256_PATTERN,
        description=(
            "download: sha256 of the jar (required: the upstream release publishes no checksum; "
            "`sha256sum pyroscope.jar` of a copy you trust). The init container refuses any other file."
        ),
    )
    java_options_variable: Literal["JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS"] = Field(
        default="JAVA_TOOL_OPTIONS",
        description=(
            "java: the variable that carries -javaagent. JAVA_TOOL_OPTIONS is read by every JVM; use "
            "JDK_JAVA_OPTIONS (read by the `java` launcher of JDK 9+) when the workload sets "
            "JAVA_TOOL_OPTIONS itself."
        ),
    )
    java_options: PlainText | None = Field(
        default=None,
        description=(
            "java: flags put before -javaagent in that variable, e.g. the workload's own "
            "JAVA_TOOL_OPTIONS value when the wiring must own the variable (remove it from the workload)."
        ),
    )


class Service(Model):
    name: DnsLabel = Field(description="Service name (unique); the default application name.")
    platform: Platform = Field(description="kubernetes (a Deployment) or ecs (a task definition).")
    runtime: Runtime = Field(description="Language runtime: java, dotnet, nodejs, python, go or ruby.")
    enabled: bool = Field(default=True, description="Profile this service.")
    application_name: PlainText | None = Field(
        default=None, description="Pyroscope application name; null: the service name."
    )
    version: PlainText | None = Field(default=None, description="Value of the `version` tag.")
    tags: dict[str, str] = Field(default_factory=dict, description="Extra static tags.")
    sample_rate: int = Field(default=100, ge=1, le=1000, description="Samples per second (Hz).")
    profile_types: list[ProfileType] = Field(
        default_factory=lambda: list[ProfileType](["cpu"]),
        description="Profile types to collect where the SDK can choose.",
    )
    java_agent_path: str | None = Field(
        default=JAVA_DEFAULT_AGENT_PATH,
        pattern=JAR_PATH_PATTERN,
        description=(
            "runtime java: absolute path of pyroscope.jar in the image, attached with "
            "JAVA_TOOL_OPTIONS=-javaagent:<path>; null when the image attaches the agent itself."
        ),
    )
    agent: Agent = Field(
        default_factory=Agent, description="Where the java/dotnet agent comes from (no image rebuild)."
    )
    kubernetes: KubernetesService = Field(
        default_factory=KubernetesService, description="Settings for platform=kubernetes."
    )
    ecs: EcsService = Field(default_factory=EcsService, description="Settings for platform=ecs.")


class BundleFields(Model):
    """Every section of a stack's configuration, each valid on its own (without secrets, which
    stay Pulumi Outputs). :class:`~pyroscope_bundle.config.bundle.BundleConfig` adds the rules
    across sections; the checks of those rules take this type, so they need not import it."""

    stack: StackName = Field(description="Stack (environment) name; the `environment` tag.")
    server: Server = Field(default_factory=Server)
    grafana: Grafana = Field(default_factory=Grafana)
    target: Target = Field(default_factory=Target)
    services: list[Service] = Field(default_factory=list)
    monitoring: Monitoring = Field(default_factory=Monitoring)
    auth_token_set: bool = Field(default=False, description="Whether pyroscope:authToken is set.")

    @property
    def grafana_mode(self) -> str:
        if self.grafana.mode is not None:
            return self.grafana.mode
        if not self.server.enabled:
            return "none"
        return "docker" if self.server.backend == "docker" else "kubernetes-sidecar"

    @property
    def monitoring_enabled(self) -> bool:
        """Self-monitoring: needs a Kubernetes server (the Prometheus Operator's objects)."""
        if not self.server.enabled or self.server.backend != "kubernetes":
            return False
        return self.monitoring.enabled is not False

    @property
    def probe_enabled(self) -> bool:
        """The probe pushes and reads through the gateway's role credentials."""
        if not (self.monitoring_enabled and self.gateway_enabled):
            return False
        return self.monitoring.probe.enabled is not False

    @property
    def gateway_enabled(self) -> bool:
        return self.server.gateway_enabled
