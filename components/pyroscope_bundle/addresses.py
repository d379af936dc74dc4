"""How clients address the bundle's servers: host-published, Docker network and in-cluster URLs.

Plain string functions without any provider SDK, so the routing rule (``routing.py``), the server
backends, the gateway and Grafana all build the same address the same way.
"""

from __future__ import annotations

from pyroscope_bundle import constants


def host_address(publish_address: str) -> str:
    """The address a client on this host uses for a port published on ``publish_address``."""
    return "127.0.0.1" if publish_address in ("0.0.0.0", "127.0.0.1") else publish_address  # noqa: S104


def host_url(publish_address: str, host_port: int) -> str:
    """How processes on this host reach a port published on ``publish_address``."""
    return f"http://{host_address(publish_address)}:{host_port}"


def network_url(alias: str, port: int) -> str:
    """How containers on the same Docker network reach ``alias``."""
    return f"http://{alias}:{port}"


def in_cluster_url(service: str, namespace: str, port: int = constants.PYROSCOPE_HTTP_PORT) -> str:
    """The Service's cluster-internal address, resolvable from every namespace."""
    return f"http://{in_cluster_host(service, namespace)}:{port}"


def in_cluster_host(service: str, namespace: str) -> str:
    return f"{service}.{namespace}.{constants.KUBERNETES_SERVICE_DOMAIN}"


def ingress_url(host: str, *, tls: bool) -> str:
    """The Ingress address clients outside the cluster use (https when it terminates TLS)."""
    return f"{'https' if tls else 'http'}://{host}"
