"""docs/configuration.md is generated from the config model and fails the suite when stale."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel
from pyroscope_bundle import docs_gen
from pyroscope_bundle.cli import main as cli_main
from pyroscope_bundle.config import BundleConfig
from pyroscope_bundle.config import model as config_model

from tests.harness import PROJECT_DIR


def test_committed_reference_is_up_to_date() -> None:
    committed = (PROJECT_DIR / docs_gen.DOCS_PATH).read_text(encoding="utf-8")
    assert committed == docs_gen.render_reference(), (
        "docs/configuration.md is stale: run `.venv/bin/pyroscope-bundle docs` and commit the result"
    )


def _schema_paths(schema: dict[str, Any], defs: dict[str, Any], prefix: str) -> list[str]:
    """Every property path, from pydantic's JSON schema (independent of docs_gen's walk)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        if not isinstance(getattr(config_model, name, None), type) or not issubclass(
            getattr(config_model, name), BaseModel
        ):
            return []  # a value type (duration, size), not a config section
        schema = defs[name]
    for option in schema.get("anyOf", []):
        if "$ref" in option or option.get("type") == "array":
            return _schema_paths(option, defs, prefix)
    if schema.get("type") == "array" and "items" in schema:
        items = schema["items"]
        return _schema_paths(items, defs, f"{prefix}[i]") if "$ref" in items else []
    paths = []
    for name, child in schema.get("properties", {}).items():
        paths.append(f"{prefix}.{name}")
        paths += _schema_paths(child, defs, f"{prefix}.{name}")
    return paths


def test_every_model_key_is_documented() -> None:
    schema = BundleConfig.model_json_schema(by_alias=True)
    defs = schema["$defs"]
    expected = []
    for top in ("server", "grafana", "target", "services"):
        expected += _schema_paths(schema["properties"][top], defs, f"pyroscope:{top}")
    documented = {key.path for key in docs_gen.reference_keys()}
    missing = sorted(set(expected) - documented)
    assert not missing
    assert len(expected) > 50
    assert "pyroscope:authToken" in documented


def _keys() -> dict[str, docs_gen.KeyDoc]:
    return {key.path: key for key in docs_gen.reference_keys()}


def test_types_defaults_and_allowed_values_read_as_users_write_them() -> None:
    keys = _keys()
    assert keys["pyroscope:server.retention"].default == "30d"
    assert keys["pyroscope:server.retention"].type.startswith("duration")
    assert keys["pyroscope:server.backend"].type == "one of `docker`, `kubernetes`"
    assert keys["pyroscope:grafana.mode"].type.endswith(", or null")
    # A nested default comes from the parent's default, not from the nested model's own.
    assert keys["pyroscope:server.resources.limits.cpu"].default == '"2"'
    assert keys["pyroscope:server.resources.requests.cpu"].default == "500m"
    assert keys["pyroscope:server.docker.hostPort"].type == "integer, 1 to 65535"
    assert keys["pyroscope:services[i].name"].default == "required"
    assert keys["pyroscope:services[i].profileTypes"].default == "[cpu]"
    assert "secret" in keys["pyroscope:authToken"].type
    assert all(key.description for key in keys.values()), "every key has a description"


def test_setting_one_limit_keeps_the_other_documented_default() -> None:
    """`server.resources.limits` defaults to cpu 2 / memory 4Gi; setting only limits.cpu must
    not silently drop memory to another default than the one the reference documents."""
    memory = _keys()["pyroscope:server.resources.limits.memory"]
    assert memory.default == "4Gi"
    parsed = BundleConfig.model_validate({"stack": "x", "server": {"resources": {"limits": {"cpu": "3"}}}})
    assert parsed.server.resources.limits.memory.text == "4Gi"
    parsed = BundleConfig.model_validate(
        {"stack": "x", "server": {"resources": {"limits": {"memory": "6Gi"}}}}
    )
    assert parsed.server.resources.limits.cpu == "2"


def _set_path(data: dict[str, Any], parts: list[str], value: Any) -> None:
    for part in parts[:-1]:
        data = data.setdefault(part, {})
    data[parts[-1]] = value


@pytest.mark.parametrize("section", ["server", "grafana", "target"])
def test_documented_defaults_parse_back_to_the_model_defaults(section: str) -> None:
    """Writing a documented default into a stack file changes nothing."""
    defaults = BundleConfig(stack="x").model_dump(mode="json", by_alias=True)
    for key in _keys().values():
        prefix = f"pyroscope:{section}."
        if not key.path.startswith(prefix) or key.default in ("required", "(section)") or "[i]" in key.path:
            continue
        data: dict[str, Any] = {"stack": "x", section: copy.deepcopy(defaults[section])}
        _set_path(data, [section, *key.path.removeprefix(prefix).split(".")], yaml.safe_load(key.default))
        parsed = BundleConfig.model_validate(data).model_dump(mode="json", by_alias=True)
        assert parsed == defaults, key.path


def test_intro_explains_setting_keys_and_unknown_keys() -> None:
    text = docs_gen.render_reference()
    assert "pulumi config set --path server.retention 30d" in text
    assert "Unknown keys are errors" in text
    assert "pyroscope:server.retension: is not a known key" in text


def test_docs_check_exits_1_when_stale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A checkout of the bundle (the command refuses any other directory).
    (tmp_path / "Pulumi.yaml").write_text("name: pyroscope\nruntime: python\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "pyroscope-bundle"\nversion = "0"\n')
    assert cli_main(["docs", "--check", "--project-dir", str(tmp_path)]) == 1
    assert cli_main(["docs", "--project-dir", str(tmp_path)]) == 0
    assert cli_main(["docs", "--check", "--project-dir", str(tmp_path)]) == 0
    path = tmp_path / docs_gen.DOCS_PATH
    path.write_text(path.read_text() + "edited by hand\n")
    assert cli_main(["docs", "--check", "--project-dir", str(tmp_path)]) == 1
    assert "stale; regenerate it with `pyroscope-bundle docs`" in capsys.readouterr().err
