"""Self-monitoring for the Kubernetes backends: scrape, alert, dashboard and a continuous probe.

The pure builders live in ``scrape.py``, ``alerts.py``, ``dashboard.py`` and ``probe.py``; the
component below only registers what they return (``pyroscope:monitoring``; on by default for the
kubernetes backend). The Prometheus Operator's CRDs (PodMonitor, PrometheusRule) must exist in
the cluster; docs/runbook.md#monitoring says how to check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_kubernetes.apiextensions import CustomResource
from pulumi_kubernetes.batch import v1 as batch_v1
from pulumi_kubernetes.core import v1 as core_v1
from pulumi_kubernetes.networking import v1 as networking_v1

from pyroscope_bundle import kube_manifests as kube
from pyroscope_bundle.component import BundleComponent
from pyroscope_bundle.config import BundleConfig
from pyroscope_bundle.config.model import Dashboard, Probe, Server, Sidecar
from pyroscope_bundle.config.types import HttpUrl
from pyroscope_bundle.endpoints import Endpoint, ServerDeployment
from pyroscope_bundle.monitoring import probe as probe_specs
from pyroscope_bundle.monitoring.alerts import prometheus_rule_manifest
from pyroscope_bundle.monitoring.dashboard import dashboard_json
from pyroscope_bundle.monitoring.names import DASHBOARD_FILE, DASHBOARD_NAME, DASHBOARD_UID, PROBE_NAME
from pyroscope_bundle.monitoring.scrape import metrics_network_policy, pod_monitor_manifest
from pyroscope_bundle.naming import child_name

__all__ = [
    "DEFAULT_NAME",
    "ApiDashboard",
    "DashboardIdentity",
    "Monitoring",
    "MonitoringArgs",
    "ProbeArgs",
    "dashboard_config_map",
    "dashboard_identity",
    "deploy_monitoring",
    "monitoring_args",
    "register_api_dashboard",
    "register_probe",
]

# The component's name in the bundle's program: its children keep their historical names.
DEFAULT_NAME = "pyroscope-monitoring"


@dataclass(frozen=True)
class DashboardIdentity:
    """How one component's dashboard is known: ConfigMap name, file name and Grafana uid. The
    Grafana namespace (and the Grafana) is shared by every server, so each component has its own."""

    name: str = DASHBOARD_NAME
    file: str = DASHBOARD_FILE
    uid: str = DASHBOARD_UID


def dashboard_identity(component: str) -> DashboardIdentity:
    """The historical identity for the default component, else one prefixed with its name."""
    if component == DEFAULT_NAME:
        return DashboardIdentity()
    return DashboardIdentity(
        child_name(component, DEFAULT_NAME, DASHBOARD_NAME),
        child_name(component, DEFAULT_NAME, DASHBOARD_FILE),
        child_name(component, DEFAULT_NAME, DASHBOARD_UID),
    )


def dashboard_config_map(
    sidecar: Sidecar, dashboard: Dashboard, dashboard_json: str, identity: DashboardIdentity | None = None
) -> dict[str, Any]:
    """The dashboard for the Grafana chart's sidecar, in Grafana's namespace."""
    identity = identity or DashboardIdentity()
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": identity.name,
            "namespace": sidecar.namespace,
            "labels": {
                **kube.labels("dashboard"),
                # The Grafana chart's dashboards sidecar (sidecar.dashboards.label / labelValue).
                dashboard.sidecar_label: dashboard.sidecar_label_value,
            },
        },
        "data": {identity.file: dashboard_json},
    }


@dataclass(frozen=True)
class ApiDashboard:
    """API mode: the dashboard JSON and the Grafana it goes to (``pyroscope:grafana.api.url``)."""

    grafana_url: HttpUrl | None
    config_json: str


@dataclass(frozen=True)
class ProbeArgs:
    """The probe CronJob's inputs: the server's section (namespace, image, placement), the probe
    settings, and the probe's own push-only and read-only gateway endpoints."""

    server: Server
    probe: Probe
    push: Endpoint
    query: Endpoint


