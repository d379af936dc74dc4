"""``pyroscope-bundle smoke``: push one synthetic profile, read it back, say clearly what broke.

The post-``pulumi up`` health gate. It talks to the same APIs the profilers and Grafana use:

1. ``GET /ready`` (unauthenticated through the gateway): is anything listening, is it ready?
2. ``POST /push.v1.PusherService/Push`` (Connect, protobuf), the endpoint every current SDK
   pushes to, with a tiny hand-built pprof profile labelled with a unique ``smoke_run`` id.
3. ``POST /querier.v1.QuerierService/LabelValues`` (Connect, JSON) until that id is listed:
   the profile went through ingest and is queryable, for this tenant.

The profile is built here rather than by running the pyroscope-io agent: the agent is a
native extension that is only in the test extra, takes an upload interval to flush, and only
logs HTTP errors, while this needs the exact status of one request to explain a failure.
Standard library only (urllib), so it runs anywhere the bundle is installed.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TextIO
from urllib.parse import urlsplit

from pyroscope_bundle_runtime.contract import redact_url_credentials

from pyroscope_bundle import constants

SMOKE_SERVICE = "pyroscope-bundle-smoke"
RUN_LABEL = "smoke_run"
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class SmokeCheckError(Exception):
    """A check failed; the message is what the user reads."""


# --- protobuf wire format (just what a PushRequest and a pprof Profile need) --------------------


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field_varint(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _field_bytes(number: int, value: bytes) -> bytes:
    return _varint((number << 3) | 2) + _varint(len(value)) + value


def _field_string(number: int, value: str) -> bytes:
    return _field_bytes(number, value.encode())


def _packed(number: int, values: list[int]) -> bytes:
    return _field_bytes(number, b"".join(_varint(v) for v in values))


def build_pprof(now_ns: int, duration_ns: int = 10_000_000_000) -> bytes:
    """A pprof ``Profile`` (uncompressed, as the Python agent sends it): CPU time in
    ``smoke_main -> smoke_work``."""
    strings = ["", "cpu", "nanoseconds", "smoke_main", "smoke_work", "smoke.py"]
    cpu_type = _field_varint(1, 1) + _field_varint(2, 2)  # ValueType{type: "cpu", unit: "nanoseconds"}
    period_ns = 10_000_000  # 100 Hz, the SDKs' default sample rate
    profile = b"".join(
        [
            _field_bytes(1, cpu_type),  # sample_type
            # sample: leaf first (smoke_work called by smoke_main), 50 samples of CPU time
            _field_bytes(2, _packed(1, [2, 1]) + _packed(2, [50 * period_ns])),
            # location {id, line {function_id}}
            _field_bytes(4, _field_varint(1, 1) + _field_bytes(4, _field_varint(1, 1))),
            _field_bytes(4, _field_varint(1, 2) + _field_bytes(4, _field_varint(1, 2))),
            # function {id, name, system_name, filename}
            _field_bytes(
                5, _field_varint(1, 1) + _field_varint(2, 3) + _field_varint(3, 3) + _field_varint(4, 5)
            ),
            _field_bytes(
                5, _field_varint(1, 2) + _field_varint(2, 4) + _field_varint(3, 4) + _field_varint(4, 5)
            ),
            *[_field_string(6, text) for text in strings],  # string_table
            _field_varint(9, now_ns),  # time_nanos
            _field_varint(10, duration_ns),  # duration_nanos
            _field_bytes(11, cpu_type),  # period_type
            _field_varint(12, period_ns),  # period
        ]
    )
    return profile


def build_push_request(labels: Mapping[str, str], raw_profile: bytes, profile_id: str) -> bytes:
    """A ``push.v1.PushRequest`` with one series (labels sorted by name, as Pyroscope expects)."""
    label_pairs = b"".join(
        _field_bytes(1, _field_string(1, name) + _field_string(2, labels[name])) for name in sorted(labels)
    )
    sample = _field_bytes(2, _field_bytes(1, raw_profile) + _field_string(2, profile_id))
    return _field_bytes(1, label_pairs + sample)


def smoke_labels(run_id: str) -> dict[str, str]:
    return {"__name__": "process_cpu", "service_name": SMOKE_SERVICE, RUN_LABEL: run_id}


def label_values_request(start_ms: int, end_ms: int) -> bytes:
    """Every ``smoke_run`` value of the smoke service in the window (Connect JSON; int64 as text)."""
    return json.dumps(
        {
            "name": RUN_LABEL,
            "matchers": [f'{{service_name="{SMOKE_SERVICE}"}}'],
            "start": str(start_ms),
            "end": str(end_ms),
        }
    ).encode()


def parse_label_values(body: bytes) -> list[str]:
    """``types.v1.LabelValuesResponse`` as Connect JSON (an empty list is omitted)."""
    try:
        document = json.loads(body or b"{}")
    except json.JSONDecodeError as error:
        raise SmokeCheckError(f"query API answered with something that is not JSON: {error}") from None
    names = document.get("names", []) if isinstance(document, dict) else None
    if not isinstance(names, list):
        raise SmokeCheckError(f"query API answered with an unexpected document: {str(document)[:200]}")
    return [str(name) for name in names]


# --- HTTP ----------------------------------------------------------------------------------------


@dataclass
class Target:
    url: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    tenant: str | None = None
    timeout: float = 10.0
    # The gateway's read-only (query) password for the read-back; None: ``password``.
    query_password: str | None = field(default=None, repr=False)

    def headers(self, content_type: str | None = None, *, query: bool = False) -> dict[str, str]:
        headers = {"User-Agent": "pyroscope-bundle-smoke"}
        if content_type:
            headers["Content-Type"] = content_type
            headers["Connect-Protocol-Version"] = "1"
        password = self.query_password if query and self.query_password is not None else self.password
        if self.user is not None and password is not None:
            token = base64.b64encode(f"{self.user}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        if self.tenant:
            headers[constants.TENANT_HEADER] = self.tenant
        return headers


@dataclass
class Response:
    status: int
    body: bytes


def _request(
    target: Target,
    method: str,
    path: str,
    body: bytes | None,
    content_type: str | None,
    *,
    query: bool = False,
) -> Response:
    # The scheme is checked to be http(s) in run_smoke.
    url = target.url.rstrip("/") + path
    headers = target.headers(content_type, query=query)
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=target.timeout) as answer:  # noqa: S310
            return Response(answer.status, answer.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, error.read())
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        if isinstance(reason, socket.timeout | TimeoutError):
            reason = f"no answer within {target.timeout:g}s"
        raise SmokeCheckError(f"cannot reach {target.url}: {reason}") from None


def explain_status(step: str, response: Response, url: str, path: str) -> str:
    """The user-facing reason for a failed HTTP answer."""
    detail = response.body[:200].decode(errors="replace").strip()
    if response.status == 401:
        which = "--query-password-env (the read-only credential)" if step == "query" else "--password-env"
        return f"{step}: authentication failed (HTTP 401): check --user/{which}"
    if response.status == 403:
        return f"{step}: access denied (HTTP 403) for this user/tenant"
    if response.status == 404:
        return f"{step}: {url}{path} not found (HTTP 404): is --url the Pyroscope server or its gateway?"
    if response.status == 413:
        return f"{step}: payload too large (HTTP 413): the gateway's or server's body limit is too small"
    suffix = f": {detail}" if detail else ""
    return f"{step} failed: HTTP {response.status}{suffix}"


# --- the check -----------------------------------------------------------------------------------


@dataclass
class SmokeResult:
    run_id: str
    steps: list[str]


def run_smoke(
    target: Target,
    *,
    read_back_seconds: float = 60.0,
    poll_seconds: float = 2.0,
    log: Callable[[str], None] = lambda line: None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> SmokeResult:
    """Readiness, push, read-back; raise :class:`SmokeCheckError` with the reason on the first failure."""
    scheme = urlsplit(target.url).scheme
    if scheme not in ("http", "https"):
        raise SmokeCheckError(f"--url must start with http:// or https://, got {target.url!r}")
    steps: list[str] = []

    ready = _request(target, "GET", constants.PYROSCOPE_READY_PATH, None, None)
    if ready.status == 200:
        steps.append(f"ready: {constants.PYROSCOPE_READY_PATH} answered 200")
    elif ready.status == 404:
        steps.append(f"ready: no {constants.PYROSCOPE_READY_PATH} here (hosted service?), skipped")
    else:
        raise SmokeCheckError(
            explain_status("readiness check", ready, target.url, constants.PYROSCOPE_READY_PATH)
        )
    log(steps[-1])

    run_id = secrets.token_hex(8)
    started = clock()
    now_ns = int(started * 1e9)
    payload = build_push_request(smoke_labels(run_id), build_pprof(now_ns), profile_id=run_id)
    pushed = _request(target, "POST", constants.PYROSCOPE_PUSH_PATH, payload, "application/proto")
    if pushed.status != 200:
        raise SmokeCheckError(explain_status("push", pushed, target.url, constants.PYROSCOPE_PUSH_PATH))
    steps.append(f"push: accepted (service_name={SMOKE_SERVICE}, {RUN_LABEL}={run_id})")
    log(steps[-1])

    start_ms = int(started * 1000) - 3_600_000
    while True:
        end_ms = int(clock() * 1000) + 60_000
        body = label_values_request(start_ms, end_ms)
        answer = _request(
            target, "POST", constants.PYROSCOPE_LABEL_VALUES_PATH, body, "application/json", query=True
        )
        if answer.status != 200:
            raise SmokeCheckError(
                explain_status("query", answer, target.url, constants.PYROSCOPE_LABEL_VALUES_PATH)
            )
        if run_id in parse_label_values(answer.body):
            steps.append(f"query: the pushed profile is readable after {clock() - started:.1f}s")
            log(steps[-1])
            return SmokeResult(run_id, steps)
        elapsed = clock() - started
        if elapsed >= read_back_seconds:
            raise SmokeCheckError(
                f"query: the pushed profile was accepted but not readable within {read_back_seconds:g}s "
                "(check the server's ingest/query logs; with multi-tenancy, the tenant of the push "
                "and of the query must match)"
            )
        # Never past the deadline: the last poll is at read_back_seconds, not a poll later.
        sleep(min(poll_seconds, read_back_seconds - elapsed))


def smoke_command(
    url: str,
    user: str | None,
    password_env: str | None,
    tenant: str | None,
    read_back_seconds: float,
    *,
    query_password_env: str | None = None,
    environ: Mapping[str, str] = os.environ,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """The CLI entry: exit 0 when push and read-back work, 1 with a reason when not, 2 on usage."""
    out = out or sys.stdout
    err = err or sys.stderr
    if (user is None) != (password_env is None):
        print("smoke: error: --user and --password-env go together", file=err)
        return EXIT_USAGE
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        shown = redact_url_credentials(url)
        print(f"smoke: error: --url must be an http:// or https:// URL, got {shown!r}", file=err)
        return EXIT_USAGE
    password = None
    if password_env is not None:
        password = environ.get(password_env)
        if not password:
            print(
                f"smoke: error: environment variable {password_env} (from --password-env) is not set",
                file=err,
            )
            return EXIT_USAGE
    query_password = None
    if query_password_env is not None:
        query_password = environ.get(query_password_env)
        if not query_password:
            print(
                f"smoke: error: environment variable {query_password_env} (from --query-password-env) "
                "is not set",
                file=err,
            )
            return EXIT_USAGE
    target = Target(url=url, user=user, password=password, tenant=tenant, query_password=query_password)
    try:
        run_smoke(
            target, read_back_seconds=read_back_seconds, log=lambda line: print(f"ok   {line}", file=out)
        )
    except SmokeCheckError as failure:
        print(f"FAIL {failure}", file=err)
        return EXIT_FAILED
    print(f"smoke: {url} ingests and serves profiles", file=out)
    return EXIT_OK
