"""A loopback stack for the gateway tests: real nginx (Debian's package) with the GENERATED config
in front of a recording HTTP receiver that stands in for Pyroscope.

The receiver answers ``/ready``, accepts pushes (decoding the labels of each series) and serves
a minimal ``LabelValues`` from what it received, which is enough for ``smoke``'s read-back.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pyroscope_bundle import constants
from pyroscope_bundle.gateway.credentials import htpasswd_hash, htpasswd_lines
from pyroscope_bundle.gateway.nginx import NginxSettings, render_nginx_conf
from pyroscope_bundle.gateway.routes import Component

NGINX_PACKAGE = "nginx"
UNPRIVILEGED_USER = "nobody"

# How often a loopback HTTP server's serve_forever checks for shutdown() (the stdlib's 0.5 s
# default made every receiver's teardown wait half a second).
SHUTDOWN_POLL = 0.02


# --- protobuf wire format, decoded generically -----------------------------------------------------


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def decode_fields(data: bytes) -> dict[int, list[Any]]:
    """field number -> values (ints for varints, bytes for length-delimited)."""
    fields: dict[int, list[Any]] = {}
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = _read_varint(data, pos)
        elif wire == 2:
            length, pos = _read_varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        fields.setdefault(number, []).append(value)
    return fields


def push_series(body: bytes) -> list[dict[str, Any]]:
    """A ``push.v1.PushRequest`` as [{labels: {name: value}, profiles: [raw bytes]}]."""
    series = []
    for raw_series in decode_fields(body).get(1, []):
        fields = decode_fields(raw_series)
        labels = {}
        for pair in fields.get(1, []):
            pair_fields = decode_fields(pair)
            labels[pair_fields[1][0].decode()] = pair_fields.get(2, [b""])[0].decode()
        profiles = [decode_fields(sample)[1][0] for sample in fields.get(2, [])]
        series.append({"labels": labels, "label_order": list(labels), "profiles": profiles})
    return series


# --- the receiver ----------------------------------------------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    requests: list[Received] = field(default_factory=list)
    # Answer to pushes (e.g. 500 to test smoke's ingest failure).
    push_status: int = 200
    # Whether LabelValues lists what was pushed (False: "accepted but not queryable").
    queryable: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host!s}:{port}"

    def pushes(self) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == constants.PYROSCOPE_PUSH_PATH]

    def label_values(self, name: str, matchers: list[str]) -> list[str]:
        wanted = dict(re.findall(r'(\w+)="([^"]*)"', " ".join(matchers)))
        values = set()
        for push in self.pushes():
            for series in push_series(push.body):
                labels = series["labels"]
                if name in labels and all(labels.get(k) == v for k, v in wanted.items()):
                    values.add(labels[name])
        return sorted(values)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _record(self) -> Received:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.headers.get("Content-Encoding") == "gzip":  # the Rust agent compresses pushes
                body = gzip.decompress(body)
            record = Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            with receiver.lock:
                receiver.requests.append(record)
            return record

        def do_GET(self) -> None:
            self._record()
            if self.path == constants.PYROSCOPE_READY_PATH:
                self._answer(200, b"ready\n", "text/plain")
            else:
                self._answer(200, b"upstream reached\n", "text/plain")

        def _other(self) -> None:
            self._record()
            self._answer(200, b"upstream reached\n", "text/plain")

        do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _other  # noqa: N815 - BaseHTTPRequestHandler names

        def do_POST(self) -> None:
            record = self._record()
            if self.path == constants.PYROSCOPE_PUSH_PATH:
                push_series(record.body)  # a malformed push fails the request loudly
                self._answer(receiver.push_status, b"", "application/proto")
            elif self.path == constants.PYROSCOPE_LABEL_VALUES_PATH:
                query = json.loads(record.body)
                names = (
                    receiver.label_values(query["name"], query.get("matchers", []))
                    if receiver.queryable
                    else []
                )
                self._answer(200, json.dumps({"names": names} if names else {}).encode(), "application/json")
            else:
                self._answer(200, b"upstream reached\n", "text/plain")

    return Handler


@contextlib.contextmanager
def running_receiver() -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    receiver = Receiver(server)
    server.RequestHandlerClass = _handler(receiver)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL}, daemon=True
    )
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


# --- nginx -----------------------------------------------------------------------------------------


def ensure_nginx() -> tuple[str | None, str]:
    """Path of Debian's nginx, installing the package when missing; (None, why) when impossible."""
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)
    if found:
        return found, "present"
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return (
            None,
            f"nginx is missing and cannot be installed here (needs root and apt-get install {NGINX_PACKAGE})"[
                :200
            ],
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", NGINX_PACKAGE]
    result = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        subprocess.run(["apt-get", "update"], capture_output=True, env=env, check=False)
        result = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if found:
        return found, "installed"
    return None, f"apt-get install {NGINX_PACKAGE} failed: {result.stderr.strip()[-300:]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], deadline_s: float = 10.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nginx did not listen on {port} within {deadline_s}s")


