"""The credential loop behind the gateway: ONE generated password per gateway user reaches the
gateway (as the bcrypt hash of that same RandomPassword), Grafana's datasource (Kubernetes
Secret, Docker upload, Grafana API resource) and every wired service (Kubernetes Secret, Secrets
Manager secret version) - a Pulumi secret at every stop - and the gateway is the only client
Pyroscope admits.

Under mocks a RandomPassword named N yields ``mock-password-<hash of N>`` and the bcrypt hash
``$2a$10$mock-bcrypt-<hash of N>`` (``render/mocks.py``), so "the same password" is checkable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi.runtime import rpc
from pyroscope_bundle import constants, stack_key
from pyroscope_bundle.gateway.credentials import htpasswd_hash
from pyroscope_bundle.grafana.docker import PROVISIONING_FILE, password_file
from pyroscope_bundle.grafana.kubernetes import SECRET_DATA_KEY
from pyroscope_bundle.render.command import render
from pyroscope_bundle.render.mocks import placeholder

from tests.harness import PROJECT_DIR, Deployed, Registered, deploy_with
from tests.test_kubernetes_server import GATEWAY_PODS, admitted, policy_spec, stack_config

K8S_SECRET = "kubernetes:core/v1:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
CONTAINER = "docker:index/container:Container"
API_DATASOURCE = "grafana:oss/dataSource:DataSource"
CREDENTIALS = "pyroscope-gateway-credentials"
GATEWAY_K8S_URL = "http://pyroscope-gateway.pyroscope.svc.cluster.local:4040"
GATEWAY_DOCKER_URL = f"http://pyroscope-gateway:{constants.GATEWAY_PORT}"
TENANTS = ["team-a", "team-b"]
PROBE = constants.PROBE_GATEWAY_USER
AWS = {"aws:region": "eu-west-1"}


# --- helpers --------------------------------------------------------------------------------------


def generated_password(user: str) -> str:
    """What the mocks return for the gateway user's RandomPassword."""
    return placeholder("password", f"{CREDENTIALS}-{user}")


def generated_query_password(user: str) -> str:
    """Grafana's read-only password of that user (a separate RandomPassword)."""
    return placeholder("password", f"{CREDENTIALS}-{user}.query")


def generated_hash(user: str, role: str = "push") -> str:
    """The {SSHA} entry the gateway gets: salted with the stack's salt key (gateway/credentials.py)."""
    password = generated_password(user) if role == "push" else generated_query_password(user)
    key = placeholder("password", stack_key.RESOURCE_NAME)
    return htpasswd_hash(role, user, password, key, generated=True)


def probe_hash() -> str:
    """The probe's own push entry (its RandomPassword, the same salt key)."""
    key = placeholder("password", stack_key.RESOURCE_NAME)
    password = placeholder("password", f"{CREDENTIALS}.probe")
    return htpasswd_hash("push", PROBE, password, key, generated=True)


def secret_value(value: Any) -> Any:
    """The plain value of a recorded input, which MUST be a Pulumi secret."""
    assert rpc.is_rpc_secret(value), f"not a secret: {value!r}"
    return rpc.unwrap_rpc_secret(value)


def k8s_secret(deployed: Deployed, namespace: str, name: str) -> Registered:
    [found] = [
        s
        for s in deployed.of_type(K8S_SECRET)
        if s.inputs["metadata"]["namespace"] == namespace and s.inputs["metadata"]["name"] == name
    ]
    return found


def string_data(secret: Registered) -> dict[str, str]:
    """A Secret's stringData: the whole payload is a secret."""
    payload = secret_value(secret.raw_inputs["stringData"])
    assert isinstance(payload, dict)
    return payload


