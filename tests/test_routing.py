"""One routing rule on every backend: the same configuration gives Grafana and the wired services
the same answer on Docker, Kubernetes single binary and Kubernetes microservices (issue #14).

Every case runs the real program under mocks and reads what was rendered: the datasource
provisioning document Grafana loads (Docker upload, sidecar ConfigMap or Secret) and the env of
the patched Deployment. Expected addresses are written out literally per backend, and the gateway
ones are checked against the gateway the program really registered.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
import yaml
from pulumi.runtime import rpc
from pyroscope_bundle import names
from pyroscope_bundle.config import BundleConfig, ConfigError, load_config
from pyroscope_bundle.config.routing import config_routes, plan_routes, query_tenants
from pyroscope_bundle.grafana.docker import PROVISIONING_FILE
from pyroscope_bundle.grafana.kubernetes import DATA_KEY, OBJECT_NAME, SECRET_DATA_KEY

from tests.harness import Deployed, deploy_with

TENANTS = ["team-a", "team-b"]
EXTERNAL = {"kind": "external", "url": "https://profiles.other.example.com", "tenantId": "ext-tenant"}
CLOUD = {"kind": "grafana-cloud", "url": "https://profiles-prod-001.grafana.net", "basicAuthUser": "123456"}
SERVICE = {
    "name": "checkout",
    "platform": "kubernetes",
    "runtime": "java",
    "kubernetes": {"namespace": "shop"},
}
PATCH = "kubernetes:apps/v1:DeploymentPatch"
# The microservices' bucket region (pyroscope:server.kubernetes.helm.objectStorage.region or this).
AWS = {"aws:region": "eu-west-1"}
K8S = "pyroscope.svc.cluster.local:4040"

BACKENDS: dict[str, dict[str, Any]] = {
    "docker": {"backend": "docker"},
    "single-binary": {"backend": "kubernetes"},
    # Its bucket's region in the config too: the loader refuses microservices mode without one.
    "microservices": {
        "backend": "kubernetes",
        "kubernetes": {"mode": "microservices", "helm": {"objectStorage": {"region": "eu-west-1"}}},
    },
}
# Where Grafana queries Pyroscope itself (gateway off) and where services in its network push.
DIRECT_QUERY = {
    "docker": "http://pyroscope:4040",
    "single-binary": f"http://pyroscope.{K8S}",
    "microservices": f"http://pyroscope-query-frontend.{K8S}",
}
DIRECT_PUSH = {
    "docker": "http://127.0.0.1:4040",
    "single-binary": f"http://pyroscope.{K8S}",
    "microservices": f"http://pyroscope-distributor.{K8S}",
}
GATEWAY_QUERY = {
    "docker": "http://pyroscope-gateway:8080",
    "single-binary": f"http://pyroscope-gateway.{K8S}",
    "microservices": f"http://pyroscope-gateway.{K8S}",
}
GATEWAY_PUSH = {**GATEWAY_QUERY, "docker": "http://127.0.0.1:4040"}


def deploy(backend: str, *, gateway: bool, target: dict[str, Any] | None = None, **server: Any) -> Deployed:
    """The program's registrations for this case; the same case is run once per session."""
    return _deploy(json.dumps([backend, gateway, target, server], sort_keys=True))


@functools.cache
def _deploy(key: str) -> Deployed:
    backend, gateway, target, server = json.loads(key)
    config: dict[str, Any] = {
        "server": {**BACKENDS[backend], "gateway": {"enabled": gateway}, **server},
        # A Kubernetes Deployment cannot reach a Docker server on the host: no service there.
        "services": [] if backend == "docker" and (target or {}).get("kind", "self") == "self" else [SERVICE],
    }
    if target is not None:
        config["target"] = target
    secrets = (
        {"authToken": "t0ken-for-the-target"} if target and target.get("kind", "self") != "self" else None
    )
    return deploy_with(config, secrets=secrets, extra=AWS)