# For tests of something else that fail authentication hundreds of times a second on purpose
# (the allow-list by role): the failed-authentication bound would only slow them down. That
# bound has tests of its own (tests/test_gateway_abuse.py) with the stack's config.
UNLIMITED_FAILURES: Mapping[str, int] = {"failed_auth_per_second": 100_000, "failed_auth_burst": 100_000}


# The stack key a test gateway salts with (a RandomPassword in a real stack: pyroscope_bundle.stack_key).
TEST_SALT_KEY = "test-salt-key-0123456789"


def nginx_version(nginx: str) -> str:
    """The installed nginx's version (``nginx -v`` prints ``nginx version: nginx/1.22.1``)."""
    result = subprocess.run([nginx, "-v"], capture_output=True, text=True, check=False)
    match = re.search(r"nginx/([0-9]+\.[0-9]+\.[0-9]+)", result.stderr + result.stdout)
    if match is None:
        raise RuntimeError(f"cannot read the nginx version: {result.stderr!r}")
    return match.group(1)


def write_htpasswd(path: Path, role: str, passwords: Mapping[str, str]) -> None:
    """The htpasswd file of one role, hashed exactly as the stack hashes generated passwords."""
    hashes = {
        user: htpasswd_hash(role, user, pw, TEST_SALT_KEY, generated=True) for user, pw in passwords.items()
    }
    path.write_text(htpasswd_lines(hashes))


@dataclass
class Gateway:
    url: str
    directory: Path
    config: str
    process: subprocess.Popen[bytes]
    unprivileged: bool
    # host:port of the OTLP gRPC (HTTP/2) listener, when started with one.
    grpc_address: str | None = None

    def access_log(self) -> list[dict[str, str]]:
        """Parsed access log lines: user, method, uri, status."""
        pattern = re.compile(
            r'^\S+ (?P<user>\S+) \[[^]]+\] "(?P<method>\S+) (?P<uri>\S+)" (?P<status>\d{3}) '
        )
        path = self.directory / "access.log"
        lines = path.read_text().splitlines() if path.exists() else []
        return [m.groupdict() for line in lines if (m := pattern.match(line))]

    def stderr(self) -> str:
        path = self.directory / "stderr.log"
        return path.read_text() if path.exists() else ""


