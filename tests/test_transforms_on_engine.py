"""The stack transforms fed exactly what the engine delivers.

Each props dict goes the way of a real registration: the SDK serializes it (``rpc.serialize_properties``,
as ``register_resource`` does for a custom resource), the engine hands the struct to the transform
callback, and the SDK's own callback (``_CallbackServicer.register_transform``) deserializes it for
the transform and serializes what the transform returns. So a secret env value arrives as a secret
wrapper around the whole ``spec``, and preview unknowns as ``Unknown`` objects - never an Output.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest
from pulumi.output import Unknown
from pulumi.runtime import rpc
from pulumi.runtime._callbacks import _CallbackServicer
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.sync_await import _sync_await
from pyroscope_bundle.endpoints import Endpoint
from pyroscope_bundle.render.mocks import BundleMocks, call_transform
from pyroscope_bundle.render.runner import run_program
from pyroscope_bundle.testing import rollout_hash
from pyroscope_bundle.wiring.ecs import ecs_transform
from pyroscope_bundle.wiring.kubernetes import kubernetes_transform

TOKEN = "glc_engine_token"
DB_PASSWORD = "hunter2-db-password"
ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:pyroscope/prod/profiler-credentials-AbCdEf"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
OPT_IN = {"pyroscope-bundle/profile": "true"}


def _engine(preview: bool) -> Iterator[None]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pulumi.runtime.set_mocks(BundleMocks(), project="pyroscope", stack="test", preview=preview)
    try:
        yield
    finally:
        pending = asyncio.all_tasks(loop)
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        pulumi.runtime.reset_options()
        asyncio.set_event_loop(None)
        loop.close()


@pytest.fixture
def update() -> Iterator[None]:
    """Settings of ``pulumi up``'s update step: every value is known."""
    yield from _engine(preview=False)


@pytest.fixture
def preview() -> Iterator[None]:
    """Settings of a preview: values computed by other resources are unknown."""
    yield from _engine(preview=True)


@pytest.fixture
def warnings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: seen.append(message))
    return seen


def unknown() -> pulumi.Output[Any]:
    """An Output that is not known yet, as a preview has for another resource's output."""
    loop = asyncio.get_event_loop()
    value: asyncio.Future[Any] = loop.create_future()
    value.set_result(None)
    known: asyncio.Future[bool] = loop.create_future()
    known.set_result(False)
    return pulumi.Output(set(), value, known)


def on_engine(transform: Any, type_: str, props: dict[str, Any], name: str = "orders") -> dict[str, Any]:
    """``props`` registered, transformed by the SDK's own callback, and what the engine gets back.

    Returns the returned props as the engine unmarshals them (secrets and unknowns kept); secret
    top-level properties stay wrapped, so a test can see which are secret.
    """

    async def run() -> resource_pb2.TransformResponse:
        struct = await rpc.serialize_properties(props, {})
        servicer = _CallbackServicer(None)  # type: ignore[arg-type] # no monitor: nothing is registered
        try:
            servicer.register_transform(transform)
            request = resource_pb2.TransformRequest(type=type_, name=name, custom=True, properties=struct)
            return await call_transform(transform, request)
        finally:
            _CallbackServicer._servicers.remove(servicer)

    response = _sync_await(run())
    return rpc.deserialize_properties(response.properties, keep_unknowns=True)


def endpoint() -> Endpoint:
    return Endpoint(
        url="https://profiles-prod-001.grafana.net",
        basic_auth_user="123456",
        basic_auth_password=pulumi.Output.secret(TOKEN),
    )


def deployment(env: list[Any] | Any, labels: Any = None, image: Any = "orders:1") -> dict[str, Any]:
    return {
        "metadata": {
            "name": "orders",
            "namespace": "shop",
            "labels": OPT_IN if labels is None else labels,
            "annotations": {"pyroscope-bundle/runtime": "python"},
        },
        "spec": {
            "selector": {"matchLabels": {"app": "orders"}},
            "template": {
                "metadata": {"labels": {"app": "orders"}},
                "spec": {"containers": [{"name": "orders", "image": image, "env": env}]},
            },
        },
    }


def env_of(spec: dict[str, Any]) -> dict[str, Any]:
    (container,) = spec["template"]["spec"]["containers"]
    return {entry["name"]: entry.get("value", entry.get("valueFrom")) for entry in container["env"]}


def test_a_secret_env_value_is_wired_and_the_spec_stays_secret(update):
    props = deployment([{"name": "DB_PASSWORD", "value": pulumi.Output.secret(DB_PASSWORD)}])
    result = on_engine(kubernetes_transform(endpoint(), "production"), DEPLOYMENT, props)
    assert rpc.is_rpc_secret(result["spec"]), "the secret env value must keep the spec secret"
    env = env_of(rpc.unwrap_rpc_secret(result["spec"]))
    assert env["DB_PASSWORD"] == DB_PASSWORD
    assert env["PYROSCOPE_SERVER_ADDRESS"] == "https://profiles-prod-001.grafana.net"
    assert env["PYROSCOPE_BASIC_AUTH_PASSWORD"] == {
        "secretKeyRef": {"name": "pyroscope-profiler-credentials", "key": "password"}
    }
    template = rpc.unwrap_rpc_secret(result["spec"])["template"]
    assert template["metadata"]["annotations"]["pyroscope-bundle/credentials-hash"] == rollout_hash(TOKEN)
    assert not rpc.is_rpc_secret(result["metadata"])
    assert TOKEN not in json.dumps(result)


