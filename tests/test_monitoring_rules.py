"""The alerts, judged by Prometheus's own rule engine (promtool) on synthetic series.

``promtool check rules`` reads the rule file exactly as rendered into the staging PrometheusRule;
``promtool test rules`` runs, per alert, one scenario where it must fire and one where it must
not. Annotations are templated (``$value``), so the unit-test copy of the rules drops them; the
expressions, ``for`` and labels are the rendered ones. Skips with the reason when promtool is
missing (CI installs Debian's ``prometheus`` package: scripts/system-packages.sh).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pyroscope_bundle.config import load_config
from pyroscope_bundle.monitoring import metrics
from pyroscope_bundle.monitoring.alerts import expected_services, rule_groups

from tests.harness import PROJECT_DIR
from tests.test_kubernetes_server import stack_config

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (Debian package prometheus)"
)
RUNBOOK = PROJECT_DIR / "docs" / "runbook.md"

NS = 'namespace="pyroscope"'
LIMIT = f'{metrics.MEMORY_LIMIT}{{{NS}, pod="pyroscope-0", container="pyroscope", resource="memory"}}'
PVC = f'{metrics.VOLUME_AVAILABLE}{{{NS}, persistentvolumeclaim="data-pyroscope-0"}}'
UP = 'up{job="pyroscope/pyroscope"}'
RECEIVED = f"{metrics.RECEIVED_PROFILES}{{{NS}}}"
GROUPS = metrics.USAGE_GROUP_RECEIVED
INGRESS = metrics.INGRESS_REQUESTS + '{exported_namespace="pyroscope", ingress="pyroscope", status="%s"}'


def staging_config() -> Any:
    return load_config(stack_config("staging"), "staging", PROJECT_DIR)


def rules_file(tmp_path: Path, groups: list[dict[str, Any]], *, annotations: bool = True) -> Path:
    if not annotations:
        groups = [
            {
                **group,
                "rules": [{k: v for k, v in rule.items() if k != "annotations"} for rule in group["rules"]],
            }
            for group in groups
        ]
    path = tmp_path / ("rules.yaml" if annotations else "rules-logic.yaml")
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return path


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120, check=False)


def series(name: str, values: str) -> dict[str, str]:
    return {"series": name, "values": values}


# Per alert: (input series, eval time, expected labels when firing), then the same without the
# fault. Counters: 'a+bxN' grows by b per minute; constant 'axN' means "nothing happened".
def scenarios(services: list[str]) -> list[tuple[str, list[dict[str, str]], str, list[dict[str, str]]]]:
    healthy = [
        series(UP, "1x600"),
        series(RECEIVED, "0+100x600"),
        *[series(f'{GROUPS}{{{NS}, usage_group="service/{s}", type="cpu"}}', "0+1000x600") for s in services],
    ]
    other = [s for s in services if s != "checkout"]
    return [
        ("PyroscopeDown", [series(UP, "0x20")], "10m", [{"severity": "critical"}]),
        ("PyroscopeDown", [series(UP, "1x20")], "10m", []),
        (
            "PyroscopeNotIngesting",
            [series(UP, "1x40"), series(RECEIVED, "500x40")],
            "30m",
            [{"severity": "critical"}],
        ),
        ("PyroscopeNotIngesting", [series(UP, "1x40"), series(RECEIVED, "0+10x40")], "30m", []),
        (
            "PyroscopeIngestionDiscarded",
            [
                series(
                    f'{metrics.DISCARDED_BYTES}{{{NS}, reason="rate_limited", tenant="anonymous"}}', "0+10x40"
                ),
                series(
                    f'{metrics.RECEIVED_DECOMPRESSED_BYTES}{{{NS}, stage="received", tenant="anonymous"}}',
                    "0+100x40",
                ),
            ],
            "30m",
            [{"severity": "warning", "reason": "rate_limited"}],
        ),
        (
            "PyroscopeIngestionDiscarded",
            [
                series(
                    f'{metrics.DISCARDED_BYTES}{{{NS}, reason="rate_limited", tenant="anonymous"}}', "0x40"
                ),
                series(
                    f'{metrics.RECEIVED_DECOMPRESSED_BYTES}{{{NS}, stage="received", tenant="anonymous"}}',
                    "0+100x40",
                ),
            ],
            "30m",
            [],
        ),
        (
            "PyroscopeRestarting",
            [series(f'{metrics.RESTARTS}{{{NS}, pod="pyroscope-0", container="pyroscope"}}', "0+1x60")],
            "60m",
            [
                {
                    "severity": "warning",
                    "namespace": "pyroscope",
                    "pod": "pyroscope-0",
                    "container": "pyroscope",
                }
            ],
        ),
        (
            "PyroscopeRestarting",
            [series(f'{metrics.RESTARTS}{{{NS}, pod="pyroscope-0", container="pyroscope"}}', "2x60")],
            "60m",
            [],
        ),
        (
            "PyroscopeMemoryNearLimit",
            [
                series(
                    f'{metrics.MEMORY_WORKING_SET}{{{NS}, pod="pyroscope-0", container="pyroscope"}}',
                    "996147200x40",
                ),
                series(
                    LIMIT,
                    "1073741824x40",
                ),
            ],
            "30m",
            [{"severity": "warning", "pod": "pyroscope-0", "container": "pyroscope"}],
        ),
        (
            "PyroscopeMemoryNearLimit",
            [
                series(
                    f'{metrics.MEMORY_WORKING_SET}{{{NS}, pod="pyroscope-0", container="pyroscope"}}',
                    "536870912x40",
                ),
                series(
                    LIMIT,
                    "1073741824x40",
                ),
            ],
            "30m",
            [],
        ),
        (
            "PyroscopeVolumeFillingUp",
            # 20Gi losing 2Mi a minute: full in ~7 days, within the 14d retention (quiet: 0.5Mi, ~28 days).
            [
                series(
                    f'{metrics.VOLUME_AVAILABLE}{{{NS}, persistentvolumeclaim="data-pyroscope-0"}}',
                    "21474836480-2097152x480",
                )
            ],
            "8h",
            [{"severity": "warning", "namespace": "pyroscope", "persistentvolumeclaim": "data-pyroscope-0"}],
        ),
        (
            "PyroscopeVolumeFillingUp",
            [
                series(
                    f'{metrics.VOLUME_AVAILABLE}{{{NS}, persistentvolumeclaim="data-pyroscope-0"}}',
                    "21474836480-524288x480",
                )
            ],
            "8h",
            [],
        ),
        (
            "PyroscopeMetastoreNoLeader",
            [series(f'{metrics.RAFT_STATE}{{{NS}, state="Candidate"}}', "1x20")],
            "10m",
            [{"severity": "critical"}],
        ),
        (
            "PyroscopeMetastoreNoLeader",
            [series(f'{metrics.RAFT_STATE}{{{NS}, state="Leader"}}', "1x20")],
            "10m",
            [],
        ),
        (
            "PyroscopeCompactionStalled",
            [
                series(RECEIVED, "0+100x260"),
                series(
                    f'{metrics.COMPACTION_JOBS}{{{NS}, status="success", tenant="anonymous", level="0"}}',
                    "7x260",
                ),
            ],
            "4h",
            [{"severity": "critical"}],
        ),
        (
            "PyroscopeCompactionStalled",
            [
                series(RECEIVED, "0+100x260"),
                series(
                    f'{metrics.COMPACTION_JOBS}{{{NS}, status="success", tenant="anonymous", level="0"}}',
                    "0+1x260",
                ),
            ],
            "4h",
            [],
        ),
        (
            "PyroscopeCompactionFailing",
            [
                series(
                    f'{metrics.COMPACTION_JOBS}{{{NS}, status="success", tenant="anonymous", level="0"}}',
                    "0+1x90",
                ),
                series(
                    f'{metrics.COMPACTION_JOBS}{{{NS}, status="failure", tenant="anonymous", level="0"}}',
                    "0+1x90",
                ),
            ],
            "80m",
            [{"severity": "warning"}],
        ),
        (
            "PyroscopeCompactionFailing",
            [
                series(
                    f'{metrics.COMPACTION_JOBS}{{{NS}, status="success", tenant="anonymous", level="0"}}',
                    "0+1x90",
                ),
                series(
                    f'{metrics.COMPACTION_JOBS}{{{NS}, status="failure", tenant="anonymous", level="0"}}',
                    "3x90",
                ),
            ],
            "80m",
            [],
        ),
        (
            "PyroscopeGatewayErrors",
            [series(INGRESS % "502", "0+10x40"), series(INGRESS % "200", "0+10x40")],
            "30m",
            [{"severity": "critical"}],
        ),
        (
            "PyroscopeGatewayErrors",
            [series(INGRESS % "502", "1x40"), series(INGRESS % "200", "0+10x40")],
            "30m",
            [],
        ),
        ("PyroscopeGatewayRefusing", [series(INGRESS % "413", "0+1x40")], "30m", [{"severity": "warning"}]),
        ("PyroscopeGatewayRefusing", [series(INGRESS % "413", "4x40")], "30m", []),
        (
            "PyroscopeGatewayAuthFailures",
            [series(INGRESS % "401", "0+60x40")],
            "30m",
            [{"severity": "warning"}],
        ),
        ("PyroscopeGatewayAuthFailures", [series(INGRESS % "401", "0+6x40")], "30m", []),
        (
            "PyroscopeProbeFailing",
            # Last success at t=0 (a timestamp that stops advancing).
            [series(f'{metrics.CRONJOB_LAST_SUCCESS}{{{NS}, cronjob="pyroscope-probe"}}', "0x40")],
            "30m",
            [{"severity": "critical", "namespace": "pyroscope", "cronjob": "pyroscope-probe"}],
        ),
        (
            "PyroscopeProbeFailing",
            [series(f'{metrics.CRONJOB_LAST_SUCCESS}{{{NS}, cronjob="pyroscope-probe"}}', "0+60x40")],
            "30m",
            [],
        ),
        (
            "PyroscopeServiceNoProfiles",
            [
                series(UP, "1x60"),
                series(f'{GROUPS}{{{NS}, usage_group="service/checkout", type="cpu"}}', "5000x60"),
                *[
                    series(f'{GROUPS}{{{NS}, usage_group="service/{s}", type="cpu"}}', "0+1000x60")
                    for s in other
                ],
            ],
            "40m",
            [{"severity": "critical", "service_name": "checkout"}],
        ),
        ("PyroscopeServiceNoProfiles", healthy, "40m", []),
    ]


def unit_tests(services: list[str]) -> dict[str, Any]:
    tests = []
    for alert, input_series, eval_time, expected in scenarios(services):
        tests.append(
            {
                "name": f"{alert} {'fires' if expected else 'stays quiet'}",
                "interval": "1m",
                "input_series": input_series,
                "alert_rule_test": [
                    {
                        "eval_time": eval_time,
                        "alertname": alert,
                        "exp_alerts": [{"exp_labels": e} for e in expected],
                    }
                ],
            }
        )
    return {"rule_files": ["rules-logic.yaml"], "evaluation_interval": "1m", "tests": tests}


def test_every_alert_has_both_scenarios() -> None:
    config = staging_config()
    alerts = {rule["alert"] for group in rule_groups(config) for rule in group["rules"]}
    fired = {alert for alert, _s, _t, expected in scenarios(expected_services(config)) if expected}
    quiet = {alert for alert, _s, _t, expected in scenarios(expected_services(config)) if not expected}
    assert alerts == fired == quiet


@needs_promtool
def test_promtool_accepts_the_rendered_rules(tmp_path: Path, rendered: dict[str, Path]) -> None:
    for stack in ("staging", "production"):
        [rule_path] = (rendered[stack] / "kubernetes" / "pyroscope").glob("prometheusrule-*.yaml")
        document = yaml.safe_load(rule_path.read_text())
        path = rules_file(tmp_path, document["spec"]["groups"])
        result = promtool("check", "rules", str(path))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS" in result.stdout


@needs_promtool
def test_promtool_rejects_a_broken_rule(tmp_path: Path) -> None:
    """The checker can fail: a rule with a PromQL syntax error is refused."""
    broken = [{"name": "x", "rules": [{"alert": "Broken", "expr": "sum(rate(up[5m])", "for": "1m"}]}]
    result = promtool("check", "rules", str(rules_file(tmp_path, broken)))
    assert result.returncode != 0


@needs_promtool
def test_each_alert_fires_on_its_fault_and_not_without(tmp_path: Path) -> None:
    config = staging_config()
    rules_file(tmp_path, rule_groups(config), annotations=False)
    test_path = tmp_path / "tests.yaml"
    test_path.write_text(yaml.safe_dump(unit_tests(expected_services(config)), sort_keys=False))
    result = promtool("test", "rules", str(test_path))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_a_wrong_expectation_fails_the_unit_test(tmp_path: Path) -> None:
    """promtool test really evaluates: expecting the healthy scenario to fire fails."""
    config = staging_config()
    rules_file(tmp_path, rule_groups(config), annotations=False)
    suite = unit_tests(expected_services(config))
    suite["tests"] = [t for t in suite["tests"] if t["name"] == "PyroscopeDown stays quiet"]
    suite["tests"][0]["alert_rule_test"][0]["exp_alerts"] = [{"exp_labels": {"severity": "critical"}}]
    test_path = tmp_path / "tests.yaml"
    test_path.write_text(yaml.safe_dump(suite, sort_keys=False))
    assert promtool("test", "rules", str(test_path)).returncode != 0


def test_one_no_profiles_alert_per_wired_service() -> None:
    config = staging_config()
    per_service = [
        rule["labels"]["service_name"]
        for group in rule_groups(config)
        for rule in group["rules"]
        if rule["alert"] == "PyroscopeServiceNoProfiles"
    ]
    # Every service of the stack file (ECS included: it pushes through the Ingress) + the probe.
    wired = [s.get("applicationName", s["name"]) for s in stack_config("staging")["services"]]
    assert len(wired) >= 3
    assert per_service == [*wired, "pyroscope-bundle-probe"]


def test_services_sending_elsewhere_get_no_alert_here() -> None:
    """Production's services push to Grafana Cloud: only the probe is expected on this server."""
    raw = stack_config("production")
    config = load_config({**raw, "authToken": True}, "production", PROJECT_DIR)
    assert expected_services(config) == ["pyroscope-bundle-probe"]


def test_every_runbook_url_points_at_a_runbook_section() -> None:
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in RUNBOOK.read_text().splitlines()
        if line.startswith("#")
    }
    rules = [rule for group in rule_groups(staging_config()) for rule in group["rules"]]
    assert rules
    for rule in rules:
        url = rule["annotations"]["runbook_url"]
        base, anchor = url.split("#")
        assert base == "docs/runbook.md"
        assert anchor in anchors, f"{rule['alert']}: no section #{anchor} in docs/runbook.md"


def test_every_metric_in_the_rules_is_one_of_the_cited_names() -> None:
    """No metric name is typed anywhere but metrics.py (which cites where upstream defines it);
    every metric in these rules carries a selector, so ``name{`` finds them all."""
    known = {value for name, value in vars(metrics).items() if name.isupper() and isinstance(value, str)}
    used = set()
    for group in rule_groups(staging_config()):
        for rule in group["rules"]:
            names = set(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", rule["expr"]))
            assert names, rule["alert"]
            assert names <= known, f"{rule['alert']}: {sorted(names - known)}"
            used |= names
    assert metrics.RAFT_STATE in used and metrics.USAGE_GROUP_RECEIVED in used
