"""Profiling data is user data: upgrades, config, resource and retention changes never replace or
delete the data volume / PVC; production protects what holds data; a destroyed local stack
keeps its volume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pyroscope_bundle.render.command import render

from tests.harness import PROJECT_DIR

VOLUME = "docker:index/volume:Volume"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
NAMESPACE = "kubernetes:core/v1:Namespace"
# Inputs of a StatefulSet that Kubernetes cannot change in place (a change means delete+create,
# and with it a new PVC name if the template changes) plus the PVC template itself.
STATEFUL_SET_IDENTITY = (
    ("metadata", "name"),
    ("metadata", "namespace"),
    ("spec", "serviceName"),
    ("spec", "selector"),
    ("spec", "volumeClaimTemplates"),
    ("spec", "persistentVolumeClaimRetentionPolicy"),
)

CHANGES = {
    "version-bump": ["server.version=2.2.0"],
    "config-change": ["server.multitenancy=true", "server.tenants=[team-a]", "target.tenantId=team-a"],
    "resource-limits": ["server.resources.limits.memory=6Gi", "server.resources.limits.cpu=3"],
    "retention": ["server.retention=60d"],
}


def resources(out: Path) -> list[dict[str, Any]]:
    return json.loads((out / "resources.json").read_text())["resources"]


def of_type(out: Path, token: str) -> list[dict[str, Any]]:
    return [entry for entry in resources(out) if entry["type"] == token]


def dig(value: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        value = (value or {}).get(part)
    return value


@pytest.fixture(scope="module")
def base_renders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("base")
    outs = {}
    for stack in ("local", "staging"):
        render(PROJECT_DIR, stack, base / stack)
        outs[stack] = base / stack
    return outs


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_docker_data_volume_is_untouched_by(change, base_renders, tmp_path):
    head = tmp_path / "head"
    render(PROJECT_DIR, "local", head, sets=CHANGES[change])
    before, after = of_type(base_renders["local"], VOLUME), of_type(head, VOLUME)
    assert before, "the local stack has a data volume"
    assert after == before, "the volume's inputs and options must not change (no replacement)"


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_kubernetes_pvc_template_is_untouched_by(change, base_renders, tmp_path):
    head = tmp_path / "head"
    render(PROJECT_DIR, "staging", head, sets=CHANGES[change])
    (before,) = of_type(base_renders["staging"], STATEFUL_SET)
    (after,) = of_type(head, STATEFUL_SET)
    assert after["name"] == before["name"]
    for path in STATEFUL_SET_IDENTITY:
        assert dig(after["inputs"], path) == dig(before["inputs"], path), path
    assert after["options"]["retainOnDelete"] is True


def test_a_change_that_matters_does_change_the_workload(base_renders, tmp_path):
    """Guards the tests above: they compare real renders that do differ."""
    head = tmp_path / "head"
    render(PROJECT_DIR, "staging", head, sets=CHANGES["retention"])
    (before,) = of_type(base_renders["staging"], STATEFUL_SET)
    (after,) = of_type(head, STATEFUL_SET)
    assert after["inputs"] != before["inputs"], "a retention change rolls the pod (config checksum)"


def test_local_data_volumes_survive_destroy(rendered):
    volumes = of_type(rendered["local"], VOLUME)
    assert {v["inputs"]["name"] for v in volumes} >= {"pyroscope-data", "grafana-data"}
    assert all(volume["options"]["retainOnDelete"] for volume in volumes)
    # Docker cannot relabel a volume: a label change must never turn into a replacement.
    assert all(volume["options"]["ignoreChanges"] == ["labels"] for volume in volumes)


def test_pvcs_are_retained_when_the_statefulset_is_deleted_or_scaled(rendered):
    for stack in ("staging", "production"):
        (workload,) = of_type(rendered[stack], STATEFUL_SET)
        policy = workload["inputs"]["spec"]["persistentVolumeClaimRetentionPolicy"]
        assert policy == {"whenDeleted": "Retain", "whenScaled": "Retain"}


def test_production_protects_data_holding_resources(rendered):
    holders = of_type(rendered["production"], STATEFUL_SET) + of_type(rendered["production"], NAMESPACE)
    pyroscope_namespaces = [
        h for h in holders if h["type"] != NAMESPACE or h["inputs"]["metadata"]["name"] == "pyroscope"
    ]
    assert pyroscope_namespaces
    assert all(entry["options"]["protect"] for entry in pyroscope_namespaces)


def test_staging_does_not_protect_so_it_can_be_torn_down(rendered):
    (workload,) = of_type(rendered["staging"], STATEFUL_SET)
    assert workload["options"]["protect"] is False
