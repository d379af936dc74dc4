"""The gateway's nginx configuration, as a pure function of a few settings.

The open-source Pyroscope server has no authentication and trusts whatever ``X-Scope-OrgID`` a
client sends. This configuration puts HTTP basic auth (an htpasswd file of bcrypt hashes) in
front of every path except ``/ready``, and decides the tenant header itself: the authenticated
user name when multi-tenancy is on, nothing at all when it is off. A client-sent header never
reaches Pyroscope.

It runs unprivileged with a read-only root filesystem: it listens on a high port and keeps the
pid file and every temp path under one writable directory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pyroscope_bundle import constants

# host:port with a DNS name or an IPv4 address: nothing that could close a directive.
_UPSTREAM = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?:[0-9]{1,5}", re.ASCII)
_LISTEN = re.compile(r"(([0-9]{1,3}\.){3}[0-9]{1,3}:)?[0-9]{1,5}", re.ASCII)
_PATH = re.compile(r"/[A-Za-z0-9._/-]*", re.ASCII)
_SIZE = re.compile(r"[0-9]+[km]?", re.ASCII)
_RESOLVER = re.compile(r"[0-9.]+(:[0-9]{1,5})?", re.ASCII)


@dataclass(frozen=True)
class NginxSettings:
    """What varies between deployments of the gateway (and the loopback test)."""

    # Pyroscope's address as host:port (a Service name, a Docker network alias, 127.0.0.1:N).
    upstream: str
    # Where pushes go when that is another service (the distributor of a microservices
    # deployment; ``upstream`` is then its query-frontend). None: pushes go to ``upstream``.
    push_upstream: str | None = None
    # Path of the htpasswd file (one ``user:$2a$...`` line per user) inside the gateway.
    htpasswd_path: str = f"{constants.GATEWAY_HTPASSWD_DIR}/htpasswd"
    # Port, or address:port, to listen on; unprivileged by default.
    listen: str = str(constants.GATEWAY_PORT)
    # On: X-Scope-OrgID := the authenticated user. Off: X-Scope-OrgID is removed.
    multitenancy: bool = False
    # The only path nginx writes to (pid file, request/response buffers).
    tmp_dir: str = constants.GATEWAY_TMP_DIR
    access_log: str = "/dev/stdout"
    # A DNS resolver address: resolve the upstream per request (a Docker container that is
    # replaced gets a new IP) instead of once at start-up. None for a stable Kubernetes Service.
    resolver: str | None = None
    # Every request costs one bcrypt verification (~tens of ms of CPU at cost 10), done
    # synchronously in a worker: more than one worker keeps a slow check from stalling others.
    worker_processes: int = 2
    # Pyroscope refuses profiles over 4 MiB uncompressed by default; a push carries several.
    max_body_size: str = "16m"
    push_timeout_seconds: int = 60
    # Wide-range flame graph queries can take minutes on a busy server.
    query_timeout_seconds: int = 300


def validate_settings(settings: NginxSettings) -> None:
    """Refuse values that would not be a single nginx token (config injection, typos)."""
    checks = [
        ("upstream", settings.upstream, _UPSTREAM, "host:port"),
        ("listen", settings.listen, _LISTEN, "PORT or IPv4:PORT"),
        ("htpasswd_path", settings.htpasswd_path, _PATH, "an absolute path"),
        ("tmp_dir", settings.tmp_dir, _PATH, "an absolute path"),
        ("access_log", settings.access_log, _PATH, "an absolute path"),
        ("max_body_size", settings.max_body_size, _SIZE, "a size such as 16m"),
    ]
    if settings.resolver is not None:
        checks.append(("resolver", settings.resolver, _RESOLVER, "an IP address"))
    if settings.push_upstream is not None:
        checks.append(("push_upstream", settings.push_upstream, _UPSTREAM, "host:port"))
    for name, value, pattern, allowed in checks:
        if not pattern.fullmatch(value):
            raise ValueError(f"gateway {name} {value!r} is not allowed: use {allowed}")
    if settings.worker_processes < 1:
        raise ValueError(f"gateway worker_processes {settings.worker_processes} must be at least 1")


def _proxy_headers(tenant_value: str) -> list[str]:
    """Every header directive for one location.

    nginx inherits ``proxy_set_header`` only when a level sets none itself, so each location
    gets the complete list. Setting a header (even to "") also drops the client's copy of it.
    """
    return [
        "proxy_set_header Host $host;",
        'proxy_set_header Connection "";',
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        # Pyroscope does not need the credentials; keep them out of upstream logs.
        'proxy_set_header Authorization "";',
        f"proxy_set_header {constants.TENANT_HEADER} {tenant_value};",
    ]


def render_nginx_conf(settings: NginxSettings) -> str:
    """The complete ``nginx.conf`` (used with ``nginx -c <file> -g 'daemon off;'``)."""
    validate_settings(settings)
    tmp = settings.tmp_dir.rstrip("/") or "/"
    # With multi-tenancy the only trusted tenant is the user nginx just authenticated.
    tenant = "$remote_user" if settings.multitenancy else '""'
    push_upstream = settings.push_upstream or settings.upstream
    if settings.resolver:
        upstream_block: list[str] = [f"resolver {settings.resolver} valid=10s ipv6=off;"]
        target = push_target = "$pyroscope_upstream"
        set_target = [f"set $pyroscope_upstream http://{settings.upstream};"]
        if settings.push_upstream is not None:
            push_target = "$pyroscope_push_upstream"
            set_target.append(f"set $pyroscope_push_upstream http://{push_upstream};")
    else:
        upstream_block = [
            "upstream pyroscope {",
            f"    server {settings.upstream};",
            "    keepalive 16;",
            "}",
        ]
        target = push_target = "http://pyroscope"
        set_target = []
        if settings.push_upstream is not None:
            upstream_block += [
                "upstream pyroscope_push {",
                f"    server {push_upstream};",
                "    keepalive 16;",
                "}",
            ]
            push_target = "http://pyroscope_push"

    def location(match: str, body: list[str]) -> list[str]:
        return [f"location {match} {{", *[f"    {line}" for line in body], "}"]

    authenticated = [
        'auth_basic "Pyroscope";',
        f"auth_basic_user_file {settings.htpasswd_path};",
    ]
    server: list[str] = [
        f"listen {settings.listen};",
        f"client_max_body_size {settings.max_body_size};",
        "client_body_buffer_size 1m;",
        f"client_body_timeout {settings.push_timeout_seconds}s;",
        "proxy_http_version 1.1;",
        "proxy_buffering off;",
        "proxy_connect_timeout 5s;",
        *set_target,
        "",
        # Probes (kubelet, Docker, load balancers) carry no credentials; GET only.
        *location(
            f"= {constants.PYROSCOPE_READY_PATH}",
            [
                "auth_basic off;",
                "limit_except GET { deny all; }",
                *_proxy_headers('""'),
                f"proxy_pass {target};",
            ],
        ),
    ]
    for path in constants.PYROSCOPE_PUSH_PATHS:
        server += location(
            f"= {path}",
            [
                *authenticated,
                *_proxy_headers(tenant),
                f"proxy_send_timeout {settings.push_timeout_seconds}s;",
                f"proxy_read_timeout {settings.push_timeout_seconds}s;",
                f"proxy_pass {push_target};",
            ],
        )
    server += location(
        "/",
        [
            *authenticated,
            *_proxy_headers(tenant),
            f"proxy_read_timeout {settings.query_timeout_seconds}s;",
            f"proxy_pass {target};",
        ],
    )

    http: list[str] = [
        "server_tokens off;",
        # Names, never credentials: $remote_user is the (possibly rejected) basic-auth user.
        "log_format gateway '$remote_addr $remote_user [$time_iso8601] \"$request_method $uri\" '",
        "                   '$status $body_bytes_sent $request_time';",
        f"access_log {settings.access_log} gateway;",
        f"client_body_temp_path {tmp}/client_temp;",
        f"proxy_temp_path {tmp}/proxy_temp;",
        f"fastcgi_temp_path {tmp}/fastcgi_temp;",
        f"uwsgi_temp_path {tmp}/uwsgi_temp;",
        f"scgi_temp_path {tmp}/scgi_temp;",
        *upstream_block,
        "",
        "server {",
        *[f"    {line}" if line else "" for line in server],
        "}",
    ]
    lines = [
        "# Generated by pyroscope-bundle: authenticating gateway in front of Pyroscope.",
        f"worker_processes {settings.worker_processes};",
        f"pid {tmp}/nginx.pid;",
        "error_log stderr warn;",
        "",
        "events {",
        "    worker_connections 1024;",
        "}",
        "",
        "http {",
        *[f"    {line}" if line else "" for line in http],
        "}",
    ]
    return "\n".join(lines) + "\n"
