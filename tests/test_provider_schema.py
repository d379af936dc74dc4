"""Every registered resource of every stack and mode against its provider's input schema.

The schema is rebuilt from the installed provider SDKs (pulumi_kubernetes, pulumi_aws,
pulumi_docker, pulumi_random, pulumiverse_grafana: ``render/provider_schema.py``) and checks the
wire inputs each registration sent: names, nesting, types, required inputs, literals and enums.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi.runtime import rpc
from pyroscope_bundle.render import provider_schema as schema
from pyroscope_bundle.render.command import load_stack_config, run_stack
from pyroscope_bundle.render.mocks import RecordedResource

from tests.harness import PROJECT_DIR
from tests.test_chart_render import chart_archive


def first_service(stack: str, platform: str) -> int:
    """Index of the stack file's first service on ``platform`` (for ``--set services[i]...``)."""
    config = yaml.safe_load((PROJECT_DIR / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    services = config["pyroscope:services"]
    return next(i for i, service in enumerate(services) if service["platform"] == platform)


# Each stack as shipped, and each mode a stack file can switch on.
MODES: dict[str, tuple[str, list[str]]] = {
    "local": ("local", []),
    "local-gateway": ("local", ["server.gateway.enabled=true"]),
    "local-grafana-api": ("local", ["grafana.mode=api", "grafana.api.url=https://grafana.example.com"]),
    "local-multitenant-tempo": (
        "local",
        [
            "server.gateway.enabled=true",
            "server.multitenancy=true",
            "server.tenants=[team-a,team-b]",
            "grafana.tempo.url=http://tempo:3200",
        ],
    ),
    "local-v1": ("local", ["server.version=1.21.1"]),
    "staging": ("staging", []),
    "staging-microservices": ("staging", ["server.kubernetes.mode=microservices"]),
    "staging-grafana-api": ("staging", ["grafana.mode=api", "grafana.api.url=https://grafana.example.com"]),
    "staging-existing-secrets-ecs-role": (
        "staging",
        [
            "target.existingSecrets.kmsKeyArn=arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            f"services[{first_service('staging', 'kubernetes')}].kubernetes.networkPolicy=true",
            f"services[{first_service('staging', 'ecs')}].ecs.executionRoleName=payments-exec",
        ],
    ),
    "production": ("production", []),
    "production-microservices-irsa": (
        "production",
        [
            "server.kubernetes.mode=microservices",
            "server.kubernetes.helm.objectStorage.irsaRoleArn=arn:aws:iam::123456789012:role/pyroscope",
        ],
    ),
}


@cache
def chart() -> Path | None:
    """The pinned chart, so that microservices modes check the chart's objects too."""
    try:
        return chart_archive()
    except pytest.skip.Exception:
        return None


@cache
def registered(mode: str) -> tuple[RecordedResource, ...]:
    stack, sets = MODES[mode]
    config = load_stack_config(PROJECT_DIR, stack, sets, [])
    run, _ = run_stack(PROJECT_DIR, stack, config, chart=chart())
    return tuple(run.recording.resources)


@pytest.mark.parametrize("mode", sorted(MODES))
def test_every_resource_matches_its_provider_schema(mode):
    records = registered(mode)
    # A resource of a provider the checker does not know would pass unchecked: none may exist.
    unchecked = sorted({r.type for r in records if (r.custom or r.remote) and not schema.checks_type(r.type)})
    assert unchecked == []
    checked = [r for r in records if schema.checks_type(r.type)]
    assert checked, f"{mode} registers no provider resource"
    problems = [f"{r.type} {r.name}: {p}" for r in checked for p in schema.check_inputs(r.type, r.inputs)]
    assert problems == []


def one(mode: str, token: str) -> dict[str, Any]:
    (record,) = [r for r in registered(mode) if r.type == token][:1]
    return copy.deepcopy(record.inputs)


def test_modes_cover_every_provider_and_the_ecs_and_chart_resources():
    tokens = {r.type for mode in MODES for r in registered(mode)}
    packages = {t.split(":")[2] if t.startswith("pulumi:providers:") else t.split(":")[0] for t in tokens}
    assert set(schema.PROVIDER_SDKS) <= packages
    assert {
        "aws:ecs/taskDefinition:TaskDefinition",
        "kubernetes:helm.sh/v4:Chart",
        "kubernetes:apps/v1:DeploymentPatch",
        "grafana:oss/dataSource:DataSource",
        "pulumi:providers:grafana",
    } <= tokens


def test_the_charts_objects_are_checked_too():
    if chart() is None:
        pytest.skip("no pyroscope chart archive in Helm's cache nor in ../shared/charts")
    workloads = [
        r.name
        for r in registered("staging-microservices")
        if r.type in ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet")
    ]
    # The chart's components (distributor, metastore, ...), expanded by the render.
    assert len(workloads) >= 8, workloads


# --- the check can fail ----------------------------------------------------------------------

CONTAINER = "docker:index/container:Container"
STATEFULSET = "kubernetes:apps/v1:StatefulSet"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"


def test_a_misspelt_nested_docker_input_is_named_with_the_right_one():
    inputs = one("local", CONTAINER)
    inputs["healthcheck"]["test"] = inputs["healthcheck"].pop("tests")
    assert schema.check_inputs(CONTAINER, inputs) == [
        "healthcheck.test: not an input of ContainerHealthcheckArgs; did you mean tests?"
    ]


def test_a_wrong_type_is_named_with_its_path():
    inputs = one("local", CONTAINER)
    inputs["ports"][0]["internal"] = "4040"
    inputs["capabilities"]["drops"] = "ALL"
    assert schema.check_inputs(CONTAINER, inputs) == sorted(
        [
            "ports[0].internal: '4040' is not an integer",
            "capabilities.drops: 'ALL' is not a list",
        ]
    )


def test_kubernetes_camel_case_wire_names_literals_and_types_are_checked():
    inputs = one("staging", STATEFULSET)
    container = inputs["spec"]["template"]["spec"]["containers"][0]
    container["volumeMount"] = container.pop("volumeMounts")
    container["imagePullPolicy"] = 3
    inputs["apiVersion"] = "apps/v1beta1"
    assert schema.check_inputs(STATEFULSET, inputs) == sorted(
        [
            "apiVersion: 'apps/v1beta1' is not one of 'apps/v1'",
            "spec.template.spec.containers[0].imagePullPolicy: 3 is not a string",
            "spec.template.spec.containers[0].volumeMount: not an input of ContainerArgs; "
            "did you mean volumeMounts?",
        ]
    )


def test_a_snake_case_name_and_a_missing_required_input_are_refused():
    inputs = one("staging", TASK_DEFINITION)
    inputs["container_definitions"] = inputs.pop("containerDefinitions")
    del inputs["family"]
    assert schema.check_inputs(TASK_DEFINITION, inputs) == sorted(
        [
            "container_definitions: not an input of TaskDefinitionArgs; did you mean containerDefinitions?",
            "containerDefinitions: required by TaskDefinitionArgs but missing",
            "family: required by TaskDefinitionArgs but missing",
        ]
    )


def test_kubernetes_quantities_take_numbers_as_the_api_does_but_nothing_else():
    inputs = one("staging", STATEFULSET)
    resources = inputs["spec"]["template"]["spec"]["containers"][0]["resources"]
    resources["requests"]["cpu"] = 0.1
    assert schema.check_inputs(STATEFULSET, inputs) == []
    resources["requests"]["cpu"] = True
    resources["limits"]["memory"] = ["4Gi"]
    inputs["spec"]["serviceName"] = 1.0
    assert schema.check_inputs(STATEFULSET, inputs) == [
        "spec.serviceName: 1.0 is not a string",
        "spec.template.spec.containers[0].resources.limits.memory: ['4Gi'] is not a quantity",
        "spec.template.spec.containers[0].resources.requests.cpu: True is not a quantity",
    ]


def test_a_required_nested_input_is_refused():
    inputs = one("staging", STATEFULSET)
    del inputs["spec"]["template"]["spec"]["containers"][0]["name"]
    assert schema.check_inputs(STATEFULSET, inputs) == [
        "spec.template.spec.containers[0].name: required by ContainerArgs but missing"
    ]


def test_a_secret_of_the_wrong_type_is_reported_without_its_value():
    inputs = one("staging", "kubernetes:core/v1:Secret")
    inputs["stringData"] = {"password": rpc.wrap_rpc_secret(12345.0)}
    (problem,) = schema.check_inputs("kubernetes:core/v1:Secret", inputs)
    assert problem == "stringData.password: [secret] is not a string"


def test_a_custom_resource_of_a_crd_gets_its_metadata_and_token_checked():
    token = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
    inputs: dict[str, Any] = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {"name": "pyroscope", "namespace": "pyroscope", "labels": {"a": "b"}},
        "spec": {"podMetricsEndpoints": [{"port": "http"}]},
    }
    assert schema.check_inputs(token, inputs) == []
    inputs["kind"] = "ServiceMonitor"
    inputs["metadata"]["namespce"] = inputs["metadata"].pop("namespace")
    assert schema.check_inputs(token, inputs) == [
        "kind: 'ServiceMonitor' is not 'PodMonitor' (the type token's)",
        "metadata.namespce: not an input of ObjectMetaArgs; did you mean namespace?",
    ]


def test_unknown_types_are_gaps_not_passes():
    assert not schema.checks_type("pyroscope-bundle:server:KubernetesPyroscope")
    assert not schema.checks_type("tls:index/privateKey:PrivateKey")
    with pytest.raises(schema.SchemaError, match="registers no such resource"):
        schema.check_inputs("docker:index/contaner:Contaner", {})


def test_checking_aws_resources_imports_only_their_submodules():
    """``import pulumi_aws`` is lazy; the check must not pull in every service module."""
    code = """
import json, sys, types
from pyroscope_bundle.render import provider_schema as schema
schema.check_inputs("aws:ecs/taskDefinition:TaskDefinition", {"family": "f", "containerDefinitions": "[]"})
schema.check_inputs("aws:iam/role:Role", {"assumeRolePolicy": "{}"})
# pulumi_aws puts a lazy stand-in for every service module in sys.modules; a loaded one is a plain module.
print(json.dumps(sorted(
    name for name, module in list(sys.modules.items())
    if name.startswith("pulumi_aws.") and name.count(".") == 1 and type(module) is types.ModuleType
)))
"""
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(PROJECT_DIR / "components"), "PATH": "/usr/bin:/bin"},
    )
    loaded = set(json.loads(result.stdout))
    assert {"pulumi_aws.ecs", "pulumi_aws.iam"} <= loaded
    services = {name for name in loaded if not name.startswith(("pulumi_aws._", "pulumi_aws.get_"))}
    assert "pulumi_aws.ec2" not in services and len(services) < 10, services
