"""Agent delivery without an image rebuild: where the Java and .NET agents come from.

A service either already has the agent in its image (``delivery: image``, nothing is added) or
gets it injected: a short-lived container copies it (``copy``, from an agent image) or downloads
and checks it (``download``, Java) into a volume shared with the wired containers, which mount
it read-only at :data:`~pyroscope_bundle.constants.AGENT_DIR`. On Kubernetes that container is
an init container and the volume an ``emptyDir``; on ECS a non-essential container the app
container ``dependsOn`` (condition ``COMPLETE``) and a task volume. Pure functions: the
Kubernetes and ECS modules place what they return.

Upstream layout the commands rely on (nothing here can be downloaded to test them):
- .NET: ``Pyroscope.Profiler.Native.so`` and ``Pyroscope.Linux.ApiWrapper.x64.so`` at the root of
  ``grafana/pyroscope-dotnet:<version>-glibc`` (grafana/pyroscope-dotnet, Pyroscope.Dockerfile at
  v0.15.0-pyroscope, final stage ``FROM busybox:1.37.0-glibc``, so ``cp`` is in the image). The
  wrapper keeps its ``x64`` name on aarch64 too: the same Dockerfile builds the
  ``Datadog.Linux.ApiWrapper.x64`` target natively on the arm64 runner, and the tag is a
  multi-arch manifest, so each node pulls its own architecture's build.
- Java: ``pyroscope.jar`` is the release asset of grafana/pyroscope-java (release-please.yml
  uploads ``agent/build/libs/pyroscope.jar``); there is no official image.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pyroscope_bundle_runtime import contract

from pyroscope_bundle import constants, names

# Environment of a download container: the values never pass through a shell command line.
URL_VARIABLE = "PYROSCOPE_AGENT_URL"
SHA256_VARIABLE = "PYROSCOPE_AGENT_SHA256"
# Fails on any HTTP error, checks the checksum before the file gets its final name, so the app
# never sees a partial or foreign jar; `sha256sum -c` exits non-zero on a mismatch.
DOWNLOAD_SCRIPT = (
    'set -eu; part="$0/{file}.part"; '
    'curl --fail --silent --show-error --location --retry 3 --output "$part" "$' + URL_VARIABLE + '"; '
    'echo "$' + SHA256_VARIABLE + '  $part" | sha256sum -c -; '
    'mv "$part" "$0/{file}"'
)
# Small and bounded: the copy needs a few MiB and seconds of CPU.
RESOURCES: Mapping[str, Mapping[str, str]] = {
    "requests": {"cpu": "10m", "memory": "32Mi"},
    "limits": {"cpu": "200m", "memory": "64Mi"},
}
# The agent files are a few MiB (pyroscope.jar with its native libraries, the two .NET libraries).
VOLUME_SIZE_LIMIT = "128Mi"


@dataclass(frozen=True)
class AgentInjection:
    """How one service's agent is put into its containers (``None`` in the settings: the image has it)."""

    runtime: str
    delivery: str  # copy | download
    image: str
    # The command the injecting container runs (argv; no shell for copy).
    command: tuple[str, ...]
    environment: Mapping[str, str] = field(default_factory=dict)
    # Human-readable origin, shown on the rendered objects (annotation / docker label).
    source: str = ""


def agent_files(runtime: str) -> tuple[str, ...]:
    """The file names the runtime loads from the agent directory."""
    if runtime == "java":
        return (constants.JAVA_AGENT_FILE,)
    if runtime == "dotnet":
        return (contract.DOTNET_PROFILER_LIBRARY, contract.DOTNET_API_WRAPPER_LIBRARY)
    raise ValueError(
        f"runtime {runtime!r} has no injectable agent; only {', '.join(constants.INJECTABLE_AGENT_RUNTIMES)}"
    )


def injected_java_agent_path() -> str:
    return f"{constants.AGENT_DIR}/{constants.JAVA_AGENT_FILE}"


def copy_injection(runtime: str, image: str | None = None, path: str | None = None) -> AgentInjection:
    """Copy the agent out of ``image`` (default: the upstream .NET image; Java needs one)."""
    if runtime == "dotnet":
        chosen = image or constants.DOTNET_AGENT_IMAGE
        directory = (path or constants.DOTNET_AGENT_IMAGE_DIR).rstrip("/")
        sources = tuple(f"{directory}/{name}" for name in agent_files(runtime))
    elif runtime == "java":
        if not image:
            raise ValueError("java: copy needs an agent image (there is no official Java agent image)")
        chosen = image
        sources = (path or f"/{constants.JAVA_AGENT_FILE}",)
    else:
        agent_files(runtime)  # raises: not injectable
        raise AssertionError("unreachable")
    if runtime == "java":
        # The jar may have another name in the image: copy it to the name the runtime loads.
        command: tuple[str, ...] = ("cp", sources[0], injected_java_agent_path())
    else:
        command = ("cp", *sources, f"{constants.AGENT_DIR}/")
    return AgentInjection(runtime, "copy", chosen, command, source=f"copied from {chosen}")


