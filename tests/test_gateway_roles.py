"""The allow-list by role, in REAL nginx (Debian's package) on loopback.

A recording receiver stands in for Pyroscope and records every request that reaches it, so
"never reaches the upstream" is observed, not assumed. Every credential the bundle issues is
tried on every allowed route and on the admin/debug/cross-tenant routes of grafana/pyroscope
v2.2.1 ``pkg/api/api.go`` (and paths that normalise to them).
"""

from __future__ import annotations

import base64
import concurrent.futures
import http.client
from collections.abc import Iterator

import grpc
import pytest
from pyroscope_bundle import constants
from pyroscope_bundle.gateway.routes import COMPONENTS, OTLP_GRPC_EXPORT_PATH, ROUTES, Route

from tests.gateway_stack import (
    ROLE_ADMIN,
    ROLE_PUSH,
    ROLE_QUERY,
    Gateway,
    Receiver,
    role_gateway,
    running_gateway,
    running_receiver,
)

pytestmark = pytest.mark.slow

PUSH, QUERY, ADMIN = ROLE_PUSH, ROLE_QUERY, ROLE_ADMIN

# Routes with no tenant check, admin pages, write APIs the read-only role must not reach, and
# internal services: nothing a push or query credential may reach.
FORBIDDEN = [
    "/ops/object-store/tenants",
    "/ops/object-store/tenants/team-b/blocks/01J/datasets/x/profiles/download",
    "/memberlist",
    "/distributor/ring",
    "/ring",
    "/compactor/ring",
    "/store-gateway/tenants",
    "/overrides-exporter/ring",
    "/debug/pprof/heap",
    "/debug/fgprof",
    "/api/v1/status/config",
    "/api/v1/status/buildinfo",
    "/api/v1/tenant_limits",
    "/runtime_config",
    "/admin",
    "/",
    "/metrics",
    "/api/swagger.json",
    "/settings.v1.SettingsService/Set",
    "/settings.v1.SettingsService/Delete",
    "/settings.v1.RecordingRulesService/UpsertRecordingRule",
    "/adhocprofiles.v1.AdHocProfileService/Upload",
    "/ingester.v1.IngesterService/Push",
    "/storegateway.v1.StoreGatewayService/MergeProfilesStacktraces",
    "/debuginfo.v1alpha1.DebuginfoService/Upload/abc",
    "/push.v1.PusherService/Push/",
    "/push.v1.PusherService/PushX",
    "/unknown",
]
# Raw paths that nginx (or Pyroscope) would normalise into something else.
NORMALISING = [
    "//ops/object-store/tenants",
    "/./ops/object-store/tenants",
    "/querier.v1.QuerierService/../../ops/object-store/tenants",
    "/querier.v1.QuerierService/%2e%2e/%2e%2e/debug/pprof/heap",
    "/querier.v1.QuerierService/..%2f..%2fdebug/pprof/heap",
    "/%6fps/object-store/tenants",
    "/push.v1.PusherService/Push/../../debug/pprof/heap",
    "/push.v1.PusherService/Push%2f..%2f..%2fmemberlist",
    "/querier.v1.QuerierService//../../memberlist",
    "/ready/../runtime_config",
    "/pyroscope/render/..",
    "/querier.v1.QuerierService/.",
    "/%70ush.v1.PusherService/Push",
]


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def call(
    gateway: Gateway,
    method: str,
    path: str,
    credential: tuple[str, str] | None,
    headers: dict[str, str] | None = None,
) -> int:
    """One raw request (the path is sent exactly as given); returns the status."""
    host, port = gateway.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        sent = dict(headers or {})
        if credential is not None:
            sent["Authorization"] = _basic(*credential)
        # The receiver decodes pushes as protobuf (empty is valid) and LabelValues as JSON.
        payload = b"" if path == constants.PYROSCOPE_PUSH_PATH else b'{"name": "service_name"}'
        body = payload if method in ("POST", "PUT", "PATCH") else None
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        response.read()
        return int(response.status)
    finally:
        connection.close()