@dataclass(frozen=True)
class MonitoringArgs:
    """What :class:`Monitoring` registers, built by the pure builders (:func:`monitoring_args`)."""

    pod_monitor: Mapping[str, Any]
    metrics_network_policy: Mapping[str, Any]
    prometheus_rule: Mapping[str, Any]
    # The sidecar ConfigMap (grafana.mode kubernetes-sidecar) or the API dashboard (api).
    dashboard_config_map: Mapping[str, Any] | None = None
    api_dashboard: ApiDashboard | None = None
    probe: ProbeArgs | None = None


def monitoring_args(
    config: BundleConfig, server: ServerDeployment, name: str = DEFAULT_NAME
) -> MonitoringArgs:
    """The stack config mapped onto :class:`MonitoringArgs` (``program.py``'s mapping)."""
    kubernetes = config.server.kubernetes
    identity = dashboard_identity(name)
    dashboard_on = config.monitoring.dashboard.enabled
    config_map = None
    api = None
    if dashboard_on and config.grafana_mode == "kubernetes-sidecar":
        config_map = dashboard_config_map(
            config.grafana.sidecar,
            config.monitoring.dashboard,
            dashboard_json(config, identity.uid),
            identity,
        )
    if dashboard_on and config.grafana_mode == "api":
        api = ApiDashboard(config.grafana.api.url, dashboard_json(config, identity.uid))
    probe = None
    # The gateway issues the probe its own credentials when the probe is on (gateway_settings).
    if config.probe_enabled and server.probe is not None:
        probe = ProbeArgs(config.server, config.monitoring.probe, *server.probe)
    return MonitoringArgs(
        pod_monitor=pod_monitor_manifest(kubernetes, config.monitoring),
        metrics_network_policy=metrics_network_policy(kubernetes, config.monitoring),
        prometheus_rule=prometheus_rule_manifest(config),
        dashboard_config_map=config_map,
        api_dashboard=api,
        probe=probe,
    )


def _custom(name: str, manifest: Mapping[str, Any], opts: pulumi.ResourceOptions) -> CustomResource:
    return CustomResource(
        name,
        api_version=manifest["apiVersion"],
        kind=manifest["kind"],
        metadata=manifest["metadata"],
        spec=manifest["spec"],
        opts=opts,
    )


class Monitoring(BundleComponent):
    """PodMonitor, PrometheusRule, dashboard and probe CronJob for one Pyroscope server.

    Children are named after the component; the one named :data:`DEFAULT_NAME` keeps the names
    existing stacks hold (``pyroscope-podmonitor``, ...). Two servers in two namespaces get two
    components; their dashboards need distinct identities (:func:`dashboard_identity`).
    """

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        child = pulumi.ResourceOptions(parent=self)

        def named(legacy: str) -> str:
            return child_name(name, DEFAULT_NAME, legacy)

        _custom(named("pyroscope-podmonitor"), args.pod_monitor, child)
        policy = args.metrics_network_policy
        networking_v1.NetworkPolicy(
            named("pyroscope-metrics-networkpolicy"),
            metadata=policy["metadata"],
            spec=policy["spec"],
            opts=child,
        )
        _custom(named("pyroscope-prometheusrule"), args.prometheus_rule, child)
        if args.dashboard_config_map is not None:
            dashboard = args.dashboard_config_map
            core_v1.ConfigMap(
                named(f"{DASHBOARD_NAME}-configmap"),
                metadata=dashboard["metadata"],
                data=dashboard["data"],
                opts=child,
            )
        if args.api_dashboard is not None:
            register_api_dashboard(args.api_dashboard, child, named)
        if args.probe is not None:
            register_probe(args.probe, child, named)
        self.register_outputs({})


