"""Start the pyroscope-io agent from the environment the bundle's wiring sets.

Services import :mod:`pyroscope_bundle_runtime.autostart` first thing in their entry point (it
calls :func:`start`); this module only defines how, so tests and callers with their own
environment mapping can use :func:`read_config` and :func:`start` without side effects.

The Python SDK reads no environment variables itself; this module reads the bundle's env
contract (:mod:`pyroscope_bundle_runtime.contract`) and calls ``pyroscope.configure`` with the
arguments pyroscope-io 1.x accepts: basic auth, never the removed ``auth_token`` or
``detect_subprocesses``. Profiling must never take a service down, so when the environment
says "disabled", or is incomplete or wrong, or the SDK is missing, it logs why and does nothing.

Dependencies: the standard library, :mod:`.contract` and ``pyroscope``.
"""

from __future__ import annotations

import atexit
import inspect
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pyroscope_bundle_runtime import contract

# The logger name of the former pyroscope_bundle.profiler.python_bootstrap: log filters keep working.
LOGGER = logging.getLogger("pyroscope_bundle.profiler")

_REQUIRED_ARGUMENTS = ("application_name", "server_address")
_lock = threading.Lock()
_started = False


class ProfilerNotStarted(Exception):  # noqa: N818 - it is an outcome, not a bug
    """Why the agent is not started; ``disabled`` is True for an intentional off switch."""

    def __init__(self, reason: str, *, disabled: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.disabled = disabled


@dataclass(frozen=True)
class BootstrapConfig:
    """What the environment asks for, validated; ``repr`` never shows the password."""

    application_name: str
    server_address: str
    basic_auth_username: str = ""
    basic_auth_password: str = field(default="", repr=False)
    tenant_id: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    sample_rate: int = 100
    # True: CPU time (profile type "cpu"); False: wall-clock time ("wall").
    oncpu: bool = True

    def configure_arguments(self) -> dict[str, Any]:
        """Keyword arguments for ``pyroscope.configure`` (pyroscope-io 1.x names)."""
        return {
            "application_name": self.application_name,
            "server_address": self.server_address,
            "basic_auth_username": self.basic_auth_username,
            "basic_auth_password": self.basic_auth_password,
            "tenant_id": self.tenant_id,
            "tags": dict(self.tags),
            "sample_rate": self.sample_rate,
            "oncpu": self.oncpu,
            # Wall-clock profiles exist to show the threads that wait; with gil_only=True the
            # agent drops every sample of a thread that does not hold the GIL, i.e. those.
            "gil_only": self.oncpu,
        }


def read_config(environ: Mapping[str, str]) -> BootstrapConfig:
    """Validate the contract variables; raise :class:`ProfilerNotStarted` saying what is wrong."""
    enabled_text = environ.get(contract.PROFILING_ENABLED)
    enabled = contract.parse_bool(enabled_text)
    if enabled_text is not None and enabled is None:
        raise ProfilerNotStarted(f"{contract.PROFILING_ENABLED}={enabled_text!r} is not true or false")
    if enabled is False:
        raise ProfilerNotStarted(f"{contract.PROFILING_ENABLED} is false", disabled=True)
    server_address = environ.get(contract.SERVER_ADDRESS, "").strip()
    if not server_address:
        raise ProfilerNotStarted(
            f"{contract.SERVER_ADDRESS} is not set (profiling is not wired for this service)", disabled=True
        )
    parts = urlsplit(server_address)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        shown = contract.redact_url_credentials(server_address)
        raise ProfilerNotStarted(f"{contract.SERVER_ADDRESS}={shown!r} is not an http(s) URL")
    application_name = environ.get(contract.APPLICATION_NAME, "").strip()
    if not application_name:
        raise ProfilerNotStarted(f"{contract.APPLICATION_NAME} is not set")
    user = environ.get(contract.BASIC_AUTH_USER, "")
    password = environ.get(contract.BASIC_AUTH_PASSWORD, "")
    if user and not password:
        raise ProfilerNotStarted(
            f"{contract.BASIC_AUTH_USER} is set but {contract.BASIC_AUTH_PASSWORD} is empty "
            "(is the credentials secret missing?)"
        )
    if password and not user:
        raise ProfilerNotStarted(
            f"{contract.BASIC_AUTH_PASSWORD} is set but {contract.BASIC_AUTH_USER} is not"
        )
    try:
        tags = contract.parse_labels(environ.get(contract.LABELS, ""))
    except ValueError as error:
        raise ProfilerNotStarted(str(error)) from None
    rate_text = environ.get(contract.SAMPLE_RATE, "100").strip()
    if not rate_text.isdigit() or not 1 <= int(rate_text) <= 1000:
        raise ProfilerNotStarted(f"{contract.SAMPLE_RATE}={rate_text!r} is not a whole number from 1 to 1000")
    profile_types = contract.parse_profile_types(environ.get(contract.PROFILE_TYPES, "cpu")) or ("cpu",)
    problem = contract.profile_type_problem("python", profile_types)
    if problem:
        raise ProfilerNotStarted(f"{contract.PROFILE_TYPES} {problem}")
    return BootstrapConfig(
        application_name=application_name,
        server_address=server_address,
        basic_auth_username=user,
        basic_auth_password=password,
        tenant_id=environ.get(contract.TENANT_ID, "").strip(),
        tags=tags,
        sample_rate=int(rate_text),
        oncpu="wall" not in profile_types,
    )


def supported_arguments(configure: Callable[..., Any], arguments: dict[str, Any]) -> dict[str, Any]:
    """Drop (and log) arguments this SDK's ``configure`` does not accept, instead of a TypeError."""
    try:
        parameters = inspect.signature(configure).parameters
    except (TypeError, ValueError):
        return arguments
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return arguments
    dropped = sorted(name for name in arguments if name not in parameters)
    missing = [name for name in _REQUIRED_ARGUMENTS if name in dropped]
    if missing:
        raise ProfilerNotStarted(f"this pyroscope SDK's configure() does not accept {', '.join(missing)}")
    if dropped:
        LOGGER.warning("pyroscope SDK does not accept %s; continuing without them", ", ".join(dropped))
    return {name: value for name, value in arguments.items() if name in parameters}


def start(environ: Mapping[str, str] | None = None) -> bool:
    """Start the agent once per process; return whether it runs. Never raises."""
    global _started  # noqa: PLW0603 - one agent per process
    with _lock:
        if _started:
            return True
        try:
            config = read_config(os.environ if environ is None else environ)
            try:
                import pyroscope
            except ImportError as error:
                raise ProfilerNotStarted(f"the pyroscope-io package is not installed ({error})") from None
            arguments = supported_arguments(pyroscope.configure, config.configure_arguments())
            pyroscope.configure(**arguments)
        except ProfilerNotStarted as outcome:
            level = logging.INFO if outcome.disabled else logging.WARNING
            LOGGER.log(level, "Pyroscope profiling not started: %s", outcome.reason)
            return False
        except Exception as error:  # the SDK must never break the service
            LOGGER.warning("Pyroscope profiling not started: pyroscope.configure failed: %r", error)
            return False
        _started = True
        # Flush the last upload interval when the process exits normally.
        atexit.register(_shutdown, pyroscope)
    LOGGER.info(
        "Pyroscope profiling started: application %s -> %s (tags %s, %d Hz, %s)",
        config.application_name,
        contract.redact_url_credentials(config.server_address),
        contract.format_labels(config.tags) or "none",
        config.sample_rate,
        "cpu" if config.oncpu else "wall",
    )
    return True


def _shutdown(sdk: Any) -> None:
    try:
        sdk.shutdown()
    except Exception as error:  # at exit: report, never raise
        LOGGER.warning("Pyroscope agent shutdown failed: %r", error)