@pytest.fixture(scope="module")
def gateway(nginx: str, receiver: Receiver) -> Iterator[Gateway]:
    with role_gateway(nginx, receiver.address) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def no_admin_gateway(nginx: str, receiver: Receiver) -> Iterator[Gateway]:
    with role_gateway(nginx, receiver.address, admin=False) as gateway:
        yield gateway


def role_credential(route: Route, user: str = "team-a") -> tuple[str, str]:
    return (user, (PUSH if route.role == "push" else QUERY)[user])


def request_path(route: Route) -> str:
    return route.path + "SomeMethod" if route.prefix else route.path


HTTP_ROUTES = [route for route in ROUTES if not route.grpc]


@pytest.mark.parametrize("route", HTTP_ROUTES, ids=lambda route: route.path)
def test_each_allowed_route_passes_for_its_role_with_the_tenant_the_gateway_sets(
    gateway: Gateway, receiver: Receiver, route: Route
) -> None:
    before = len(receiver.requests)
    forged = {constants.TENANT_HEADER: "team-b"}
    assert call(gateway, route.methods[0], request_path(route), role_credential(route), forged) == 200
    arrived = receiver.requests[before:]
    assert [r.path for r in arrived] == [request_path(route)]
    assert arrived[0].headers["x-scope-orgid"] == "team-a"
    assert "authorization" not in arrived[0].headers


@pytest.mark.parametrize("route", HTTP_ROUTES, ids=lambda route: route.path)
def test_each_allowed_route_refuses_the_other_roles_and_other_methods(
    gateway: Gateway, receiver: Receiver, route: Route
) -> None:
    before = len(receiver.requests)
    path = request_path(route)
    other = ("team-a", (QUERY if route.role == "push" else PUSH)["team-a"])
    assert call(gateway, route.methods[0], path, other) == 401
    assert call(gateway, route.methods[0], path, ("admin", ADMIN)) == 401
    assert call(gateway, route.methods[0], path, None) == 401
    assert call(gateway, route.methods[0], path, ("team-a", "wrong-password")) == 401
    for method in {"GET", "POST", "PUT", "DELETE"} - set(route.methods):
        assert call(gateway, method, path, role_credential(route)) == 403, method
    assert receiver.requests[before:] == []


CREDENTIALS = {
    "push": ("team-a", PUSH["team-a"]),
    "query": ("team-a", QUERY["team-a"]),
    "none": None,
}


@pytest.mark.parametrize("path", FORBIDDEN + NORMALISING)
def test_no_push_or_query_credential_reaches_admin_debug_or_cross_tenant_routes(
    gateway: Gateway, no_admin_gateway: Gateway, receiver: Receiver, path: str
) -> None:
    before = len(receiver.requests)
    for target in (gateway, no_admin_gateway):
        for name, credential in CREDENTIALS.items():
            for method in ("GET", "POST"):
                status = call(target, method, path, credential)
                assert status in (400, 401, 403), (name, method, status)
    # The operator credential of the gateway without admin is no credential at all.
    assert call(no_admin_gateway, "GET", path, ("admin", ADMIN)) in (400, 403)
    assert receiver.requests[before:] == []


@pytest.mark.parametrize("path", NORMALISING)
def test_ambiguous_paths_are_refused_even_for_the_admin(
    gateway: Gateway, receiver: Receiver, path: str
) -> None:
    before = len(receiver.requests)
    assert call(gateway, "GET", path, ("admin", ADMIN)) == 400
    assert receiver.requests[before:] == []


# What Grafana's Profiles Drilldown app calls through the datasource proxy with the read-only
# credential (grafana/profiles-drilldown ``src/shared/infrastructure/http/ApiClient.ts`` and its
# subclasses): reads of the tenant's own state. Its writes need the admin credential.
DRILLDOWN_READS = [
    "/settings.v1.SettingsService/Get",
    "/settings.v1.RecordingRulesService/ListRecordingRules",
    "/adhocprofiles.v1.AdHocProfileService/List",
    "/capabilities.v1.FeatureFlagsService/GetFeatureFlags",
]
DRILLDOWN_WRITES = [
    "/settings.v1.SettingsService/Set",
    "/settings.v1.RecordingRulesService/UpsertRecordingRule",
    "/settings.v1.RecordingRulesService/DeleteRecordingRule",
    "/adhocprofiles.v1.AdHocProfileService/Upload",
]


