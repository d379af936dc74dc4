"""The env contract per runtime, and the pure wiring functions (no Pulumi engine involved)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pyroscope_bundle.config import ConfigError, load_config
from pyroscope_bundle.endpoints import Endpoint
from pyroscope_bundle.wiring.ecs import EcsProfilerEnv, ecs_env, secret_value_from, wire_container_definitions
from pyroscope_bundle.wiring.ecs import EnvConflictError as EcsEnvConflictError
from pyroscope_bundle.wiring.env import profiler_env
from pyroscope_bundle.wiring.kubernetes import (
    EnvConflictError,
    SecretKeyRef,
    container_env,
    deployment_patch_spec,
    egress_policy_spec,
    wire_workload_spec,
)
from pyroscope_bundle.wiring.settings import ProfilerSettings, build_settings, credentials_hash_of
from pyroscope_bundle_runtime import contract

from tests.harness import PROJECT_DIR

GRAFANA_CLOUD = Endpoint(url="https://profiles-prod-001.grafana.net", basic_auth_user="123456")
ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:pyroscope/prod/profiler-credentials-AbCdEf"


def settings_for(runtime: str, **overrides: Any) -> ProfilerSettings:
    arguments: dict[str, Any] = {
        "service": "orders",
        "runtime": runtime,
        "environment": "production",
        "endpoint": GRAFANA_CLOUD,
        "version": "1.2.3",
        "tags": {"team": "payments"},
    }
    arguments.update(overrides)
    return build_settings(**arguments)


def plain_env(settings: ProfilerSettings, password: bool = True) -> dict[str, Any]:
    return {
        v.name: ("<secret>" if v.from_secret else v.value)
        for v in profiler_env(settings, password_from_secret=password)
    }


COMMON = {
    "PYROSCOPE_APPLICATION_NAME": "orders",
    "PYROSCOPE_SERVER_ADDRESS": "https://profiles-prod-001.grafana.net",
    "PYROSCOPE_BASIC_AUTH_USER": "123456",
    "PYROSCOPE_BASIC_AUTH_PASSWORD": "<secret>",
    "PYROSCOPE_LABELS": "environment=production,service=orders,team=payments,version=1.2.3",
}
APP_READ = {
    "PYROSCOPE_PROFILING_ENABLED": "true",
    "PYROSCOPE_SAMPLE_RATE": "100",
    "PYROSCOPE_PROFILE_TYPES": "cpu",
}

EXPECTED = {
    "java": {
        **COMMON,
        "PYROSCOPE_AGENT_ENABLED": "true",
        "PYROSCOPE_PROFILING_INTERVAL": "10ms",
        "PYROSCOPE_PROFILER_EVENT": "itimer",
        "JAVA_TOOL_OPTIONS": "-javaagent:/opt/pyroscope/pyroscope.jar",
    },
    "dotnet": {
        **COMMON,
        "PYROSCOPE_PROFILING_ENABLED": "true",
        "CORECLR_ENABLE_PROFILING": "1",
        "CORECLR_PROFILER": "{BD1A650D-AC5D-4896-B64F-D6FA25D6B26A}",
        "CORECLR_PROFILER_PATH": "/dotnet/Pyroscope.Profiler.Native.so",
        "LD_PRELOAD": "/dotnet/Pyroscope.Linux.ApiWrapper.x64.so",
        "LD_LIBRARY_PATH": "/dotnet",
        "PYROSCOPE_PROFILING_CPU_ENABLED": "true",
        "PYROSCOPE_PROFILING_WALLTIME_ENABLED": "false",
        "PYROSCOPE_PROFILING_ALLOCATION_ENABLED": "false",
        "PYROSCOPE_PROFILING_LOCK_ENABLED": "false",
        "PYROSCOPE_PROFILING_EXCEPTION_ENABLED": "false",
        "PYROSCOPE_PROFILING_HEAP_ENABLED": "false",
    },
    "nodejs": {**COMMON, **APP_READ, "PYROSCOPE_WALL_SAMPLING_INTERVAL_MICROS": "10000"},
    "python": {**COMMON, **APP_READ},
    # pyroscope-go samples at a fixed 100 Hz: no rate variable.
    "go": {**COMMON, **{k: v for k, v in APP_READ.items() if k != "PYROSCOPE_SAMPLE_RATE"}},
    "ruby": {**COMMON, **APP_READ},
}


@pytest.mark.parametrize("runtime", sorted(EXPECTED))
def test_each_runtime_gets_exactly_its_variables_sorted_by_name(runtime):
    variables = profiler_env(settings_for(runtime), password_from_secret=True)
    assert [v.name for v in variables] == sorted(EXPECTED[runtime])
    assert plain_env(settings_for(runtime)) == EXPECTED[runtime]
    assert "PYROSCOPE_AUTH_TOKEN" not in plain_env(settings_for(runtime))


def test_the_password_is_only_ever_a_secret_reference():
    variables = profiler_env(settings_for("java"), password_from_secret=True)
    password = [v for v in variables if v.name == "PYROSCOPE_BASIC_AUTH_PASSWORD"]
    assert len(password) == 1 and password[0].from_secret and password[0].value is None
    assert "PYROSCOPE_BASIC_AUTH_PASSWORD" not in plain_env(settings_for("java"), password=False)


def test_profile_types_map_to_each_sdk_switch():
    java = plain_env(settings_for("java", profile_types=["wall", "alloc", "lock"], sample_rate=250))
    assert java["PYROSCOPE_PROFILER_EVENT"] == "wall"
    assert java["PYROSCOPE_PROFILER_ALLOC"] == "512k"
    assert java["PYROSCOPE_PROFILER_LOCK"] == "10ms"
    assert java["PYROSCOPE_PROFILING_INTERVAL"] == "4ms"
    assert contract.java_interval(300) == "3333us"
    dotnet = plain_env(settings_for("dotnet", profile_types=["cpu", "alloc", "exceptions"]))
    assert dotnet["PYROSCOPE_PROFILING_ALLOCATION_ENABLED"] == "true"
    assert dotnet["PYROSCOPE_PROFILING_EXCEPTION_ENABLED"] == "true"
    assert dotnet["PYROSCOPE_PROFILING_LOCK_ENABLED"] == "false"
    go = plain_env(settings_for("go", profile_types=["mutex", "cpu", "heap"]))
    assert go["PYROSCOPE_PROFILE_TYPES"] == "cpu,heap,mutex"


def test_tenant_and_user_only_when_the_target_has_them():
    bare = settings_for("python", endpoint=Endpoint(url="http://pyroscope.pyroscope:4040"))
    env = plain_env(bare, password=False)
    assert "PYROSCOPE_BASIC_AUTH_USER" not in env and "PYROSCOPE_TENANT_ID" not in env
    tenant = settings_for("python", endpoint=Endpoint(url="http://p:4040", tenant_id="team-a"))
    assert plain_env(tenant, password=False)["PYROSCOPE_TENANT_ID"] == "team-a"


def test_settings_refuse_what_no_sdk_could_parse():
    with pytest.raises(ValueError, match="python SDK cannot collect"):
        settings_for("python", profile_types=["alloc"])
    with pytest.raises(ValueError, match="one of them at a time"):
        settings_for("java", profile_types=["cpu", "wall"])
    with pytest.raises(ValueError, match="tag values must not contain"):
        settings_for("go", tags={"team": "a,b"})
    with pytest.raises(ValueError, match="set by the bundle"):
        settings_for("go", tags={"environment": "x"})


def test_labels_round_trip_through_the_contract():
    tags = {"b": "2", "a": "1.0"}
    assert contract.format_labels(tags) == "a=1.0,b=2"
    assert contract.parse_labels("a=1.0,b=2") == tags
    with pytest.raises(ValueError):
        contract.parse_labels("a")


def test_credentials_hash_is_16_hex_digits_that_change_with_the_token():
    digest = credentials_hash_of("glc_token", "stack-key")
    assert len(digest) == 16 and int(digest, 16) >= 0
    assert digest != credentials_hash_of("glc_token2", "stack-key")
    assert "glc" not in digest


# --- Kubernetes pure helpers --------------------------------------------------------------------


def user_deployment_spec() -> dict:
    return {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "orders"}},
        "template": {
            "metadata": {"labels": {"app": "orders"}},
            "spec": {
                "containers": [
                    {"name": "orders", "image": "orders:1", "env": [{"name": "LOG_LEVEL", "value": "info"}]},
                    {"name": "sidecar", "image": "envoy:1"},
                ]
            },
        },
    }


def test_wire_workload_spec_adds_env_secret_ref_labels_and_keeps_the_rest():
    spec = user_deployment_spec()
    wired = wire_workload_spec(spec, settings_for("java"), SecretKeyRef(), "abcd", containers=["orders"])
    assert spec == user_deployment_spec()  # input untouched
    container = wired["template"]["spec"]["containers"][0]
    assert container["image"] == "orders:1"
    assert container["env"][0] == {"name": "LOG_LEVEL", "value": "info"}
    by_name = {e["name"]: e for e in container["env"]}
    assert by_name["PYROSCOPE_BASIC_AUTH_PASSWORD"] == {
        "name": "PYROSCOPE_BASIC_AUTH_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "pyroscope-profiler-credentials", "key": "password"}},
    }
    assert [e["name"] for e in container["env"][1:]] == sorted(EXPECTED["java"])
    assert "env" not in wired["template"]["spec"]["containers"][1]
    metadata = wired["template"]["metadata"]
    assert metadata["labels"] == {
        "app": "orders",
        "pyroscope-bundle/profiled": "true",
        "pyroscope-bundle/runtime": "java",
        "pyroscope-bundle/service": "orders",
    }
    assert metadata["annotations"]["pyroscope-bundle/credentials-hash"] == "abcd"
    assert wired["selector"] == spec["selector"]
    # Wiring twice is idempotent: the entries are identical, not conflicts.
    assert (
        wire_workload_spec(wired, settings_for("java"), SecretKeyRef(), "abcd", containers=["orders"])
        == wired
    )


def test_wire_workload_spec_refuses_conflicts_unless_overwrite():
    spec = user_deployment_spec()
    spec["template"]["spec"]["containers"][0]["env"].append(
        {"name": "PYROSCOPE_AUTH_TOKEN", "value": "legacy"}
    )
    with pytest.raises(EnvConflictError, match="PYROSCOPE_AUTH_TOKEN"):
        wire_workload_spec(spec, settings_for("java"))
    wired = wire_workload_spec(spec, settings_for("java"), overwrite=True)
    names = [e["name"] for e in wired["template"]["spec"]["containers"][0]["env"]]
    assert "PYROSCOPE_AUTH_TOKEN" not in names
    with pytest.raises(ValueError, match="no container named web"):
        wire_workload_spec(spec, settings_for("java"), containers=["web"])


def test_deployment_patch_names_containers_and_sets_only_profiler_fields():
    patch = deployment_patch_spec(settings_for("python"), SecretKeyRef("existing", "token"), None, ["api"])
    template = patch["template"]
    assert set(template) == {"metadata", "spec"}
    assert "pyroscope-bundle/credentials-hash" not in template["metadata"]["annotations"]
    (container,) = template["spec"]["containers"]
    assert set(container) == {"name", "env"} and container["name"] == "api"
    assert {
        "name": "PYROSCOPE_BASIC_AUTH_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "existing", "key": "token"}},
    } in container["env"]
    assert container_env(settings_for("python"), None)[0]["name"] == "PYROSCOPE_APPLICATION_NAME"


def test_egress_policy_targets_the_server_namespace_or_the_url_port():
    own = egress_policy_spec("orders", "http://pyroscope.pyroscope.svc:4040", "pyroscope")
    assert own["egress"][1] == {
        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "pyroscope"}}}]
    }
    external = egress_policy_spec("orders", "https://profiles-prod-001.grafana.net", None)
    assert external["egress"][1]["ports"] == [{"protocol": "TCP", "port": 443}]
    assert external["podSelector"]["matchLabels"]["pyroscope-bundle/service"] == "orders"
    assert {"protocol": "UDP", "port": 53} in external["egress"][0]["ports"]


# --- ECS pure helpers ---------------------------------------------------------------------------


def python_ecs_env(**overrides: Any) -> EcsProfilerEnv:
    arguments: dict[str, Any] = {
        "server_address": "https://profiles-prod-001.grafana.net",
        "basic_auth_user": "123456",
        "secret_value_from": secret_value_from(ARN),
        "credentials_hash": "0123456789abcdef",
    }
    arguments.update(overrides)
    return ecs_env(settings_for("python"), **arguments)


def definitions() -> list[dict]:
    return json.loads((PROJECT_DIR / "configs/ecs/payments-api.json").read_text())


def test_ecs_wiring_puts_plain_values_in_environment_and_the_token_in_secrets():
    wired = wire_container_definitions(definitions(), python_ecs_env())
    (container,) = wired
    environment = {e["name"]: e["value"] for e in container["environment"]}
    assert environment == {
        "LOG_LEVEL": "info",
        **{k: v for k, v in EXPECTED["python"].items() if k != "PYROSCOPE_BASIC_AUTH_PASSWORD"},
        "PYROSCOPE_BUNDLE_CREDENTIALS_HASH": "0123456789abcdef",
    }
    assert [e["name"] for e in container["environment"]] == sorted(environment)
    assert container["secrets"] == [
        {"name": "PYROSCOPE_BASIC_AUTH_PASSWORD", "valueFrom": f"{ARN}:password::"}
    ]
    original = definitions()[0]
    for key in (
        "image",
        "command",
        "portMappings",
        "logConfiguration",
        "readonlyRootFilesystem",
        "essential",
    ):
        assert container[key] == original[key]


def test_ecs_wiring_returns_the_form_it_was_given_and_is_deterministic():
    text = (PROJECT_DIR / "configs/ecs/payments-api.json").read_text()
    first = wire_container_definitions(text, python_ecs_env())
    assert isinstance(first, str)
    assert first == wire_container_definitions(text, python_ecs_env())
    assert json.loads(first) == wire_container_definitions(definitions(), python_ecs_env())
    # Re-wiring an already wired definition changes nothing.
    assert wire_container_definitions(first, python_ecs_env()) == first


def test_ecs_wiring_refuses_a_conflicting_user_variable_unless_told_to():
    conflicting = definitions()
    conflicting[0]["environment"].append({"name": "PYROSCOPE_SERVER_ADDRESS", "value": "http://old:4040"})
    conflicting[0]["environment"].append({"name": "PYROSCOPE_BASIC_AUTH_PASSWORD", "value": "plain-token"})
    with pytest.raises(EcsEnvConflictError, match="PYROSCOPE_SERVER_ADDRESS"):
        wire_container_definitions(conflicting, python_ecs_env())
    wired = wire_container_definitions(conflicting, python_ecs_env(), overwrite=True)
    environment = {e["name"]: e["value"] for e in wired[0]["environment"]}
    assert environment["PYROSCOPE_SERVER_ADDRESS"] == "https://profiles-prod-001.grafana.net"
    assert "PYROSCOPE_BASIC_AUTH_PASSWORD" not in environment  # the token never stays in environment
    with pytest.raises(ValueError, match="no container named worker"):
        wire_container_definitions(definitions(), python_ecs_env(), containers=["worker"])


def test_ecs_wiring_without_credentials_has_no_secrets():
    env = python_ecs_env(basic_auth_user=None, secret_value_from=None, credentials_hash=None)
    (container,) = wire_container_definitions(definitions(), env)
    assert "secrets" not in container
    names = {e["name"] for e in container["environment"]}
    assert not names & {
        "PYROSCOPE_BASIC_AUTH_USER",
        "PYROSCOPE_BASIC_AUTH_PASSWORD",
        "PYROSCOPE_BUNDLE_CREDENTIALS_HASH",
    }


# --- config checks ------------------------------------------------------------------------------


def load(services: list[dict], root: Path = PROJECT_DIR):
    raw = {
        "server": {"enabled": False},
        "grafana": {"mode": "none"},
        "target": {"kind": "external", "url": "http://pyroscope.example:4040"},
        "services": services,
    }
    return load_config(raw, "test", root)


def test_loader_names_the_key_of_a_bad_tag_profile_type_or_ecs_file(tmp_path):
    with pytest.raises(ConfigError) as error:
        load(
            [
                {"name": "a", "platform": "kubernetes", "runtime": "ruby", "profileTypes": ["alloc"],
                 "tags": {"team": "x y", "service": "z"}, "kubernetes": {"namespace": "shop"}},
            ]
        )  # fmt: skip
    text = str(error.value)
    assert "pyroscope:services[0].profileTypes" in text and "allowed for ruby: cpu" in text
    assert 'pyroscope:services[0].tags.team: "x y" contains' in text
    assert "pyroscope:services[0].tags.service" in text
    file = tmp_path / "configs/ecs/api.json"
    file.parent.mkdir(parents=True)
    file.write_text(
        json.dumps(
            [
                {
                    "name": "api",
                    "image": "x",
                    "environment": [{"name": "PYROSCOPE_SERVER_ADDRESS", "value": "x"}],
                }
            ]
        )
    )
    service: dict[str, Any] = {
        "name": "api",
        "platform": "ecs",
        "runtime": "go",
        "ecs": {"containerDefinitions": "configs/ecs/api.json"},
    }
    with pytest.raises(
        ConfigError, match=r"sets PYROSCOPE_SERVER_ADDRESS in container api .*overwriteEnvironment"
    ):
        load([service], tmp_path)
    service["ecs"]["overwriteEnvironment"] = True
    assert load([service], tmp_path).services[0].ecs.overwrite_environment
    service["ecs"]["containers"] = ["worker"]
    with pytest.raises(ConfigError, match=r"services\[0\].ecs.containers.*containers there: api"):
        load([service], tmp_path)
    file.write_text("{not json")
    with pytest.raises(ConfigError, match="is not valid JSON"):
        load([service], tmp_path)


def test_one_env_conflict_error_for_both_platforms() -> None:
    from pyroscope_bundle.wiring import ecs, env, kubernetes

    assert ecs.EnvConflictError is kubernetes.EnvConflictError is env.EnvConflictError