def sidecar_datasources(deployed: Deployed) -> list[dict[str, Any]]:
    secret = k8s_secret(deployed, "monitoring", "pyroscope-grafana-datasource")
    assert secret.inputs["metadata"]["labels"]["grafana_datasource"] == "1"
    document = yaml.safe_load(string_data(secret)[SECRET_DATA_KEY])
    datasources: list[dict[str, Any]] = document["datasources"]
    return datasources


def htpasswd(deployed: Deployed, role: str = "push") -> str:
    return string_data(k8s_secret(deployed, "pyroscope", "pyroscope-gateway-htpasswd"))[role]


def service_passwords(deployed: Deployed) -> list[str]:
    """The password every wired service gets: Kubernetes Secret per namespace, ECS secret version."""
    kubernetes = [
        string_data(s)["password"]
        for s in deployed.of_type(K8S_SECRET)
        if s.inputs["metadata"]["name"] == "pyroscope-profiler-credentials"
    ]
    ecs = [
        json.loads(secret_value(v.raw_inputs["secretString"]))["password"]
        for v in deployed.of_type(SECRET_VERSION)
    ]
    assert kubernetes and ecs, "the staging stack wires services on Kubernetes and ECS"
    return kubernetes + ecs


def plain_hits(value: Any, needle: str) -> int:
    """How often ``needle`` occurs outside any secret wrapper."""
    if rpc.is_rpc_secret(value):
        return 0
    if isinstance(value, dict):
        return sum(plain_hits(item, needle) for item in value.values())
    if isinstance(value, list | tuple):
        return sum(plain_hits(item, needle) for item in value)
    return int(isinstance(value, str) and needle in value)


def assert_never_plain(deployed: Deployed, *needles: str) -> None:
    for resource in deployed.resources:
        for needle in needles:
            assert plain_hits(resource.raw_inputs, needle) == 0, (resource.type, resource.name, needle)


def staging(**server: Any) -> Deployed:
    config = stack_config("staging")
    config["server"] = {**config["server"], **server}
    if server.get("multitenancy"):
        config["target"] = {"tenantId": "team-b"}
    return deploy_with(config, stack="staging", extra=AWS)


@pytest.fixture(scope="module")
def single_user() -> Deployed:
    return staging()


@pytest.fixture(scope="module")
def multi_tenant() -> Deployed:
    return staging(multitenancy=True, tenants=TENANTS)


# --- Kubernetes -----------------------------------------------------------------------------------


def test_one_generated_password_reaches_gateway_grafana_and_every_service(single_user: Deployed) -> None:
    user = constants.GATEWAY_SINGLE_USER
    assert sorted(r.name for r in single_user.of_type(RANDOM_PASSWORD)) == [
        f"{CREDENTIALS}-{user}",
        f"{CREDENTIALS}-{user}.query",
        # The probe's own push and read passwords (tests/test_issued_credentials.py).
        f"{CREDENTIALS}.probe",
        f"{CREDENTIALS}.probe.query",
        stack_key.RESOURCE_NAME,
    ]
    password = generated_password(user)
    # Gateway: the salted hash of that same RandomPassword (push), and of Grafana's (query);
    # then the probe's own line.
    assert htpasswd(single_user) == f"{user}:{generated_hash(user)}\n{PROBE}:{probe_hash()}\n"
    assert htpasswd(single_user, "query").startswith(f"{user}:{generated_hash(user, 'query')}\n{PROBE}:")
    # Grafana: through the gateway, as the gateway user, with the password in secureJsonData.
    [datasource] = sidecar_datasources(single_user)
    assert datasource["url"] == GATEWAY_K8S_URL
    assert (datasource["basicAuth"], datasource["basicAuthUser"]) == (True, user)
    assert datasource["secureJsonData"] == {"basicAuthPassword": generated_query_password(user)}
    # Every wired service.
    assert set(service_passwords(single_user)) == {password}
    assert_never_plain(single_user, password, generated_hash(user))


