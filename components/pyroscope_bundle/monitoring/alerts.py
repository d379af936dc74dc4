"""The PrometheusRule: alerts on what breaks Pyroscope silently, each linked to its runbook section.

Pure functions of the config. ``rule_groups`` returns the groups in Prometheus rule-file form,
so the same data is the PrometheusRule's ``spec`` and the file ``promtool check rules`` and
``promtool test rules`` read in the tests. Metric names come from ``metrics.py`` (with their
upstream sources); thresholds from ``pyroscope:monitoring.alerts``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pyroscope_bundle import constants
from pyroscope_bundle.config import BundleConfig
from pyroscope_bundle.config.model import Alerts, Monitoring, Server
from pyroscope_bundle.config.types import Duration, version_tuple
from pyroscope_bundle.monitoring import metrics as m
from pyroscope_bundle.monitoring.names import PROBE_NAME, RULE_NAME, monitoring_labels, scrape_job

# Longest volume prediction window: linear extrapolation further out is noise.
MAX_VOLUME_WINDOW_SECONDS = 30 * 86400
# Share of failed compaction jobs that pages.
COMPACTION_FAILURE_RATIO = 0.2
# The probe may miss this many schedules before it pages (a single slow run does not).
PROBE_MISSED_RUNS = 3


@dataclass(frozen=True)
class Alert:
    """One alerting rule; ``anchor`` is its section in docs/runbook.md."""

    name: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str
    anchor: str
    labels: tuple[tuple[str, str], ...] = ()

    def rule(self, runbook_url: str) -> dict[str, Any]:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.for_,
            "labels": {"severity": self.severity, **dict(self.labels)},
            "annotations": {
                "summary": self.summary,
                "description": self.description,
                "runbook_url": f"{runbook_url}#{self.anchor}",
            },
        }


def _sel(**labels: str) -> str:
    """A PromQL label selector; values ending in ``~`` are regex matches."""
    parts = []
    for key, value in labels.items():
        if value.endswith("~"):
            parts.append(f'{key}=~"{value[:-1]}"')
        else:
            parts.append(f'{key}="{value}"')
    return "{" + ", ".join(parts) + "}"


def volume_window_seconds(alerts: Alerts, retention: Duration) -> int:
    """How far ahead the volume prediction looks: the retention (data older than that is being
    deleted, so growth stops there), or the configured window; capped at 30d."""
    window = alerts.volume_full_within or retention
    return min(window.seconds, MAX_VOLUME_WINDOW_SECONDS)


def server_alerts(server: Server, alerts_config: Alerts) -> list[Alert]:
    """Health of the Pyroscope server itself."""
    ns = server.kubernetes.namespace
    own = _sel(namespace=ns)
    up = f"{m.UP}{_sel(job=scrape_job(ns))}"
    received = f"sum(rate({m.RECEIVED_PROFILES}{own}[10m]))"
    alerts = [
        Alert(
            "PyroscopeDown",
            f"(sum({up}) or on() vector(0)) == 0",
            "5m",
            "critical",
            "Prometheus cannot scrape Pyroscope",
            f"No Pyroscope target of {scrape_job(ns)} is up: the server is down or unreachable.",
            "pyroscopedown",
        ),
        Alert(
            "PyroscopeNotIngesting",
            f"sum({up}) > 0 and on() ({received} or on() vector(0)) == 0",
            alerts_config.not_ingesting_for.text,
            "critical",
            "Pyroscope is up but receives no profiles",
            "The server answers but its distributor has received nothing for "
            f"{alerts_config.not_ingesting_for.text} (the probe alone pushes every few minutes).",
            "pyroscopenotingesting",
        ),
        Alert(
            "PyroscopeIngestionDiscarded",
            f"sum by (reason) (rate({m.DISCARDED_BYTES}{own}[10m])) / ignoring(reason) group_left "
            f"sum(rate({m.RECEIVED_DECOMPRESSED_BYTES}{_sel(namespace=ns, stage='received')}[10m])) "
            f"> {alerts_config.discarded_ratio}",
            "10m",
            "warning",
            "Pyroscope discards received profiles ({{ $labels.reason }})",
            "{{ $value | humanizePercentage }} of the received bytes are discarded with reason "
            "{{ $labels.reason }} (rate limits, size limits, invalid profiles).",
            "pyroscopeingestiondiscarded",
        ),
        Alert(
            "PyroscopeRestarting",
            f"increase({m.RESTARTS}{own}[1h]) >= {alerts_config.restarts_per_hour}",
            "0m",
            "warning",
            "{{ $labels.pod }}/{{ $labels.container }} restarts",
            "Container {{ $labels.container }} of {{ $labels.pod }} restarted {{ $value }} times in 1h.",
            "pyroscoperestarting",
        ),
        Alert(
            "PyroscopeMemoryNearLimit",
            f"max by (pod, container) ({m.MEMORY_WORKING_SET}{_sel(namespace=ns, container='.+~')}) "
            f"/ max by (pod, container) ({m.MEMORY_LIMIT}"
            f"{_sel(namespace=ns, resource='memory')}) > {alerts_config.memory_ratio}",
            "15m",
            "warning",
            "{{ $labels.pod }} is near its memory limit",
            "Container {{ $labels.container }} uses {{ $value | humanizePercentage }} of its memory "
            "limit; for Pyroscope, compaction and large queries get it OOM-killed next.",
            "pyroscopememorynearlimit",
        ),
        Alert(
            "PyroscopeVolumeFillingUp",
            f"predict_linear({m.VOLUME_AVAILABLE}{_sel(namespace=ns, persistentvolumeclaim='data-.*~')}[6h], "
            f"{volume_window_seconds(alerts_config, server.retention)}) < 0",
            "1h",
            "warning",
            "Pyroscope's volume {{ $labels.persistentvolumeclaim }} fills up",
            "At the growth of the last 6h the volume is full before data older than the retention "
            "window is deleted.",
            "pyroscopevolumefillingup",
        ),
    ]
    if version_tuple(server.version)[0] >= 2:
        alerts += v2_alerts(alerts_config, ns)
    return alerts


def v2_alerts(alerts_config: Alerts, ns: str) -> list[Alert]:
    """The v2 storage engine: metastore raft and compaction (which also applies retention)."""
    own = _sel(namespace=ns)
    jobs = f"{m.COMPACTION_JOBS}{own}"
    success = f"{m.COMPACTION_JOBS}{_sel(namespace=ns, status=m.JOB_SUCCESS)}"
    stalled = alerts_config.compaction_stalled_for.text
    return [
        Alert(
            "PyroscopeMetastoreNoLeader",
            f"(sum({m.RAFT_STATE}{_sel(namespace=ns, state=m.RAFT_LEADER)}) or on() vector(0)) < 1 "
            f"and on() count({m.RAFT_STATE}{own}) > 0",
            alerts_config.no_leader_for.text,
            "critical",
            "Pyroscope's metastore has no raft leader",
            "No metastore replica is raft leader: writes and queries fail although /ready may "
            "still answer 200.",
            "pyroscopemetastorenoleader",
        ),
        Alert(
            "PyroscopeCompactionStalled",
            f"sum(increase({m.RECEIVED_PROFILES}{own}[1h])) > 0 and on() "
            f"(sum(increase({success}[{stalled}])) or on() vector(0)) == 0",
            "15m",
            "critical",
            "Pyroscope compacts nothing: retention has stopped",
            f"Profiles arrive but no compaction job succeeded in {stalled}. Compaction jobs are what "
            "delete expired blocks: without them nothing is ever deleted.",
            "pyroscopecompactionstalled",
        ),
        Alert(
            "PyroscopeCompactionFailing",
            f"sum(rate({jobs}[30m])) > 0 and on() sum(rate({m.COMPACTION_JOBS}"
            f"{_sel(namespace=ns, status='failure')}[30m])) / sum(rate({jobs}[30m])) "
            f"> {COMPACTION_FAILURE_RATIO}",
            "30m",
            "warning",
            "Pyroscope compaction jobs fail",
            "{{ $value | humanizePercentage }} of the compaction jobs fail.",
            "pyroscopecompactionfailing",
        ),
    ]


def gateway_alerts(monitoring: Monitoring, server: Server) -> list[Alert]:
    """The gateway's answers, read from the ingress-nginx controller in front of it."""
    if ingress_controller(monitoring, server) != "ingress-nginx":
        return []
    alerts_config = monitoring.alerts
    ns = server.kubernetes.namespace
    requests = m.INGRESS_REQUESTS

    def at(status: str) -> str:
        return f"sum(rate({requests}{_sel(exported_namespace=ns, ingress='pyroscope', status=status)}[10m]))"

    total = f"sum(rate({requests}{_sel(exported_namespace=ns, ingress='pyroscope')}[10m]))"
    return [
        Alert(
            "PyroscopeGatewayErrors",
            f"{at('5..~')} / {total} > {alerts_config.gateway_error_ratio}",
            "10m",
            "critical",
            "The Pyroscope gateway answers 5xx",
            "{{ $value | humanizePercentage }} of the requests through the Ingress get a 5xx.",
            "pyroscopegatewayerrors",
        ),
        Alert(
            "PyroscopeGatewayRefusing",
            f"{at('413|429~')} > 0",
            "10m",
            "warning",
            "The Pyroscope gateway refuses pushes (413 too large / 429 rate limited)",
            "Clients get 413 or 429 at {{ $value }} requests/s: their profiles are lost.",
            "pyroscopegatewayrefusing",
        ),
        Alert(
            "PyroscopeGatewayAuthFailures",
            f"{at('401|403~')} > {alerts_config.auth_failures_per_second}",
            "10m",
            "warning",
            "Authentication failures at the Pyroscope gateway",
            "{{ $value }} requests/s are refused with 401/403: a rotated credential not rolled out, "
            "or someone guessing.",
            "pyroscopegatewayauthfailures",
        ),
    ]


