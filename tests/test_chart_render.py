"""The official grafana/pyroscope chart, expanded in the render with Helm's own template engine.

Microservices mode is judged on the chart's real objects: kubernetes-validate (strict), checkov,
every pod's volume claims exist, every Service the gateway sends to exists, and only the
data-holding StatefulSets are protected. Needs the chart archive (Helm's cache, else
``../shared/charts/``) and the helm-python-sdk engine; skips with the reason otherwise.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pulumi.runtime import rpc
from pyroscope_bundle import constants
from pyroscope_bundle.config import load_config
from pyroscope_bundle.render.chart import (
    CHART_TYPE,
    ChartError,
    expand,
    find_chart,
    helm_cache_dirs,
    render_chart,
)
from pyroscope_bundle.render.command import RenderError, render, render_command
from pyroscope_bundle.render.mocks import RecordedResource
from pyroscope_bundle.server.helm import helm_values

from tests.checkov_scan import Scan
from tests.harness import PROJECT_DIR
from tests.test_kubernetes_manifests import KUBERNETES_VERSION
from tests.test_security_posture import SECURITY_DOC

pytest.importorskip("helm_python", reason="Helm's template engine (helm-python-sdk, test extra) is missing")

CHART_NAME = constants.PYROSCOPE_HELM_CHART
CHART_VERSION = constants.PYROSCOPE_HELM_CHART_VERSION
MICROSERVICES = ["server.kubernetes.mode=microservices"]
NAMESPACE = "pyroscope"
CHART_SKIP_ROW = re.compile(r"^\|\s*chart\s*\|\s*`?(CKV2?_K8S_\d+)`?\s*\|")
# Services the gateway or clients must reach (the chart's own ingress routes, v2 storage).
ROUTED_SERVICES = ("distributor", "query-frontend", "tenant-settings", "ad-hoc-profiles")

# The bucket's region (the loader refuses microservices mode without one, or aws:region).
REGIONAL = {"objectStorage": {"region": "eu-west-1"}}


def chart_archive() -> Path:
    """The pinned chart: Helm's cache first, then the test copy beside the repository."""
    try:
        return find_chart(CHART_NAME, CHART_VERSION, None)
    except FileNotFoundError:
        pass
    # ../shared/charts from the repository root (CI); from a git worktree, the nearest ancestor's.
    archive = f"{CHART_NAME}-{CHART_VERSION}.tgz"
    for root in PROJECT_DIR.parents:
        if (root / "shared" / "charts" / archive).exists():
            return root / "shared" / "charts" / archive
    pytest.skip(f"no {archive} in Helm's cache nor in ../shared/charts")


@pytest.fixture(scope="module")
def chart() -> Path:
    return chart_archive()


def objects_in(out: Path) -> dict[str, dict[str, Any]]:
    """Every applied (non-patch) Kubernetes object of a render, by file name."""
    return {
        str(path.relative_to(out / "kubernetes")): yaml.safe_load(path.read_text())
        for path in sorted((out / "kubernetes").glob("*/*.yaml"))
        if not path.name.endswith(".patch.yaml")
    }


def missing_claims(objects: list[dict[str, Any]]) -> list[str]:
    """Pod volumes that name a claim no object creates (PVC or the workload's volumeClaimTemplate),
    and mounts of volumes the pod does not have."""
    pvcs = {
        (o["metadata"]["namespace"], o["metadata"]["name"])
        for o in objects
        if o["kind"] == "PersistentVolumeClaim"
    }
    problems = []
    for o in objects:
        if o["kind"] not in ("Deployment", "StatefulSet", "DaemonSet"):
            continue
        spec = o["spec"]
        pod = spec["template"]["spec"]
        templates = {claim["metadata"]["name"] for claim in spec.get("volumeClaimTemplates", [])}
        volumes = {volume["name"] for volume in pod.get("volumes", [])}
        for volume in pod.get("volumes", []):
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if claim and (o["metadata"]["namespace"], claim) not in pvcs:
                problems.append(f"{o['kind']}/{o['metadata']['name']}: claim {claim} is never created")
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            for mount in container.get("volumeMounts", []):
                if mount["name"] not in volumes | templates:
                    problems.append(
                        f"{o['kind']}/{o['metadata']['name']}: mount {mount['name']} has no volume"
                    )
    return problems


@pytest.fixture(scope="module")
def microservices(microservices_render: Path) -> Path:
    """The session's microservices render (conftest; the checkov scan reads the same one)."""
    return microservices_render