def test_services_authenticate_as_the_same_user(single_user: Deployed) -> None:
    task = single_user.one("aws:ecs/taskDefinition:TaskDefinition", "profiler-payments-api")
    [container] = json.loads(task.inputs["containerDefinitions"])
    env = {item["name"]: item["value"] for item in container["environment"]}
    assert env["PYROSCOPE_BASIC_AUTH_USER"] == constants.GATEWAY_SINGLE_USER
    assert [s["name"] for s in container["secrets"]] == ["PYROSCOPE_BASIC_AUTH_PASSWORD"]
    assert single_user.outputs["datasourceUid"] == "pyroscope"


def test_only_the_gateway_reaches_pyroscope(single_user: Deployed, multi_tenant: Deployed) -> None:
    for deployed in (single_user, multi_tenant):
        rule, _own = policy_spec(deployed, "pyroscope")["ingress"]
        assert admitted(rule) == [("pyroscope", GATEWAY_PODS)]
        # Grafana's sidecar namespace reaches the gateway instead.
        [rule] = policy_spec(deployed, "pyroscope-gateway")["ingress"]
        assert ("monitoring", {}) in admitted(rule)


def test_no_config_map_carries_the_datasource(single_user: Deployed) -> None:
    config_maps = single_user.of_type("kubernetes:core/v1:ConfigMap")
    in_grafana = [c for c in config_maps if c.inputs["metadata"]["namespace"] == "monitoring"]
    assert not [c for c in in_grafana if "grafana_datasource" in c.inputs["metadata"]["labels"]]


def test_multi_tenant_one_datasource_per_tenant_with_that_tenants_credentials(multi_tenant: Deployed) -> None:
    datasources = sidecar_datasources(multi_tenant)
    identities = [(d["uid"], d["name"], d["basicAuthUser"]) for d in datasources]
    # The first tenant keeps the configured uid/name (stable dashboards, Tempo link).
    assert identities == [
        ("pyroscope", "Pyroscope", "team-a"),
        ("pyroscope-team-b", "Pyroscope (team-b)", "team-b"),
    ]
    for datasource, tenant in zip(datasources, TENANTS, strict=True):
        assert datasource["url"] == GATEWAY_K8S_URL
        assert datasource["secureJsonData"] == {"basicAuthPassword": generated_query_password(tenant)}
        # The gateway sets X-Scope-OrgID from the user: no tenant header from Grafana.
        assert "httpHeaderName1" not in datasource["jsonData"]
    assert htpasswd(multi_tenant) == f"{PROBE}:{probe_hash()}\n" + "".join(
        f"{t}:{generated_hash(t)}\n" for t in TENANTS
    )
    # The wired tenant's password, the same one its Grafana datasource uses.
    assert set(service_passwords(multi_tenant)) == {generated_password("team-b")}
    assert_never_plain(multi_tenant, *map(generated_password, TENANTS), *map(generated_hash, TENANTS))


def test_multi_tenant_only_the_first_datasource_is_the_default() -> None:
    config = stack_config("staging")
    config["server"] = {**config["server"], "multitenancy": True, "tenants": TENANTS}
    config["target"] = {"tenantId": "team-a"}
    config["grafana"] = {**config["grafana"], "datasource": {"isDefault": True}}
    deployed = deploy_with(config, stack="staging", extra=AWS)
    assert [d["isDefault"] for d in sidecar_datasources(deployed)] == [True, False]