def test_grafana_reads_its_tenants_settings_and_rules_but_never_writes_them(
    gateway: Gateway, receiver: Receiver
) -> None:
    query = ("team-a", QUERY["team-a"])
    before = len(receiver.requests)
    for path in DRILLDOWN_READS:
        assert call(gateway, "POST", path, query, {constants.TENANT_HEADER: "team-a|team-b"}) == 200, path
    arrived = receiver.requests[before:]
    assert [r.path for r in arrived] == DRILLDOWN_READS
    # Pyroscope's query side reads "a|b" as a query over both tenants (dskit tenant.TenantIDs);
    # the gateway sends only the authenticated one.
    assert {r.headers["x-scope-orgid"] for r in arrived} == {"team-a"}
    before = len(receiver.requests)
    for path in DRILLDOWN_WRITES:
        assert call(gateway, "POST", path, query) == 401, path
    assert receiver.requests[before:] == []


def test_a_tenants_credentials_never_open_another_tenant(gateway: Gateway, receiver: Receiver) -> None:
    push = constants.PYROSCOPE_PUSH_PATH
    query = constants.PYROSCOPE_LABEL_VALUES_PATH
    # team-a's password under team-b's name, and the other way round.
    assert call(gateway, "POST", push, ("team-b", PUSH["team-a"])) == 401
    assert call(gateway, "POST", query, ("team-b", QUERY["team-a"])) == 401
    before = len(receiver.requests)
    assert (
        call(gateway, "POST", query, ("team-b", QUERY["team-b"]), {constants.TENANT_HEADER: "team-a"}) == 200
    )
    assert receiver.requests[before:][0].headers["x-scope-orgid"] == "team-b"


def test_the_admin_credential_reaches_operator_pages_with_its_own_tenant_choice(
    gateway: Gateway, receiver: Receiver
) -> None:
    before = len(receiver.requests)
    assert call(gateway, "GET", "/ops/object-store/tenants", ("admin", ADMIN), {"X-Scope-OrgID": "t1"}) == 200
    assert call(gateway, "POST", "/settings.v1.SettingsService/Set", ("admin", ADMIN)) == 200
    arrived = receiver.requests[before:]
    assert [r.path for r in arrived] == ["/ops/object-store/tenants", "/settings.v1.SettingsService/Set"]
    assert arrived[0].headers["x-scope-orgid"] == "t1"
    assert "authorization" not in arrived[0].headers
    # It is an operator credential, not a push or query one.
    assert call(gateway, "POST", constants.PYROSCOPE_PUSH_PATH, ("admin", ADMIN)) == 401
    assert call(gateway, "GET", "/ops/object-store/tenants", ("admin", "wrong")) == 401


def test_without_multitenancy_every_role_strips_the_client_tenant(nginx: str, receiver: Receiver) -> None:
    with running_gateway(
        nginx,
        receiver.address,
        {"pyroscope": PUSH["team-a"]},
        multitenancy=False,
        query_passwords={"pyroscope": QUERY["team-a"]},
    ) as single:
        forged = {constants.TENANT_HEADER: "team-b"}
        before = len(receiver.requests)
        assert (
            call(single, "POST", constants.PYROSCOPE_PUSH_PATH, ("pyroscope", PUSH["team-a"]), forged) == 200
        )
        assert (
            call(
                single, "POST", constants.PYROSCOPE_LABEL_VALUES_PATH, ("pyroscope", QUERY["team-a"]), forged
            )
            == 200
        )
        assert all("x-scope-orgid" not in r.headers for r in receiver.requests[before:])
        assert len(receiver.requests[before:]) == 2


