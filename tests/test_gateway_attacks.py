"""Attacks on the gateway's tenant isolation and allow-list, sent as raw bytes to REAL nginx
(Debian's) running the generated config, with a recording receiver standing in for Pyroscope.

Each request is written to the socket exactly as given (no client library normalises it), and
what reached the upstream is observed: a forged tenant never arrives, a refused request never
arrives, a smuggled request never arrives. docs/gateway.md lists these attempts and results.
"""

from __future__ import annotations

import base64
import concurrent.futures
import shutil
import socket
import subprocess
from collections.abc import Iterator

import grpc
import pytest
from pyroscope_bundle import constants
from pyroscope_bundle.gateway.routes import OTLP_GRPC_EXPORT_PATH

from tests.gateway_stack import (
    ROLE_ADMIN,
    ROLE_PUSH,
    ROLE_QUERY,
    Gateway,
    Receiver,
    role_gateway,
    running_gateway,
)
from tests.test_gateway_roles import GrpcRecorder

pytestmark = pytest.mark.slow

PUSH, QUERY, ADMIN = ROLE_PUSH, ROLE_QUERY, ROLE_ADMIN
LABEL_VALUES = constants.PYROSCOPE_LABEL_VALUES_PATH


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


QUERY_A = basic("team-a", QUERY["team-a"])


def request(
    path: str = LABEL_VALUES,
    headers: str = "",
    auth: str | None = QUERY_A,
    method: str = "POST",
    # The receiver answers LabelValues from a JSON body naming the label.
    body: bytes = b'{"name": "service_name"}',
) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\n"
    if auth is not None:
        head += f"Authorization: {auth}\r\n"
    head += f"{headers}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    return head.encode() + body


def send(gateway: Gateway, raw: bytes) -> list[int]:
    """The raw bytes on one connection; the status of every response that came back."""
    host, port = gateway.url.removeprefix("http://").split(":")
    answer = b""
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(raw)
        sock.settimeout(1)
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except TimeoutError:
            pass  # a connection nginx keeps open: what came back so far
    return [int(line.split()[1]) for line in answer.split(b"\r\n") if line.startswith(b"HTTP/1.")]


@pytest.fixture(scope="module")
def gateway(nginx: str, receiver: Receiver) -> Iterator[Gateway]:
    with role_gateway(nginx, receiver.address) as gateway:
        yield gateway


FORGED_TENANTS = {
    "another": "X-Scope-OrgID: team-b\r\n",
    "two-headers": "X-Scope-OrgID: team-b\r\nX-Scope-OrgID: team-c\r\n",
    "lower-case": "x-scope-orgid: team-b\r\n",
    "federated": "X-Scope-OrgID: team-a|team-b\r\n",
    "underscore": "X_Scope_OrgID: team-b\r\n",
}


@pytest.mark.parametrize("forged", FORGED_TENANTS.values(), ids=FORGED_TENANTS.keys())
def test_a_forged_tenant_never_reaches_pyroscope(gateway: Gateway, receiver: Receiver, forged: str) -> None:
    before = len(receiver.requests)
    assert send(gateway, request(headers=forged)) == [200]
    [arrived] = receiver.requests[before:]
    assert arrived.headers["x-scope-orgid"] == "team-a"
    assert "x_scope_orgid" not in arrived.headers and "authorization" not in arrived.headers


REFUSED = {
    "space-before-colon": (request(headers="X-Scope-OrgID : team-b\r\n"), 400),
    "obs-fold": (request(headers="X-Foo: a\r\n X-Scope-OrgID: team-b\r\n"), 400),
    "two-authorization": (request(headers=f"Authorization: {basic('team-b', QUERY['team-b'])}\r\n"), 400),
    "other-tenants-name": (request(auth=basic("team-b", QUERY["team-a"])), 401),
    "federated-user": (request(auth=basic("team-a|team-b", QUERY["team-a"])), 401),
    "empty-password": (request(auth=basic("team-a", "")), 401),
    "password-with-extra": (request(auth=basic("team-a", QUERY["team-a"] + ":x")), 401),
    "push-password": (request(auth=basic("team-a", PUSH["team-a"])), 401),
    "bearer": (request(auth="Bearer " + QUERY["team-a"]), 401),
    "lower-case-method": (request(method="post"), 400),
    "options": (request(method="OPTIONS"), 403),
    "trace": (request(method="TRACE"), 405),
    "encoded-traversal": (request(path="/querier.v1.QuerierService/%252e%252e/ops"), 400),
    "nul": (request(path="/querier.v1.QuerierService/LabelValues%00"), 400),
    "fragment-traversal": (request(path="/querier.v1.QuerierService/LabelValues#/../../ops"), 400),
    "absolute-form": (
        b"GET http://x/ops/object-store/tenants HTTP/1.1\r\nHost: y\r\n"
        + f"Authorization: {QUERY_A}\r\nConnection: close\r\n\r\n".encode(),
        401,
    ),
    # A second "HTTP/1.x" in the request line: Go would read the path up to the first space.
    "space-in-request-line": (
        request(path="/querier.v1.QuerierService/x HTTP/1.0 /ops/object-store/tenants"),
        400,
    ),
    "connect": (
        f"CONNECT 127.0.0.1:4040 HTTP/1.1\r\nHost: x\r\nAuthorization: {QUERY_A}\r\n\r\n".encode(),
        400,
    ),
    "cl-and-te": (
        f"POST {LABEL_VALUES} HTTP/1.1\r\nHost: x\r\nAuthorization: {QUERY_A}\r\nContent-Length: 4\r\n"
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        "GET /ops/object-store/tenants HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        400,
    ),
    "bad-chunk-size": (
        f"POST {LABEL_VALUES} HTTP/1.1\r\nHost: x\r\nAuthorization: {QUERY_A}\r\n"
        "Transfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n".encode(),
        400,
    ),
}