@contextlib.contextmanager
def running_gateway(
    nginx: str,
    upstream: str,
    passwords: Mapping[str, str],
    *,
    multitenancy: bool,
    query_passwords: Mapping[str, str] | None = None,
    admin_password: str | None = None,
    component_upstreams: Mapping[Component, str] | None = None,
    grpc: bool = False,
    worker_processes: int = 1,
    auth: bool = True,
    htpasswd: Mapping[str, str] | None = None,
    edit: Callable[[str], str] | None = None,
    limits: Mapping[str, int] | None = None,
    trusted_proxies: tuple[str, ...] = (),
) -> Iterator[Gateway]:
    """nginx with the generated config, as an unprivileged user when the tests run as root.

    ``passwords``: push credentials; ``query_passwords``: read-only ones (default: none, so a
    push password never opens a query route); ``admin_password``: the operator credential.
    ``htpasswd``: role -> file content exactly as a stack's gateway Secret holds it (then the
    password arguments are not used; an ``admin`` file switches the admin credential on).
    ``edit``: changes the generated config (a test showing what a directive is for).
    ``limits``: :class:`NginxSettings` abuse bounds other than the stack's defaults
    (``failed_auth_per_second``, ...); ``trusted_proxies``: networks whose X-Forwarded-For
    names the client.
    """
    directory = Path(tempfile.mkdtemp(prefix="pyroscope-gateway-"))
    directory.chmod(0o755)
    port = free_port()
    grpc_port = free_port() if grpc else None
    if htpasswd is not None:
        for role in ("push", "query", "admin"):
            (directory / role).write_text(htpasswd.get(role, ""))
        admin = "admin" in htpasswd
    else:
        write_htpasswd(directory / "push", "push", passwords)
        write_htpasswd(directory / "query", "query", query_passwords or {})
        write_htpasswd(directory / "admin", "admin", {"admin": admin_password} if admin_password else {})
        admin = admin_password is not None
    settings = NginxSettings(
        upstream=upstream,
        component_upstreams=dict(component_upstreams or {}),
        htpasswd_dir=str(directory),
        listen=f"127.0.0.1:{port}",
        grpc_listen=f"127.0.0.1:{grpc_port}" if grpc_port else None,
        multitenancy=multitenancy,
        admin=admin,
        tmp_dir=str(directory),
        access_log=str(directory / "access.log"),
        worker_processes=worker_processes,
        nginx_version=nginx_version(nginx),
        trusted_proxies=trusted_proxies,
        **dict(limits or {}),  # type: ignore[arg-type]
    )
    config = render_nginx_conf(settings)
    if not auth:
        # The benchmark's baseline: the same config with basic auth switched off.
        config = re.sub(r'auth_basic "[^"]*";', "auth_basic off;", config)
    if edit is not None:
        config = edit(config)
    (directory / "nginx.conf").write_text(config)
    run_as: dict[str, Any] = {}
    unprivileged = os.geteuid() != 0
    if not unprivileged:
        account = pwd.getpwnam(UNPRIVILEGED_USER)
        for path in directory.iterdir():
            os.chown(path, account.pw_uid, account.pw_gid)
        os.chown(directory, account.pw_uid, account.pw_gid)
        run_as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        unprivileged = True
    stderr = (directory / "stderr.log").open("wb")
    process = subprocess.Popen(
        [nginx, "-c", str(directory / "nginx.conf"), "-e", "stderr", "-g", "daemon off;"],
        stdout=stderr,
        stderr=stderr,
        **run_as,
    )
    try:
        try:
            wait_for_port(port, process)
        except RuntimeError as error:
            raise RuntimeError(f"{error}: {(directory / 'stderr.log').read_text()}") from None
        yield Gateway(
            f"http://127.0.0.1:{port}",
            directory,
            config,
            process,
            unprivileged,
            f"127.0.0.1:{grpc_port}" if grpc_port else None,
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        stderr.close()
        shutil.rmtree(directory, ignore_errors=True)


# The credentials of the role tests' gateway: two tenants' push and query users and the admin.
ROLE_PUSH: Mapping[str, str] = {"team-a": "push-a-" + "p" * 25, "team-b": "push-b-" + "q" * 25}
ROLE_QUERY: Mapping[str, str] = {"team-a": "query-a-" + "r" * 24, "team-b": "query-b-" + "s" * 24}
ROLE_ADMIN = "admin-" + "t" * 26


@contextlib.contextmanager
def role_gateway(nginx: str, upstream: str, *, admin: bool = True) -> Iterator[Gateway]:
    """A multi-tenant gateway with every role's credentials (:data:`ROLE_PUSH`, ...) and failed
    authentications not rate-limited (the allow-list is what is under test, not the limits)."""
    with running_gateway(
        nginx,
        upstream,
        ROLE_PUSH,
        multitenancy=True,
        query_passwords=ROLE_QUERY,
        admin_password=ROLE_ADMIN if admin else None,
        limits=UNLIMITED_FAILURES,
    ) as gateway:
        yield gateway
