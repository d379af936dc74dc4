"""Grafana next to the Docker server, with the Pyroscope datasource provisioned from a file.

Grafana joins the server's bridge network and queries by network alias: Pyroscope itself, or -
with the gateway on - the gateway, with the gateway's user and password. The provisioning file
comes from the one builder the other modes use (``grafana/datasource.py``) and stays reviewable:
it names the password as ``$__file{<path>}`` and the password itself is a separate secret upload
(grafana/grafana ``pkg/services/provisioning/values`` expands every value through
``setting.ExpandVar``, whose ``file`` expander reads the file and trims surrounding whitespace).
The admin password is a Pulumi secret end to end: from ``pyroscope:grafanaAdminPassword`` or
pulumi-random, uploaded as a file that the image's entrypoint reads through
``GF_SECURITY_ADMIN_PASSWORD__FILE`` (grafana/grafana ``packaging/docker/run.sh`` turns every
``GF_*__FILE`` variable into the variable without the suffix). ``docker inspect`` shows the
file's path, never the password.
"""

from __future__ import annotations

import posixpath
from typing import Any

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from pyroscope_bundle import constants, docker_options
from pyroscope_bundle.component import BundleComponent
from pyroscope_bundle.config.model import Grafana
from pyroscope_bundle.deprecation import bundle_config
from pyroscope_bundle.endpoints import ServerDeployment
from pyroscope_bundle.grafana.datasource import (
    DatasourceTarget,
    datasource_targets,
    provisioning_yaml,
    pyroscope_datasource,
)
from pyroscope_bundle.naming import claim

# The component's name in the bundle's program (its children keep their names: grafana-image, ...).
DEFAULT_NAME = constants.DOCKER_GRAFANA_ALIAS
PROVISIONING_FILE = f"{constants.GRAFANA_DATASOURCE_DIR}/pyroscope.yaml"
HEALTHY_WAIT_SECONDS = 120
PASSWORD_LENGTH = 32
# Secret files next to the admin password: one per datasource user, read only by Grafana.
SECRETS_DIR = posixpath.dirname(constants.GRAFANA_ADMIN_PASSWORD_FILE)
SECRET_FILE_MODE = "0400"


# --- pure spec builders ---------------------------------------------------------------------------


def image_ref(grafana: Grafana, registry: str | None = None) -> str:
    """The Grafana image, under ``server.imageRegistry`` when set."""
    return (
        f"{registry}/{constants.GRAFANA_IMAGE}:{grafana.version}"
        if registry
        else (f"{constants.GRAFANA_IMAGE}:{grafana.version}")
    )


def container_name(network_name: str, name: str = DEFAULT_NAME) -> str:
    """Host-wide, so prefixed with the server's network name (``pyroscope-grafana``)."""
    return f"{network_name}-{name}"


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


def password_file(user: str) -> str:
    """Where the password of datasource user ``user`` is uploaded."""
    return f"{SECRETS_DIR}/pyroscope-datasource-{user}"


def _known(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"the Docker backend's query {what} must be known at plan time, got {value!r}")
    return value


def grafana_targets(grafana: Grafana, server: ServerDeployment) -> list[DatasourceTarget]:
    return datasource_targets(grafana, server.query, server.query_per_tenant)


def provisioning_file(grafana: Grafana, server: ServerDeployment) -> str:
    """The datasource file, credential-free: each datasource by its network alias (the gateway's
    when it is on, with ``basicAuthPassword: $__file{...}``), the tenant header when Grafana
    queries a multi-tenant Pyroscope directly."""
    entries = []
    for target in grafana_targets(grafana, server):
        endpoint = target.endpoint
        user = None
        reference = None
        if endpoint.basic_auth_password is not None:
            user = _known(endpoint.basic_auth_user, "user")
            reference = f"$__file{{{password_file(user)}}}"
        entries.append(
            pyroscope_datasource(
                grafana,
                url=_known(endpoint.url, "URL"),
                tenant_id=endpoint.tenant_id,
                basic_auth_user=user,
                password_reference=reference,
                identity=target.identity,
            )
        )
    return provisioning_yaml(grafana, entries)


def password_uploads(grafana: Grafana, server: ServerDeployment) -> list[docker.ContainerUploadArgs]:
    """One secret file per datasource password, readable only by the grafana user (uid 472)."""
    uploads: dict[str, docker.ContainerUploadArgs] = {}
    for target in grafana_targets(grafana, server):
        endpoint = target.endpoint
        password: pulumi.Output[str] | None = endpoint.basic_auth_password
        if password is None:
            continue
        path = password_file(_known(endpoint.basic_auth_user, "user"))
        uploads[path] = docker.ContainerUploadArgs(
            file=path,
            # A secret Output (Endpoint.basic_auth_password always is): recorded as a secret.
            content=password,
            owner=str(constants.GRAFANA_UID),
            permissions=SECRET_FILE_MODE,
        )
    return [uploads[path] for path in sorted(uploads)]


