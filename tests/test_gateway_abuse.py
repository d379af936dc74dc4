"""Abuse bounds of the gateway in REAL nginx on loopback: failed authentications are
rate-limited per client address (delayed, then 429) while valid credentials never are.

The storm comes from 127.0.0.2 or 127.0.0.1 and the legitimate client from the other (Linux
routes the whole 127/8 to loopback), so each has the per-address bucket it would have for real.
"""

from __future__ import annotations

import base64
import concurrent.futures
import http.client
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc
import pytest
from pyroscope_bundle import constants
from pyroscope_bundle.gateway.nginx import FAILED_AUTH_LOCATION, REALM, UNAUTHENTICATED_ZONE

from tests.gateway_stack import UNLIMITED_FAILURES, Gateway, Receiver, running_gateway

pytestmark = pytest.mark.slow

PUSH = {"team-a": "push-a-" + "p" * 25}
WRONG = ("team-a", "not-the-password-" + "w" * 15)
LEGIT = "127.0.0.1"
STORM = "127.0.0.2"
# Small numbers keep the test short; the stack's defaults are in constants.py.
RATE, BURST = 20, 4
LIMITS = {"failed_auth_per_second": RATE, "failed_auth_burst": BURST}


@dataclass(frozen=True)
class Answer:
    status: int
    www_authenticate: str | None
    seconds: float


def push(
    gateway: Gateway,
    credential: tuple[str, str] | None,
    source: str = LEGIT,
    forwarded_for: str | None = None,
) -> Answer:
    """One push (a fresh connection from ``source``, with ``forwarded_for`` as its
    X-Forwarded-For); its status, challenge and duration."""
    host, port = gateway.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30, source_address=(source, 0))
    headers = {"Content-Type": "application/proto"}
    if credential is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(credential).encode()).decode()
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    started = time.monotonic()
    try:
        connection.request("POST", constants.PYROSCOPE_PUSH_PATH, body=b"", headers=headers)
        response = connection.getresponse()
        response.read()
        return Answer(response.status, response.getheader("WWW-Authenticate"), time.monotonic() - started)
    finally:
        connection.close()


def storm(
    gateway: Gateway, count: int, source: str = STORM, forwarded_for: Callable[[int], str] | None = None
) -> list[Answer]:
    """``count`` wrong-password pushes at once from ``source``, the i-th with X-Forwarded-For
    ``forwarded_for(i)`` when given."""

    def one(index: int) -> Answer:
        return push(gateway, WRONG, source, forwarded_for(index) if forwarded_for else None)

    with concurrent.futures.ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def wait_until_limiting(gateway: Gateway, deadline: float = 10.0) -> None:
    """Until nginx has refused a storm request (its error log says so): the bucket is full now.
    Waiting on the event, not a fixed sleep: on a loaded machine a storm starts late."""
    stop = time.monotonic() + deadline
    while "limiting requests" not in gateway.stderr():
        assert time.monotonic() < stop, "the storm never filled its bucket"
        time.sleep(0.01)


@pytest.fixture
def gateway(nginx: str, receiver: Receiver) -> Iterator[Gateway]:
    """A gateway of its own per test: every test starts with empty per-address buckets."""
    with running_gateway(
        nginx, receiver.address, PUSH, multitenancy=True, limits=LIMITS, grpc=True
    ) as gateway:
        yield gateway


def test_the_config_limits_failures_only(gateway: Gateway) -> None:
    assert f"error_page 401 = {FAILED_AUTH_LOCATION};" in gateway.config
    assert f"rate={RATE}r/s" in gateway.config and f"burst={BURST};" in gateway.config
    # No allow-listed location limits requests itself: that would switch the failure limit off
    # (nginx applies limit_req once per request).
    assert gateway.config.count("limit_req zone=") == 2  # the HTTP and the gRPC listener


