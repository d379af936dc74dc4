"""Test helpers: run the real program under mocks with a given config and query what it registered.

Tests read like "this config registers these resources with these inputs":

    deployed = deploy_with({"server": {"backend": "docker"}})
    container = deployed.one("docker:index/container:Container")
    assert container.inputs["restart"] == "unless-stopped"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi.runtime import rpc
from pyroscope_bundle import constants
from pyroscope_bundle.program import main
from pyroscope_bundle.render.mocks import RecordedResource
from pyroscope_bundle.render.redact import plain
from pyroscope_bundle.render.runner import ProgramRun, run_program

PROJECT_DIR = Path(__file__).resolve().parent.parent
STACKS = ("local", "staging", "production")


@dataclass
class Registered:
    """One registered resource: inputs as plain data (secrets shown as the redaction marker)."""

    record: RecordedResource

    @property
    def type(self) -> str:
        return self.record.type

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def inputs(self) -> dict[str, Any]:
        return plain(self.record.inputs)

    @property
    def raw_inputs(self) -> dict[str, Any]:
        """Inputs with secrets still wrapped (``rpc.is_rpc_secret``), to assert secretness."""
        return self.record.inputs

    @property
    def options(self) -> dict[str, Any]:
        return self.record.options

    def is_secret(self, *path: str | int) -> bool:
        """Whether the input at ``path`` (or any enclosing value) is a Pulumi secret."""
        node: Any = self.record.inputs
        for part in path:
            if rpc.is_rpc_secret(node):
                return True
            node = node[part]
        return rpc.is_rpc_secret(node)


@dataclass
class Deployed:
    run: ProgramRun

    @property
    def resources(self) -> list[Registered]:
        return [Registered(record) for record in self.run.recording.resources]

    def of_type(self, token: str) -> list[Registered]:
        return [resource for resource in self.resources if resource.type == token]

    def one(self, token: str, name: str | None = None) -> Registered:
        found = [r for r in self.of_type(token) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {token} {name or ''}, got {[r.name for r in found]}"
        return found[0]

    def named(self, name: str) -> Registered:
        found = [r for r in self.resources if r.name == name]
        assert len(found) == 1, f"expected one resource named {name}, got {len(found)}"
        return found[0]

    @property
    def outputs(self) -> dict[str, Any]:
        return self.run.outputs

    @property
    def types(self) -> list[str]:
        return [resource.type for resource in self.resources]


def deploy_with(
    config: Mapping[str, Any] | None = None,
    *,
    stack: str = "test",
    secrets: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Deployed:
    """Run the real program with ``config`` (top-level keys of the ``pyroscope`` namespace).

    ``secrets`` are set as secret config keys (e.g. ``{"authToken": "..."}``); ``extra`` holds
    other namespaces' keys (``{"aws:region": "eu-west-1"}``).
    """
    values: dict[str, Any] = {
        f"{constants.PROJECT_NAME}:{key}": value for key, value in (config or {}).items()
    }
    values.update({f"{constants.PROJECT_NAME}:{key}": value for key, value in (secrets or {}).items()})
    values.update(extra or {})
    secret_keys = [f"{constants.PROJECT_NAME}:{key}" for key in (secrets or {})]
    run = run_program(lambda: main(PROJECT_DIR), stack=stack, config=values, secret_keys=secret_keys)
    return Deployed(run)
