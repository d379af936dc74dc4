"""The gateway's nginx configuration, as a pure function of a few settings.

The open-source Pyroscope server has no authentication, trusts whatever ``X-Scope-OrgID`` a
client sends and serves admin, debug and cross-tenant routes on its main port. This
configuration forwards only the allow-list of :mod:`pyroscope_bundle.gateway.routes`, each route
to the role whose htpasswd file it checks (``<htpasswd_dir>/push``, ``/query``, ``/admin``) and
with its methods only; everything else gets 403 for every credential. It decides the tenant
header itself: the authenticated user name when multi-tenancy is on, nothing at all when it is
off. A client-sent header never reaches Pyroscope (only the optional admin credential chooses
its tenant).

Paths are matched after nginx normalised them, but upstream gets the raw request path: a raw
path with ``%``, ``//`` or ``/.`` is refused (400) so that nginx and Pyroscope can never read
one request as two different paths.

Every client address's concurrent requests are bounded twice, once for authenticated requests
and once for all others (failed or missing credentials, refused paths, ``/ready``), so requests
nobody authenticated never take a valid client's slot behind the same address (an Ingress
controller, a NAT): nginx holds a refused request, and its slot, while it discards an unread
body (up to ``lingering_time``), so one shared bucket let a client with no credentials lock out
every valid client behind its address, and a ``return 403`` (rewrite phase, before
``limit_conn``) let one address hold every worker connection. Authenticated requests are counted
in a named location reached through ``try_files`` (after the access phase); refusals use
``deny all`` (access phase, after ``limit_conn``). A failed authentication costs one salted
SHA-1 (generated passwords, see :mod:`credentials`), and failed authentications are
rate-limited per client address, so a wrong-password storm cannot starve real pushes (measured
in ``bench/gateway.py``). ``limit_req`` runs in the preaccess phase, before ``auth_basic``, so it
cannot see a failure where it happens: ``error_page 401 = @auth_failed`` redirects every failure
to a named location, whose phases run again from its rewrite phase (nginx
``src/http/ngx_http_core_module.c``, ``ngx_http_named_location``), so its ``limit_req`` counts
failures only. That works because no allow-listed location has a ``limit_req`` of its own:
nginx skips ``limit_req`` after an internal redirect only once one has been applied to the
request (``r->main->limit_req_set``, ``src/http/modules/ngx_http_limit_req_module.c``). A failing
client waits ``1/rate`` per failure beyond the rate (the wait holds its connection, so a client
that waits for answers fails at most ``rate`` times a second) and gets 429 beyond the burst; the
401 itself comes from ``try_files ... =401`` (the try-files phase runs after preaccess; a
``return`` would answer before the limit) and keeps the ``WWW-Authenticate`` header
``auth_basic`` set. A valid credential never reaches that location, so it is never limited.

OTLP over gRPC gets its own HTTP/2 listener (nginx cannot serve cleartext HTTP/1.1 and HTTP/2
on one port before 1.25.1).

It runs unprivileged with a read-only root filesystem: it listens on high ports and keeps the
pid file and every temp path under one writable directory.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from pyroscope_bundle import constants
from pyroscope_bundle.config.types import check_trusted_proxy
from pyroscope_bundle.gateway.routes import ADMIN_PREFIXES, COMPONENTS, ROUTES, Component, Role, Route

# host:port with a DNS name or an IPv4 address: nothing that could close a directive.
_UPSTREAM = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?:[0-9]{1,5}", re.ASCII)
_LISTEN = re.compile(r"(([0-9]{1,3}\.){3}[0-9]{1,3}:)?[0-9]{1,5}", re.ASCII)
_PATH = re.compile(r"/[A-Za-z0-9._/-]*", re.ASCII)
_SIZE = re.compile(r"[0-9]+[km]?", re.ASCII)
_RESOLVER = re.compile(r"[0-9.]+(:[0-9]{1,5})?", re.ASCII)
_VERSION = re.compile(r"([0-9]+)\.([0-9]+)\.([0-9]+)", re.ASCII)
# Raw request paths (before the query string) that nginx and Pyroscope could read differently.
AMBIGUOUS_PATH = r"^[^?]*(%|//|/\.)"
# nginx 1.25.1 added the ``http2`` directive and deprecated ``listen ... http2``.
HTTP2_DIRECTIVE_SINCE = (1, 25, 1)
# Per client address: authenticated requests in one zone, every other request (failed or missing
# credentials, refused paths, the open /ready) in another, so that requests nobody authenticated
# can never take the slots of valid clients behind the same address (an Ingress controller, a NAT).
CLIENT_ZONE = "gateway_client"
UNAUTHENTICATED_ZONE = "gateway_unauthenticated"
FAILED_AUTH_ZONE = "gateway_failed_auth"
FAILED_AUTH_LOCATION = "@auth_failed"
# A path under the (unused) document root that never exists: try_files falls through to its
# last argument (=401 after a failed authentication, the named location after a valid one).
_NO_SUCH_FILE = "/.pyroscope-bundle-no-such-file"
# Per worker process; a proxied request holds two (client and upstream).
WORKER_CONNECTIONS = 1024
REALM = "Pyroscope"


@dataclass(frozen=True)
class NginxSettings:
    """What varies between deployments of the gateway (and the loopback tests)."""

    # Pyroscope's address as host:port (a Service name, a Docker network alias, 127.0.0.1:N).
    upstream: str
    # Components served elsewhere (microservices: distributor, query-frontend, tenant-settings,
    # ad-hoc-profiles Services); the rest go to ``upstream``.
    component_upstreams: Mapping[Component, str] = field(default_factory=dict)
    # Directory of the htpasswd files, one per role: ``push``, ``query``, ``admin``.
    htpasswd_dir: str = constants.GATEWAY_HTPASSWD_DIR
    # Port, or address:port, to listen on; unprivileged by default.
    listen: str = str(constants.GATEWAY_PORT)
    # The HTTP/2 listener for OTLP gRPC; None: no gRPC.
    grpc_listen: str | None = str(constants.GATEWAY_GRPC_PORT)
    # On: X-Scope-OrgID := the authenticated user. Off: X-Scope-OrgID is removed.
    multitenancy: bool = False
    # The optional operator credential: every other path (admin, ops, debug) to the query side.
    admin: bool = False
    # The only path nginx writes to (pid file, request/response buffers).
    tmp_dir: str = constants.GATEWAY_TMP_DIR
    access_log: str = "/dev/stdout"
    # A DNS resolver address: resolve the upstream per request (a Docker container that is
    # replaced gets a new IP) instead of once at start-up. None for a stable Kubernetes Service.
    resolver: str | None = None
    worker_processes: int = 2
    # Pyroscope refuses profiles over 4 MiB uncompressed by default; a push carries several.
    max_body_size: str = constants.GATEWAY_MAX_BODY_SIZE
    push_timeout_seconds: int = 60
    # How long a client may take to send its request headers (nginx's default is 60 s): a
    # client that trickles headers holds a worker connection before any per-address limit can
    # count it, so a short bound is what limits slow-header (slowloris) clients. Agents and
    # Grafana send their headers at once.
    header_timeout_seconds: int = constants.GATEWAY_HEADER_TIMEOUT_SECONDS
    # Wide-range flame graph queries can take minutes on a busy server.
    query_timeout_seconds: int = constants.GATEWAY_QUERY_TIMEOUT_SECONDS
    # The nginx that runs this config (the image tag; tests pass Debian's): decides the
    # HTTP/2 syntax.
    nginx_version: str = constants.GATEWAY_DEFAULT_VERSION
    # Concurrent requests per client address (429 beyond). Behind an Ingress every external
    # client shares the ingress controller's address.
    connections_per_client: int = constants.GATEWAY_CONNECTIONS_PER_CLIENT
    # Failed authentications per second per client address, and how many more may queue
    # (delayed to that rate) before the rest get 429 at once.
    failed_auth_per_second: int = constants.GATEWAY_FAILED_AUTH_PER_SECOND
    failed_auth_burst: int = constants.GATEWAY_FAILED_AUTH_BURST
    # Proxy networks (CIDRs) whose X-Forwarded-For names the client: every per-address limit
    # then counts the client behind the proxy. Empty: the connection's address, always.
    trusted_proxies: tuple[str, ...] = ()


def validate_settings(settings: NginxSettings) -> None:
    """Refuse values that would not be a single nginx token (config injection, typos)."""
    checks = [
        ("upstream", settings.upstream, _UPSTREAM, "host:port"),
        ("listen", settings.listen, _LISTEN, "PORT or IPv4:PORT"),
        ("htpasswd_dir", settings.htpasswd_dir, _PATH, "an absolute path"),
        ("tmp_dir", settings.tmp_dir, _PATH, "an absolute path"),
        ("access_log", settings.access_log, _PATH, "an absolute path"),
        ("max_body_size", settings.max_body_size, _SIZE, "a size such as 16m"),
        ("nginx_version", settings.nginx_version, _VERSION, "MAJOR.MINOR.PATCH"),
    ]
    if settings.grpc_listen is not None:
        checks.append(("grpc_listen", settings.grpc_listen, _LISTEN, "PORT or IPv4:PORT"))
    if settings.resolver is not None:
        checks.append(("resolver", settings.resolver, _RESOLVER, "an IP address"))
    for component, address in settings.component_upstreams.items():
        checks.append((f"upstream of {component}", address, _UPSTREAM, "host:port"))
    for name, value, pattern, allowed in checks:
        if not pattern.fullmatch(value):
            raise ValueError(f"gateway {name} {value!r} is not allowed: use {allowed}")
    for name in ("worker_processes", "connections_per_client", "failed_auth_per_second"):
        if getattr(settings, name) < 1:
            raise ValueError(f"gateway {name} {getattr(settings, name)} must be at least 1")
    if settings.failed_auth_burst < 0:
        raise ValueError(f"gateway failed_auth_burst {settings.failed_auth_burst} must be at least 0")
    for index, proxy in enumerate(settings.trusted_proxies):
        try:
            check_trusted_proxy(proxy)
        except ValueError as error:
            raise ValueError(f"gateway trusted_proxies[{index}] {proxy!r} {error}") from None


def _version(text: str) -> tuple[int, int, int]:
    match = _VERSION.fullmatch(text)
    assert match is not None  # validated
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def _block(head: str, body: list[str]) -> list[str]:
    return [f"{head} {{", *[f"    {line}" if line else "" for line in body], "}"]


class _Upstreams:
    """The upstream blocks (or resolver variables) and the proxy target of each component."""

    def __init__(self, settings: NginxSettings) -> None:
        addresses = {c: settings.component_upstreams.get(c, settings.upstream) for c in COMPONENTS}
        distinct = list(dict.fromkeys(addresses.values()))
        # One upstream: "pyroscope"; several: named after the first component each one serves.
        first = {address: next(c for c, a in addresses.items() if a == address) for address in distinct}
        names = {
            address: "pyroscope" if len(distinct) == 1 else f"pyroscope_{first[address].replace('-', '_')}"
            for address in distinct
        }
        self.http_blocks: list[str] = []
        self.server_lines: list[str] = []
        self.target: dict[Component, str] = {}
        if settings.resolver:
            self.http_blocks = [f"resolver {settings.resolver} valid=10s ipv6=off;"]
            for address in distinct:
                self.server_lines.append(f"set ${names[address]} {address};")
            self.target = {c: f"${names[a]}" for c, a in addresses.items()}
        else:
            for address in distinct:
                self.http_blocks += _block(
                    f"upstream {names[address]}", [f"server {address};", "keepalive 16;"]
                )
            self.target = {c: names[a] for c, a in addresses.items()}


def _tenant(settings: NginxSettings, role: Role) -> str:
    """The only trusted tenant is the user nginx just authenticated (admin: the operator's)."""
    if role == "admin":
        return "$http_x_scope_orgid"
    return "$remote_user" if settings.multitenancy else '""'


def _headers(tenant: str, directive: str = "proxy_set_header") -> list[str]:
    """Every header directive for one location.

    nginx inherits ``proxy_set_header`` only when a level sets none itself, so each location
    gets the complete list. Setting a header (even to "") also drops the client's copy of it.
    """
    common = [
        f"{directive} X-Forwarded-For $proxy_add_x_forwarded_for;",
        # Pyroscope does not need the credentials; keep them out of upstream logs.
        f'{directive} Authorization "";',
        f"{directive} {constants.TENANT_HEADER} {tenant};",
    ]
    if directive == "grpc_set_header":
        return common
    return ["proxy_set_header Host $host;", 'proxy_set_header Connection "";', *common]


def _auth(settings: NginxSettings, role: Role) -> list[str]:
    return [f'auth_basic "{REALM}";', f"auth_basic_user_file {settings.htpasswd_dir}/{role};"]


def _methods(methods: tuple[str, ...]) -> list[str]:
    # GET also admits HEAD (nginx's limit_except); any other method gets 403.
    return [f"limit_except {' '.join(methods)} {{ deny all; }}"]


def _authenticated(match: str, name: str, auth: list[str], forward: list[str], limit: int) -> list[str]:
    """A location that only authenticates, and the named location it hands valid requests to.

    ``limit_conn`` runs in the preaccess phase, before ``auth_basic``; applied in the
    allow-listed location it would count requests with wrong or no credentials in the same
    per-address bucket as valid ones, and nginx holds a refused request (and its slot) while it
    discards an unread body, up to ``lingering_time`` (30 s): a client with no credentials
    that sends a large ``Content-Length`` and trickles the body could fill the bucket of every
    valid client behind its address. ``try_files`` runs after the access phase, so the named
    location's ``limit_conn`` counts authenticated requests only (nginx applies ``limit_conn``
    once per request, ``r->main->limit_conn_status`` in ``ngx_http_limit_conn_module.c``).
    """
    outer = _block(f"location {match}", [*auth, f"try_files {_NO_SUCH_FILE} {name};"])
    return outer + _block(f"location {name}", [f"limit_conn {CLIENT_ZONE} {limit};", *forward])


def _refused(settings: NginxSettings) -> list[str]:
    """403 in the access phase (not ``return``, which answers before ``limit_conn``): every
    refused request counts in its address's unauthenticated bucket while nginx discards its body."""
    return [f"limit_conn {UNAUTHENTICATED_ZONE} {settings.connections_per_client};", "deny all;"]


def _route_name(route: Route) -> str:
    """The named location of an allow-listed route: ``@`` and the path, ``/`` and ``.`` as ``_``."""
    return "@" + re.sub(r"[^A-Za-z0-9]+", "_", route.path).strip("_")


def _route_location(settings: NginxSettings, route: Route, upstreams: _Upstreams) -> list[str]:
    timeout = settings.push_timeout_seconds if route.role == "push" else settings.query_timeout_seconds
    match = f"^~ {route.path}" if route.prefix else f"= {route.path}"
    target = upstreams.target[route.component]
    if route.grpc:
        body = [
            *_methods(route.methods),
            *_headers(_tenant(settings, route.role), "grpc_set_header"),
            f"grpc_send_timeout {timeout}s;",
            f"grpc_read_timeout {timeout}s;",
            f"grpc_pass grpc://{target};",
        ]
    else:
        body = [
            *_methods(route.methods),
            *_headers(_tenant(settings, route.role)),
            f"proxy_send_timeout {timeout}s;",
            f"proxy_read_timeout {timeout}s;",
            f"proxy_pass http://{target};",
        ]
    return _authenticated(
        match, _route_name(route), _auth(settings, route.role), body, settings.connections_per_client
    )


def _guards(settings: NginxSettings) -> list[str]:
    """What every server block starts with: per-client bounds, ambiguous paths, failed auth."""
    return [
        # Inherited by every location (none sets its own error_page); upstream 401s pass
        # through untouched (proxy_intercept_errors is off).
        f"error_page 401 = {FAILED_AUTH_LOCATION};",
        f"client_max_body_size {settings.max_body_size};",
        "client_body_buffer_size 1m;",
        f"client_body_timeout {settings.push_timeout_seconds}s;",
        f"client_header_timeout {settings.header_timeout_seconds}s;",
        # A timed-out client's socket is reset at once instead of lingering in FIN_WAIT.
        "reset_timedout_connection on;",
        f'if ($request_uri ~ "{AMBIGUOUS_PATH}") {{ return 400; }}',
    ]


def _failed_auth_location(settings: NginxSettings) -> list[str]:
    """Where every failed authentication goes: counted, delayed or refused, then answered 401."""
    burst = f" burst={settings.failed_auth_burst}" if settings.failed_auth_burst else ""
    return _block(
        f"location {FAILED_AUTH_LOCATION}",
        [
            f"limit_conn {UNAUTHENTICATED_ZONE} {settings.connections_per_client};",
            f"limit_req zone={FAILED_AUTH_ZONE}{burst};",
            f"try_files {_NO_SUCH_FILE} =401;",
        ],
    )


def _real_ip(settings: NginxSettings) -> list[str]:
    """The client address behind trusted proxies (ngx_http_realip_module, in Debian's nginx and
    the nginx-unprivileged image): ``$binary_remote_addr``, which every limit zone is keyed on,
    becomes the right-most X-Forwarded-For address that is not a trusted proxy. A header from
    any other address is ignored, so no client can choose the address it is counted by."""
    if not settings.trusted_proxies:
        return []
    return [
        *(f"set_real_ip_from {proxy};" for proxy in settings.trusted_proxies),
        "real_ip_header X-Forwarded-For;",
        "real_ip_recursive on;",
    ]


def _listen(address: str, *, http2: bool, version: tuple[int, int, int]) -> list[str]:
    if not http2:
        return [f"listen {address};"]
    if version >= HTTP2_DIRECTIVE_SINCE:
        return [f"listen {address};", "http2 on;"]
    return [f"listen {address} http2;"]


def render_nginx_conf(settings: NginxSettings) -> str:
    """The complete ``nginx.conf`` (used with ``nginx -c <file> -g 'daemon off;'``)."""
    validate_settings(settings)
    tmp = settings.tmp_dir.rstrip("/") or "/"
    version = _version(settings.nginx_version)
    upstreams = _Upstreams(settings)

    server: list[str] = [
        *_listen(settings.listen, http2=False, version=version),
        *_guards(settings),
        "proxy_http_version 1.1;",
        "proxy_buffering off;",
        "proxy_connect_timeout 5s;",
        *upstreams.server_lines,
        "",
        # Probes (kubelet, Docker, load balancers) carry no credentials; GET only.
        *_block(
            f"location = {constants.PYROSCOPE_READY_PATH}",
            [
                f"limit_conn {UNAUTHENTICATED_ZONE} {settings.connections_per_client};",
                "auth_basic off;",
                *_methods(("GET",)),
                *_headers('""'),
                f"proxy_pass http://{upstreams.target['query-frontend']};",
            ],
        ),
    ]
    for route in ROUTES:
        if not route.grpc:
            server += _route_location(settings, route, upstreams)
    # Pyroscope's /metrics (all tenants' series and service names) has one reader, Prometheus,
    # which scrapes the pods directly: refused here for every credential, the admin's included.
    metrics = constants.PYROSCOPE_METRICS_PATH
    server += _block(f"location = {metrics}", _refused(settings))
    server += _block(f"location ^~ {metrics}/", _refused(settings))
    if settings.admin:
        admin = [
            *_headers(_tenant(settings, "admin")),
            f"proxy_read_timeout {settings.query_timeout_seconds}s;",
        ]
        admin_targets = [
            (f"^~ {prefix}", component)
            for prefix, component in ADMIN_PREFIXES
            if upstreams.target[component] != upstreams.target["query-frontend"]
        ]
        for match, component in [*admin_targets, ("/", "query-frontend")]:
            server += _authenticated(
                match,
                "@admin_" + component.replace("-", "_"),
                _auth(settings, "admin"),
                [*admin, f"proxy_pass http://{upstreams.target[component]};"],
                settings.connections_per_client,
            )
    else:
        # Not on the allow-list: refused before any credential is even checked.
        server += _block("location /", _refused(settings))
    server += _failed_auth_location(settings)
    servers = _block("server", server)
    if settings.grpc_listen is not None:
        grpc_server = [
            *_listen(settings.grpc_listen, http2=True, version=version),
            *_guards(settings),
            *upstreams.server_lines,
        ]
        for route in ROUTES:
            if route.grpc:
                grpc_server += _route_location(settings, route, upstreams)
        grpc_server += _block("location /", _refused(settings))
        grpc_server += _failed_auth_location(settings)
        servers += ["", *_block("server", grpc_server)]

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
        *_real_ip(settings),
        f"limit_conn_zone $binary_remote_addr zone={CLIENT_ZONE}:1m;",
        f"limit_conn_zone $binary_remote_addr zone={UNAUTHENTICATED_ZONE}:1m;",
        "limit_conn_status 429;",
        f"limit_req_zone $binary_remote_addr zone={FAILED_AUTH_ZONE}:1m "
        f"rate={settings.failed_auth_per_second}r/s;",
        "limit_req_status 429;",
        *upstreams.http_blocks,
        "",
        *servers,
    ]
    lines = [
        "# Generated by pyroscope-bundle: authenticating, allow-listing gateway in front of Pyroscope.",
        f"worker_processes {settings.worker_processes};",
        f"pid {tmp}/nginx.pid;",
        "error_log stderr warn;",
        "",
        "events {",
        f"    worker_connections {WORKER_CONNECTIONS};",
        "}",
        "",
        *_block("http", http),
    ]
    return "\n".join(lines) + "\n"
