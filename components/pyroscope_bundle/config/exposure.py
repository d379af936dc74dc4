"""Refusals of unauthenticated exposure: the OSS server has no authentication, so publishing it
beyond this host or cluster, or sending credentials in clear text across a network, must be
either impossible or an explicit, named choice.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from pyroscope_bundle import constants
from pyroscope_bundle.config.errors import Problem, key_path
from pyroscope_bundle.config.model import BundleFields

ALLOW = key_path("server", "gateway", "allowUnauthenticated")
# Host names that never leave the host, the cluster or a Docker network.
IN_CLUSTER_SUFFIXES = (".svc", f".{constants.KUBERNETES_SERVICE_DOMAIN}", ".cluster.local", ".internal")


def is_private_target(host: str) -> bool:
    """Loopback, an in-cluster Service name, or a single-label name (a Docker network alias or
    a Service in the same namespace): plain http there never crosses a network you do not own."""
    host = host.strip("[]").lower()
    if host == "localhost" or "." not in host:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host.endswith(IN_CLUSTER_SUFFIXES)


def check_exposure(config: BundleFields) -> list[Problem]:
    """Every problem, each naming the key to change and the fix."""
    problems: list[Problem] = []
    server = config.server
    ungated = server.enabled and not config.gateway_enabled and not server.gateway.allow_unauthenticated
    if ungated and server.backend == "kubernetes" and server.kubernetes.ingress.enabled:
        problems.append(
            Problem(
                key_path("server", "kubernetes", "ingress", "enabled"),
                "publishes Pyroscope, which has no authentication, without the gateway: set "
                f"{key_path('server', 'gateway', 'enabled')}: true (the Ingress then routes to the "
                f"gateway), or {ALLOW}: true to expose it unauthenticated on purpose",
                True,
            )
        )
    address = server.docker.publish_address
    if ungated and server.backend == "docker" and not ipaddress.ip_address(address).is_loopback:
        problems.append(
            Problem(
                key_path("server", "docker", "publishAddress"),
                "publishes Pyroscope, which has no authentication, beyond this host: use 127.0.0.1, "
                f"set {key_path('server', 'gateway', 'enabled')}: true (the gateway takes the port), "
                f"or {ALLOW}: true to expose it unauthenticated on purpose",
                address,
            )
        )
    target = config.target
    sends_credentials = target.kind != "self" and (target.basic_auth_user or config.auth_token_set)
    if target.url and sends_credentials:
        parts = urlsplit(target.url)
        if parts.scheme == "http" and not is_private_target(parts.hostname or ""):
            problems.append(
                Problem(
                    key_path("target", "url"),
                    "sends basic-auth credentials in clear text to a host outside this host and "
                    "cluster: use https:// (or a loopback / in-cluster address)",
                    target.url,
                )
            )
    return problems