def test_a_plain_workload_is_wired_and_stays_plain(update):
    result = on_engine(
        kubernetes_transform(endpoint(), "production"), DEPLOYMENT, deployment([{"name": "A", "value": "1"}])
    )
    assert not rpc.is_rpc_secret(result["spec"])
    assert env_of(result["spec"])["PYROSCOPE_APPLICATION_NAME"] == "orders"


def test_a_workload_that_did_not_opt_in_passes_unchanged_without_warning(update, warnings):
    props = deployment([{"name": "DB_PASSWORD", "value": pulumi.Output.secret(DB_PASSWORD)}], labels={})
    result = on_engine(kubernetes_transform(endpoint(), "production"), DEPLOYMENT, props)
    assert env_of(rpc.unwrap_rpc_secret(result["spec"])) == {"DB_PASSWORD": DB_PASSWORD}
    assert warnings == []


def test_preview_wires_around_an_unknown_image_and_keeps_it_unknown(preview, warnings):
    props = deployment([{"name": "DB_PASSWORD", "value": pulumi.Output.secret(DB_PASSWORD)}], image=unknown())
    result = on_engine(kubernetes_transform(endpoint(), "production"), DEPLOYMENT, props)
    spec = rpc.unwrap_rpc_secret(result["spec"])
    assert rpc.is_rpc_secret(result["spec"])
    assert isinstance(spec["template"]["spec"]["containers"][0]["image"], Unknown)
    assert "PYROSCOPE_SERVER_ADDRESS" in env_of(spec)
    assert warnings == []


def test_preview_with_unknown_containers_passes_through_and_says_so(preview, warnings):
    props = deployment([])
    props["spec"]["template"]["spec"]["containers"] = unknown()
    result = on_engine(kubernetes_transform(endpoint(), "production"), DEPLOYMENT, props)
    assert isinstance(result["spec"]["template"]["spec"]["containers"], Unknown)
    (warning,) = warnings
    assert "kubernetes:apps/v1:Deployment orders" in warning
    assert "spec.template.spec.containers" in warning and "not known during the preview" in warning


def test_preview_with_an_unknown_spec_passes_through_and_says_so(preview, warnings):
    props = deployment([])
    props["spec"] = unknown()
    result = on_engine(kubernetes_transform(endpoint(), "production"), DEPLOYMENT, props)
    assert isinstance(result["spec"], Unknown)
    (warning,) = warnings
    assert "orders" in warning and "spec" in warning


def test_preview_with_an_unknown_opt_in_label_says_so(preview, warnings):
    props = deployment([], labels={"pyroscope-bundle/profile": unknown()})
    result = on_engine(kubernetes_transform(endpoint(), "production"), DEPLOYMENT, props)
    assert "PYROSCOPE_SERVER_ADDRESS" not in env_of(result["spec"])
    (warning,) = warnings
    assert "label pyroscope-bundle/profile" in warning and "orders" in warning


def test_preview_with_an_unknown_version_annotation_does_not_guess(preview, warnings):
    props = deployment([])
    props["metadata"]["annotations"]["pyroscope-bundle/version"] = unknown()
    result = on_engine(kubernetes_transform(endpoint(), "production"), DEPLOYMENT, props)
    assert "PYROSCOPE_LABELS" not in env_of(result["spec"])
    (warning,) = warnings
    assert "metadata.annotations.pyroscope-bundle/version" in warning


def test_outside_a_preview_errors_of_the_wiring_stand(update):
    props = deployment([{"name": "PYROSCOPE_SERVER_ADDRESS", "value": pulumi.Output.secret("http://x")}])
    with pytest.raises(ValueError, match="PYROSCOPE_SERVER_ADDRESS is already set"):
        on_engine(kubernetes_transform(endpoint(), "production"), DEPLOYMENT, props)


def test_a_direct_call_with_outputs_is_a_clear_error(update):
    props = deployment([])
    props["spec"] = pulumi.Output.secret(props["spec"])
    transform = kubernetes_transform(endpoint(), "production")
    args = pulumi.ResourceTransformArgs(
        custom=True, type_=DEPLOYMENT, name="orders", props=props, opts=pulumi.ResourceOptions()
    )
    with pytest.raises(TypeError, match=r"props spec are pulumi\.Output"):
        transform(args)


def task_definition(definitions: Any, tags: Any = None) -> dict[str, Any]:
    return {
        "family": "payments-api",
        "tags": {"pyroscope-bundle:runtime": "python"} if tags is None else tags,
        "containerDefinitions": definitions,
    }


