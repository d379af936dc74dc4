"""Run a Pulumi program in-process under :class:`RecordingMonitor` and collect what it registers."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi.resource as pulumi_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from pyroscope_bundle import constants
from pyroscope_bundle.render.mocks import BundleMocks, Recording, RecordingMonitor


@dataclass
class ProgramRun:
    recording: Recording
    outputs: dict[str, Any]
    secret_outputs: set[str]
    # Secret values the mocks generated (passwords, hashes): redacted value by value.
    generated_secrets: list[str] = field(default_factory=list)


def pulumi_config_values(config: Mapping[str, Any]) -> dict[str, str]:
    """Stack-file values as the engine hands them to a program: structured values as JSON."""
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}


def run_program(
    program: Callable[[], None],
    *,
    stack: str,
    config: Mapping[str, Any],
    secret_keys: list[str],
    mocks: BundleMocks | None = None,
    monitor: RecordingMonitor | None = None,
    project: str = constants.PROJECT_NAME,
) -> ProgramRun:
    """Run ``program`` for ``stack`` with ``config`` (``namespace:key`` -> value) under mocks.

    The run is isolated from the caller: it gets a thread of its own (so its own event loop)
    and a copy of the caller's context (Pulumi keeps its settings, root stack and config in
    context variables). A test session can therefore mix it with tests that call
    ``pulumi.runtime.set_mocks`` themselves: their mocks, root stack, config and event loop
    (with the resources they registered at import) are untouched. Inside, a one-thread
    executor keeps the registration order (and thus the render) deterministic.
    Pass ``monitor`` to inspect what was registered even when the program fails.
    """
    monitor = monitor or RecordingMonitor(mocks or BundleMocks())
    context = contextvars.copy_context()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="pulumi-mock-run") as pool:
        body = functools.partial(
            _run_isolated, program, stack=stack, project=project, config=config, secret_keys=secret_keys,
            monitor=monitor,
        )  # fmt: skip
        return pool.submit(context.run, body).result()


def _run_isolated(
    program: Callable[[], None],
    *,
    stack: str,
    project: str,
    config: Mapping[str, Any],
    secret_keys: list[str],
    monitor: RecordingMonitor,
) -> ProgramRun:
    """:func:`run_program`'s body, in its own thread and context."""
    loop = asyncio.new_event_loop()
    loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=1))
    asyncio.set_event_loop(loop)
    # The engine sees registrations in the order their inputs resolve, which the SDK makes
    # depend on set iteration over Resource objects (id-based hashes): it differs between runs.
    # The order the program constructs resources in is stable, so the render uses that.
    construction: dict[tuple[str, str], int] = {}
    original_register = pulumi_resource.register_resource

    def register_in_construction_order(res: Any, ty: str, name: str, *args: Any, **kwargs: Any) -> Any:
        construction.setdefault((ty, name), len(construction))
        return original_register(res, ty, name, *args, **kwargs)

    pulumi_resource.register_resource = register_in_construction_order
    try:
        # A root stack of this run's own (the copied context may hold the caller's).
        pulumi.runtime.reset_options(project=project, stack=stack, preview=False)
        pulumi.runtime.set_mocks(monitor.mocks, project=project, stack=stack, preview=False, monitor=monitor)
        pulumi.runtime.set_all_config(pulumi_config_values(config), secret_keys)
        _sync_await(run_pulumi_func(program))
        root = pulumi.runtime.get_root_resource()
        exported: dict[str, Any] = dict(getattr(root, "outputs", {}) or {})
        outputs: dict[str, Any] = {}
        secret: set[str] = set()
        for name, value in exported.items():
            output = pulumi.Output.from_input(value)
            outputs[name] = _sync_await(output.future())
            if _sync_await(output.is_secret()):
                secret.add(name)
        unknown = len(construction)
        monitor.recording.resources.sort(key=lambda r: construction.get((r.type, r.name), unknown))
        return ProgramRun(
            recording=monitor.recording,
            outputs=outputs,
            secret_outputs=secret,
            generated_secrets=list(getattr(monitor.mocks, "generated_secrets", [])),
        )
    finally:
        pulumi_resource.register_resource = original_register
        asyncio.set_event_loop(None)
        loop.close()
