"""The review diff never understates: what deletes or strands profiling data is marked loudly,
what `pulumi up` will not apply says so, lists compare by identity, mock placeholders read as
"known after apply", removals other stacks depend on warn, and only renders are diffed.

Real renders before/after a config change (the path users take in PRs) plus small synthetic
renders for the provider rules.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pyroscope_bundle.cli import main as cli_main
from pyroscope_bundle.render.command import render
from pyroscope_bundle.review import diff_dirs, to_markdown, to_text
from pyroscope_bundle.review.diff import ResourceDiff, StackDiff
from pyroscope_bundle.review.format import DATA_MARK, KNOWN_AFTER_APPLY, NOT_APPLIED, TEXT_DATA_MARK

from tests.harness import PROJECT_DIR
from tests.test_review_diff import VOLUME, resource, write_render

CONFIGMAP = "kubernetes:core/v1:ConfigMap"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


def _render(tmp_path: Path, name: str, stack: str, sets: list[str] | None = None) -> Path:
    out = tmp_path / name
    render(PROJECT_DIR, stack, out, sets=sets or [])
    return out


def _stack(base: Path, head: Path) -> StackDiff:
    (stack,) = diff_dirs(base, head).stacks
    return stack


def _by_name(stack: StackDiff) -> dict[str, ResourceDiff]:
    return {diff.name: diff for diff in stack.resources}


def _both(base: Path, head: Path) -> str:
    report = diff_dirs(base, head)
    return to_markdown(report) + to_text(report)


# --- data: retention, expiry, replaced workloads, versions, protection -----------------------


def test_shorter_retention_is_marked_as_deleting_old_profiles(tmp_path: Path) -> None:
    base = _render(tmp_path, "base", "staging", ["server.retention=90d"])
    head = _render(tmp_path, "head", "staging", ["server.retention=1d"])
    stack = _stack(base, head)
    config = _by_name(stack)["pyroscope-configmap"]
    assert config.data_volume
    assert any("DELETES every profile older than 1d" in reason for reason in config.data_reasons)
    output = _both(base, head)
    assert DATA_MARK in output and TEXT_DATA_MARK in output and "retention 90d -> 1d" in output


def test_longer_retention_is_not_a_data_loss(tmp_path: Path) -> None:
    base = _render(tmp_path, "base", "local", ["server.retention=7d"])
    head = _render(tmp_path, "head", "local", ["server.retention=30d"])
    stack = _stack(base, head)
    assert not any(diff.data_reasons for diff in stack.resources)


def test_shorter_bucket_expiry_is_marked(tmp_path: Path) -> None:
    def lifecycle(days: int) -> dict[str, Any]:
        rules = [{"id": "expire", "status": "Enabled", "expiration": {"days": days}}]
        return resource(
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "lc", {"rules": rules}
        )

    base = write_render(tmp_path / "base", [lifecycle(97)])
    head = write_render(tmp_path / "head", [lifecycle(8)])
    (diff,) = _stack(base, head).resources
    assert diff.data_volume
    assert any("bucket expiry 97d -> 8d" in reason for reason in diff.data_reasons)


def test_namespace_change_replaces_the_server_on_empty_claims(tmp_path: Path) -> None:
    base = _render(tmp_path, "base", "staging")
    head = _render(tmp_path, "head", "staging", ["server.kubernetes.namespace=profiling"])
    stack = _stack(base, head)
    statefulsets = [d for d in stack.resources if d.type == "kubernetes:apps/v1:StatefulSet"]
    assert statefulsets and all(d.replaces and d.data_volume for d in statefulsets)
    assert any("server starts EMPTY" in reason for d in statefulsets for reason in d.data_reasons)


def test_removing_a_namespace_is_marked_as_deleting_its_claims(tmp_path: Path) -> None:
    namespace = resource("kubernetes:core/v1:Namespace", "ns", {"metadata": {"name": "pyroscope"}})
    base = write_render(tmp_path / "base", [namespace])
    head = write_render(tmp_path / "head", [])
    (diff,) = _stack(base, head).resources
    assert diff.status == "removed" and diff.data_volume
    assert "deletes every volume claim" in to_text(diff_dirs(base, head))


@pytest.mark.parametrize(
    ("before", "after", "words"),
    [("2.2.1", "1.21.1", "DOWNGRADE across major versions"), ("1.21.1", "2.2.1", "not queryable from 2.x")],
)
def test_versions_across_majors_are_data_findings(
    tmp_path: Path, before: str, after: str, words: str
) -> None:
    base = _render(tmp_path, "base", "local", [f"server.version={before}"])
    head = _render(tmp_path, "head", "local", [f"server.version={after}"])
    stack = _stack(base, head)
    assert any(words in finding for finding in stack.data_findings)
    output = _both(base, head)
    assert words in output and DATA_MARK in output


def test_a_minor_upgrade_is_no_data_finding(tmp_path: Path) -> None:
    base = _render(tmp_path, "base", "local", ["server.version=2.1.0"])
    head = _render(tmp_path, "head", "local", ["server.version=2.2.1"])
    assert _stack(base, head).data_findings == []


def test_removed_protection_is_marked(tmp_path: Path) -> None:
    base = _render(tmp_path, "base", "production")
    head = _render(tmp_path, "head", "production", ["server.protect=false"])
    stack = _stack(base, head)
    unprotected = [d for d in stack.resources if any("protection removed" in r for r in d.data_reasons)]
    assert unprotected and all(d.data_volume for d in unprotected)
    assert "protection removed" in _both(base, head)


# --- sentences that match the options -------------------------------------------------------


def test_removed_retained_volume_is_kept_not_lost(tmp_path: Path) -> None:
    volume = resource(VOLUME, "pyroscope-data", {"name": "pyroscope-data"}, retainOnDelete=True)
    base = write_render(tmp_path / "base", [volume])
    head = write_render(tmp_path / "head", [])
    output = _both(base, head)
    assert "KEPT (retainOnDelete)" in output
    assert "data is lost" not in output and "in the cloud" not in output


def test_removed_protected_volume_says_up_fails(tmp_path: Path) -> None:
    volume = resource(VOLUME, "pyroscope-data", {"name": "pyroscope-data"}, protect=True, retainOnDelete=True)
    base = write_render(tmp_path / "base", [volume])
    head = write_render(tmp_path / "head", [])
    output = _both(base, head)
    assert "PROTECTED" in output and "data is lost" not in output


# --- what `pulumi up` does not do -----------------------------------------------------------


def test_ignored_storage_size_change_is_marked_not_applied(tmp_path: Path) -> None:
    base = _render(tmp_path, "base", "staging")
    head = _render(tmp_path, "head", "staging", ["server.storage.size=40Gi"])
    stack = _stack(base, head)
    statefulset = next(d for d in stack.resources if d.type == "kubernetes:apps/v1:StatefulSet")
    assert statefulset.ignored and statefulset.not_applied
    assert not statefulset.replaces
    markdown = to_markdown(diff_dirs(base, head))
    assert NOT_APPLIED in markdown
    assert "update in place" not in next(
        line for line in markdown.splitlines() if "pyroscope-statefulset" in line
    )


# --- lists by identity, placeholders --------------------------------------------------------


def test_one_added_network_policy_peer_is_one_change(tmp_path: Path) -> None:
    base = _render(tmp_path, "base", "staging")
    extra = "[{namespace: ingress-nginx}, {namespace: aaa-first}]"
    head = _render(tmp_path, "head", "staging", [f"server.kubernetes.allowFrom={extra}"])
    stack = _stack(base, head)
    policies = [d for d in stack.resources if d.type == NETWORK_POLICY]
    assert policies
    for policy in policies:
        added = [c for c in policy.changes if c.before is not None and str(c.before) == "(absent)"]
        changed = [c for c in policy.changes if str(c.before) != "(absent)"]
        assert len(added) == 1 and not changed, [(c.label, c.before, c.after) for c in policy.changes]
        assert "aaa-first" in json.dumps(added[0].after)


def test_mock_placeholders_read_as_known_after_apply(tmp_path: Path) -> None:
    base = _render(tmp_path, "base", "local")
    head = _render(tmp_path, "head", "local", ["server.version=2.1.0"])
    output = _both(base, head)
    assert KNOWN_AFTER_APPLY in output
    assert "mock-image-" not in output and "sha256:000000" not in output


def test_unknown_values_read_as_known_after_apply(tmp_path: Path) -> None:
    base = write_render(
        tmp_path / "base", [resource(CONFIGMAP, "c", {"data": {"a": "x"}, "id": "[unknown]"})]
    )
    head = write_render(tmp_path / "head", [resource(CONFIGMAP, "c", {"data": {"a": "y"}, "id": "other"})])
    text = to_text(diff_dirs(base, head))
    assert f"id: {KNOWN_AFTER_APPLY} -> other" in text


# --- removals other stacks depend on --------------------------------------------------------


def test_removed_outputs_task_definitions_and_roles_warn(tmp_path: Path) -> None:
    base = _render(tmp_path, "base", "staging")
    head = _render(tmp_path, "head", "staging", ["services[3].enabled=false", "services[4].enabled=false"])
    stack = _stack(base, head)
    joined = "\n".join(stack.warnings)
    assert "task definition `payments-api` is removed from the stack" in joined
    assert "IAM role" in joined and "is removed" in joined
    assert any("stack output" in warning for warning in stack.warnings)
    assert "WARNING" in to_markdown(diff_dirs(base, head)) and "WARNING:" in to_text(diff_dirs(base, head))


@pytest.mark.parametrize(("skip", "words"), [(True, "stays registered"), (False, "is deregistered")])
def test_removed_task_definition_says_what_happens_to_its_revision(
    tmp_path: Path, skip: bool, words: str
) -> None:
    task = resource("aws:ecs/taskDefinition:TaskDefinition", "api", {"family": "api", "skipDestroy": skip})
    base = write_render(tmp_path / "base", [task])
    head = write_render(tmp_path / "head", [])
    (warning,) = _stack(base, head).warnings
    assert words in warning


# --- secrets: changed without a value -------------------------------------------------------


def test_a_secret_only_change_in_a_file_is_secret_changed(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {"files/docker/grafana/run/secrets/password": "[secret]\n"}
    base = write_render(tmp_path / "base", [], files)
    head = write_render(tmp_path / "head", [], files)
    for root, fingerprint in ((base, "aaaa"), (head, "bbbb")):
        (root / "secrets.json").write_text(
            json.dumps({"resources": [], "files": {"files/docker/grafana/run/secrets/password": fingerprint}})
        )
    stack = _stack(base, head)
    (changed,) = stack.files
    assert changed.secret_changed and changed.status == "changed"
    assert "secret changed" in to_text(diff_dirs(base, head))
    assert "aaaa" not in _both(base, head) and "bbbb" not in _both(base, head)


# --- only renders are diffed ----------------------------------------------------------------


def test_a_directory_that_is_not_a_render_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    render_dir = write_render(tmp_path / "render", [])
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("not a render")
    assert cli_main(["diff", str(render_dir), str(notes)]) == 2
    assert "is not a render" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    # An empty base (a commit that could not render) is the documented "everything added".
    assert cli_main(["diff", str(empty), str(render_dir)]) in (0, 1)


# --- self-monitoring: alerts that can no longer fire, dashboards that move ---------------------


def test_turning_monitoring_off_warns_about_every_alert_it_takes_away(tmp_path: Path) -> None:
    base = _render(tmp_path, "base", "staging")
    head = _render(tmp_path, "head", "staging", ["monitoring.enabled=false"])
    joined = "\n".join(_stack(base, head).warnings)
    assert "PrometheusRule `pyroscope-bundle` is removed" in joined
    assert (
        "PyroscopeMetastoreNoLeader" in joined
        and "PyroscopeServiceNoProfiles{service_name=checkout}" in joined
    )
    assert "PodMonitor `pyroscope` is removed: Prometheus stops scraping Pyroscope" in joined
    assert "CronJob `pyroscope-probe` is removed" in joined and "PyroscopeProbeFailing" in joined


def test_unwiring_a_service_warns_that_its_alert_is_gone(tmp_path: Path) -> None:
    base = _render(tmp_path, "base", "staging")
    head = _render(tmp_path, "head", "staging", ["services[0].enabled=false"])
    warnings = [w for w in _stack(base, head).warnings if w.startswith("PrometheusRule")]
    assert warnings == [
        "PrometheusRule `pyroscope-bundle` loses alerts: "
        "PyroscopeServiceNoProfiles{service_name=checkout} can no longer fire"
    ]


def test_a_threshold_change_is_no_alerting_warning(tmp_path: Path) -> None:
    base = _render(tmp_path, "base", "staging")
    head = _render(tmp_path, "head", "staging", ["monitoring.alerts.restartsPerHour=5"])
    assert not [w for w in _stack(base, head).warnings if "PrometheusRule" in w]


DASHBOARD = "grafana:oss/dashboard:Dashboard"


@pytest.mark.parametrize(
    ("change", "replaces"),
    [
        ({"folder": "7"}, True),
        ({"orgId": "2"}, True),
        ({"configJson": '{"uid": "x", "title": "new"}'}, False),
    ],
)
def test_a_grafana_dashboard_is_replaced_only_by_folder_or_org(
    tmp_path: Path, change: dict[str, str], replaces: bool
) -> None:
    inputs = {"configJson": '{"uid": "x", "title": "old"}', "overwrite": True}
    base = write_render(tmp_path / "base", [resource(DASHBOARD, "dashboard", inputs)])
    head = write_render(tmp_path / "head", [resource(DASHBOARD, "dashboard", {**inputs, **change})])
    (diff,) = _stack(base, head).resources
    assert diff.replaces is replaces
    assert not diff.data_volume
