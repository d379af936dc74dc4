"""The benchmark stays fair: both of its programs register the same resources (not a timing test)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from pulumi.runtime import rpc
from pyroscope_bundle.render.redact import plain

from bench.bench import ATTRIBUTION, run_bench_program
from bench.workload import AUTH_TOKEN, services

SIZE = 4  # two Kubernetes services (java, python), two ECS services (python, dotnet)


@pytest.fixture(scope="module")
def runs() -> dict[str, Any]:
    programs = ("bundle", "handwritten", ATTRIBUTION)
    return {program: run_bench_program(program, SIZE) for program in programs}


def _custom(run: Any) -> dict[tuple[str, str], Any]:
    return {(r.type, r.name): r for r in run.recording.resources if r.custom}


def test_workload_is_half_kubernetes_half_ecs_with_every_variant():
    generated = services(SIZE)
    assert [s.platform for s in generated].count("kubernetes") == 2
    assert {(s.platform, s.runtime) for s in generated} == {
        ("kubernetes", "java"),
        ("kubernetes", "python"),
        ("ecs", "python"),
        ("ecs", "dotnet"),
    }


def test_both_programs_register_the_same_multiset_of_resource_types(runs):
    bundle = Counter(r.type for r in runs["bundle"].recording.resources if r.custom)
    handwritten = Counter(r.type for r in runs["handwritten"].recording.resources)
    assert bundle == handwritten
    # Per service: a DeploymentPatch + NetworkPolicy, or a Role, two attachments and a TaskDefinition.
    assert bundle["kubernetes:apps/v1:DeploymentPatch"] == 2
    assert bundle["kubernetes:networking.k8s.io/v1:NetworkPolicy"] == 2
    assert bundle["aws:ecs/taskDefinition:TaskDefinition"] == 2
    assert bundle["aws:iam/rolePolicyAttachment:RolePolicyAttachment"] == 4


def test_the_bundle_adds_only_its_own_component_resources(runs):
    """The components are the bundle's overhead, measured by the benchmark, not cloud resources."""
    components = {r.type for r in runs["bundle"].recording.resources if not r.custom}
    assert components
    assert all(token.startswith("pyroscope-bundle:") for token in components)
    assert not any(not r.custom for r in runs["handwritten"].recording.resources)


def test_the_attribution_variant_mirrors_the_bundles_component_tree(runs):
    """``--attribute`` compares against the same registrations, components included."""

    def tree(run: Any) -> Counter[tuple[str, str, str]]:
        by_urn = {r.urn: r for r in run.recording.resources}
        return Counter(
            (r.type, r.name, by_urn[r.parent_urn].type if r.parent_urn in by_urn else "stack")
            for r in run.recording.resources
        )

    assert tree(runs[ATTRIBUTION]) == tree(runs["bundle"])


def test_both_programs_register_the_same_names_and_inputs(runs):
    """Like for like: the hand-written program is the bundle's output written out by hand."""
    bundle, handwritten = _custom(runs["bundle"]), _custom(runs["handwritten"])
    assert sorted(bundle) == sorted(handwritten)
    for key, record in bundle.items():
        ours, theirs = plain(record.inputs), plain(handwritten[key].inputs)
        if key[0] == "aws:ecs/taskDefinition:TaskDefinition":
            ours["containerDefinitions"] = json.loads(ours["containerDefinitions"])
            theirs["containerDefinitions"] = json.loads(theirs["containerDefinitions"])
        assert ours == theirs, f"{key} differs"


def test_both_programs_keep_the_token_secret(runs):
    for program, run in runs.items():
        assert run.recording.resources, program
        for record in run.recording.resources:
            if record.type == "kubernetes:core/v1:Secret":
                assert rpc.is_rpc_secret(record.inputs["stringData"]), program
            assert AUTH_TOKEN not in json.dumps(plain(record.inputs), default=str), (program, record.name)
