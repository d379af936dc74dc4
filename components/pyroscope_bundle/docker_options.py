"""Settings every Docker container of the bundle shares: hardening, log rotation and labels.

One place so the Pyroscope, Grafana and gateway containers cannot drift apart. None of these
depend on a version, so they never cause a data volume to be replaced.
"""

from __future__ import annotations

from typing import Final

import pulumi
import pulumi_docker as docker

from pyroscope_bundle import constants

# The json-file driver grows without bound unless rotated; 5 x 10 MB per container is plenty
# for a profiling stack and cannot fill a laptop disk.
LOG_DRIVER: Final = "json-file"
LOG_OPTIONS: Final = {"max-size": "10m", "max-file": "5"}
# No process in the containers may gain privileges (setuid binaries, file capabilities).
SECURITY_OPTS: Final = ("no-new-privileges:true",)
# None of the servers binds a port below 1024 or changes file ownership at run time.
DROPPED_CAPABILITIES: Final = ("ALL",)
RESTART_POLICY: Final = "unless-stopped"


def capabilities() -> docker.ContainerCapabilitiesArgs:
    return docker.ContainerCapabilitiesArgs(drops=list(DROPPED_CAPABILITIES))


def label_map(stack: str, component: str) -> dict[str, str]:
    """The recommended app.kubernetes.io labels, also useful with `docker ps --filter label=...`."""
    return {
        constants.LABEL_NAME: "pyroscope-bundle",
        constants.LABEL_INSTANCE: stack,
        constants.LABEL_COMPONENT: component,
        constants.LABEL_MANAGED_BY: constants.MANAGED_BY,
    }


def container_labels(stack: str, component: str) -> list[docker.ContainerLabelArgs]:
    return [
        docker.ContainerLabelArgs(label=key, value=value)
        for key, value in sorted(label_map(stack, component).items())
    ]


def volume_labels(stack: str, component: str) -> list[docker.VolumeLabelArgs]:
    return [
        docker.VolumeLabelArgs(label=key, value=value)
        for key, value in sorted(label_map(stack, component).items())
    ]


def network_labels(stack: str, component: str) -> list[docker.NetworkLabelArgs]:
    return [
        docker.NetworkLabelArgs(label=key, value=value)
        for key, value in sorted(label_map(stack, component).items())
    ]


def host_address(publish_address: str) -> str:
    """The address a client on this host uses for a port published on ``publish_address``."""
    return "127.0.0.1" if publish_address in ("0.0.0.0", "127.0.0.1") else publish_address  # noqa: S104


def published_port(internal: int, host_port: int, address: str) -> docker.ContainerPortArgs:
    """A container port published on one host address (127.0.0.1 unless configured otherwise:
    the OSS server has no authentication)."""
    return docker.ContainerPortArgs(internal=internal, external=host_port, ip=address, protocol="tcp")


def data_volume(
    resource_name: str,
    volume_name: str,
    *,
    stack: str,
    component: str,
    protect: bool,
    parent: pulumi.Resource,
) -> docker.Volume:
    """A named volume that holds user data (profiles, Grafana's database).

    Its inputs are its name and labels only, never a version or a config, so upgrades and
    config changes leave it alone; it is kept on ``pulumi destroy`` whatever ``protect`` says;
    and label changes are ignored: Docker cannot relabel a volume, so one would replace it, data
    and all (an adopted compose volume carries other labels).
    """
    return docker.Volume(
        resource_name,
        name=volume_name,
        driver="local",
        labels=volume_labels(stack, component),
        opts=pulumi.ResourceOptions(
            parent=parent, retain_on_delete=True, protect=protect, ignore_changes=["labels"]
        ),
    )
