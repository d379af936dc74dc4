"""The gateway as a Docker container on the server's bridge network.

Only the gateway is published on the host (``server.docker.publishAddress``/``hostPort``); the
Docker backend must not publish Pyroscope's own port when the gateway is on.
"""

from __future__ import annotations

from typing import Any

import pulumi

from pyroscope_bundle import constants
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


def docker_gateway_container_args(config: BundleConfig, name: str) -> dict[str, Any]:
    """The container's settings apart from image, network and uploads (pure, for tests).

    No ``read_only``: Docker refuses uploads into a read-only root filesystem. Instead: the
    image's non-root user, every capability dropped, no privilege escalation.
    """
    docker = config.server.docker
    return {
        "name": name,
        "user": f"{constants.GATEWAY_UID}:{constants.GATEWAY_UID}",
        # nginx directly (the image's entrypoint scripts rewrite files we do not use).
        "entrypoints": ["nginx"],
        "command": ["-c", f"{constants.GATEWAY_CONFIG_DIR}/nginx.conf", "-g", "daemon off;"],
        "ports": [
            {"internal": constants.GATEWAY_PORT, "external": docker.host_port, "ip": docker.publish_address}
        ],
        "capabilities": {"drops": ["ALL"]},
        "security_opts": ["no-new-privileges:true"],
        "memory": GATEWAY_MEMORY_MB,
        "restart": "unless-stopped",
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
        args = docker_gateway_container_args(config, name)
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
        self.register_outputs({"containerName": name})


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
        published_url=f"http://{docker.publish_address}:{docker.host_port}",
        resource=component,
    )
