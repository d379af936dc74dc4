"""What a change means for profiling data and for other stacks, beyond "an input changed".

A render diff shows inputs; these rules read them the way an operator would: a shorter retention
or bucket expiry deletes every profile older than the new value on the next cleanup, a Pyroscope
version across major releases strands what the other version wrote, removed protection lets a
later change delete a volume, a replaced StatefulSet starts on new (empty) claims, a removed
stack output breaks every stack that reads it. Each rule returns sentences for the review.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml

from pyroscope_bundle.config.types import parse_duration, version_tuple
from pyroscope_bundle.review.load import Render, Resource
from pyroscope_bundle.review.rules import DATA_VOLUME_TYPES, holds_data

# Pyroscope's retention keys: 2.x (metastore cleaner) and 1.x (compactor).
RETENTION_KEYS = ("retention_period", "compactor_blocks_retention_period")
_IMAGE_VERSION = re.compile(r"(?:^|/)grafana/pyroscope:v?(\d+\.\d+\.\d+)\b")
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
IAM_ROLE = "aws:iam/role:Role"
NAMESPACE = "kubernetes:core/v1:Namespace"
STATEFULSET = "kubernetes:apps/v1:StatefulSet"
PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
POD_MONITOR = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
CRONJOB = "kubernetes:batch/v1:CronJob"


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (path, value) inside ``value``, YAML documents in strings included."""
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")
    elif isinstance(value, str) and any(key in value for key in RETENTION_KEYS) and "\n" in value:
        try:
            document = yaml.safe_load(value)
        except yaml.YAMLError:
            return
        if isinstance(document, dict | list):
            yield from _walk(document, path)


def retention_settings(inputs: dict[str, Any]) -> dict[str, int]:
    """Path -> seconds of every Pyroscope retention setting (0 = keep forever)."""
    found: dict[str, int] = {}
    for path, value in _walk(inputs):
        if isinstance(value, dict):
            for key in RETENTION_KEYS:
                text = value.get(key)
                if isinstance(text, str):
                    try:
                        found[f"{path}.{key}" if path else key] = parse_duration(text).seconds
                    except ValueError:
                        continue
    return found


def expiry_days(inputs: dict[str, Any]) -> dict[str, int]:
    """Path -> days of every object-storage lifecycle expiration rule."""
    found: dict[str, int] = {}
    for path, value in _walk(inputs):
        if isinstance(value, dict) and isinstance(value.get("expiration"), dict):
            days = value["expiration"].get("days")
            if isinstance(days, int | float) and not isinstance(days, bool):
                found[f"{path}.expiration.days"] = int(days)
    return found


def _duration_text(seconds: int) -> str:
    if seconds == 0:
        return "forever"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _shorter(before: int, after: int) -> bool:
    """Whether ``after`` keeps less than ``before`` (0 means forever)."""
    return after != 0 and (before == 0 or after < before)


def resource_data_reasons(base: Resource, head: Resource, replaced: bool) -> list[str]:
    """Why a changed resource touches profiling data, one sentence each."""
    reasons: list[str] = []
    old_retention, new_retention = retention_settings(base.inputs), retention_settings(head.inputs)
    for path in sorted(set(old_retention) & set(new_retention)):
        before, after = old_retention[path], new_retention[path]
        if _shorter(before, after):
            reasons.append(
                f"retention {_duration_text(before)} -> {_duration_text(after)} ({path}): Pyroscope "
                f"DELETES every profile older than {_duration_text(after)} at its next cleanup"
            )
    old_expiry, new_expiry = expiry_days(base.inputs), expiry_days(head.inputs)
    for path in sorted(set(old_expiry) & set(new_expiry)):
        if new_expiry[path] < old_expiry[path]:
            reasons.append(
                f"bucket expiry {old_expiry[path]}d -> {new_expiry[path]}d ({path}): the bucket DELETES "
                f"every object older than {new_expiry[path]} days"
            )
    if base.options.get("protect") and not head.options.get("protect"):
        reasons.append("protection removed: a later `pulumi up` or `pulumi destroy` may now delete it")
    if replaced and head.type == STATEFULSET and holds_data(head.type, head.inputs):
        reasons.append(
            "the StatefulSet is replaced: its pods claim volumes named after the new StatefulSet, so "
            "the server starts EMPTY; the old claims stay (Retain) but nothing mounts them"
        )
    if replaced and head.type == NAMESPACE:
        reasons.append("the namespace is replaced: deleting it deletes every volume claim in it")
    return reasons


def removed_data_reasons(base: Resource) -> list[str]:
    if base.type == NAMESPACE:
        return ["deleting the namespace deletes every volume claim in it"]
    return []


def pyroscope_version(render: Render) -> str | None:
    """The server version a render deploys (its output, else the first Pyroscope image)."""
    version = render.outputs.get("pyroscopeVersion")
    if isinstance(version, str):
        return version
    for resource in render.resources.values():
        for _, value in _walk(resource.inputs):
            match = _IMAGE_VERSION.search(value) if isinstance(value, str) else None
            if match:
                return match.group(1)
    return None


