"""Stack transforms called directly with plain hand-built props (what they decide and refuse).

Secret and unknown values as the engine delivers them: tests/test_transforms_on_engine.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any, cast

import pulumi
import pytest
from pulumi.runtime.sync_await import _sync_await
from pyroscope_bundle.endpoints import Endpoint
from pyroscope_bundle.render.mocks import BundleMocks
from pyroscope_bundle.testing import rollout_hash
from pyroscope_bundle.wiring.ecs import ecs_transform
from pyroscope_bundle.wiring.kubernetes import SecretKeyRef, kubernetes_transform

TOKEN = "glc_transform_token"
ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:pyroscope/prod/profiler-credentials-AbCdEf"


@pytest.fixture
def engine() -> Iterator[None]:
    """An event loop and mocks, so that Outputs can be created and resolved in the test."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pulumi.runtime.set_mocks(BundleMocks(), project="pyroscope", stack="test", preview=False)
    try:
        yield
    finally:
        # Let the Outputs a test did not resolve finish, so closing the loop drops no task.
        pending = asyncio.all_tasks(loop)
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        pulumi.runtime.reset_options()
        asyncio.set_event_loop(None)
        loop.close()


def resolve(value: Any) -> Any:
    return _sync_await(pulumi.Output.from_input(value).future())


def is_secret(value: Any) -> bool:
    return bool(_sync_await(pulumi.Output.from_input(value).is_secret()))


def is_known(value: Any) -> bool:
    return bool(_sync_await(pulumi.Output.from_input(value).is_known()))


def unknown() -> pulumi.Output[Any]:
    loop = asyncio.get_event_loop()
    value: asyncio.Future[Any] = loop.create_future()
    value.set_result(None)
    known: asyncio.Future[bool] = loop.create_future()
    known.set_result(False)
    return pulumi.Output(set(), value, known)


def endpoint() -> Endpoint:
    return Endpoint(
        url="https://profiles-prod-001.grafana.net",
        basic_auth_user="123456",
        basic_auth_password=pulumi.Output.secret(TOKEN),
    )


def args(type_: str, props: dict[str, Any], name: str = "orders") -> pulumi.ResourceTransformArgs:
    return pulumi.ResourceTransformArgs(
        custom=True, type_=type_, name=name, props=props, opts=pulumi.ResourceOptions()
    )


def deployment(
    labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "orders",
            "namespace": "shop",
            "labels": labels or {},
            "annotations": annotations or {},
        },
        "spec": {
            "selector": {"matchLabels": {"app": "orders"}},
            "template": {
                "metadata": {"labels": {"app": "orders"}},
                "spec": {"containers": [{"name": "orders", "image": "orders:1"}]},
            },
        },
    }


OPT_IN = {"pyroscope-bundle/profile": "true"}