@pytest.mark.parametrize(("raw", "status"), REFUSED.values(), ids=REFUSED.keys())
def test_malformed_forged_or_smuggled_requests_are_refused_before_pyroscope(
    gateway: Gateway, receiver: Receiver, raw: bytes, status: int
) -> None:
    before = len(receiver.requests)
    assert send(gateway, raw)[0] == status
    assert receiver.requests[before:] == []


def test_a_request_hidden_in_a_chunked_body_or_an_upgrade_is_never_forwarded(
    gateway: Gateway, receiver: Receiver
) -> None:
    hidden = (
        f"POST {LABEL_VALUES} HTTP/1.1\r\nHost: x\r\nAuthorization: {QUERY_A}\r\n"
        'Transfer-Encoding: chunked\r\n\r\n18\r\n{"name": "service_name"}\r\n0\r\n\r\n'
        "GET /ops/object-store/tenants HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    ).encode()
    upgrade = request(headers="Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n").replace(
        b"Connection: close", b"Connection: Upgrade, HTTP2-Settings"
    )
    before = len(receiver.requests)
    # The hidden request is at most the connection's second request, which nginx checks like any
    # other (nothing reaches Pyroscope without the gateway's own checks).
    assert send(gateway, hidden)[0] == 200
    assert send(gateway, upgrade) == [200]
    arrived = receiver.requests[before:]
    assert [r.path for r in arrived] == [LABEL_VALUES, LABEL_VALUES]
    assert all("upgrade" not in r.headers and r.body == b'{"name": "service_name"}' for r in arrived)


# --- the OTLP gRPC (HTTP/2) listener -------------------------------------------------------------


@pytest.fixture(scope="module")
def grpc_upstream() -> Iterator[tuple[str, GrpcRecorder]]:
    """A gRPC server that records every method called and the metadata it arrived with."""
    recorder = GrpcRecorder()
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((recorder,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", recorder
    finally:
        server.stop(grace=None)


GRPC_OTHER_METHODS = [
    "/querier.v1.QuerierService/LabelValues",
    "/grpc.health.v1.Health/Check",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    "/push.v1.PusherService/Push",
    OTLP_GRPC_EXPORT_PATH + "/",
]
RAW_H2_PATHS = [
    OTLP_GRPC_EXPORT_PATH + "%2f..%2f..%2fquerier.v1.QuerierService/LabelValues",
    OTLP_GRPC_EXPORT_PATH + "/../../querier.v1.QuerierService/LabelValues",
    "/" + OTLP_GRPC_EXPORT_PATH,
]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl sends raw HTTP/2 paths")
def test_the_grpc_listener_passes_export_with_the_gateways_tenant_and_nothing_else(
    nginx: str, grpc_upstream: tuple[str, GrpcRecorder]
) -> None:
    address, recorder = grpc_upstream
    push_a = ("team-a", PUSH["team-a"])
    with running_gateway(
        nginx, address, PUSH, multitenancy=True, query_passwords=QUERY, grpc=True
    ) as gateway:
        assert gateway.grpc_address is not None
        forged = [("x-scope-orgid", "team-b"), ("x-scope-orgid", "team-a|team-b")]
        assert _call(gateway.grpc_address, OTLP_GRPC_EXPORT_PATH, push_a, forged) == grpc.StatusCode.OK
        assert recorder.calls[-1][1]["x-scope-orgid"] == "team-a"
        calls = len(recorder.calls)
        for method in GRPC_OTHER_METHODS:
            assert _call(gateway.grpc_address, method, push_a) == grpc.StatusCode.PERMISSION_DENIED, method
        # Raw HTTP/2 paths (curl sends them as given): refused before any location.
        for path in RAW_H2_PATHS:
            status = subprocess.run(
                [
                    "curl",
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "--http2-prior-knowledge",
                    "--path-as-is",
                    "-u",
                    ":".join(push_a),
                    "-H",
                    "content-type: application/grpc",
                    "--data-binary",
                    "",
                    f"http://{gateway.grpc_address}{path}",
                ],
                capture_output=True,
                text=True,
                check=False,
                timeout=10,
            ).stdout
            assert status == "400", (path, status)
        assert len(recorder.calls) == calls


def _call(
    address: str, method: str, credential: tuple[str, str], extra: list[tuple[str, str]] | None = None
) -> grpc.StatusCode:
    metadata = [("authorization", basic(*credential)), *(extra or [])]
    with grpc.insecure_channel(address) as channel:
        stub = channel.unary_unary(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        try:
            stub(b"", metadata=metadata, timeout=10)
        except grpc.RpcError as error:
            return error.code()  # type: ignore[no-any-return, unused-ignore]
    return grpc.StatusCode.OK