def definitions_with(db_password: Any) -> pulumi.Output[str]:
    return pulumi.Output.from_input(db_password).apply(
        lambda password: json.dumps(
            [{"name": "api", "image": "api:1", "environment": [{"name": "DB_PASSWORD", "value": password}]}]
        )
    )


def test_secret_container_definitions_are_wired_and_stay_secret(update):
    props = task_definition(definitions_with(pulumi.Output.secret(DB_PASSWORD)))
    result = on_engine(ecs_transform(endpoint(), "production", ARN), TASK_DEFINITION, props)
    assert rpc.is_rpc_secret(result["containerDefinitions"])
    (container,) = json.loads(rpc.unwrap_rpc_secret(result["containerDefinitions"]))
    environment = {entry["name"]: entry["value"] for entry in container["environment"]}
    assert environment["DB_PASSWORD"] == DB_PASSWORD
    assert environment["PYROSCOPE_APPLICATION_NAME"] == "payments-api"
    assert environment["PYROSCOPE_BUNDLE_CREDENTIALS_HASH"] == rollout_hash(TOKEN)
    assert container["secrets"] == [
        {"name": "PYROSCOPE_BASIC_AUTH_PASSWORD", "valueFrom": f"{ARN}:password::"}
    ]
    assert TOKEN not in rpc.unwrap_rpc_secret(result["containerDefinitions"])


def test_plain_container_definitions_are_wired_and_stay_plain(update):
    result = on_engine(
        ecs_transform(endpoint(), "production", ARN), TASK_DEFINITION, task_definition(definitions_with("x"))
    )
    assert isinstance(result["containerDefinitions"], str)
    (container,) = json.loads(result["containerDefinitions"])
    assert container["secrets"][0]["name"] == "PYROSCOPE_BASIC_AUTH_PASSWORD"


def test_preview_with_unknown_definitions_passes_through_and_says_so(preview, warnings):
    result = on_engine(
        ecs_transform(endpoint(), "production", ARN), TASK_DEFINITION, task_definition(unknown())
    )
    assert isinstance(result["containerDefinitions"], Unknown)
    (warning,) = warnings
    assert "task definition orders" in warning and "containerDefinitions" in warning


def test_preview_with_unknown_secret_definitions_passes_through_and_stays_secret(preview, warnings):
    result = on_engine(
        ecs_transform(endpoint(), "production", ARN),
        TASK_DEFINITION,
        task_definition(pulumi.Output.secret(unknown())),
    )
    assert rpc.is_rpc_secret(result["containerDefinitions"])
    assert isinstance(rpc.unwrap_rpc_secret(result["containerDefinitions"]), Unknown)
    assert len(warnings) == 1


def test_preview_with_an_unknown_runtime_tag_says_so(preview, warnings):
    props = task_definition(definitions_with("x"), tags={"pyroscope-bundle:runtime": unknown()})
    result = on_engine(ecs_transform(endpoint(), "production", ARN), TASK_DEFINITION, props)
    assert "PYROSCOPE" not in result["containerDefinitions"]
    (warning,) = warnings
    assert "tag pyroscope-bundle:runtime" in warning


def test_an_untagged_task_definition_with_an_unknown_tag_passes_silently(preview, warnings):
    props = task_definition(definitions_with("x"), tags={"team": unknown()})
    result = on_engine(ecs_transform(endpoint(), "production", ARN), TASK_DEFINITION, props)
    assert "PYROSCOPE" not in result["containerDefinitions"]
    assert warnings == []


def _program_with_the_bundle_transform() -> None:
    import pulumi_kubernetes as k8s

    pulumi.runtime.register_resource_transform(kubernetes_transform(endpoint(), "production"))
    db_password = pulumi.Config("pyroscope").require_secret("authToken")
    props = deployment([{"name": "DB_PASSWORD", "value": db_password}])
    k8s.apps.v1.Deployment("orders", metadata=props["metadata"], spec=props["spec"])


def test_the_render_hands_a_registered_transform_what_the_engine_does(tmp_path):
    """The program's own transform, a secret env value in the spec: the render shows it wired.

    As on the engine, the transform only learns that ``spec`` holds a secret (the SDK hoists it),
    so the wired spec is secret as a whole - the render records exactly that.
    """
    run = run_program(
        _program_with_the_bundle_transform,
        stack="t",
        config={"pyroscope:authToken": DB_PASSWORD},
        secret_keys=["pyroscope:authToken"],
    )
    (record,) = [r for r in run.recording.resources if r.type == DEPLOYMENT]
    assert rpc.is_rpc_secret(record.inputs["spec"]), "the secret stays a secret in the render"
    (container,) = rpc.unwrap_rpc_secret(record.inputs["spec"])["template"]["spec"]["containers"]
    env = {entry["name"]: entry for entry in container["env"]}
    assert env["DB_PASSWORD"]["value"] == DB_PASSWORD
    assert env["PYROSCOPE_SERVER_ADDRESS"] == {
        "name": "PYROSCOPE_SERVER_ADDRESS",
        "value": "https://profiles-prod-001.grafana.net",
    }
    assert "valueFrom" in env["PYROSCOPE_BASIC_AUTH_PASSWORD"]