def test_microservices_routes_every_api_to_the_component_that_serves_it(nginx: str) -> None:
    with (
        running_receiver() as distributor,
        running_receiver() as frontend,
        running_receiver() as settings,
        running_receiver() as adhoc,
    ):
        receivers = dict(zip(COMPONENTS, (distributor, frontend, settings, adhoc), strict=True))
        with running_gateway(
            nginx,
            frontend.address,
            PUSH,
            multitenancy=True,
            query_passwords=QUERY,
            admin_password=ADMIN,
            component_upstreams={c: r.address for c, r in receivers.items()},
        ) as gateway:
            for route in HTTP_ROUTES:
                assert call(gateway, route.methods[0], request_path(route), role_credential(route)) == 200
            # The admin credential's writes go where the chart's ingress sends them.
            assert call(gateway, "POST", "/settings.v1.SettingsService/Set", ("admin", ADMIN)) == 200
            assert (
                call(gateway, "POST", "/adhocprofiles.v1.AdHocProfileService/Upload", ("admin", ADMIN)) == 200
            )
            assert call(gateway, "GET", "/ops/object-store/tenants", ("admin", ADMIN)) == 200
            assert call(gateway, "GET", constants.PYROSCOPE_READY_PATH, None) == 200
        for component, receiver in receivers.items():
            expected = [request_path(r) for r in HTTP_ROUTES if r.component == component]
            expected += {
                "tenant-settings": ["/settings.v1.SettingsService/Set"],
                "ad-hoc-profiles": ["/adhocprofiles.v1.AdHocProfileService/Upload"],
                "query-frontend": ["/ops/object-store/tenants", constants.PYROSCOPE_READY_PATH],
                "distributor": [],
            }[component]
            assert sorted(r.path for r in receiver.requests) == sorted(expected), component


# --- OTLP over gRPC (HTTP/2) -------------------------------------------------------------------


class GrpcRecorder(grpc.GenericRpcHandler):
    """Any unary method: records (method, metadata), answers an empty message."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        metadata = {str(k): str(v) for k, v in handler_call_details.invocation_metadata}

        def unary(request: bytes, context: grpc.ServicerContext) -> bytes:
            self.calls.append((method, metadata))
            return b""

        return grpc.unary_unary_rpc_method_handler(
            unary, request_deserializer=lambda b: b, response_serializer=lambda b: b
        )


@pytest.fixture(scope="module")
def grpc_upstream() -> Iterator[tuple[str, GrpcRecorder]]:
    recorder = GrpcRecorder()
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((recorder,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", recorder
    finally:
        server.stop(grace=None)


def _export(address: str, method: str, credential: tuple[str, str] | None) -> grpc.StatusCode:
    metadata = [("x-scope-orgid", "team-b")]
    if credential is not None:
        metadata.append(("authorization", _basic(*credential)))
    with grpc.insecure_channel(address) as channel:
        stub = channel.unary_unary(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        try:
            stub(b"\x0a\x00", metadata=metadata, timeout=10)
        except grpc.RpcError as error:
            return error.code()  # type: ignore[no-any-return, unused-ignore]
    return grpc.StatusCode.OK


def test_otlp_grpc_export_passes_with_a_push_credential_and_nothing_else(
    nginx: str, grpc_upstream: tuple[str, GrpcRecorder]
) -> None:
    address, recorder = grpc_upstream
    with running_gateway(
        nginx, address, PUSH, multitenancy=True, query_passwords=QUERY, grpc=True
    ) as gateway:
        assert gateway.grpc_address is not None
        assert (
            _export(gateway.grpc_address, OTLP_GRPC_EXPORT_PATH, ("team-a", PUSH["team-a"]))
            == grpc.StatusCode.OK
        )
        assert recorder.calls[-1][0] == OTLP_GRPC_EXPORT_PATH
        assert recorder.calls[-1][1]["x-scope-orgid"] == "team-a"
        assert "authorization" not in recorder.calls[-1][1]
        calls = len(recorder.calls)
        for credential in (("team-a", QUERY["team-a"]), ("team-a", "wrong"), None):
            assert (
                _export(gateway.grpc_address, OTLP_GRPC_EXPORT_PATH, credential)
                == grpc.StatusCode.UNAUTHENTICATED
            )
        # Any other gRPC method is refused before any credential check.
        other = "/ingester.v1.IngesterService/Push"
        assert (
            _export(gateway.grpc_address, other, ("team-a", PUSH["team-a"]))
            == grpc.StatusCode.PERMISSION_DENIED
        )
        assert len(recorder.calls) == calls