def _same(legacy: str) -> str:
    return legacy


def register_api_dashboard(
    dashboard: ApiDashboard, opts: pulumi.ResourceOptions, named: Callable[[str], str] = _same
) -> None:
    """API mode: the dashboard through pulumiverse-grafana, with the datasource's provider."""
    import pulumiverse_grafana as grafana_sdk

    from pyroscope_bundle.grafana.api import GRAFANA_PROVIDER_NAMESPACE

    provider = grafana_sdk.Provider(
        named("grafana-api-dashboards"),
        url=dashboard.grafana_url,
        auth=pulumi.Config(GRAFANA_PROVIDER_NAMESPACE).get_secret("auth"),
        opts=pulumi.ResourceOptions(parent=opts.parent),
    )
    grafana_sdk.oss.Dashboard(
        named(DASHBOARD_NAME),
        config_json=dashboard.config_json,
        overwrite=True,
        opts=pulumi.ResourceOptions(parent=opts.parent, provider=provider),
    )


def register_probe(
    args: ProbeArgs, opts: pulumi.ResourceOptions, named: Callable[[str], str] = _same
) -> None:
    """The probe's ServiceAccount, credentials Secret, profile ConfigMap and CronJob.

    It pushes with its own push-only credential and reads with its own read-only one (the
    gateway's ``pyroscope-probe`` user in the push and the query htpasswd): no service's or
    Grafana's password, no admin route, and with multi-tenancy its own tenant.
    """
    push, query = args.push, args.query
    namespace = args.server.kubernetes.namespace
    account = kube.service_account_manifest(PROBE_NAME, namespace, probe_specs.COMPONENT_PROBE)
    core_v1.ServiceAccount(
        named(f"{PROBE_NAME}-serviceaccount"),
        metadata=account["metadata"],
        automount_service_account_token=False,
        opts=opts,
    )
    assert push.basic_auth_password is not None and query.basic_auth_password is not None
    core_v1.Secret(
        named(f"{probe_specs.CREDENTIALS_SECRET}-secret"),
        metadata=probe_specs.credentials_secret_metadata(namespace),
        type="Opaque",
        string_data={
            probe_specs.PUSH_PASSWORD_KEY: push.basic_auth_password,
            probe_specs.READ_PASSWORD_KEY: query.basic_auth_password,
        },
        # Both passwords are already secret Outputs; this keeps the whole mapping secret too.
        opts=pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["stringData"])
        ),
    )
    profile = probe_specs.profile_config_map(namespace)
    core_v1.ConfigMap(
        named(f"{probe_specs.PROBE_PROFILE_CONFIG_MAP}-configmap"),
        metadata=profile["metadata"],
        binary_data=profile["binaryData"],
        opts=opts,
    )

    def cronjob(values: list[Any]) -> dict[str, Any]:
        url, push_user, read_user = values
        return probe_specs.probe_cronjob_manifest(args.server, args.probe, url, push_user, read_user)

    manifest = pulumi.Output.all(push.url, push.basic_auth_user, query.basic_auth_user).apply(cronjob)
    batch_v1.CronJob(
        named(f"{PROBE_NAME}-cronjob"),
        metadata=manifest.apply(lambda spec: spec["metadata"]),
        spec=manifest.apply(lambda spec: spec["spec"]),
        opts=opts,
    )


def deploy_monitoring(
    config: BundleConfig, server: ServerDeployment | None, *, name: str = DEFAULT_NAME
) -> dict[str, Any]:
    """Register self-monitoring when on (kubernetes backend); return stack outputs."""
    if server is None or not config.monitoring_enabled:
        return {}
    depends_on = [server.resource] if server.resource is not None else []
    Monitoring(
        name, monitoring_args(config, server, name), opts=pulumi.ResourceOptions(depends_on=depends_on)
    )
    return {"monitoringNamespace": config.server.kubernetes.namespace}
