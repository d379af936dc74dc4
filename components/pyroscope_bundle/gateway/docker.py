"""The gateway as a Docker container on the server's bridge network.

Only the gateway is published on the host (``server.docker.publishAddress``/``hostPort``); the
Docker backend must not publish Pyroscope's own port when the gateway is on.
"""

from __future__ import annotations

from typing import Any

import pulumi

from pyroscope_bundle import constants, docker_options
from pyroscope_bundle.config import BundleConfig
from pyroscope_bundle.gateway.common import GatewayDeployment, gateway_image
from pyroscope_bundle.gateway.credentials import GatewayCredentials
from pyroscope_bundle.gateway.nginx import NginxSettings, render_nginx_conf

# Docker's embedded DNS server on user-defined networks: re-resolve Pyroscope's alias, whose IP
# changes when its container is replaced.
DOCKER_DNS = "127.0.0.11"
GATEWAY_MEMORY_MB = 128


def docker_nginx_settings(config: BundleConfig, upstream: str) -> NginxSettings:
    return NginxSettings(upstream=upstream, multitenancy=config.server.multitenancy, resolver=DOCKER_DNS)


def gateway_container_name(config: BundleConfig) -> str:
    """Docker container names are host-wide: prefixed with the stack's network name like the
    Pyroscope (``<network>``) and Grafana (``<network>-grafana``) containers, so two stacks on one
    host cannot collide. The default network name keeps the name ``pyroscope-gateway``."""
    return f"{config.server.docker.network_name}-gateway"


def docker_gateway_container_args(config: BundleConfig) -> dict[str, Any]:
    """The container's settings apart from image, network and uploads (pure, for tests).

    Named by :func:`gateway_container_name` (its network alias is the fixed gateway name, which
    Grafana's datasource URL uses). No ``read_only``: Docker refuses uploads into a read-only
    root filesystem. Instead: the image's non-root user, every capability dropped, no privilege
    escalation. Hardening, log rotation (nginx logs every request) and labels come from
    ``docker_options``, shared with the Pyroscope and Grafana containers.
    """
    docker = config.server.docker
    return {
        "name": gateway_container_name(config),
        "user": f"{constants.GATEWAY_UID}:{constants.GATEWAY_UID}",
        # nginx directly (the image's entrypoint scripts rewrite files we do not use).
        "entrypoints": ["nginx"],
        "command": ["-c", f"{constants.GATEWAY_CONFIG_DIR}/nginx.conf", "-g", "daemon off;"],
        "ports": [
            {"internal": constants.GATEWAY_PORT, "external": docker.host_port, "ip": docker.publish_address}
        ],
        "capabilities": {"drops": list(docker_options.DROPPED_CAPABILITIES)},
        "security_opts": list(docker_options.SECURITY_OPTS),
        "memory": GATEWAY_MEMORY_MB,
        "restart": docker_options.RESTART_POLICY,
        "log_driver": docker_options.LOG_DRIVER,
        "log_opts": dict(docker_options.LOG_OPTIONS),
        "labels": docker_options.container_labels(config.stack, "gateway"),
    }


class DockerGateway(pulumi.ComponentResource):
    """nginx-unprivileged container: basic auth in front of Pyroscope on the bridge network."""

    def __init__(
        self,
        name: str,
        config: BundleConfig,
        *,
        upstream: str,
        network: pulumi.Input[str],
        credentials: GatewayCredentials,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("pyroscope-bundle:gateway:DockerGateway", name, None, opts)
        import pulumi_docker as docker

        child = pulumi.ResourceOptions(parent=self)
        image = docker.RemoteImage(f"{name}-image", name=gateway_image(config), keep_locally=True, opts=child)
        self.nginx_conf = render_nginx_conf(docker_nginx_settings(config, upstream))
        args = docker_gateway_container_args(config)
        self.container = docker.Container(
            name,
            image=image.image_id,
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=network, aliases=[name])],
            uploads=[
                docker.ContainerUploadArgs(
                    file=f"{constants.GATEWAY_CONFIG_DIR}/nginx.conf", content=self.nginx_conf
                ),
                # A secret Output: the upload is recorded as a secret, never in plain text.
                docker.ContainerUploadArgs(
                    file=f"{constants.GATEWAY_HTPASSWD_DIR}/htpasswd", content=credentials.htpasswd
                ),
            ],
            **args,
            # Fixed container name and host port: the old container must go before the new starts.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.register_outputs({"containerName": args["name"]})


def deploy_docker_gateway(
    config: BundleConfig,
    upstream: str,
    network: pulumi.Input[str],
    credentials: GatewayCredentials,
    *,
    opts: pulumi.ResourceOptions | None = None,
    name: str = "pyroscope-gateway",
) -> GatewayDeployment:
    """Register the gateway container; ``upstream`` is Pyroscope's ``alias:port`` on ``network``."""
    component = DockerGateway(
        name, config, upstream=upstream, network=network, credentials=credentials, opts=opts
    )
    docker = config.server.docker
    return GatewayDeployment(
        url=f"http://{name}:{constants.GATEWAY_PORT}",
        credentials=credentials,
        multitenancy=config.server.multitenancy,
        published_url=f"http://{docker_options.host_address(docker.publish_address)}:{docker.host_port}",
        resource=component,
    )
