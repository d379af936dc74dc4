"""The environment a profiled container gets, per runtime, from :class:`ProfilerSettings`.

Platform-neutral: a list of :class:`EnvVar` sorted by name, where the password is a reference
to a secret (never a value). The Kubernetes and ECS modules turn it into ``env`` entries with
``secretKeyRef`` and into ``environment`` / ``secrets`` lists.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pyroscope_bundle_runtime import contract

from pyroscope_bundle.wiring.settings import ProfilerSettings


@dataclass(frozen=True)
class EnvVar:
    """One variable: a plain value, or (``from_secret``) the password read from the secret store."""

    name: str
    value: pulumi.Input[str] | None = None
    from_secret: bool = False


def _runtime_specific(settings: ProfilerSettings) -> dict[str, str]:
    runtime, kinds = settings.runtime, settings.profile_types
    if runtime == "java":
        values = {
            contract.AGENT_ENABLED: contract.TRUE,
            contract.JAVA_PROFILING_INTERVAL: contract.java_interval(settings.sample_rate),
        }
        if "wall" in kinds:
            values[contract.JAVA_PROFILER_EVENT] = contract.JAVA_WALL_EVENT
        elif "cpu" in kinds:
            values[contract.JAVA_PROFILER_EVENT] = contract.JAVA_CPU_EVENT
        if "alloc" in kinds:
            values[contract.JAVA_PROFILER_ALLOC] = contract.JAVA_ALLOC_THRESHOLD
        if "lock" in kinds:
            values[contract.JAVA_PROFILER_LOCK] = contract.JAVA_LOCK_THRESHOLD
        options = java_options(settings)
        if options is not None:
            values[settings.java_options_variable] = options
        return values
    if runtime == "dotnet":
        directory = settings.dotnet_directory
        values = {
            contract.LD_LIBRARY_PATH: directory,
            contract.PROFILING_ENABLED: contract.TRUE,
            contract.CORECLR_ENABLE_PROFILING: "1",
            contract.CORECLR_PROFILER: contract.DOTNET_PROFILER_CLSID,
            contract.CORECLR_PROFILER_PATH: f"{directory}/{contract.DOTNET_PROFILER_LIBRARY}",
            contract.LD_PRELOAD: f"{directory}/{contract.DOTNET_API_WRAPPER_LIBRARY}",
        }
        for kind, switch in contract.DOTNET_PROFILE_SWITCHES.items():
            values[switch] = contract.TRUE if kind in kinds else contract.FALSE
        return values
    # nodejs, python, go, ruby: the application reads the contract (bootstrap or snippet).
    values = {
        contract.PROFILING_ENABLED: contract.TRUE,
        contract.PROFILE_TYPES: contract.format_profile_types(kinds),
    }
    if runtime != "go":  # pyroscope-go samples at a fixed 100 Hz (api.go v1.4.2)
        values[contract.SAMPLE_RATE] = str(settings.sample_rate)
    if runtime == "nodejs":
        values[contract.NODE_WALL_SAMPLING_INTERVAL_MICROS] = contract.node_wall_interval_micros(
            settings.sample_rate
        )
    return values


def java_options(settings: ProfilerSettings) -> str | None:
    """The value of the Java options variable: the given flags, then ``-javaagent`` (None: neither)."""
    parts = [settings.java_options] if settings.java_options else []
    if settings.agent_path is not None:
        parts.append(contract.java_agent_option(settings.agent_path))
    return " ".join(parts) if parts else None


def profiler_env(settings: ProfilerSettings, *, password_from_secret: bool) -> list[EnvVar]:
    """The variables for ``settings.runtime``, sorted by name (stable: no churn on re-deploy).

    ``password_from_secret``: add PYROSCOPE_BASIC_AUTH_PASSWORD as a secret reference (the
    caller knows whether a secret exists: the target's token or an existing secret).
    """
    variables: dict[str, EnvVar] = {
        contract.APPLICATION_NAME: EnvVar(contract.APPLICATION_NAME, settings.application_name),
        contract.SERVER_ADDRESS: EnvVar(contract.SERVER_ADDRESS, settings.server_address),
        contract.LABELS: EnvVar(contract.LABELS, settings.labels),
    }
    if settings.basic_auth_user is not None:
        variables[contract.BASIC_AUTH_USER] = EnvVar(contract.BASIC_AUTH_USER, settings.basic_auth_user)
    if password_from_secret:
        variables[contract.BASIC_AUTH_PASSWORD] = EnvVar(contract.BASIC_AUTH_PASSWORD, from_secret=True)
    if settings.tenant_id:
        variables[contract.TENANT_ID] = EnvVar(contract.TENANT_ID, settings.tenant_id)
    for name, value in _runtime_specific(settings).items():
        variables[name] = EnvVar(name, value)
    return [variables[name] for name in sorted(variables)]


class EnvConflictError(ValueError):
    """A container (Kubernetes) or container definition (ECS) already sets a variable the wiring
    owns, to something else. One class for both platforms: callers catch one error."""