def unwrap(value: Any) -> Any:
    """A recorded input with its secret wrappers removed (the test reads what Grafana reads)."""
    if rpc.is_rpc_secret(value):
        return unwrap(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {key: unwrap(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unwrap(item) for item in value]
    return value


def datasources(deployed: Deployed) -> list[dict[str, Any]]:
    """The Pyroscope datasources in the provisioning document Grafana loads, on any backend."""
    containers = [r for r in deployed.of_type("docker:index/container:Container") if r.name == "grafana"]
    if containers:
        uploads = {u["file"]: u["content"] for u in unwrap(containers[0].raw_inputs)["uploads"]}
        text = uploads[PROVISIONING_FILE]
    else:
        (found,) = [
            r
            for r in deployed.resources
            if r.type in ("kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:Secret")
            and r.inputs["metadata"]["name"] == OBJECT_NAME
        ]
        data = unwrap(found.raw_inputs).get("data") or unwrap(found.raw_inputs)["stringData"]
        text = data.get(DATA_KEY) or data[SECRET_DATA_KEY]
    document = yaml.safe_load(text)
    return [d for d in document["datasources"] if d["type"] == "grafana-pyroscope-datasource"]


def header_tenant(datasource: dict[str, Any]) -> str | None:
    if datasource["jsonData"].get("httpHeaderName1") != "X-Scope-OrgID":
        return None
    tenant: str = datasource["secureJsonData"]["httpHeaderValue1"]
    return tenant


def service_env(deployed: Deployed) -> dict[str, Any]:
    """What a wired service is given: the patched Deployment's env when the case wires one, and
    the same contract from the stack outputs consumer stacks read (they must agree)."""
    outputs = deployed.outputs
    from_outputs = {
        "PYROSCOPE_SERVER_ADDRESS": outputs[names.OUTPUT_SERVER_ADDRESS],
        "PYROSCOPE_BASIC_AUTH_USER": outputs.get(names.OUTPUT_BASIC_AUTH_USER),
        "PYROSCOPE_TENANT_ID": outputs.get(names.OUTPUT_TENANT_ID),
    }
    patches = deployed.of_type(PATCH)
    if not patches:
        return {key: value for key, value in from_outputs.items() if value is not None}
    (container,) = patches[0].inputs["spec"]["template"]["spec"]["containers"]
    env = {entry["name"]: entry.get("value", entry.get("valueFrom")) for entry in container["env"]}
    for key, value in from_outputs.items():
        assert env.get(key) == value, key
    return env


def assert_gateway_registered(deployed: Deployed, backend: str) -> None:
    """The gateway URL the routing hands out names the gateway the program registered."""
    if backend == "docker":
        container = deployed.one("docker:index/container:Container", "pyroscope-gateway").inputs
        assert "pyroscope-gateway" in container["networksAdvanced"][0]["aliases"]
        assert container["ports"][0]["internal"] == 8080
    else:
        service = deployed.one("kubernetes:core/v1:Service", "pyroscope-gateway-service").inputs
        assert (service["metadata"]["name"], service["metadata"]["namespace"]) == (
            "pyroscope-gateway",
            "pyroscope",
        )
        assert service["spec"]["ports"][0]["port"] == 4040


# --- the table: multi-tenant, gateway off ------------------------------------------------


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize(
    ("case", "target"),
    [("external", EXTERNAL), ("self without tenantId", None), ("grafana-cloud", CLOUD)],
)
def test_grafana_queries_this_server_as_its_own_tenants(backend: str, case: str, target: Any) -> None:
    """Never the external target's tenant, never no tenant: one datasource per tenant of THIS
    server, the first (team-a) keeping the configured uid."""
    if target is None:
        deployed = deploy_with(
            {
                "server": {
                    **BACKENDS[backend],
                    "gateway": {"enabled": False},
                    "multitenancy": True,
                    "tenants": TENANTS,
                }
            },
            extra=AWS,
        )
    else:
        deployed = deploy(backend, gateway=False, target=target, multitenancy=True, tenants=TENANTS)
    found = datasources(deployed)
    assert [(d["uid"], header_tenant(d), d["url"]) for d in found] == [
        ("pyroscope", "team-a", DIRECT_QUERY[backend]),
        ("pyroscope-team-b", "team-b", DIRECT_QUERY[backend]),
    ]
    assert not any(d.get("basicAuth") for d in found)


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize(
    ("target", "address", "tenant"), [(EXTERNAL, EXTERNAL["url"], "ext-tenant"), (CLOUD, CLOUD["url"], None)]
)
def test_services_push_to_the_target_with_its_tenant(
    backend: str, target: Any, address: str, tenant: Any
) -> None:
    deployed = deploy(backend, gateway=False, target=target, multitenancy=True, tenants=TENANTS)
    env = service_env(deployed)
    assert env["PYROSCOPE_SERVER_ADDRESS"] == address
    assert env.get("PYROSCOPE_TENANT_ID") == tenant


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_self_target_pushes_to_this_server_as_the_wired_tenant(backend: str) -> None:
    deployed = deploy(
        backend, gateway=False, target={"tenantId": "team-b"}, multitenancy=True, tenants=TENANTS
    )
    env = service_env(deployed)
    assert env["PYROSCOPE_SERVER_ADDRESS"] == DIRECT_PUSH[backend]
    assert env["PYROSCOPE_TENANT_ID"] == "team-b"
    assert "PYROSCOPE_BASIC_AUTH_USER" not in env
    # Grafana still sees every tenant; the wired one is not moved to the front.
    assert [header_tenant(d) for d in datasources(deployed)] == TENANTS


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_tenant_id_alone_is_grafanas_tenant_without_a_tenant_list(backend: str) -> None:
    deployed = deploy(backend, gateway=False, target={"tenantId": "team-c"}, multitenancy=True)
    [datasource] = datasources(deployed)
    assert (datasource["uid"], header_tenant(datasource)) == ("pyroscope", "team-c")
    assert service_env(deployed)["PYROSCOPE_TENANT_ID"] == "team-c"


# --- gateway on: the user IS the tenant ------------------------------------------------------------


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_behind_the_gateway_one_datasource_per_tenant_user(backend: str) -> None:
    deployed = deploy(
        backend, gateway=True, target={"tenantId": "team-b"}, multitenancy=True, tenants=TENANTS
    )
    assert_gateway_registered(deployed, backend)
    found = datasources(deployed)
    assert [(d["uid"], d["basicAuthUser"], d["url"], header_tenant(d)) for d in found] == [
        ("pyroscope", "team-a", GATEWAY_QUERY[backend], None),
        ("pyroscope-team-b", "team-b", GATEWAY_QUERY[backend], None),
    ]
    env = service_env(deployed)
    assert env["PYROSCOPE_SERVER_ADDRESS"] == GATEWAY_PUSH[backend]
    assert env["PYROSCOPE_BASIC_AUTH_USER"] == "team-b"
    assert env["PYROSCOPE_TENANT_ID"] == "team-b"


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("target", [EXTERNAL, CLOUD])
def test_behind_the_gateway_grafana_ignores_the_external_target(backend: str, target: Any) -> None:
    deployed = deploy(backend, gateway=True, target=target, multitenancy=True, tenants=TENANTS)
    found = datasources(deployed)
    assert [(d["basicAuthUser"], d["url"]) for d in found] == [(t, GATEWAY_QUERY[backend]) for t in TENANTS]
    assert service_env(deployed)["PYROSCOPE_SERVER_ADDRESS"] == target["url"]


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("gateway", [False, True])
def test_single_tenant_one_datasource_without_a_tenant_header(backend: str, gateway: bool) -> None:
    deployed = deploy(backend, gateway=gateway)
    [datasource] = datasources(deployed)
    assert header_tenant(datasource) is None
    env = service_env(deployed)
    assert "PYROSCOPE_TENANT_ID" not in env
    if gateway:
        assert_gateway_registered(deployed, backend)
        assert (datasource["url"], datasource["basicAuthUser"]) == (GATEWAY_QUERY[backend], "pyroscope")
        assert (env["PYROSCOPE_SERVER_ADDRESS"], env["PYROSCOPE_BASIC_AUTH_USER"]) == (
            GATEWAY_PUSH[backend],
            "pyroscope",
        )
    else:
        assert datasource["url"] == DIRECT_QUERY[backend]
        assert "basicAuth" not in datasource
        assert env["PYROSCOPE_SERVER_ADDRESS"] == DIRECT_PUSH[backend]


# --- what the rule cannot answer is refused, on every backend -------------------------------------


def loaded(backend: str, target: dict[str, Any] | None = None, **server: Any) -> BundleConfig:
    raw: dict[str, Any] = {"server": {**BACKENDS[backend], **server}}
    if target is not None:
        raw["target"] = target
    return load_config(raw, "test")


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("target", [None, EXTERNAL])
def test_multi_tenant_without_any_tenant_is_refused_when_grafana_queries(backend: str, target: Any) -> None:
    with pytest.raises(
        ConfigError, match=r"pyroscope:server\.tenants: \[\] needs at least one tenant: Grafana"
    ):
        loaded(backend, target, multitenancy=True, gateway={"enabled": False})


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_multi_tenant_gateway_without_users_is_refused(backend: str) -> None:
    with pytest.raises(
        ConfigError, match=r"pyroscope:server\.tenants: \[\] needs at least one tenant: the gateway"
    ):
        loaded(backend, multitenancy=True, gateway={"enabled": True})


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_without_grafana_a_multi_tenant_server_needs_no_query_tenant(backend: str) -> None:
    raw = {
        "server": {**BACKENDS[backend], "multitenancy": True, "gateway": {"enabled": False}},
        "grafana": {"mode": "none"},
    }
    config = load_config(raw, "test")
    assert config_routes(config).queries == ()


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("gateway", [False, True])
def test_per_tenant_uids_too_long_for_grafana_are_refused(backend: str, gateway: bool) -> None:
    with pytest.raises(ConfigError, match=r"pyroscope:grafana\.datasource\.uid"):
        load_config(
            {
                "server": {
                    **BACKENDS[backend],
                    "multitenancy": True,
                    "tenants": ["a", "b" * 40],
                    "gateway": {"enabled": gateway},
                },
                "grafana": {"datasource": {"uid": "u" * 10}},
            },
            "test",
        )


# --- the pure rule ----------------------------------------------------------------------------------


def test_query_tenants_never_take_an_external_targets_tenant() -> None:
    config = loaded("docker", EXTERNAL, multitenancy=True, tenants=TENANTS)
    assert query_tenants(config.server, config.target) == TENANTS
    external_only = load_config(
        {"server": {"multitenancy": True}, "target": EXTERNAL, "grafana": {"mode": "none"}}, "test"
    )
    assert query_tenants(external_only.server, external_only.target) == []


def test_without_a_server_grafana_queries_the_configured_url_as_the_target() -> None:
    config = load_config(
        {
            "server": {"enabled": False},
            "target": EXTERNAL,
            "grafana": {
                "mode": "api",
                "api": {"url": "https://grafana.example.com", "pyroscopeUrl": EXTERNAL["url"]},
            },
        },
        "test",
    )
    routes = config_routes(config)
    assert routes.mode is None and routes.server_push is None
    [query] = routes.queries
    assert (query.route.url, query.route.tenant) == (EXTERNAL["url"], "ext-tenant")
    assert routes.push == routes.external_push and routes.push is not None
    assert routes.push.url == EXTERNAL["url"]


def test_the_api_url_override_applies_to_the_api_mode_only() -> None:
    server = loaded("single-binary").server
    config = load_config(
        {"server": {"backend": "kubernetes"}, "grafana": {"api": {"pyroscopeUrl": "https://p.example.com"}}},
        "test",
    )
    assert config_routes(config).queries[0].route.url == GATEWAY_QUERY["single-binary"]
    assert plan_routes(server, config.target, grafana_url="https://p.example.com").queries[0].route.url == (
        "https://p.example.com"
    )


@pytest.mark.parametrize("backend", ["single-binary", "microservices"])
def test_outside_push_is_the_ingress_in_front_of_the_gateway(backend: str) -> None:
    config = loaded(
        backend,
        {"tenantId": "team-b"},
        multitenancy=True,
        tenants=TENANTS,
        kubernetes={
            **BACKENDS[backend].get("kubernetes", {}),
            "ingress": {"enabled": True, "host": "profiles.example.com", "tlsSecretName": "tls"},
            "allowFrom": [{"namespace": "ingress-nginx"}],
        },
    )
    routes = config_routes(config)
    assert routes.ingress_service == "pyroscope-gateway"
    assert routes.external_push is not None
    assert (routes.external_push.url, routes.external_push.user) == ("https://profiles.example.com", "team-b")


def test_docker_is_never_reachable_from_outside() -> None:
    assert config_routes(loaded("docker", gateway={"enabled": True})).external_push is None
