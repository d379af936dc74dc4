"""The gateway as a Docker container between the stack's bridge network and Pyroscope's
internal network.

Only the gateway is published on the host (``server.docker.publishAddress``/``hostPort``), and
Pyroscope sits on an ``internal`` network that only the gateway shares: other containers on the
bridge network (Grafana included) reach profiles through the gateway and its credentials only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from pyroscope_bundle import constants, docker_options
from pyroscope_bundle.component import BundleComponent
from pyroscope_bundle.gateway.common import GatewayDeployment, GatewaySettings, nginx_settings
from pyroscope_bundle.gateway.credentials import GatewayCredentials
from pyroscope_bundle.gateway.nginx import NginxSettings, render_nginx_conf
from pyroscope_bundle.gateway.routes import Role

# Docker's embedded DNS server on user-defined networks: re-resolve Pyroscope's alias, whose IP
# changes when its container is replaced.
DOCKER_DNS = "127.0.0.11"
GATEWAY_MEMORY_MB = 128


def docker_nginx_settings(settings: GatewaySettings, upstream: str) -> NginxSettings:
    return nginx_settings(settings, upstream, resolver=DOCKER_DNS)


def gateway_container_name(settings: GatewaySettings) -> str:
    """Docker container names are host-wide: prefixed with the stack's network name like the
    Pyroscope (``<network>``) and Grafana (``<network>-grafana``) containers, so two stacks on one
    host cannot collide. The default network name keeps the name ``pyroscope-gateway``."""
    return f"{settings.network_name}-gateway"


def docker_gateway_ports(settings: GatewaySettings) -> list[dict[str, Any]]:
    """HTTP on the host port; OTLP gRPC only when ``otlpGrpcHostPort`` asks for it."""
    ports: list[dict[str, Any]] = [
        {"internal": constants.GATEWAY_PORT, "external": settings.host_port, "ip": settings.publish_address}
    ]
    if settings.grpc_host_port is not None:
        ports.append(
            {
                "internal": constants.GATEWAY_GRPC_PORT,
                "external": settings.grpc_host_port,
                "ip": settings.publish_address,
            }
        )
    return ports


def docker_gateway_container_args(settings: GatewaySettings) -> dict[str, Any]:
    """The container's settings apart from image, network and uploads (pure, for tests).

    Named by :func:`gateway_container_name` (its network alias is the fixed gateway name, which
    Grafana's datasource URL uses). No ``read_only``: Docker refuses uploads into a read-only
    root filesystem. Instead: the image's non-root user, every capability dropped, no privilege
    escalation. Hardening, log rotation (nginx logs every request) and labels come from
    ``docker_options``, shared with the Pyroscope and Grafana containers.
    """
    return {
        "name": gateway_container_name(settings),
        "user": f"{constants.GATEWAY_UID}:{constants.GATEWAY_UID}",
        # nginx directly (the image's entrypoint scripts rewrite files we do not use).
        "entrypoints": ["nginx"],
        "command": ["-c", f"{constants.GATEWAY_CONFIG_DIR}/nginx.conf", "-g", "daemon off;"],
        "ports": docker_gateway_ports(settings),
        "capabilities": {"drops": list(docker_options.DROPPED_CAPABILITIES)},
        "security_opts": list(docker_options.SECURITY_OPTS),
        "memory": GATEWAY_MEMORY_MB,
        "restart": docker_options.RESTART_POLICY,
        "log_driver": docker_options.LOG_DRIVER,
        "log_opts": dict(docker_options.LOG_OPTIONS),
        "labels": docker_options.container_labels(settings.stack, "gateway"),
    }


def htpasswd_uploads(htpasswd: Mapping[Role, pulumi.Output[str]]) -> list[Any]:
    """One file per role; secret Outputs: the uploads are recorded as secrets, never in plain text."""
    import pulumi_docker as docker

    return [
        docker.ContainerUploadArgs(file=f"{constants.GATEWAY_HTPASSWD_DIR}/{role}", content=content)
        for role, content in sorted(htpasswd.items())
    ]


class DockerGateway(BundleComponent):
    """nginx-unprivileged container: basic auth and the allow-list in front of Pyroscope."""

    def __init__(
        self,
        name: str,
        settings: GatewaySettings,
        *,
        upstream: str,
        network: pulumi.Input[str],
        credentials: GatewayCredentials,
        upstream_network: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
        alias: str | None = None,
    ) -> None:
        """``alias``: its name on ``network`` (default: the component's name), which clients'
        URLs spell."""
        super().__init__(name, opts)
        import pulumi_docker as docker

        child = pulumi.ResourceOptions(parent=self)
        image = docker.RemoteImage(f"{name}-image", name=settings.image, keep_locally=True, opts=child)
        self.nginx_conf = render_nginx_conf(docker_nginx_settings(settings, upstream))
        args = docker_gateway_container_args(settings)
        networks = [docker.ContainerNetworksAdvancedArgs(name=network, aliases=[alias or name])]
        if upstream_network is not None:
            networks.append(docker.ContainerNetworksAdvancedArgs(name=upstream_network))
        self.container = docker.Container(
            name,
            image=image.image_id,
            networks_advanced=networks,
            uploads=[
                docker.ContainerUploadArgs(
                    file=f"{constants.GATEWAY_CONFIG_DIR}/nginx.conf", content=self.nginx_conf
                ),
                *htpasswd_uploads(credentials.htpasswd),
            ],
            **args,
            # Fixed container name and host port: the old container must go before the new starts.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.register_outputs({"containerName": args["name"]})


def deploy_docker_gateway(
    settings: GatewaySettings,
    upstream: str,
    network: pulumi.Input[str],
    credentials: GatewayCredentials,
    *,
    upstream_network: pulumi.Input[str] | None = None,
    opts: pulumi.ResourceOptions | None = None,
    name: str = "pyroscope-gateway",
    alias: str | None = None,
) -> GatewayDeployment:
    """Register the gateway container; ``upstream`` is Pyroscope's ``alias:port`` on
    ``upstream_network`` (its internal network; default ``network``). ``alias``: the gateway's
    own name on ``network`` (default ``name``)."""
    component = DockerGateway(
        name,
        settings,
        upstream=upstream,
        network=network,
        credentials=credentials,
        upstream_network=upstream_network,
        opts=opts,
        alias=alias,
    )
    name = alias or name
    return GatewayDeployment(
        url=f"http://{name}:{constants.GATEWAY_PORT}",
        credentials=credentials,
        multitenancy=settings.multitenancy,
        published_url=f"http://{docker_options.host_address(settings.publish_address)}:{settings.host_port}",
        resource=component,
        grpc_address=f"{name}:{constants.GATEWAY_GRPC_PORT}",
    )
