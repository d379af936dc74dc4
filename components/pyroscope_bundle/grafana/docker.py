"""Grafana next to the Docker server, with the Pyroscope datasource provisioned from a file.

Grafana joins the server's bridge network and queries Pyroscope by its network alias; the
provisioning file comes from the one builder the other modes use (``grafana/datasource.py``).
The admin password is a Pulumi secret end to end: from ``pyroscope:grafanaAdminPassword`` or
pulumi-random, uploaded as a file that the image's entrypoint reads through
``GF_SECURITY_ADMIN_PASSWORD__FILE`` (grafana/grafana ``packaging/docker/run.sh`` turns every
``GF_*__FILE`` variable into the variable without the suffix). ``docker inspect`` shows the
file's path, never the password.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from pyroscope_bundle import constants, docker_options
from pyroscope_bundle.config import BundleConfig
from pyroscope_bundle.config.model import Grafana
from pyroscope_bundle.endpoints import ServerDeployment
from pyroscope_bundle.grafana.datasource import provisioning_yaml, pyroscope_datasource

COMPONENT_TYPE = "pyroscope-bundle:grafana:DockerGrafana"
PROVISIONING_FILE = f"{constants.GRAFANA_DATASOURCE_DIR}/pyroscope.yaml"
HEALTHY_WAIT_SECONDS = 120
PASSWORD_LENGTH = 32


# --- pure spec builders ---------------------------------------------------------------------------


def image_ref(grafana: Grafana) -> str:
    return f"{constants.GRAFANA_IMAGE}:{grafana.version}"


def container_name(config: BundleConfig) -> str:
    return f"{config.server.docker.network_name}-grafana"


def grafana_url(grafana: Grafana) -> str:
    address = docker_options.host_address(grafana.docker.publish_address)
    return f"http://{address}:{grafana.docker.host_port}"


def grafana_envs(grafana: Grafana) -> list[str]:
    """Grafana settings; no value here is a secret (the password comes from a file)."""
    return sorted(
        [
            f"GF_SECURITY_ADMIN_USER={constants.GRAFANA_ADMIN_USER}",
            f"GF_SECURITY_ADMIN_PASSWORD__FILE={constants.GRAFANA_ADMIN_PASSWORD_FILE}",
            "GF_AUTH_ANONYMOUS_ENABLED=false",
            "GF_USERS_ALLOW_SIGN_UP=false",
            "GF_ANALYTICS_REPORTING_ENABLED=false",
            f"GF_SERVER_ROOT_URL={grafana_url(grafana)}/",
        ]
    )


def healthcheck() -> docker.ContainerHealthcheckArgs:
    """``GET /api/health`` with the curl the grafana/grafana images ship."""
    url = f"http://127.0.0.1:{constants.GRAFANA_HTTP_PORT}{constants.GRAFANA_HEALTH_PATH}"
    return docker.ContainerHealthcheckArgs(
        tests=["CMD", "curl", "--fail", "--silent", "--output", "/dev/null", url],
        interval="15s",
        timeout="5s",
        retries=5,
        start_period="30s",
    )


def provisioning_file(config: BundleConfig, server: ServerDeployment) -> pulumi.Output[str]:
    """The datasource file: Pyroscope by its network alias, the tenant header when multi-tenant.

    The query endpoint of the Docker backend is the private bridge network, which needs no
    credentials; a password would have to travel as a secret and is refused here.
    """
    if server.query.basic_auth_password is not None:
        raise ValueError("the Docker Grafana queries Pyroscope on the private network, without a password")
    return pulumi.Output.from_input(server.query.url).apply(
        lambda url: provisioning_yaml(
            config.grafana,
            pyroscope_datasource(config.grafana, url=url, tenant_id=server.query.tenant_id),
        )
    )


# --- resources ------------------------------------------------------------------------------------


class DockerGrafana(pulumi.ComponentResource):
    """Grafana's image, data volume and container, with the Pyroscope datasource provisioned."""

    def __init__(
        self,
        name: str,
        config: BundleConfig,
        server: ServerDeployment,
        admin_password: pulumi.Output[str] | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(COMPONENT_TYPE, name, None, opts)
        grafana = config.grafana
        child = pulumi.ResourceOptions(parent=self)

        if admin_password is None:
            # Never admin/admin: a random password, readable with `pulumi stack output --show-secrets`.
            generated = random.RandomPassword(
                "grafana-admin-password", length=PASSWORD_LENGTH, special=False, opts=child
            )
            admin_password = generated.result
        password = pulumi.Output.secret(admin_password)

        self.image = docker.RemoteImage(
            "grafana-image", name=image_ref(grafana), keep_locally=True, opts=child
        )
        # Dashboards, users and the admin password hash live here; kept when the stack goes.
        self.volume = docker.Volume(
            "grafana-data",
            name=grafana.docker.volume_name,
            driver="local",
            labels=docker_options.volume_labels(config.stack, "grafana-data"),
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True, protect=config.server.protect),
        )
        check = healthcheck()
        self.container = docker.Container(
            "grafana",
            name=container_name(config),
            image=self.image.image_id,
            envs=grafana_envs(grafana),
            uploads=[
                docker.ContainerUploadArgs(file=PROVISIONING_FILE, content=provisioning_file(config, server)),
                # Readable only by the grafana user (uid 472) the image runs as.
                docker.ContainerUploadArgs(
                    file=constants.GRAFANA_ADMIN_PASSWORD_FILE,
                    content=password,
                    owner=str(constants.GRAFANA_UID),
                    permissions="0400",
                ),
            ],
            # The image creates /var/lib/grafana writable by uid 472; Docker copies that into
            # the empty named volume on first mount.
            volumes=[
                docker.ContainerVolumeArgs(
                    volume_name=self.volume.name, container_path=constants.GRAFANA_DATA_DIR
                )
            ],
            user=str(constants.GRAFANA_UID),
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(
                    name=server.docker_network or config.server.docker.network_name,
                    aliases=[constants.DOCKER_GRAFANA_ALIAS],
                )
            ],
            ports=[
                docker.ContainerPortArgs(
                    internal=constants.GRAFANA_HTTP_PORT,
                    external=grafana.docker.host_port,
                    ip=grafana.docker.publish_address,
                    protocol="tcp",
                )
            ],
            healthcheck=check,
            wait=True,
            wait_timeout=HEALTHY_WAIT_SECONDS,
            restart=docker_options.RESTART_POLICY,
            capabilities=docker_options.capabilities(),
            security_opts=list(docker_options.SECURITY_OPTS),
            log_driver=docker_options.LOG_DRIVER,
            log_opts=dict(docker_options.LOG_OPTIONS),
            labels=docker_options.container_labels(config.stack, "grafana"),
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.outputs: dict[str, Any] = {
            "grafanaUrl": grafana_url(grafana),
            "grafanaAdminUser": constants.GRAFANA_ADMIN_USER,
            "grafanaAdminPassword": password,
            "datasourceUid": grafana.datasource.uid,
            "grafanaVersion": grafana.version,
            "grafanaImage": image_ref(grafana),
        }
        self.register_outputs({"grafanaUrl": grafana_url(grafana)})


def deploy_docker_grafana(
    config: BundleConfig,
    server: ServerDeployment | None,
    admin_password: pulumi.Output[str] | None = None,
) -> dict[str, Any]:
    """Run Grafana next to the Docker server; return its stack outputs."""
    if server is None:
        # The loader refuses mode docker without a server; this only guards direct calls.
        raise ValueError("pyroscope:grafana.mode docker needs the stack's Docker server")
    return DockerGrafana("grafana", config, server, admin_password).outputs