def test_failures_beyond_the_burst_get_429_and_every_answer_keeps_the_challenge(
    gateway: Gateway, receiver: Receiver
) -> None:
    before = len(receiver.requests)
    started = time.monotonic()
    answers = storm(gateway, 30)
    elapsed = time.monotonic() - started
    statuses = sorted(answer.status for answer in answers)
    # One passes at once, BURST more wait for their turn, the rest are refused at once - plus
    # what the rate lets through while the storm's requests arrive (at most its whole duration:
    # on a loaded machine 30 threads do not connect at once). Without the limit all 30 pass.
    admitted = 1 + BURST + int(RATE * elapsed) + 1
    assert admitted < 30, f"the storm took {elapsed:.2f} s: too slow to show the limit"
    assert statuses.count(401) <= admitted, (statuses, elapsed)
    assert statuses.count(429) >= 30 - admitted, (statuses, elapsed)
    assert set(statuses) == {401, 429}
    assert {answer.www_authenticate for answer in answers} == {f'Basic realm="{REALM}"'}
    assert len(receiver.requests) == before, "a failed authentication never reaches the upstream"
    assert "limiting requests" in gateway.stderr()


def test_a_client_that_keeps_failing_is_slowed_to_the_rate(gateway: Gateway) -> None:
    count = 11
    started = time.monotonic()
    answers = [push(gateway, WRONG) for _ in range(count)]
    elapsed = time.monotonic() - started
    assert {answer.status for answer in answers} == {401}
    assert {answer.www_authenticate for answer in answers} == {f'Basic realm="{REALM}"'}
    # Each failure after the first waits 1/RATE: (count - 1) / RATE seconds at least.
    assert elapsed >= 0.9 * (count - 1) / RATE, elapsed


def test_valid_credentials_are_never_limited_even_from_the_storming_address(
    gateway: Gateway, receiver: Receiver
) -> None:
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as background:
        running = background.submit(storm, gateway, 40, STORM)
        wait_until_limiting(gateway)
        from_storm_address = push(gateway, ("team-a", PUSH["team-a"]), STORM)
        from_other_address = push(gateway, ("team-a", PUSH["team-a"]), LEGIT)
        failed = running.result()
    assert 429 in {answer.status for answer in failed}
    for answer in (from_storm_address, from_other_address):
        assert answer.status == 200
        assert answer.seconds < 0.5, answer
    assert [r.headers["x-scope-orgid"] for r in receiver.requests[-2:]] == ["team-a", "team-a"]


def test_another_address_keeps_its_own_bucket(gateway: Gateway) -> None:
    assert 429 in {answer.status for answer in storm(gateway, 30, STORM)}
    # A mistyped password elsewhere is answered at once with the challenge, not 429.
    answer = push(gateway, WRONG, LEGIT)
    assert answer.status == 401 and answer.www_authenticate == f'Basic realm="{REALM}"'
    assert answer.seconds < 0.5
    # A request without credentials (a browser's first try) gets the challenge too.
    assert push(gateway, None, LEGIT).www_authenticate == f'Basic realm="{REALM}"'


# --- behind a proxy: X-Forwarded-For only from server.gateway.trustedProxies ---------------------

PROXY = "127.0.0.2"  # an Ingress controller's pod, trusted
UNTRUSTED = "127.0.0.3"  # anyone else who can reach the gateway
# Documentation addresses (RFC 5737) as the external clients the proxy names.
STORMING_CLIENT, OTHER_CLIENT = "203.0.113.7", "198.51.100.9"
# An IPv6 entry too: nginx must accept every form the config model lets through.
TRUSTED = (f"{PROXY}/32", "fd00::/8")
# A slow rate: a storm's bucket stays full (429 at once) while the other client tries.
SLOW_BURST = 1
SLOW = {"failed_auth_per_second": 2, "failed_auth_burst": SLOW_BURST}


def _without_real_ip(config: str) -> str:
    """The same config without the realip directives (what the tests show they are for)."""
    return "\n".join(line for line in config.splitlines() if "real_ip" not in line) + "\n"


