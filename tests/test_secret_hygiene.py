"""Secret hygiene: a recognisable canary set as every secret never reaches plain text - not the
render, not the logs, not a non-secret output, not an ECS `environment` - and every registered
input that carries it (or a generated password) is a Pulumi secret."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from pulumi.runtime import rpc
from pyroscope_bundle.config.loader import SECRET_KEYS
from pyroscope_bundle.render.command import render

from tests.harness import PROJECT_DIR, STACKS

CANARY = "canary-3b9e41d7-secret-must-not-leak"
# What the mocks return for generated passwords and bcrypt hashes (render/mocks.py).
GENERATED_MARKERS = ("mock-password-", "mock-bcrypt-")


def plain_occurrences(value: Any, needles: tuple[str, ...], path: str = "") -> list[str]:
    """Paths where a needle occurs in ``value`` outside any secret wrapper."""
    if rpc.is_rpc_secret(value):
        return []
    if isinstance(value, dict):
        return [
            hit for key, item in value.items() for hit in plain_occurrences(item, needles, f"{path}.{key}")
        ]
    if isinstance(value, list | tuple):
        return [
            hit for i, item in enumerate(value) for hit in plain_occurrences(item, needles, f"{path}[{i}]")
        ]
    if isinstance(value, str) and any(needle in value for needle in needles):
        return [path]
    return []


@pytest.fixture(scope="module", params=STACKS)
def canary_render(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    stack: str = request.param
    out = tmp_path_factory.mktemp("canary") / stack
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.DEBUG)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        result = render(PROJECT_DIR, stack, out, secret_sets=[f"{key}={CANARY}" for key in SECRET_KEYS])
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
    return stack, out, result, [record.getMessage() for record in records]


def test_canary_is_nowhere_in_the_render_directory(canary_render):
    _, out, _, _ = canary_render
    for path in sorted(out.rglob("*")):
        if path.is_file():
            assert CANARY not in path.read_text(errors="replace"), path


def test_canary_is_not_logged(canary_render, capfd):
    _, _, _, messages = canary_render
    captured = capfd.readouterr()
    assert not [m for m in messages if CANARY in m]
    assert CANARY not in captured.out + captured.err


def test_every_input_carrying_a_secret_is_a_pulumi_secret(canary_render):
    _, _, result, _ = canary_render
    leaks = [
        f"{record.type}::{record.name}{hit}"
        for record in result.run.recording.resources
        for hit in plain_occurrences(record.inputs, (CANARY, *GENERATED_MARKERS))
    ]
    assert leaks == []


def test_outputs_carrying_a_secret_are_secret(canary_render):
    _, _, result, _ = canary_render
    for name, value in result.run.outputs.items():
        if name not in result.run.secret_outputs:
            assert not plain_occurrences(value, (CANARY, *GENERATED_MARKERS)), name


def test_ecs_environment_never_carries_a_secret(canary_render):
    stack, out, _, _ = canary_render
    for path in sorted((out / "ecs").glob("*.json")) if (out / "ecs").is_dir() else []:
        for container in json.loads(path.read_text())["containerDefinitions"]:
            for variable in container.get("environment", []):
                assert CANARY not in variable["value"]
                assert not any(word in variable["name"] for word in ("PASSWORD", "TOKEN")), (stack, variable)


# What each stack's secrets flow from: local's Grafana admin password, production's Grafana
# Cloud token; staging's credentials are generated (gateway users).
FLOWS = {"local": CANARY, "production": CANARY, "staging": GENERATED_MARKERS[0]}


def test_the_secrets_really_flowed_into_the_program(canary_render):
    """Guards the tests above: the secret did reach resources (wrapped), so absence means hygiene."""
    stack, _, result, _ = canary_render
    carrying = [
        record.name
        for record in result.run.recording.resources
        if FLOWS[stack] in json.dumps(_unwrap_all(record.inputs), default=str)
    ]
    assert carrying


def _unwrap_all(value: Any) -> Any:
    if rpc.is_rpc_secret(value):
        return _unwrap_all(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {key: _unwrap_all(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_unwrap_all(item) for item in value]
    return value


def test_secret_keys_are_the_documented_ones():
    assert "authToken" in SECRET_KEYS
    assert Path(PROJECT_DIR / "README.md").read_text().count("--secret") >= 1
