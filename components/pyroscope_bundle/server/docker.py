"""Pyroscope on Docker: the compose-equivalent single-host server.

A user-defined bridge network (containers reach each other by alias), a named data volume that
outlives the container and the stack, a pinned image, and one hardened container. The spec
builders are pure functions; :class:`DockerPyroscope` only turns them into resources.

Why the volume is safe across upgrades: its inputs are the name and labels only - nothing that
depends on the version or the generated config - so changing either replaces the container (its
uploads and image change) but never the volume. ``retain_on_delete`` keeps the data even when
the stack is destroyed; ``protect`` (``pyroscope:server.protect``) additionally refuses to delete.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_docker as docker

from pyroscope_bundle import addresses, constants, docker_options, placement
from pyroscope_bundle.component import BundleComponent
from pyroscope_bundle.config import BundleConfig
from pyroscope_bundle.config.model import Server
from pyroscope_bundle.config.routing import Routes, config_routes
from pyroscope_bundle.config.types import version_tuple
from pyroscope_bundle.deprecation import bundle_config
from pyroscope_bundle.endpoints import Endpoint, ServerDeployment, query_endpoints, to_endpoint
from pyroscope_bundle.naming import claim
from pyroscope_bundle.server.pyroscope_config import pyroscope_config_yaml

# The component's name in the bundle's program.
DEFAULT_NAME = "pyroscope"
# `pulumi up` waits this long for the health check to pass before it reports a failure.
HEALTHY_WAIT_SECONDS = 120


# --- pure spec builders ---------------------------------------------------------------------------


def image_ref(server: Server) -> str:
    """The image (under ``server.imageRegistry`` when set)."""
    return placement.image_ref(server, constants.PYROSCOPE_IMAGE, server.version)


def container_name(server: Server) -> str:
    """Containers are named after the stack's network so two stacks on one host cannot collide."""
    return server.docker.network_name


def command() -> list[str]:
    """Arguments for the image's entrypoint (``/usr/bin/pyroscope``)."""
    return [f"-config.file={constants.PYROSCOPE_CONFIG_PATH}"]