# --- resources ------------------------------------------------------------------------------------


class DockerGrafana(BundleComponent):
    """Grafana's image, data volume and container, with the Pyroscope datasource provisioned.

    Children are named after the component (``<name>-image``, ``<name>-data``, the container
    ``<name>``, Docker container ``<network>-<name>``, network alias ``<name>``); a second
    Grafana on one host needs its own ``grafana.docker`` host port and volume name.
    """

    def __init__(
        self,
        name: str,
        grafana: Grafana,
        server: ServerDeployment,
        admin_password: pulumi.Output[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
        *,
        stack: str = "",
        network_name: str | None = None,
        image_registry: str | None = None,
        protect: bool = False,
    ) -> None:
        """``network_name``, ``image_registry``, ``protect``: the server's ``server.docker.networkName``
        (Grafana joins that network; its container name is prefixed with it), ``imageRegistry`` and
        ``protect``; ``stack``: the ``environment`` label."""
        config = bundle_config(grafana, "DockerGrafana", "its Grafana section and keywords")
        if config is not None:
            grafana, stack, protect = config.grafana, config.stack, config.server.protect
            network_name, image_registry = config.server.docker.network_name, config.server.image_registry
        if not network_name:
            raise ValueError("DockerGrafana needs network_name: the server's Docker network name")
        network = network_name
        owner = f"DockerGrafana {name}"
        claim(owner, "pyroscope:grafana.docker.volumeName", "Docker volume", grafana.docker.volume_name)
        address = f"{grafana.docker.publish_address}:{grafana.docker.host_port}"
        claim(owner, "pyroscope:grafana.docker.hostPort", "host port", address)
        super().__init__(name, opts)
        child = pulumi.ResourceOptions(parent=self)

        if admin_password is None:
            # Never admin/admin: a random password, readable with `pulumi stack output --show-secrets`.
            generated = random.RandomPassword(
                f"{name}-admin-password", length=PASSWORD_LENGTH, special=False, opts=child
            )
            admin_password = generated.result
        password = pulumi.Output.secret(admin_password)

        self.image = docker.RemoteImage(
            f"{name}-image",
            name=image_ref(grafana, image_registry),
            keep_locally=True,
            opts=child,
        )
        # Dashboards, users and the admin password hash live here; kept when the stack goes.
        self.volume = docker_options.data_volume(
            f"{name}-data",
            grafana.docker.volume_name,
            stack=stack,
            component="grafana-data",
            protect=protect,
            parent=self,
        )
        check = healthcheck()
        self.container = docker.Container(
            name,
            name=container_name(network, name),
            image=self.image.image_id,
            envs=grafana_envs(grafana),
            uploads=[
                docker.ContainerUploadArgs(
                    file=PROVISIONING_FILE, content=provisioning_file(grafana, server)
                ),
                # Readable only by the grafana user (uid 472) the image runs as.
                docker.ContainerUploadArgs(
                    file=constants.GRAFANA_ADMIN_PASSWORD_FILE,
                    content=password,
                    owner=str(constants.GRAFANA_UID),
                    permissions=SECRET_FILE_MODE,
                ),
                *password_uploads(grafana, server),
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
                docker.ContainerNetworksAdvancedArgs(name=server.docker_network or network, aliases=[name])
            ],
            ports=[
                docker_options.published_port(
                    constants.GRAFANA_HTTP_PORT, grafana.docker.host_port, grafana.docker.publish_address
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
            labels=docker_options.container_labels(stack, "grafana"),
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.outputs: dict[str, Any] = {
            "grafanaUrl": grafana_url(grafana),
            "grafanaAdminUser": constants.GRAFANA_ADMIN_USER,
            "grafanaAdminPassword": password,
            "datasourceUid": grafana.datasource.uid,
            "grafanaVersion": grafana.version,
            "grafanaImage": image_ref(grafana, image_registry),
        }
        self.register_outputs({"grafanaUrl": grafana_url(grafana)})


def deploy_docker_grafana(
    grafana: Grafana,
    server: ServerDeployment | None,
    admin_password: pulumi.Output[str] | None = None,
    *,
    stack: str,
    network_name: str,
    image_registry: str | None = None,
    protect: bool = False,
    name: str = DEFAULT_NAME,
) -> dict[str, Any]:
    """Run Grafana next to the Docker server; return its stack outputs."""
    if server is None:
        # The loader refuses mode docker without a server; this only guards direct calls.
        raise ValueError("pyroscope:grafana.mode docker needs the stack's Docker server")
    component = DockerGrafana(
        name,
        grafana,
        server,
        admin_password,
        stack=stack,
        network_name=network_name,
        image_registry=image_registry,
        protect=protect,
    )
    return component.outputs
