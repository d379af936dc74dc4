"""Test a stack that uses the bundle's components from plain pytest (see docs/testing.md).

Two ways, which mix freely in one pytest session:

- :func:`run` runs a whole program under :class:`Mocks` and returns every resource it
  registered (inputs after transforms, options, parents) with its stack outputs. Each run gets
  a thread and a copy of the Pulumi context of its own, so it never disturbs tests that call
  ``pulumi.runtime.set_mocks`` themselves (their mocks, root stack, config and event loop);
- :class:`Mocks` is a ``pulumi.runtime.Mocks`` for exactly those tests:
  ``pulumi.runtime.set_mocks(Mocks(...), preview=False)`` and ``@pulumi.runtime.test``.

:class:`Mocks` answers everything the bundle registers: generated passwords (``result``) and
their bcrypt hashes (``bcryptHash``, which the gateway's htpasswd needs), provider-shaped ARNs
and names, the provider calls ``aws:getCallerIdentity``, ``getPartition`` and ``getRegion``,
and ``StackReference`` outputs (``stack_references``; :func:`profiling_stack_outputs` builds what
a profiling stack exports). Subclass it and call ``super()`` for your own resources.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockResourceArgs

from pyroscope_bundle import names, stack_key
from pyroscope_bundle.render.mocks import (
    FAKE_ACCOUNT_ID,
    FAKE_REGION,
    BundleMocks,
    RecordedResource,
    placeholder,
)
from pyroscope_bundle.render.runner import run_program
from pyroscope_bundle.render.writer import ecs_register_request
from pyroscope_bundle.wiring.settings import credentials_hash_of

__all__ = [
    "FAKE_ACCOUNT_ID",
    "FAKE_REGION",
    "MOCK_STACK_KEY",
    "SECRET_OUTPUTS",
    "Mocks",
    "RecordedResource",
    "Result",
    "is_secret",
    "profiling_stack_outputs",
    "reveal",
    "rollout_hash",
    "run",
    "task_definition_request",
]

STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"
# Outputs the profiling stack exports as secrets: a mocked StackReference hands them over as such.
SECRET_OUTPUTS: frozenset[str] = frozenset({names.OUTPUT_BASIC_AUTH_PASSWORD})


# The key :class:`Mocks` give the stack's RandomPassword (pyroscope_bundle.stack_key).
MOCK_STACK_KEY: str = placeholder("password", stack_key.RESOURCE_NAME)


def rollout_hash(password: str) -> str:
    """The rollout hash a program run under :class:`Mocks` puts on pods and ECS tasks for
    ``password`` (an HMAC under the stack's key, here the mocked one)."""
    return credentials_hash_of(password, MOCK_STACK_KEY)


def profiling_stack_outputs(
    *,
    server_address: str = "https://profiles.example.com",
    basic_auth_user: str | None = "push",
    basic_auth_password: str | None = "test-profiler-password",  # noqa: S107 - a test value
    external_server_address: str | None = None,
    tenant_id: str | None = None,
    aws_secret_arn: str | None = (
        f"arn:aws:secretsmanager:{FAKE_REGION}:{FAKE_ACCOUNT_ID}:secret:pyroscope/test/profiler-credentials-AbCdEf"
    ),
    aws_secret_read_policy_arn: str | None = (
        f"arn:aws:iam::{FAKE_ACCOUNT_ID}:policy/pyroscope-test-profiler-secret-read"
    ),
) -> dict[str, str]:
    """The outputs a profiling stack exports (names from the bundle itself), for ``stack_references``.

    ``None`` leaves an output out: ``basic_auth_user=None, basic_auth_password=None`` is a
    server without authentication; ``aws_secret_arn=None`` a stack that wires no ECS service.
    """
    values = {
        names.OUTPUT_SERVER_ADDRESS: server_address,
        names.OUTPUT_EXTERNAL_SERVER_ADDRESS: external_server_address,
        names.OUTPUT_BASIC_AUTH_USER: basic_auth_user,
        names.OUTPUT_BASIC_AUTH_PASSWORD: basic_auth_password,
        names.OUTPUT_TENANT_ID: tenant_id,
        names.OUTPUT_SECRET_ARN: aws_secret_arn,
        names.OUTPUT_SECRET_JSON_KEY: "password" if aws_secret_arn is not None else None,
        names.OUTPUT_SECRET_READ_POLICY_ARN: aws_secret_read_policy_arn,
    }
    if aws_secret_arn is None:  # no ECS wiring: no policy either
        values[names.OUTPUT_SECRET_READ_POLICY_ARN] = None
    return {key: value for key, value in values.items() if value is not None}


class Mocks(BundleMocks):
    """Mocks for everything the bundle registers, plus the outputs of the stacks a program reads.

    ``stack_references``: ``{"org/project/stack": {output: value}}``; reading any other stack
    fails with a message naming the ones mocked. ``secret_outputs``: which output names the
    reference hands over as secrets (default :data:`SECRET_OUTPUTS`).
    """

    def __init__(
        self,
        stack_references: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        secret_outputs: Iterable[str] = SECRET_OUTPUTS,
    ) -> None:
        super().__init__()
        self.stack_references = {stack: dict(outputs) for stack, outputs in (stack_references or {}).items()}
        self.secret_outputs = frozenset(secret_outputs)
        # The stacks the program read, in order (a StackReference is a read, not a registration).
        self.references: list[str] = []

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        if args.typ == STACK_REFERENCE_TYPE:
            stack = str(args.inputs.get("name") or args.name)
            if stack not in self.stack_references:
                known = ", ".join(sorted(self.stack_references)) or "none"
                raise KeyError(
                    f"StackReference {stack!r} is not mocked; pass Mocks(stack_references={{{stack!r}: "
                    f"{{...}}}}) (mocked: {known})"
                )
            self.references.append(stack)
            outputs = self.stack_references[stack]
            secret = sorted(name for name in outputs if name in self.secret_outputs)
            return args.name, {"name": stack, "outputs": outputs, "secretOutputNames": secret}
        return super().new_resource(args)


@dataclass(frozen=True)
class Result:
    """What one :func:`run` registered, in construction order, and its stack outputs."""

    resources: tuple[RecordedResource, ...]
    outputs: Mapping[str, Any]
    secret_outputs: frozenset[str]
    # The stacks read through StackReference, in order.
    references: tuple[str, ...]

    def of_type(self, type_: str) -> list[RecordedResource]:
        """Every resource of type token ``type_`` (e.g. ``kubernetes:core/v1:Secret``)."""
        return [resource for resource in self.resources if resource.type == type_]

    def one(self, type_: str, name: str | None = None) -> RecordedResource:
        """The single resource of ``type_`` (named ``name``); the error lists what there is."""
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            present = ", ".join(f"{r.type} {r.name}" for r in self.resources) or "nothing"
            wanted = f"{type_} {name}" if name else type_
            raise LookupError(f"expected one {wanted}, found {len(found)}; registered: {present}")
        return found[0]


def run(
    program: Callable[[], None],
    *,
    stack: str = "test",
    project: str = "test",
    config: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str] | None = None,
    mocks: Mocks | None = None,
) -> Result:
    """Run ``program`` (what ``__main__.py`` does) under ``mocks`` with stack config, not a preview.

    ``config`` and ``secrets`` use full keys (``"shop:namespace"``); structured values are
    passed as JSON like the engine does; ``secrets`` are marked secret. Apply callbacks run
    (a preview would skip them), so what a test sees is what ``pulumi up`` would register.
    """
    mocks = mocks if mocks is not None else Mocks()
    values = {**(config or {}), **(secrets or {})}
    program_run = run_program(
        program, stack=stack, project=project, config=values, secret_keys=sorted(secrets or {}),
        mocks=mocks,
    )  # fmt: skip
    return Result(
        resources=tuple(program_run.recording.resources),
        outputs=dict(program_run.outputs),
        secret_outputs=frozenset(program_run.secret_outputs),
        references=tuple(mocks.references),
    )


def is_secret(value: Any) -> bool:
    """Whether a recorded input value is a Pulumi secret (as the engine receives it)."""
    return bool(rpc.is_rpc_secret(value))


def reveal(value: Any) -> Any:
    """``value`` with every secret wrapper removed, recursively (to assert on secret contents)."""
    if rpc.is_rpc_secret(value):
        return reveal(rpc.unwrap_rpc_secret(value))
    if isinstance(value, Mapping):
        return {key: reveal(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [reveal(item) for item in value]
    return value


def task_definition_request(resource: RecordedResource) -> dict[str, Any]:
    """An ``aws:ecs/taskDefinition:TaskDefinition`` as the ECS ``RegisterTaskDefinition`` request."""
    return ecs_register_request(resource)