def test_staging_render_holds_the_datasource_secret_redacted(rendered: dict[str, Path]) -> None:
    root = rendered["staging"]
    secret = yaml.safe_load(
        (root / "kubernetes/monitoring/secret-pyroscope-grafana-datasource.yaml").read_text()
    )
    # Only the password is redacted: a reviewer sees where and as whom Grafana queries.
    assert list(secret["stringData"]) == [SECRET_DATA_KEY]
    provisioning = yaml.safe_load(secret["stringData"][SECRET_DATA_KEY])
    (datasource,) = provisioning["datasources"]
    assert datasource["type"] == "grafana-pyroscope-datasource"
    assert datasource["url"] == GATEWAY_K8S_URL
    assert (datasource["uid"], datasource["basicAuth"], datasource["basicAuthUser"]) == (
        "pyroscope",
        True,
        "pyroscope",
    )
    assert datasource["secureJsonData"] == {"basicAuthPassword": constants.REDACTED}
    mounted = root / "files/kubernetes/monitoring/pyroscope-grafana-datasource" / SECRET_DATA_KEY
    assert yaml.safe_load(mounted.read_text()) == provisioning
    assert not (root / "kubernetes/monitoring/configmap-pyroscope-grafana-datasource.yaml").exists()
    for path in root.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "mock-password-" not in text and "mock-bcrypt-" not in text, path


# --- Grafana API mode -----------------------------------------------------------------------------


def test_api_datasources_authenticate_at_the_gateway() -> None:
    config = stack_config("staging")
    config["server"] = {**config["server"], "multitenancy": True, "tenants": TENANTS}
    config["target"] = {"tenantId": "team-b"}
    config["grafana"] = {"mode": "api", "api": {"url": "https://grafana.example.com"}}
    deployed = deploy_with(config, stack="staging", extra=AWS)
    first = deployed.one(API_DATASOURCE, "pyroscope-datasource")
    second = deployed.one(API_DATASOURCE, "pyroscope-datasource-team-b")
    for resource, tenant, uid in ((first, "team-a", "pyroscope"), (second, "team-b", "pyroscope-team-b")):
        inputs = resource.inputs
        assert (inputs["uid"], inputs["url"]) == (uid, GATEWAY_K8S_URL)
        assert (inputs["basicAuthEnabled"], inputs["basicAuthUsername"]) == (True, tenant)
        # No tenant header (the provider keeps headers in the secret http_headers).
        headers = resource.raw_inputs.get("httpHeaders")
        assert not (rpc.unwrap_rpc_secret(headers) if rpc.is_rpc_secret(headers) else headers)
        secure = json.loads(secret_value(resource.raw_inputs["secureJsonDataEncoded"]))
        assert secure == {"basicAuthPassword": generated_query_password(tenant)}
    assert_never_plain(deployed, *map(generated_password, TENANTS))


# --- Docker ---------------------------------------------------------------------------------------

DOCKER_GATEWAY = {"backend": "docker", "gateway": {"enabled": True}}


def uploads(container: Registered) -> dict[str, Any]:
    """Upload path -> the raw upload (content possibly secret-wrapped)."""
    return {upload["file"]: upload for upload in container.raw_inputs["uploads"]}


def test_docker_grafana_authenticates_at_the_gateway_with_a_file_reference() -> None:
    deployed = deploy_with({"server": DOCKER_GATEWAY, "grafana": {"mode": "docker"}})
    user = constants.GATEWAY_SINGLE_USER
    # Grafana gets the read-only credential, never the push one.
    password = generated_query_password(user)
    grafana = deployed.one(CONTAINER, "grafana")
    files = uploads(grafana)
    provisioning = files[PROVISIONING_FILE]["content"]
    # Reviewable: a plain upload naming the password file, never holding the password.
    assert not rpc.is_rpc_secret(provisioning)
    assert password not in provisioning
    [datasource] = yaml.safe_load(provisioning)["datasources"]
    assert datasource["url"] == GATEWAY_DOCKER_URL
    assert (datasource["basicAuth"], datasource["basicAuthUser"]) == (True, user)
    assert datasource["secureJsonData"] == {"basicAuthPassword": f"$__file{{{password_file(user)}}}"}
    # The password itself: a separate secret file only the grafana user can read.
    upload = files[password_file(user)]
    assert secret_value(upload["content"]) == password
    assert (upload["owner"], upload["permissions"]) == (str(constants.GRAFANA_UID), "0400")
    # The gateway checks the salted hash of that same password in its query file.
    gateway = uploads(deployed.one(CONTAINER, "pyroscope-gateway"))
    htpasswd_file = f"{constants.GATEWAY_HTPASSWD_DIR}/query"
    assert secret_value(gateway[htpasswd_file]["content"]) == f"{user}:{generated_hash(user, 'query')}\n"
    assert_never_plain(deployed, password, generated_hash(user, "query"), generated_password(user))