def version_findings(base: Render, head: Render) -> list[str]:
    """A Pyroscope version change across major releases strands data; a downgrade is loudest."""
    before, after = pyroscope_version(base), pyroscope_version(head)
    if before is None or after is None:
        return []
    try:
        old_major, new_major = version_tuple(before)[0], version_tuple(after)[0]
    except ValueError:
        return []
    if new_major < old_major:
        return [
            f"Pyroscope {before} -> {after}: a DOWNGRADE across major versions; {new_major}.x cannot read "
            f"what {old_major}.x wrote: every profile stored since the upgrade becomes unreachable"
        ]
    if new_major > old_major:
        return [
            f"Pyroscope {before} -> {after}: across major versions the storage changes; {old_major}.x "
            f"history is kept on the volume but not queryable from {new_major}.x (docs/local.md)"
        ]
    return []


def removal_warnings(base: Render, head: Render) -> list[str]:
    """What other stacks and running services lose when this change removes it."""
    warnings = [
        f"stack output `{name}` is removed: stacks that read it (StackReference require_output) fail"
        for name in sorted(set(base.outputs) - set(head.outputs))
    ]
    for key in [key for key in base.resources if key not in head.resources]:
        resource = base.resources[key]
        if resource.type == TASK_DEFINITION:
            family = resource.inputs.get("family") or resource.name
            if resource.inputs.get("skipDestroy"):
                fate = (
                    "its revision stays registered (skipDestroy), but this stack no longer registers "
                    "new ones; services keep running the last revision"
                )
            else:
                fate = (
                    "its revision is deregistered; ECS services running it keep their tasks but "
                    "cannot start new ones from it"
                )
            warnings.append(f"task definition `{family}` is removed from the stack: {fate}")
        elif resource.type == IAM_ROLE:
            warnings.append(
                f"IAM role `{resource.inputs.get('name') or resource.name}` is removed: tasks and "
                "services using it lose its permissions"
            )
    return warnings + alerting_warnings(base, head)


def alert_names(resource: Resource) -> list[str]:
    """The alerts of a PrometheusRule, as ``name{service_name=...}`` when they carry one."""
    spec = resource.inputs.get("spec")
    groups = spec.get("groups") if isinstance(spec, dict) else None
    names = []
    for group in groups if isinstance(groups, list) else []:
        rules = group.get("rules") if isinstance(group, dict) else None
        for rule in rules if isinstance(rules, list) else []:
            if isinstance(rule, dict) and isinstance(rule.get("alert"), str):
                labels = rule.get("labels")
                service = labels.get("service_name") if isinstance(labels, dict) else None
                names.append(f"{rule['alert']}{{service_name={service}}}" if service else rule["alert"])
    return names


def _object_name(resource: Resource) -> str:
    metadata = resource.inputs.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return str(name or resource.name)


def alerting_warnings(base: Render, head: Render) -> list[str]:
    """Self-monitoring a change takes away: alerts that stop existing, or can no longer fire.

    Nothing here loses profiles, but each one removes a page someone relied on: an alert gone
    from the PrometheusRule, the PodMonitor (every alert on Pyroscope's own metrics goes quiet,
    only PyroscopeDown fires), the probe CronJob (PyroscopeProbeFailing reads its
    kube-state-metrics series, which disappears with it).
    """

    def of(render: Render, kind: str) -> dict[str, Resource]:
        return {key: r for key, r in render.resources.items() if r.type == kind}

    warnings: list[str] = []
    base_rules, head_rules = of(base, PROMETHEUS_RULE), of(head, PROMETHEUS_RULE)
    for key, rule in base_rules.items():
        before = alert_names(rule)
        after = alert_names(head_rules[key]) if key in head_rules else []
        gone = [name for name in before if name not in after]
        if key not in head_rules and before:
            warnings.append(
                f"PrometheusRule `{_object_name(rule)}` is removed: its {len(before)} alerts stop "
                f"paging ({', '.join(gone)})"
            )
        elif gone:
            warnings.append(
                f"PrometheusRule `{_object_name(rule)}` loses alerts: {', '.join(gone)} can no longer fire"
            )
    for key, monitor in of(base, POD_MONITOR).items():
        if key not in head.resources:
            warnings.append(
                f"PodMonitor `{_object_name(monitor)}` is removed: Prometheus stops scraping Pyroscope, "
                "so every alert on its metrics goes quiet (only PyroscopeDown fires)"
            )
    for key, cronjob in of(base, CRONJOB).items():
        if key not in head.resources:
            warnings.append(
                f"CronJob `{_object_name(cronjob)}` is removed: if it is the end-to-end probe, "
                "PyroscopeProbeFailing can no longer fire (its kube_cronjob_status_last_successful_time "
                "series disappears with it)"
            )
    return warnings


def holds_profiles(resource: Resource) -> bool:
    return resource.type in DATA_VOLUME_TYPES or holds_data(resource.type, resource.inputs)
