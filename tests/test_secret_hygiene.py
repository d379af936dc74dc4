"""Secret hygiene: a recognisable canary set as every secret never reaches plain text - not the
render, not the logs, not a non-secret output, not an ECS `environment` - and every registered
input that carries it (or a generated password) is a Pulumi secret."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import yaml
from pulumi.runtime import rpc
from pyroscope_bundle.cli import main as cli_main
from pyroscope_bundle.config.loader import SECRET_KEYS
from pyroscope_bundle.constants import REDACTED
from pyroscope_bundle.render.command import render
from pyroscope_bundle.review import diff_dirs, to_markdown, to_text

from tests.harness import PROJECT_DIR

CANARY = "canary-3b9e41d7-secret-must-not-leak"
# What the mocks return for generated passwords and bcrypt hashes (render/mocks.py).
GENERATED_MARKERS = ("mock-password-", "mock-bcrypt-")
# Every stack, and the modes each backend can run in: what the canary must never leak from.
MODES: dict[str, tuple[str, list[str]]] = {
    "local": ("local", []),
    "local-gateway": ("local", ["server.gateway.enabled=true"]),
    "staging": ("staging", []),
    "staging-microservices": ("staging", ["server.kubernetes.mode=microservices"]),
    "staging-grafana-api": ("staging", ["grafana.mode=api", "grafana.api.url=https://grafana.example.com"]),
    "production": ("production", []),
}
# Users a secret could be paired with in a basic-auth header.
USERS = ("pyroscope", "admin", "123456", "team-a")


def leaked_forms(secret: str) -> set[str]:
    """A secret in every encoding it could take in output: plain, base64, URL-encoded, and the
    base64 ``user:password`` of a basic-auth header."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret)}
    for raw in (secret, *(f"{user}:{secret}" for user in USERS)):
        encoded = base64.b64encode(raw.encode()).decode()
        forms |= {encoded, encoded.rstrip("=")}
    return forms


def leaks_in(text: str, secrets: list[str]) -> list[str]:
    return sorted(form for secret in secrets for form in leaked_forms(secret) if form in text)


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


@pytest.fixture(scope="module", params=sorted(MODES))
def canary_render(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    stack, sets = MODES[request.param]
    out = tmp_path_factory.mktemp("canary") / request.param
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
        result = render(
            PROJECT_DIR, stack, out, sets=sets, secret_sets=[f"{key}={CANARY}" for key in SECRET_KEYS]
        )
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
    return stack, out, result, [record.getMessage() for record in records]


def test_canary_is_nowhere_in_the_render_directory(canary_render):
    _, out, result, _ = canary_render
    secrets = [CANARY, *result.run.generated_secrets]
    for path in sorted(out.rglob("*")):
        if path.is_file():
            assert leaks_in(path.read_text(errors="replace"), secrets) == [], path


def test_generated_files_holding_a_secret_stay_readable(canary_render):
    """Redaction is value by value: a file that holds a secret still shows its other values."""
    _, out, _, _ = canary_render
    redacted = [
        path
        for path in sorted((out / "files").rglob("*"))
        if path.is_file() and REDACTED in path.read_text() and path.read_text().strip() != REDACTED
    ]
    for path in redacted:
        text = path.read_text()
        if path.suffix in (".yaml", ".yml"):
            assert yaml.safe_load(text), path
        if path.name == "htpasswd":
            assert all(line.endswith(f":{REDACTED}") for line in text.splitlines()), path


def test_the_diff_and_the_cli_never_show_a_secret(canary_render, tmp_path, capfd):
    """A rotated secret shows as "secret changed" in the diff and the CLI, never as a value."""
    name, out, result, _ = canary_render
    stack, sets = MODES[name]
    rotated = "rotated-canary-71c0e5aa-secret"
    head = tmp_path / "head"
    cli_main(
        ["render", "--stack", stack, "--out", str(head), "--project-dir", str(PROJECT_DIR)]
        + [f"--set={assignment}" for assignment in sets]
        + [f"--set-secret={key}={rotated}" for key in SECRET_KEYS]
    )
    report = diff_dirs(out, head)
    output = to_markdown(report) + to_text(report)
    cli_main(["diff", str(out), str(head)])
    captured = capfd.readouterr()
    secrets = [CANARY, rotated, *result.run.generated_secrets]
    assert leaks_in(output + captured.out + captured.err, secrets) == []


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
    name, _, result, _ = canary_render
    stack = MODES[name][0]
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