def test_the_chart_objects_are_written_like_every_other_object(microservices: Path) -> None:
    files = set(objects_in(microservices))
    for name in ("metastore", "segment-writer", "compaction-worker"):
        assert f"{NAMESPACE}/statefulset-pyroscope-{name}.yaml" in files
    for name in ("distributor", "query-frontend", "query-backend", "tenant-settings", "ad-hoc-profiles"):
        assert f"{NAMESPACE}/deployment-pyroscope-{name}.yaml" in files
    resources = json.loads((microservices / "resources.json").read_text())["resources"]
    [chart] = [r for r in resources if r["type"] == CHART_TYPE]
    children = [r for r in resources if r["parent"] == chart["name"]]
    assert chart["render"]["chart"] == {"expanded": True, "objects": len(children)}
    # Named as the provider names them: <chart>:<namespace>/<name>.
    assert "pyroscope-chart:pyroscope/pyroscope-metastore" in {r["name"] for r in children}


def test_every_object_passes_kubernetes_validate_strict(microservices: Path) -> None:
    objects = objects_in(microservices)
    assert len(objects) > 40
    for name, obj in objects.items():
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # CRDs: the operator's schema, test_monitoring_objects.py
        assert kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True) == KUBERNETES_VERSION, name


def test_every_pods_claims_exist(microservices: Path) -> None:
    assert missing_claims(list(objects_in(microservices).values())) == []
    metastore = objects_in(microservices)[f"{NAMESPACE}/statefulset-pyroscope-metastore.yaml"]
    [claim] = metastore["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"


def test_the_claim_check_finds_the_charts_pitfall(chart: Path) -> None:
    """The check above can fail: shared persistence switched on, as before, leaves six
    Deployments mounting a claim nothing creates (their pods would stay Pending)."""
    config = load_config(
        {"server": {"backend": "kubernetes", "kubernetes": {"mode": "microservices", "helm": REGIONAL}}}, "t"
    )
    values = helm_values(config.server, "bucket", region="eu-west-1")
    values["pyroscope"]["persistence"]["enabled"] = True
    objects = render_chart(chart, CHART_NAME, CHART_VERSION, values, name="pyroscope", namespace=NAMESPACE)
    problems = missing_claims(objects)
    assert len(problems) == 6
    assert "Deployment/pyroscope-distributor: claim pyroscope-distributor-data is never created" in problems


def test_every_service_the_gateway_sends_to_exists(microservices: Path) -> None:
    objects = objects_in(microservices)
    services = {
        (o["metadata"]["namespace"], o["metadata"]["name"])
        for o in objects.values()
        if o["kind"] == "Service"
    }
    for component in ROUTED_SERVICES:
        assert (NAMESPACE, f"pyroscope-{component}") in services, component
    conf = (
        microservices / "files" / "kubernetes" / NAMESPACE / "pyroscope-gateway" / "nginx.conf"
    ).read_text()
    upstreams = re.findall(r"server ([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local:(\d+);", conf)
    assert upstreams
    ports = {
        (o["metadata"]["namespace"], o["metadata"]["name"]): {p["port"] for p in o["spec"]["ports"]}
        for o in objects.values()
        if o["kind"] == "Service"
    }
    for name, namespace, port in upstreams:
        assert (namespace, name) in services, (
            f"the gateway sends to {name}.{namespace}, which no object creates"
        )
        assert int(port) in ports[(namespace, name)]


def chart_only_skips() -> list[str]:
    rows = [line for line in SECURITY_DOC.read_text().splitlines() if CHART_SKIP_ROW.match(line)]
    for row in rows:
        assert len(row.strip("|").split("|")[-1].strip()) > 20, f"skip without a reason: {row}"
    return [match.group(1) for row in rows if (match := CHART_SKIP_ROW.match(row))]


@pytest.mark.slow
def test_checkov_finds_nothing_in_the_chart_beyond_documented_skips(
    microservices: Path, checkov_scan: Scan
) -> None:
    chart_skips = chart_only_skips()
    assert chart_skips, "docs/security.md lists the chart-only skips"
    part = checkov_scan.part("chart")
    assert len(part.files) == len(list((microservices / "kubernetes" / NAMESPACE).glob("*.yaml")))
    failed = {(c["check_id"], c["resource"]) for c in part.failed}
    chart_workloads = {
        f"{o['kind']}.{NAMESPACE}.{o['metadata']['name']}"
        for o in objects_in(microservices).values()
        if o["kind"] in ("Deployment", "StatefulSet") and o["metadata"]["labels"].get("helm.sh/chart")
    }
    assert len(chart_workloads) == 9
    # A chart-only skip never excuses the bundle's own objects (the gateway).
    unexcused = {
        (check, res) for check, res in failed if check not in chart_skips or res not in chart_workloads
    }
    assert unexcused == set()
    assert len(part.passed) > 500


def test_protect_reaches_only_the_data_holding_statefulsets(chart: Path, tmp_path: Path) -> None:
    render(PROJECT_DIR, "staging", tmp_path / "out", [*MICROSERVICES, "server.protect=true"], chart=chart)
    resources = json.loads((tmp_path / "out" / "resources.json").read_text())["resources"]
    [chart_entry] = [r for r in resources if r["type"] == CHART_TYPE]
    assert chart_entry["options"]["protect"] is False
    protected = sorted(
        r["name"] for r in resources if r["parent"] == chart_entry["name"] and r["options"]["protect"]
    )
    assert protected == [
        "pyroscope-chart:pyroscope/pyroscope-metastore",
        "pyroscope-chart:pyroscope/pyroscope-segment-writer",
    ]
    assert any(r["type"] == "aws:s3/bucket:Bucket" and r["options"]["protect"] for r in resources)


def test_without_a_chart_the_render_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for variable in ("HELM_CACHE_HOME", "HELM_REPOSITORY_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    out = tmp_path / "out"
    assert render_command(PROJECT_DIR, "staging", out, MICROSERVICES, []) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"warning: chart {CHART_NAME} {CHART_VERSION} (pyroscope-chart) NOT expanded")
    assert "--chart PATH" in err[0]
    resources = json.loads((out / "resources.json").read_text())["resources"]
    [chart_entry] = [r for r in resources if r["type"] == CHART_TYPE]
    assert chart_entry["render"]["chart"]["expanded"] is False
    assert "Helm's cache" in chart_entry["render"]["chart"]["reason"]
    assert not (out / "kubernetes" / NAMESPACE / "statefulset-pyroscope-metastore.yaml").exists()


def test_the_chart_is_found_in_helms_repository_cache(
    chart: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "helm-cache"
    (cache / "repository").mkdir(parents=True)
    shutil.copy(chart, cache / "repository" / f"{CHART_NAME}-{CHART_VERSION}.tgz")
    monkeypatch.delenv("HELM_REPOSITORY_CACHE", raising=False)
    monkeypatch.setenv("HELM_CACHE_HOME", str(cache))
    assert helm_cache_dirs()[0] == cache / "repository"
    result = render(PROJECT_DIR, "staging", tmp_path / "out", MICROSERVICES)
    assert [e.source for e in result.charts] == [cache / "repository" / f"{CHART_NAME}-{CHART_VERSION}.tgz"]
    assert (tmp_path / "out" / "kubernetes" / NAMESPACE / "statefulset-pyroscope-metastore.yaml").exists()


def test_a_chart_path_that_does_not_exist_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An explicit --chart that is not there is a mistake: exit 2 naming it, nothing written (it
    used to render with the chart "NOT expanded" and exit 0)."""
    out = tmp_path / "out"
    missing = tmp_path / "pyroscope-2.2.1.tgz"
    assert render_command(PROJECT_DIR, "staging", out, MICROSERVICES, [], chart=missing) == 2
    err = capsys.readouterr().err
    assert f"--chart: {missing}: no such file or directory" in err
    assert "Traceback" not in err and not out.exists()


def test_a_chart_of_another_version_is_refused(chart: Path, tmp_path: Path) -> None:
    unpacked = tmp_path / "chart"
    shutil.unpack_archive(chart, unpacked)
    chart_yaml = unpacked / CHART_NAME / "Chart.yaml"
    chart_yaml.write_text(chart_yaml.read_text().replace(f"version: {CHART_VERSION}", "version: 9.9.9"))
    with pytest.raises(
        RenderError, match=r"--chart: .* is chart pyroscope 9\.9\.9; the program deploys pyroscope 2\.2\.1"
    ):
        render(PROJECT_DIR, "staging", tmp_path / "out", MICROSERVICES, chart=unpacked / CHART_NAME)


def test_render_chart_drops_hooks_and_namespaces_objects(chart: Path) -> None:
    config = load_config(
        {"server": {"backend": "kubernetes", "kubernetes": {"mode": "microservices", "helm": REGIONAL}}}, "t"
    )
    objects = render_chart(
        chart,
        CHART_NAME,
        CHART_VERSION,
        helm_values(config.server, "b", region="eu-west-1"),
        name="pyroscope",
        namespace="obs",
    )
    assert {o["metadata"]["namespace"] for o in objects} == {"obs"}
    assert not any("helm.sh/hook" in (o["metadata"].get("annotations") or {}) for o in objects)
    with pytest.raises(ChartError, match=r"the program deploys pyroscope 0\.0\.1"):
        render_chart(chart, CHART_NAME, "0.0.1", {}, name="pyroscope", namespace="obs")


def test_podmonitor_scrapes_every_chart_component_on_its_http_port(microservices: Path) -> None:
    """The PodMonitor's selector and port name, checked against the pods the real chart renders."""
    from tests.test_monitoring_objects import crd_errors

    objects = objects_in(microservices)
    monitor = objects[f"{NAMESPACE}/podmonitor-pyroscope.yaml"]
    assert crd_errors(monitor) == []
    selector = monitor["spec"]["selector"]["matchLabels"]
    [endpoint] = monitor["spec"]["podMetricsEndpoints"]
    scraped: list[str] = []
    skipped: list[str] = []
    for name, obj in objects.items():
        if obj["kind"] not in ("Deployment", "StatefulSet"):
            continue
        template = obj["spec"]["template"]
        selected = selector.items() <= template["metadata"]["labels"].items()
        (scraped if selected else skipped).append(name)
        if selected:
            ports = [p["name"] for c in template["spec"]["containers"] for p in c.get("ports", [])]
            assert endpoint["port"] in ports, name
    assert f"{NAMESPACE}/statefulset-pyroscope-metastore.yaml" in scraped
    assert f"{NAMESPACE}/deployment-pyroscope-distributor.yaml" in scraped
    assert f"{NAMESPACE}/deployment-pyroscope-gateway.yaml" in skipped


def test_a_secret_in_the_values_stays_redacted_in_the_chart_objects(chart: Path) -> None:
    """Values reach Helm as the review shows them: a secret inside is the marker, never the value."""
    config = load_config(
        {"server": {"backend": "kubernetes", "kubernetes": {"mode": "microservices", "helm": REGIONAL}}}, "t"
    )
    values = helm_values(config.server, "bucket", region="eu-west-1")
    values["pyroscope"]["structuredConfig"]["storage"]["s3"]["secret_access_key"] = rpc.wrap_rpc_secret(
        "s3cr3t-value"
    )
    record = RecordedResource(
        type=CHART_TYPE,
        name="pyroscope-chart",
        urn="urn:pulumi:t::p::kubernetes:helm.sh/v4:Chart::pyroscope-chart",
        parent_urn="",
        custom=False,
        remote=True,
        options={"protect": False},
        dependency_urns=[],
        inputs={
            "chart": CHART_NAME,
            "version": CHART_VERSION,
            "name": "pyroscope",
            "namespace": NAMESPACE,
            "values": values,
        },
    )
    expansion = expand(record, [], chart)
    text = json.dumps([child.inputs for child in expansion.children])
    assert "s3cr3t-value" not in text
    [config_map] = [c for c in expansion.children if c.name == "pyroscope-chart:pyroscope/pyroscope-config"]
    assert "secret_access_key: '[secret]'" in config_map.inputs["data"]["config.yaml"]


def test_config_changes_never_touch_the_chart_volume_claims(chart: Path, tmp_path: Path) -> None:
    """volumeClaimTemplates are immutable: a retention or version change that altered them would
    make the StatefulSet update fail (or force a replacement) instead of rolling the pods."""

    def claims(out: Path, *sets: str) -> dict[str, Any]:
        render(PROJECT_DIR, "staging", out, [*MICROSERVICES, *sets], chart=chart)
        objects = objects_in(out)
        return {
            name: obj["spec"]["volumeClaimTemplates"]
            for name, obj in objects.items()
            if obj["kind"] == "StatefulSet" and obj["spec"].get("volumeClaimTemplates")
        }

    base = claims(tmp_path / "base")
    assert set(base) == {
        f"{NAMESPACE}/statefulset-pyroscope-metastore.yaml",
        f"{NAMESPACE}/statefulset-pyroscope-segment-writer.yaml",
    }
    assert claims(tmp_path / "changed", "server.retention=60d", "server.version=2.2.0") == base