def memory_limit_mb(server: Server) -> int:
    """Docker's ``memory`` is in MiB; ``server.resources.limits.memory`` is a quantity in bytes."""
    return max(1, server.resources.limits.memory.bytes // 2**20)


def internal_url() -> str:
    """How containers on the stack's bridge network (Grafana, a gateway, your services) reach it."""
    return addresses.network_url(constants.DOCKER_PYROSCOPE_ALIAS, constants.PYROSCOPE_HTTP_PORT)


def host_url(server: Server) -> str:
    """How processes on this host reach the published port (Pyroscope's, or the gateway's)."""
    return addresses.host_url(server.docker.publish_address, server.docker.host_port)


def healthcheck_test(server: Server) -> list[str] | None:
    """``GET /ready`` from inside the container, or None where the image cannot run it.

    The image is distroless: no shell, curl or wget. It ships ``profilecli``, whose ``ready``
    command requests ``<url>/ready`` and exits 1 unless the answer is 200 (grafana/pyroscope
    ``cmd/profilecli/ready.go``, present since 1.8.0). Older 1.x images get no health check.
    """
    if version_tuple(server.version) < constants.PYROSCOPE_PROFILECLI_READY_SINCE:
        return None
    return [
        "CMD",
        constants.PYROSCOPE_PROFILECLI,
        "ready",
        f"--url=http://127.0.0.1:{constants.PYROSCOPE_HTTP_PORT}",
    ]


def healthcheck(server: Server) -> docker.ContainerHealthcheckArgs | None:
    test = healthcheck_test(server)
    if test is None:
        return None
    # v2 elects a single-node raft leader before /ready answers 200: give it a minute.
    return docker.ContainerHealthcheckArgs(
        tests=test, interval="15s", timeout="5s", retries=5, start_period="60s"
    )


# --- resources ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublishedEndpoint:
    """What is published on the host: the Pyroscope port itself, or a gateway in front of it;
    and where Grafana queries on the bridge network (Pyroscope itself, or that gateway)."""

    ports: list[docker.ContainerPortArgs]
    push: Endpoint
    query: Endpoint | None
    outputs: dict[str, Any]
    query_per_tenant: dict[str, Endpoint] = field(default_factory=dict)


def claim_host_names(owner: str, server: Server) -> None:
    """Docker's names and published ports are host-wide: one server each."""
    docker_settings = server.docker
    setting = "pyroscope:server.docker"
    claim(owner, f"{setting}.networkName", "Docker network", docker_settings.network_name)
    claim(owner, f"{setting}.volumeName", "Docker volume", docker_settings.volume_name)
    address = docker_settings.publish_address
    claim(owner, f"{setting}.hostPort", "host port", f"{address}:{docker_settings.host_port}")
    grpc = server.gateway.otlp_grpc_host_port
    if server.gateway_enabled and grpc is not None:
        claim(owner, "pyroscope:server.gateway.otlpGrpcHostPort", "host port", f"{address}:{grpc}")


class DockerPyroscope(BundleComponent):
    """Network, data volume, image and the Pyroscope container.

    Children are named after the component (``<name>-network``, ``<name>-data``, the container
    ``<name>``, ``<name>-gateway``; the bundle's ``pyroscope`` gives the names existing stacks
    hold). Docker's own names are host-wide and come from ``server.docker`` (network, volume,
    ports): a second server on one host sets its own.
    """

    network: docker.Network
    volume: docker.Volume
    image: docker.RemoteImage
    container: docker.Container

    def __init__(
        self,
        name: str,
        server: Server,
        routes: Routes,
        opts: pulumi.ResourceOptions | None = None,
        *,
        stack: str = "",
    ) -> None:
        """``server``: ``pyroscope:server``; ``routes``: the routing rule's answer for it;
        ``stack``: the ``environment`` label."""
        config = bundle_config(server, "DockerPyroscope", "its Server section, routes and stack=")
        if config is not None:
            server, stack = config.server, config.stack
        claim_host_names(f"DockerPyroscope {name}", server)
        super().__init__(name, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.stack = stack

        self.network = docker.Network(
            f"{name}-network",
            name=server.docker.network_name,
            driver="bridge",
            labels=docker_options.network_labels(stack, "network"),
            # The name is fixed, so a replacement must remove the old network first.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.volume = docker_options.data_volume(
            f"{name}-data",
            server.docker.volume_name,
            stack=stack,
            component="data",
            protect=server.protect,
            parent=self,
        )
        # keep_locally: destroying the stack or moving to another version must not delete an
        # image other containers on this host may use.
        self.image = docker.RemoteImage(
            f"{name}-image", name=image_ref(server), keep_locally=True, opts=child
        )

        # With the gateway, Pyroscope lives on an internal network that only the gateway shares.
        self.internal_network = (
            docker.Network(
                f"{name}-internal-network",
                name=f"{server.docker.network_name}-internal",
                driver="bridge",
                internal=True,
                labels=docker_options.network_labels(stack, "internal-network"),
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
            if server.gateway_enabled
            else None
        )
        published = _publish(server, routes, self, name)
        check = healthcheck(server)
        self.container = docker.Container(
            name,
            name=container_name(server),
            image=self.image.image_id,
            command=command(),
            # The config overwrites the image's example at the path its CMD reads. (A read-only
            # root filesystem is not possible: Docker refuses uploads into a read-only rootfs,
            # "container rootfs is marked read-only".)
            uploads=[
                docker.ContainerUploadArgs(
                    file=constants.PYROSCOPE_CONFIG_PATH, content=pyroscope_config_yaml(server)
                )
            ],
            # Every path of the generated config is under /data. The image declares `VOLUME /data`
            # with /data owned by pyroscope (uid/gid 10001) (cmd/pyroscope/Dockerfile: `COPY
            # --chown=pyroscope:pyroscope ... /data`), and Docker copies that ownership into an
            # empty named volume on first mount: the non-root server can write without a chown.
            # Its other VOLUMEs (/data-compactor, /data-metastore) stay unused anonymous volumes
            # that `remove_volumes` (default true) deletes with the container.
            volumes=[
                docker.ContainerVolumeArgs(
                    volume_name=self.volume.name, container_path=constants.PYROSCOPE_DATA_DIR
                )
            ],
            user=f"{constants.PYROSCOPE_UID}:{constants.PYROSCOPE_UID}",
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(
                    name=(self.internal_network or self.network).name,
                    aliases=[constants.DOCKER_PYROSCOPE_ALIAS],
                )
            ],
            ports=published.ports,
            healthcheck=check,
            wait=check is not None,
            wait_timeout=HEALTHY_WAIT_SECONDS if check is not None else None,
            restart=docker_options.RESTART_POLICY,
            memory=memory_limit_mb(server),
            capabilities=docker_options.capabilities(),
            security_opts=list(docker_options.SECURITY_OPTS),
            log_driver=docker_options.LOG_DRIVER,
            log_opts=dict(docker_options.LOG_OPTIONS),
            labels=docker_options.container_labels(stack, "server"),
            # The name and host port are fixed: the old container must go before the new starts.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )

        self.deployment = ServerDeployment(
            backend="docker",
            version=server.version,
            push=published.push,
            query=published.query,
            query_per_tenant=published.query_per_tenant,
            outputs={
                **published.outputs,
                "pyroscopeNetworkUrl": internal_url(),
                "pyroscopeVersion": server.version,
                "pyroscopeImage": image_ref(server),
                "pyroscopeImageDigest": self.image.repo_digest,
                "dockerNetwork": self.network.name,
                "pyroscopeDataVolume": self.volume.name,
            },
            docker_network=self.network.name,
        )
        self.register_outputs(
            {"pyroscopeUrl": published.outputs["pyroscopeUrl"], "dockerNetwork": self.network.name}
        )


def _publish(server: Server, routes: Routes, component: DockerPyroscope, name: str) -> PublishedEndpoint:
    """Publish Pyroscope's port on the host, or - with the gateway on - nothing (the gateway does).

    The one place the Docker backend hands over to the authenticating gateway; every address and
    tenant comes from the routing rule (``config.routing``).
    """
    if routes.gateway:
        return _publish_through_gateway(server, routes, component, name)
    assert routes.server_push is not None  # the stack runs this server
    ports = [
        docker_options.published_port(
            constants.PYROSCOPE_HTTP_PORT, server.docker.host_port, server.docker.publish_address
        )
    ]
    query, per_tenant = query_endpoints(routes)
    return PublishedEndpoint(
        ports=ports,
        push=to_endpoint(routes.server_push),
        query=query,
        query_per_tenant=per_tenant,
        outputs={"pyroscopeUrl": host_url(server)},
    )


def _publish_through_gateway(
    server: Server, routes: Routes, component: DockerPyroscope, name: str
) -> PublishedEndpoint:
    """THE gateway call site: nginx with basic auth takes the published port; Pyroscope publishes
    nothing. Grafana queries through the gateway too (by its alias on the bridge network, with the
    gateway's credentials), so one set of credentials guards every path to the profiles."""
    from pyroscope_bundle.gateway import GatewayCredentials, deploy_docker_gateway, gateway_settings

    assert routes.server_push is not None and routes.upstream is not None
    child = pulumi.ResourceOptions(parent=component)
    settings = gateway_settings(server, component.stack)
    credentials = GatewayCredentials(
        f"{name}-gateway-credentials", settings.users, admin=settings.admin, opts=child
    )
    gateway = deploy_docker_gateway(
        settings,
        routes.upstream,
        component.network.name,
        credentials,
        upstream_network=component.internal_network.name if component.internal_network else None,
        opts=child,
        name=f"{name}-gateway",
        # The alias the routes (Grafana's datasource URL) spell, on this server's own network.
        alias=constants.GATEWAY_NAME,
    )
    passwords = {user: account.password for user, account in credentials.users.items()}
    # The host-published URL: where processes on this host push.
    push = to_endpoint(routes.server_push, passwords)
    # Grafana gets the read-only credentials.
    query_passwords = {user: account.password for user, account in credentials.query_users.items()}
    query, per_tenant = query_endpoints(routes, query_passwords)
    return PublishedEndpoint(
        ports=[],
        push=push,
        query=query,
        query_per_tenant=per_tenant,
        outputs={
            "pyroscopeUrl": host_url(server),
            "pyroscopeGatewayNetworkUrl": gateway.url,
            "gatewayUser": push.basic_auth_user,
            "gatewayPassword": push.basic_auth_password,
            "gatewayQueryPassword": gateway.query_endpoint(
                push.basic_auth_user if isinstance(push.basic_auth_user, str) else None
            ).basic_auth_password,
        },
    )


def deploy_docker_server(
    config: BundleConfig, routes: Routes | None = None, *, name: str = DEFAULT_NAME
) -> ServerDeployment | None:
    """Register the Docker server; its deployment tells Grafana and the wiring where it is."""
    server = DockerPyroscope(name, config.server, routes or config_routes(config), stack=config.stack)
    return server.deployment