def probe_alerts(config: BundleConfig) -> list[Alert]:
    """The probe CronJob did not succeed recently (push, auth or query broke)."""
    if not config.probe_enabled:
        return []
    ns = config.server.kubernetes.namespace
    period = probe_period_seconds(config.monitoring.probe.schedule)
    last = f"{m.CRONJOB_LAST_SUCCESS}{_sel(namespace=ns, cronjob=PROBE_NAME)}"
    return [
        Alert(
            "PyroscopeProbeFailing",
            f"time() - {last} > {PROBE_MISSED_RUNS * period}",
            "0m",
            "critical",
            "The Pyroscope end-to-end probe fails",
            f"The probe CronJob {PROBE_NAME} has not succeeded for {PROBE_MISSED_RUNS} schedules: "
            "pushing through the gateway or reading back does not work.",
            "pyroscopeprobefailing",
        ),
    ]


def probe_period_seconds(schedule: str) -> int:
    """Seconds between runs for a ``*/N * * * *`` schedule; one hour for anything else."""
    minute = schedule.split(maxsplit=1)[0]
    if minute.startswith("*/") and minute[2:].isdigit() and schedule.split()[1:] == ["*"] * 4:
        return int(minute[2:]) * 60
    if minute == "*" and schedule.split()[1:] == ["*"] * 4:
        return 60
    return 3600