def download_injection(
    runtime: str, sha256: str, url: str | None = None, image: str | None = None
) -> AgentInjection:
    """Download the Java agent from ``url`` (default: the pinned release) and check its sha256."""
    if runtime != "java":
        raise ValueError(
            f"{runtime}: download is for the java agent only (the .NET profiler ships per-architecture "
            "tarballs); use delivery copy"
        )
    chosen_url = url or constants.JAVA_AGENT_URL
    script = DOWNLOAD_SCRIPT.format(file=constants.JAVA_AGENT_FILE)
    return AgentInjection(
        runtime,
        "download",
        image or constants.AGENT_DOWNLOADER_IMAGE,
        ("sh", "-c", script, constants.AGENT_DIR),
        environment={URL_VARIABLE: chosen_url, SHA256_VARIABLE: sha256},
        source=f"downloaded from {chosen_url} (sha256 {sha256})",
    )


def injection_for(
    runtime: str,
    delivery: str,
    *,
    image: str | None = None,
    path: str | None = None,
    url: str | None = None,
    sha256: str | None = None,
) -> AgentInjection | None:
    """The injection a service's ``agent`` section asks for; None for ``delivery: image``."""
    if delivery == "image":
        return None
    if delivery == "copy":
        return copy_injection(runtime, image, path)
    if delivery == "download":
        if not sha256:
            raise ValueError("download needs the jar's sha256")
        return download_injection(runtime, sha256, url, image)
    raise ValueError(f"agent delivery {delivery!r} is not one of image, copy, download")


# --- Kubernetes ----------------------------------------------------------------------------------


def kubernetes_init_container(injection: AgentInjection) -> dict[str, Any]:
    """The init container filling the agent volume, hardened like the bundle's own containers."""
    container: dict[str, Any] = {
        "name": constants.AGENT_CONTAINER,
        "image": injection.image,
        "command": list(injection.command),
        "volumeMounts": [{"name": constants.AGENT_VOLUME, "mountPath": constants.AGENT_DIR}],
        "resources": {kind: dict(amounts) for kind, amounts in RESOURCES.items()},
        "securityContext": {
            "runAsUser": constants.AGENT_UID,
            "runAsGroup": constants.AGENT_UID,
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    if injection.environment:
        container["env"] = [{"name": k, "value": v} for k, v in sorted(injection.environment.items())]
    return container


def kubernetes_volume() -> dict[str, Any]:
    return {"name": constants.AGENT_VOLUME, "emptyDir": {"sizeLimit": VOLUME_SIZE_LIMIT}}


def kubernetes_mount() -> dict[str, Any]:
    return {"name": constants.AGENT_VOLUME, "mountPath": constants.AGENT_DIR, "readOnly": True}


# --- ECS -----------------------------------------------------------------------------------------


def ecs_agent_container(injection: AgentInjection, log_configuration: Any = None) -> dict[str, Any]:
    """The non-essential container that fills the task volume and exits (the app waits for it).

    It runs as the image's user (root in the upstream .NET image: ECS task volumes are owned by
    root, and a non-root copy could not write there) with every capability dropped, a read-only
    root filesystem and a small memory reservation.
    """
    container: dict[str, Any] = {
        "name": constants.AGENT_CONTAINER,
        "image": injection.image,
        "essential": False,
        "entryPoint": [injection.command[0]],
        "command": list(injection.command[1:]),
        "mountPoints": [{"sourceVolume": constants.AGENT_VOLUME, "containerPath": constants.AGENT_DIR}],
        "readonlyRootFilesystem": True,
        "linuxParameters": {"capabilities": {"drop": ["ALL"]}},
        "memoryReservation": 32,
        "dockerLabels": {names.AGENT_SOURCE_ANNOTATION: injection.source},
    }
    if injection.environment:
        container["environment"] = [{"name": k, "value": v} for k, v in sorted(injection.environment.items())]
    if log_configuration is not None:
        container["logConfiguration"] = log_configuration
    return container


def ecs_volume() -> dict[str, Any]:
    """A task volume without a host path: Docker-managed on EC2, task storage on Fargate."""
    return {"name": constants.AGENT_VOLUME}


def ecs_mount() -> dict[str, Any]:
    return {"sourceVolume": constants.AGENT_VOLUME, "containerPath": constants.AGENT_DIR, "readOnly": True}


def ecs_dependency() -> dict[str, Any]:
    return {"containerName": constants.AGENT_CONTAINER, "condition": "COMPLETE"}