def test_kubernetes_transform_wires_opted_in_workloads(engine):
    transform = kubernetes_transform(endpoint(), "production")
    props = deployment(OPT_IN, {"pyroscope-bundle/runtime": "go", "pyroscope-bundle/version": "2.1.0"})
    result = transform(args("kubernetes:apps/v1:Deployment", props))
    assert result is not None
    spec = cast(dict[str, Any], result.props["spec"])
    (container,) = spec["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    assert env["PYROSCOPE_APPLICATION_NAME"] == "orders"
    assert env["PYROSCOPE_LABELS"] == "environment=production,service=orders,version=2.1.0"
    assert env["PYROSCOPE_PROFILE_TYPES"] == "cpu"
    assert env["PYROSCOPE_BASIC_AUTH_PASSWORD"] == {
        "secretKeyRef": {"name": "pyroscope-profiler-credentials", "key": "password"}
    }
    annotations = spec["template"]["metadata"]["annotations"]
    rollout = annotations["pyroscope-bundle/credentials-hash"]
    assert resolve(rollout) == rollout_hash(TOKEN) and not is_secret(rollout)
    assert result.props["metadata"] == props["metadata"]
    assert TOKEN not in json.dumps(spec, default=lambda _: "<output>")


@pytest.mark.parametrize("kind", ["StatefulSet", "DaemonSet"])
def test_kubernetes_transform_covers_statefulsets_and_daemonsets(engine, kind):
    transform = kubernetes_transform(endpoint(), "production", SecretKeyRef("app-secrets", "token"))
    result = transform(
        args(f"kubernetes:apps/v1:{kind}", deployment(OPT_IN, {"pyroscope-bundle/runtime": "java"}))
    )
    assert result is not None
    spec = cast(dict[str, Any], result.props["spec"])
    env = spec["template"]["spec"]["containers"][0]["env"]
    assert {
        "name": "PYROSCOPE_BASIC_AUTH_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "app-secrets", "key": "token"}},
    } in env


def test_kubernetes_transform_ignores_what_did_not_opt_in(engine):
    transform = kubernetes_transform(endpoint(), "production")
    assert transform(args("kubernetes:apps/v1:Deployment", deployment())) is None
    assert transform(args("kubernetes:core/v1:Service", {"metadata": {"labels": OPT_IN}})) is None
    with pytest.raises(ValueError, match="pyroscope-bundle/runtime"):
        transform(args("kubernetes:apps/v1:Deployment", deployment(OPT_IN)))


def task_definition(tags: dict[str, str] | None, definitions: Any = None) -> dict[str, Any]:
    return {
        "family": "payments-api",
        "tags": tags,
        "containerDefinitions": definitions
        if definitions is not None
        else json.dumps(
            [{"name": "api", "image": "api:1", "environment": [{"name": "MODE", "value": "live"}]}]
        ),
    }


def test_ecs_transform_wires_tagged_task_definitions(engine):
    transform = ecs_transform(endpoint(), "production", ARN)
    result = transform(
        args("aws:ecs/taskDefinition:TaskDefinition", task_definition({"pyroscope-bundle:runtime": "python"}))
    )
    assert result is not None
    definitions = result.props["containerDefinitions"]
    assert not is_secret(definitions)
    (container,) = json.loads(resolve(definitions))
    environment = {e["name"]: e["value"] for e in container["environment"]}
    assert environment["MODE"] == "live"
    assert environment["PYROSCOPE_APPLICATION_NAME"] == "payments-api"
    assert environment["PYROSCOPE_BASIC_AUTH_USER"] == "123456"
    assert environment["PYROSCOPE_BUNDLE_CREDENTIALS_HASH"] == rollout_hash(TOKEN)
    assert container["secrets"] == [
        {"name": "PYROSCOPE_BASIC_AUTH_PASSWORD", "valueFrom": f"{ARN}:password::"}
    ]
    assert TOKEN not in resolve(definitions)


def test_ecs_transform_ignores_untagged_and_refuses_unknown_runtime(engine):
    transform = ecs_transform(endpoint(), "production", ARN)
    assert transform(args("aws:ecs/taskDefinition:TaskDefinition", task_definition(None))) is None
    assert transform(args("aws:ecs/taskDefinition:TaskDefinition", task_definition({"team": "x"}))) is None
    assert transform(args("aws:ecs/service:Service", {"tags": {"pyroscope-bundle:runtime": "go"}})) is None
    with pytest.raises(ValueError, match="pyroscope-bundle:runtime='cobol'"):
        transform(
            args(
                "aws:ecs/taskDefinition:TaskDefinition",
                task_definition({"pyroscope-bundle:runtime": "cobol"}),
            )
        )


def test_ecs_transform_names_a_tagged_task_definition_without_containers(engine):
    transform = ecs_transform(endpoint(), "production", ARN)
    props = {"family": "payments-api", "tags": {"pyroscope-bundle:runtime": "python"}}
    with pytest.raises(ValueError, match=r"task definition .* has no containerDefinitions"):
        transform(args("aws:ecs/taskDefinition:TaskDefinition", props))