def expected_services(config: BundleConfig) -> list[str]:
    """The service_name of every wired service that sends to THIS server (plus the probe's).

    Services that push to Grafana Cloud or another server are not visible here.
    """
    names: list[str] = []
    if config.target.enabled and config.target.kind == "self":
        names += [service.application_name or service.name for service in config.services if service.enabled]
    if config.probe_enabled:
        names.append(config.monitoring.probe.service_name)
    return list(dict.fromkeys(names))


def service_alerts(config: BundleConfig) -> list[Alert]:
    """One "no profiles received" alert per expected service_name."""
    alerts_config = config.monitoring.alerts
    ns = config.server.kubernetes.namespace
    window = alerts_config.no_profiles_for.text
    up = f"{m.UP}{_sel(job=scrape_job(ns))}"
    alerts = []
    for service in expected_services(config):
        group = constants.USAGE_GROUP_PREFIX + service
        received = f"{m.USAGE_GROUP_RECEIVED}{_sel(namespace=ns, usage_group=group)}"
        alerts.append(
            Alert(
                "PyroscopeServiceNoProfiles",
                f"(sum(increase({received}[{window}])) or on() vector(0)) == 0 and on() sum({up}) > 0",
                "5m",
                "warning" if service == config.monitoring.probe.service_name else "critical",
                f"No profiles from {service}",
                f"Pyroscope has received no profile with service_name={service} for {window}.",
                "pyroscopeservicenoprofiles",
                labels=(("service_name", service),),
            )
        )
    return alerts


def ingress_controller(monitoring: Monitoring, server: Server) -> str:
    """Whose metrics show the gateway's status codes (see ``metrics.py``)."""
    chosen = monitoring.ingress_controller
    if chosen is not None:
        return chosen
    ingress = server.kubernetes.ingress
    if server.gateway_enabled and ingress.enabled and ingress.class_name == "nginx":
        return "ingress-nginx"
    return "none"


def _group(name: str, alerts: Iterable[Alert], runbook_url: str) -> dict[str, Any] | None:
    rules = [alert.rule(runbook_url) for alert in alerts]
    return {"name": name, "rules": rules} if rules else None


def rule_groups(config: BundleConfig) -> list[dict[str, Any]]:
    """The rule groups (Prometheus rule-file form)."""
    url = config.monitoring.runbook_url
    groups = [
        _group("pyroscope-bundle.server", server_alerts(config.server, config.monitoring.alerts), url),
        _group("pyroscope-bundle.gateway", gateway_alerts(config.monitoring, config.server), url),
        _group("pyroscope-bundle.probe", probe_alerts(config), url),
        _group("pyroscope-bundle.services", service_alerts(config), url),
    ]
    return [group for group in groups if group is not None]


def prometheus_rule_manifest(config: BundleConfig) -> dict[str, Any]:
    """The PrometheusRule object (monitoring.coreos.com/v1) in the server's namespace."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": RULE_NAME,
            "namespace": config.server.kubernetes.namespace,
            "labels": monitoring_labels(config.monitoring, "alerts"),
        },
        "spec": {"groups": rule_groups(config)},
    }


__all__ = [
    "Alert",
    "expected_services",
    "prometheus_rule_manifest",
    "rule_groups",
]
