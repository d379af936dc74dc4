"""Self-monitoring for the Kubernetes backends: scrape, alert, dashboard and a continuous probe.

The pure builders live in ``scrape.py``, ``alerts.py``, ``dashboard.py`` and ``probe.py``; the
component below only registers what they return (``pyroscope:monitoring``; on by default for the
kubernetes backend). The Prometheus Operator's CRDs (PodMonitor, PrometheusRule) must exist in
the cluster; docs/runbook.md#monitoring says how to check.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi_kubernetes.apiextensions import CustomResource
from pulumi_kubernetes.batch import v1 as batch_v1
from pulumi_kubernetes.core import v1 as core_v1
from pulumi_kubernetes.networking import v1 as networking_v1

from pyroscope_bundle import kube_manifests as kube
from pyroscope_bundle.config import BundleConfig
from pyroscope_bundle.endpoints import Endpoint, ServerDeployment
from pyroscope_bundle.monitoring import probe as probe_specs
from pyroscope_bundle.monitoring.alerts import prometheus_rule_manifest
from pyroscope_bundle.monitoring.dashboard import dashboard_json
from pyroscope_bundle.monitoring.names import DASHBOARD_FILE, DASHBOARD_NAME, PROBE_NAME
from pyroscope_bundle.monitoring.scrape import metrics_network_policy, pod_monitor_manifest

TYPE_TOKEN = "pyroscope-bundle:monitoring:Monitoring"


def dashboard_config_map(config: BundleConfig) -> dict[str, Any]:
    """The dashboard for the Grafana chart's sidecar, in Grafana's namespace."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": DASHBOARD_NAME,
            "namespace": config.grafana.sidecar.namespace,
            "labels": {
                **kube.labels("dashboard"),
                # The Grafana chart's dashboards sidecar (sidecar.dashboards.label / labelValue).
                config.monitoring.dashboard.sidecar_label: config.monitoring.dashboard.sidecar_label_value,
            },
        },
        "data": {DASHBOARD_FILE: dashboard_json(config)},
    }


def _custom(name: str, manifest: dict[str, Any], opts: pulumi.ResourceOptions) -> CustomResource:
    return CustomResource(
        name,
        api_version=manifest["apiVersion"],
        kind=manifest["kind"],
        metadata=manifest["metadata"],
        spec=manifest["spec"],
        opts=opts,
    )


class Monitoring(pulumi.ComponentResource):
    """PodMonitor, PrometheusRule, dashboard and probe CronJob for one Pyroscope server."""

    def __init__(
        self,
        name: str,
        config: BundleConfig,
        server: ServerDeployment,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        pod_monitor = pod_monitor_manifest(config)
        _custom("pyroscope-podmonitor", pod_monitor, child)
        policy = metrics_network_policy(config)
        networking_v1.NetworkPolicy(
            "pyroscope-metrics-networkpolicy", metadata=policy["metadata"], spec=policy["spec"], opts=child
        )
        rule = prometheus_rule_manifest(config)
        _custom("pyroscope-prometheusrule", rule, child)
        if config.monitoring.dashboard.enabled and config.grafana_mode == "kubernetes-sidecar":
            dashboard = dashboard_config_map(config)
            core_v1.ConfigMap(
                f"{DASHBOARD_NAME}-configmap",
                metadata=dashboard["metadata"],
                data=dashboard["data"],
                opts=child,
            )
        if config.monitoring.dashboard.enabled and config.grafana_mode == "api":
            register_api_dashboard(config, child)
        # server.query is None only for a multi-tenant server without tenants (no gateway, no probe).
        if config.probe_enabled and server.query is not None:
            register_probe(config, server.push, server.query, child)
        self.register_outputs({})


def register_api_dashboard(config: BundleConfig, opts: pulumi.ResourceOptions) -> None:
    """API mode: the dashboard through pulumiverse-grafana, with the datasource's provider."""
    import pulumiverse_grafana as grafana_sdk

    from pyroscope_bundle.grafana.api import GRAFANA_PROVIDER_NAMESPACE

    provider = grafana_sdk.Provider(
        "grafana-api-dashboards",
        url=config.grafana.api.url,
        auth=pulumi.Config(GRAFANA_PROVIDER_NAMESPACE).get_secret("auth"),
        opts=pulumi.ResourceOptions(parent=opts.parent),
    )
    grafana_sdk.oss.Dashboard(
        DASHBOARD_NAME,
        config_json=dashboard_json(config),
        overwrite=True,
        opts=pulumi.ResourceOptions(parent=opts.parent, provider=provider),
    )


def register_probe(
    config: BundleConfig, push: Endpoint, query: Endpoint, opts: pulumi.ResourceOptions
) -> None:
    """The probe's ServiceAccount, credentials Secret, profile ConfigMap and CronJob.

    It pushes with the gateway's push credential and reads with its query credential (the
    endpoints the gateway hands out for services and for Grafana), never with anything more.
    """
    namespace = config.server.kubernetes.namespace
    account = kube.service_account_manifest(PROBE_NAME, namespace, probe_specs.COMPONENT_PROBE)
    core_v1.ServiceAccount(
        f"{PROBE_NAME}-serviceaccount",
        metadata=account["metadata"],
        automount_service_account_token=False,
        opts=opts,
    )
    assert push.basic_auth_password is not None and query.basic_auth_password is not None
    core_v1.Secret(
        f"{probe_specs.CREDENTIALS_SECRET}-secret",
        metadata=probe_specs.credentials_secret_metadata(config),
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
    profile = probe_specs.profile_config_map(config)
    core_v1.ConfigMap(
        f"{probe_specs.PROBE_PROFILE_CONFIG_MAP}-configmap",
        metadata=profile["metadata"],
        binary_data=profile["binaryData"],
        opts=opts,
    )

    def cronjob(values: list[Any]) -> dict[str, Any]:
        url, push_user, read_user = values
        return probe_specs.probe_cronjob_manifest(config, url, push_user, read_user)

    manifest = pulumi.Output.all(push.url, push.basic_auth_user, query.basic_auth_user).apply(cronjob)
    batch_v1.CronJob(
        f"{PROBE_NAME}-cronjob",
        metadata=manifest.apply(lambda spec: spec["metadata"]),
        spec=manifest.apply(lambda spec: spec["spec"]),
        opts=opts,
    )


def deploy_monitoring(config: BundleConfig, server: ServerDeployment | None) -> dict[str, Any]:
    """Register self-monitoring when on (kubernetes backend); return stack outputs."""
    if server is None or not config.monitoring_enabled:
        return {}
    depends_on = [server.resource] if server.resource is not None else []
    Monitoring("pyroscope-monitoring", config, server, opts=pulumi.ResourceOptions(depends_on=depends_on))
    return {"monitoringNamespace": config.server.kubernetes.namespace}