def _storm_then_other_client(gateway: Gateway) -> tuple[list[Answer], Answer]:
    """A storm through the trusted proxy as one external client and, while its bucket is full,
    one failure of another client behind the same proxy."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as background:
        running = background.submit(storm, gateway, 40, PROXY, lambda _: STORMING_CLIENT)
        wait_until_limiting(gateway)
        # What a proxy appends: the client's own (forged) header first, its address last.
        other = push(gateway, WRONG, PROXY, f"10.9.9.9, {OTHER_CLIENT}")
        return running.result(), other


@pytest.mark.parametrize("directives", [True, False], ids=["realip", "without-the-directives"])
def test_clients_behind_a_trusted_proxy_get_their_own_failure_buckets(
    nginx: str, receiver: Receiver, directives: bool
) -> None:
    edit = None if directives else _without_real_ip
    with running_gateway(
        nginx, receiver.address, PUSH, multitenancy=True, limits=SLOW, trusted_proxies=TRUSTED, edit=edit
    ) as gateway:
        assert ("set_real_ip_from 127.0.0.2/32;" in gateway.config) is directives
        stormed, other = _storm_then_other_client(gateway)
        log = (gateway.directory / "access.log").read_text()
        logged = {line.split(" ", 1)[0] for line in log.splitlines()}
    assert 429 in {answer.status for answer in stormed}
    if directives:
        # The other client's mistyped password is answered at once with the challenge.
        assert other.status == 401 and other.www_authenticate == f'Basic realm="{REALM}"', other
        assert other.seconds < 0.5, other
        assert logged == {STORMING_CLIENT, OTHER_CLIENT}, "the access log names the clients"
    else:
        # One shared bucket: the storm refuses everyone behind the proxy.
        assert other.status == 429, other
        assert logged == {PROXY}


def test_x_forwarded_for_from_an_untrusted_address_is_ignored(nginx: str, receiver: Receiver) -> None:
    with running_gateway(
        nginx, receiver.address, PUSH, multitenancy=True, limits=SLOW, trusted_proxies=TRUSTED
    ) as gateway:
        # Every request claims another client: it still counts as the one address it comes from.
        stormed = storm(gateway, 30, UNTRUSTED, lambda i: f"203.0.113.{i + 1}")
        statuses = sorted(answer.status for answer in stormed)
        assert statuses.count(429) >= 30 - SLOW_BURST - 2, statuses
        # The proxy's clients keep their own buckets meanwhile.
        assert push(gateway, WRONG, PROXY, OTHER_CLIENT).status == 401


def test_without_trusted_proxies_x_forwarded_for_is_ignored(gateway: Gateway) -> None:
    assert "real_ip" not in gateway.config
    stormed = storm(gateway, 30, STORM, lambda i: f"203.0.113.{i + 1}")
    statuses = sorted(answer.status for answer in stormed)
    assert statuses.count(429) >= 30 - BURST - 2, statuses


def _grpc_export(address: str, credential: tuple[str, str]) -> grpc.StatusCode:
    token = base64.b64encode(":".join(credential).encode()).decode()
    with grpc.insecure_channel(address) as channel:
        stub = channel.unary_unary(
            "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export",
            request_serializer=lambda b: b,
            response_deserializer=lambda b: b,
        )
        try:
            stub(b"", metadata=[("authorization", f"Basic {token}")], timeout=10)
        except grpc.RpcError as error:
            return error.code()  # type: ignore[no-any-return, unused-ignore]
    return grpc.StatusCode.OK


def test_grpc_failures_are_bounded_too(gateway: Gateway) -> None:
    assert gateway.grpc_address is not None
    address = gateway.grpc_address
    with concurrent.futures.ThreadPoolExecutor(max_workers=30) as pool:
        codes = list(pool.map(lambda _: _grpc_export(address, WRONG), range(30)))
    assert grpc.StatusCode.UNAUTHENTICATED in codes
    # 429 maps to UNAVAILABLE in gRPC's HTTP status mapping.
    assert grpc.StatusCode.UNAVAILABLE in codes
    assert set(codes) <= {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.UNAVAILABLE}


# --- requests nobody authenticated cannot take valid clients' slots -------------------------------

# A small bound: a few held requests fill an address's bucket.
SLOTS = 6


def hold(gateway: Gateway, path: str, count: int, credential: tuple[str, str] | None) -> list[socket.socket]:
    """``count`` requests from STORM that announce a large body and send only its start.

    nginx answers each one (401, 403) before reading the body and then keeps the request, and
    any ``limit_conn`` slot it holds, while it discards the rest of the body: up to
    ``lingering_time`` (30 s) for a client that keeps trickling.
    """
    host, port = gateway.url.removeprefix("http://").split(":")
    auth = ""
    if credential is not None:
        auth = f"Authorization: Basic {base64.b64encode(':'.join(credential).encode()).decode()}\r\n"
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 1000000\r\n\r\n"
    held = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind((STORM, 0))
        sock.connect((host, int(port)))
        sock.sendall(head.encode() + b"a" * 1000)
        held.append(sock)
    time.sleep(0.3)  # every request answered and in its discard phase
    return held


@pytest.fixture
def small_gateway(nginx: str, receiver: Receiver) -> Iterator[Gateway]:
    with running_gateway(
        nginx,
        receiver.address,
        PUSH,
        multitenancy=True,
        # Failures not rate-limited here: the connection bound is what is under test.
        limits={**UNLIMITED_FAILURES, "connections_per_client": SLOTS},
    ) as gateway:
        yield gateway


@pytest.mark.parametrize("credential", [None, WRONG], ids=["no-credentials", "wrong-password"])
def test_held_unauthenticated_requests_never_take_a_valid_clients_slot_behind_the_same_address(
    small_gateway: Gateway, credential: tuple[str, str] | None
) -> None:
    # Behind an Ingress or a NAT every client has the same address: here STORM's.
    held = hold(small_gateway, constants.PYROSCOPE_PUSH_PATH, SLOTS + 2, credential)
    try:
        assert push(small_gateway, ("team-a", PUSH["team-a"]), STORM).status == 200
        for sock in held:
            sock.sendall(b"a" * 100)  # still sending: nginx still discards
        assert push(small_gateway, ("team-a", PUSH["team-a"]), STORM).status == 200
    finally:
        for sock in held:
            sock.close()
    assert f'limiting connections by zone "{UNAUTHENTICATED_ZONE}"' in small_gateway.stderr()


@pytest.mark.parametrize("path", ["/unknown", constants.PYROSCOPE_METRICS_PATH])
def test_refused_paths_count_in_their_address_bound(small_gateway: Gateway, path: str) -> None:
    # Before, a 403 came from ``return`` (rewrite phase, before limit_conn): never counted, so
    # one address could hold every worker connection with them (1100 held requests from one
    # address made a 1024-connection worker reset every other client's push).
    held = hold(small_gateway, path, SLOTS + 4, None)
    try:
        statuses = []
        for sock in held:
            sock.settimeout(2)
            statuses.append(sock.recv(12).decode())
        # The first SLOTS are refused (403) and counted; beyond them the address gets 429.
        assert sorted(statuses) == ["HTTP/1.1 403"] * SLOTS + ["HTTP/1.1 429"] * 4, statuses
        for source in (LEGIT, STORM):
            assert push(small_gateway, ("team-a", PUSH["team-a"]), source).status == 200
    finally:
        for sock in held:
            sock.close()


def _held_open_by_slow_headers(gateway: Gateway, source: str, within: float) -> bool:
    """Send half a request line and nothing more: is the connection still open ``within`` s later?"""
    host, port = gateway.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=within + 5, source_address=(source, 0)) as sock:
        sock.sendall(b"POST " + constants.PYROSCOPE_PUSH_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n")
        sock.settimeout(within)
        try:
            while sock.recv(4096):
                pass  # nginx may answer 408 before it closes; the close is what counts
        except TimeoutError:
            return True
        except ConnectionResetError:
            return False
        return False


def test_slow_header_clients_are_cut_off_after_the_header_timeout(nginx: str, receiver: Receiver) -> None:
    """A client that never finishes its headers holds a worker connection before any
    per-address limit counts it (slowloris): the header timeout closes it; without the
    directive nginx keeps it for its default 60 s."""
    with running_gateway(
        nginx, receiver.address, PUSH, multitenancy=True, limits={"header_timeout_seconds": 1}
    ) as gateway:
        assert not _held_open_by_slow_headers(gateway, STORM, within=4)
    with running_gateway(
        nginx,
        receiver.address,
        PUSH,
        multitenancy=True,
        edit=lambda conf: conf.replace("client_header_timeout 1s;", ""),
        limits={"header_timeout_seconds": 1},
    ) as gateway:
        assert _held_open_by_slow_headers(gateway, STORM, within=4)
