"""Every credential a rendered stack issues, tried in REAL nginx (Debian's) on loopback.

The stack runs under mocks; the gateway gets the htpasswd files exactly as the stack's gateway
Secret holds them, and each client its password exactly as the stack hands it out (the probe's
Secret, the services' Secret, Grafana's datasource, the admin RandomPassword). A recording
receiver stands in for Pyroscope, so "never reaches the upstream" is observed.

- The probe has its own push-only and read-only credentials (``pyroscope-probe``): each passes
  its role's routes only, and with multi-tenancy reads and writes its own tenant only.
- Pyroscope's ``/metrics`` (and raw paths that normalise to it) is refused for every credential,
  the admin's included; Prometheus scrapes the pods directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pyroscope_bundle import constants
from pyroscope_bundle.gateway.routes import ROUTES
from pyroscope_bundle.render.mocks import placeholder

from tests.gateway_stack import Gateway, Receiver, running_gateway
from tests.harness import Deployed, deploy_with
from tests.test_credential_loop import (
    CREDENTIALS,
    k8s_secret,
    sidecar_datasources,
    string_data,
)
from tests.test_gateway_roles import FORBIDDEN, NORMALISING, call, request_path
from tests.test_kubernetes_server import stack_config, validate_strict
from tests.test_secret_hygiene import leaked_forms

pytestmark = pytest.mark.slow

AWS = {"aws:region": "eu-west-1"}
PROBE = constants.PROBE_GATEWAY_USER
PUSH_ROUTES = [r for r in ROUTES if r.role == "push" and not r.grpc]
QUERY_ROUTES = [r for r in ROUTES if r.role == "query" and not r.grpc]
METRICS = constants.PYROSCOPE_METRICS_PATH
# /metrics as clients could spell it: raw forms nginx would normalise, a trailing slash, a query.
METRICS_VARIANTS = [
    METRICS,
    f"/{METRICS}",
    f"/.{METRICS}",
    "/%6detrics",
    "/%6Detrics",
    f"{METRICS}/",
    f"{METRICS}?x",
    f"{METRICS}?name[]=up",
    f"{METRICS}/../metrics",
    f"/ready/..{METRICS}",
]


@dataclass(frozen=True)
class Issued:
    """What one stack issues: the gateway's files and every client's (user, password)."""

    htpasswd: dict[str, str]
    credentials: dict[str, tuple[str, str]]
    probe_env_users: set[str]


def _env_of(cronjob: dict[str, Any]) -> list[dict[str, Any]]:
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return [item for c in [*pod["initContainers"], *pod["containers"]] for item in c["env"]]


def issued(deployed: Deployed) -> Issued:
    htpasswd = string_data(k8s_secret(deployed, "pyroscope", "pyroscope-gateway-htpasswd"))
    probe = string_data(k8s_secret(deployed, "pyroscope", "pyroscope-probe-credentials"))
    services = string_data(k8s_secret(deployed, "shop", "pyroscope-profiler-credentials"))
    [cronjob] = deployed.of_type("kubernetes:batch/v1:CronJob")
    env = _env_of(cronjob.inputs)
    users = {item["value"] for item in env if item["name"] == "PROFILECLI_USERNAME"}
    first = sidecar_datasources(deployed)[0]
    service_user = deployed.outputs["gatewayUser"]
    credentials = {
        "service-push": (service_user, services["password"]),
        "grafana-query": (first["basicAuthUser"], first["secureJsonData"]["basicAuthPassword"]),
        "probe-push": (PROBE, probe["push-password"]),
        "probe-read": (PROBE, probe["read-password"]),
    }
    if "admin" in htpasswd:
        credentials["admin"] = ("admin", placeholder("password", f"{CREDENTIALS}.admin"))
    return Issued(dict(htpasswd), credentials, users)


def staging(**server: Any) -> Deployed:
    config = stack_config("staging")
    config["server"] = {**config["server"], **server}
    if server.get("multitenancy"):
        config["target"] = {"tenantId": "team-b"}
    return deploy_with(config, stack="staging", extra=AWS)


@pytest.fixture(scope="module")
def single() -> Issued:
    return issued(staging(gateway={"adminCredential": True}))


@pytest.fixture(scope="module")
def multi() -> Issued:
    return issued(staging(multitenancy=True, tenants=["team-a", "team-b"]))


@pytest.fixture(scope="module")
def single_gateway(nginx: str, receiver: Receiver, single: Issued) -> Iterator[Gateway]:
    with running_gateway(
        nginx, receiver.address, {}, multitenancy=False, htpasswd=single.htpasswd
    ) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def multi_gateway(nginx: str, receiver: Receiver, multi: Issued) -> Iterator[Gateway]:
    with running_gateway(nginx, receiver.address, {}, multitenancy=True, htpasswd=multi.htpasswd) as gateway:
        yield gateway


# --- the probe's own credentials ------------------------------------------------------------------


def test_the_probe_has_its_own_user_and_passwords(single: Issued, multi: Issued) -> None:
    for stack in (single, multi):
        assert stack.probe_env_users == {PROBE}
        passwords = [password for _, password in stack.credentials.values()]
        # Four (five with admin) different passwords: the probe shares none.
        assert len(set(passwords)) == len(passwords)
        push_users = [line.split(":", 1)[0] for line in stack.htpasswd["push"].splitlines()]
        query_users = [line.split(":", 1)[0] for line in stack.htpasswd["query"].splitlines()]
        assert PROBE in push_users and PROBE in query_users
        assert PROBE not in stack.htpasswd.get("admin", "")


@pytest.mark.parametrize("route", PUSH_ROUTES, ids=lambda r: r.path)
def test_the_probe_push_credential_passes_push_routes_only(
    single_gateway: Gateway, receiver: Receiver, single: Issued, route: Any
) -> None:
    before = len(receiver.requests)
    assert call(single_gateway, "POST", request_path(route), single.credentials["probe-push"]) == 200
    assert [r.path for r in receiver.requests[before:]] == [request_path(route)]
    # The read credential is not a push credential.
    assert call(single_gateway, "POST", request_path(route), single.credentials["probe-read"]) == 401
    assert len(receiver.requests) == before + 1


@pytest.mark.parametrize("route", QUERY_ROUTES, ids=lambda r: r.path)
def test_the_probe_read_credential_passes_query_routes_only(
    single_gateway: Gateway, receiver: Receiver, single: Issued, route: Any
) -> None:
    before = len(receiver.requests)
    method = route.methods[0]
    assert call(single_gateway, method, request_path(route), single.credentials["probe-read"]) == 200
    assert [r.path for r in receiver.requests[before:]] == [request_path(route)]
    assert call(single_gateway, method, request_path(route), single.credentials["probe-push"]) == 401
    assert len(receiver.requests) == before + 1


@pytest.mark.parametrize("path", FORBIDDEN + NORMALISING)
def test_no_probe_credential_reaches_admin_routes_even_with_the_admin_credential_on(
    single_gateway: Gateway, receiver: Receiver, single: Issued, path: str
) -> None:
    before = len(receiver.requests)
    for name in ("probe-push", "probe-read"):
        for method in ("GET", "POST"):
            status = call(single_gateway, method, path, single.credentials[name])
            assert status in (400, 401, 403), (name, method, path, status)
    assert receiver.requests[before:] == []


def test_the_admin_check_is_real(single_gateway: Gateway, receiver: Receiver, single: Issued) -> None:
    """Guards the test above: the same gateway does let the admin credential through."""
    before = len(receiver.requests)
    assert call(single_gateway, "GET", "/ops/object-store/tenants", single.credentials["admin"]) == 200
    assert len(receiver.requests) == before + 1


def test_with_multitenancy_the_probe_writes_and_reads_its_own_tenant_only(
    multi_gateway: Gateway, receiver: Receiver, multi: Issued
) -> None:
    forged = {constants.TENANT_HEADER: "team-a"}
    before = len(receiver.requests)
    assert (
        call(multi_gateway, "POST", constants.PYROSCOPE_PUSH_PATH, multi.credentials["probe-push"], forged)
        == 200
    )
    assert (
        call(
            multi_gateway,
            "POST",
            constants.PYROSCOPE_LABEL_VALUES_PATH,
            multi.credentials["probe-read"],
            forged,
        )
        == 200
    )
    arrived = receiver.requests[before:]
    assert [r.headers["x-scope-orgid"] for r in arrived] == [PROBE, PROBE]
    # A tenant's own name with the probe's passwords opens nothing.
    for name in ("probe-push", "probe-read"):
        assert (
            call(multi_gateway, "POST", constants.PYROSCOPE_PUSH_PATH, ("team-a", multi.credentials[name][1]))
            == 401
        )
    assert len(receiver.requests) == before + 2


def test_no_grafana_datasource_reads_the_probe_tenant() -> None:
    deployed = staging(multitenancy=True, tenants=["team-a", "team-b"])
    assert PROBE not in {d["basicAuthUser"] for d in sidecar_datasources(deployed)}


def test_the_probe_passwords_appear_nowhere_in_the_render(rendered: dict[str, Path]) -> None:
    root = rendered["staging"]
    cronjob = (root / "kubernetes/pyroscope/cronjob-pyroscope-probe.yaml").read_text()
    assert f"value: {PROBE}" in cronjob and "secretKeyRef" in cronjob
    secrets = [
        placeholder("password", f"{CREDENTIALS}.probe"),
        placeholder("password", f"{CREDENTIALS}.probe.query"),
    ]
    forms = {form for secret in secrets for form in leaked_forms(secret)}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert not [form for form in forms if form in text], path


# --- /metrics is unreachable through the gateway ---------------------------------------------------


@pytest.mark.parametrize("path", METRICS_VARIANTS)
def test_metrics_is_refused_for_every_issued_credential(
    single_gateway: Gateway,
    multi_gateway: Gateway,
    receiver: Receiver,
    single: Issued,
    multi: Issued,
    path: str,
) -> None:
    before = len(receiver.requests)
    for gateway, stack in ((single_gateway, single), (multi_gateway, multi)):
        for name, credential in [*stack.credentials.items(), ("none", None)]:
            for method in ("GET", "POST"):
                status = call(gateway, method, path, credential)
                assert status in (400, 401, 403), (name, method, path, status)
    assert receiver.requests[before:] == []


def test_the_metrics_refusal_is_the_gateways_not_the_receivers(
    nginx: str, receiver: Receiver, single: Issued
) -> None:
    """Guards the test above: without the gateway's two /metrics locations the admin's
    catch-all would forward /metrics to the upstream."""

    def without_metrics_guard(config: str) -> str:
        edited = config.replace(f"location = {METRICS} {{", "location = /not-metrics {")
        edited = edited.replace(f"location ^~ {METRICS}/ {{", "location ^~ /not-metrics/ {")
        assert edited != config
        return edited

    before = len(receiver.requests)
    with running_gateway(
        nginx, receiver.address, {}, multitenancy=False, htpasswd=single.htpasswd, edit=without_metrics_guard
    ) as gateway:
        assert call(gateway, "GET", METRICS, single.credentials["admin"]) == 200
    assert [r.path for r in receiver.requests[before:]] == [METRICS]


# --- the scrape path: only Prometheus, only the metrics port ---------------------------------------


@pytest.mark.parametrize("mode", ["single-binary", "microservices"])
def test_the_metrics_network_policy_admits_only_prometheus_to_the_metrics_port(mode: str) -> None:
    server: dict[str, Any] = {"kubernetes": {**stack_config("staging")["server"].get("kubernetes", {})}}
    if mode == "microservices":
        server["kubernetes"]["mode"] = "microservices"
    deployed = staging(**server)
    [policy] = [
        p.inputs
        for p in deployed.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if p.inputs["metadata"]["name"] == "pyroscope-metrics"
    ]
    document = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", **policy}
    assert validate_strict(document, patch=False) == []
    spec = policy["spec"]
    assert spec["policyTypes"] == ["Ingress"]
    [rule] = spec["ingress"]
    assert rule["ports"] == [{"port": constants.PYROSCOPE_HTTP_PORT, "protocol": "TCP"}]
    assert rule["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
        }
    ]
    # It selects Pyroscope's pods: never the gateway's or the probe's.
    selected = spec["podSelector"]["matchLabels"]
    assert selected.get(constants.LABEL_COMPONENT) not in ("gateway", "probe")