def test_docker_grafana_reaches_the_gateway_on_the_bridge_network() -> None:
    deployed = deploy_with({"server": DOCKER_GATEWAY, "grafana": {"mode": "docker"}})
    [grafana_net] = deployed.one(CONTAINER, "grafana").inputs["networksAdvanced"]
    gateway_net, internal = deployed.one(CONTAINER, "pyroscope-gateway").inputs["networksAdvanced"]
    assert grafana_net["name"] == gateway_net["name"]
    assert "pyroscope-gateway" in gateway_net["aliases"]
    pyroscope = deployed.one(CONTAINER, "pyroscope").inputs
    assert not pyroscope.get("ports")
    # Pyroscope only on the internal network, which only the gateway shares (not Grafana).
    [pyroscope_net] = pyroscope["networksAdvanced"]
    assert pyroscope_net["name"] == internal["name"] != grafana_net["name"]
    [network] = [n for n in deployed.of_type("docker:index/network:Network") if n.inputs.get("internal")]
    assert network.inputs["name"] == internal["name"]


def test_docker_multi_tenant_one_datasource_and_one_password_file_per_tenant() -> None:
    server = {**DOCKER_GATEWAY, "multitenancy": True, "tenants": TENANTS}
    deployed = deploy_with(
        {"server": server, "grafana": {"mode": "docker"}, "target": {"tenantId": "team-b"}}
    )
    files = uploads(deployed.one(CONTAINER, "grafana"))
    datasources = yaml.safe_load(files[PROVISIONING_FILE]["content"])["datasources"]
    assert [(d["uid"], d["basicAuthUser"]) for d in datasources] == [
        ("pyroscope", "team-a"),
        ("pyroscope-team-b", "team-b"),
    ]
    for datasource, tenant in zip(datasources, TENANTS, strict=True):
        assert "httpHeaderName1" not in datasource["jsonData"]
        reference = datasource["secureJsonData"]["basicAuthPassword"]
        assert reference == f"$__file{{{password_file(tenant)}}}"
        assert secret_value(files[password_file(tenant)]["content"]) == generated_query_password(tenant)


def test_docker_without_the_gateway_grafana_queries_pyroscope_without_credentials() -> None:
    deployed = deploy_with({"server": {"backend": "docker"}, "grafana": {"mode": "docker"}})
    files = uploads(deployed.one(CONTAINER, "grafana"))
    [datasource] = yaml.safe_load(files[PROVISIONING_FILE]["content"])["datasources"]
    assert datasource["url"] == f"http://pyroscope:{constants.PYROSCOPE_HTTP_PORT}"
    assert "basicAuth" not in datasource and "secureJsonData" not in datasource
    assert [path for path in files if "pyroscope-datasource-" in path] == []


@pytest.fixture(scope="module")
def local_with_gateway(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("local-gateway")
    render(PROJECT_DIR, "local", out, sets=["server.gateway.enabled=true"])
    return out


def test_local_render_with_gateway_keeps_the_provisioning_file_reviewable(local_with_gateway: Path) -> None:
    container_files = local_with_gateway / "files/docker/pyroscope-grafana"
    text = (container_files / PROVISIONING_FILE.lstrip("/")).read_text()
    user = constants.GATEWAY_SINGLE_USER
    assert f"basicAuthPassword: $__file{{{password_file(user)}}}" in text
    assert "mock-password-" not in text
    password = (container_files / password_file(user).lstrip("/")).read_text()
    assert password.strip() == constants.REDACTED
