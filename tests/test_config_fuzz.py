"""Random garbage in any config field never ends in a traceback: a value is accepted, or refused
with a ConfigError whose every line names a key path."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from pyroscope_bundle.config import BundleConfig, ConfigError, load_config
from pyroscope_bundle.config.loader import STRUCTURED_KEYS, _model_in

from tests.harness import PROJECT_DIR

SERVICE: dict[str, Any] = {
    "name": "checkout",
    "platform": "kubernetes",
    "runtime": "java",
    "kubernetes": {"namespace": "shop"},
}


def leaf_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every camelCase key path of ``model`` (lists of models through their first item)."""
    paths: list[tuple[str, ...]] = []
    for name, field in model.model_fields.items():
        path = (*prefix, field.alias or name)
        inner = _model_in(field.annotation)
        paths.append(path)
        if inner is not None:
            paths += leaf_paths(inner, path)
    return paths


PATHS = [path for path in leaf_paths(BundleConfig) if path[0] in STRUCTURED_KEYS]

garbage = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(
        [
            "30d\n",
            "*",
            "arn:aws:iam::*:role/*",
            "a|b",
            "x\r\ny",
            "..",
            "0",
            "-1",
            "1e400",
            "ﬁ",
            "9" * 400 + "Gi",
            "9" * 400 + "m",
        ]
    ),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)


def place(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A raw config with ``value`` at ``path`` (inside the first service for services keys)."""
    if path[0] == "services":
        service: dict[str, Any] = {**SERVICE, "kubernetes": dict(SERVICE["kubernetes"])}
        node = service
        rest = path[1:]
        if not rest:
            return {"services": value}
        for key in rest[:-1]:
            node = node.setdefault(key, {}) if isinstance(node.get(key, {}), dict) else node
        node[rest[-1]] = value
        return {"services": [service], "target": {"kind": "external", "url": "https://p.example.com"}}
    raw: dict[str, Any] = {}
    node = raw
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return raw


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), value=garbage)
def test_garbage_in_any_field_is_accepted_or_refused_by_key_path(path, value):
    raw = place(path, value)
    try:
        load_config(raw, "fuzz", PROJECT_DIR)
    except ConfigError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.path.startswith("pyroscope:"), problem
            assert "\n" not in str(problem).replace("\\n", ""), problem
        str(error)


@settings(max_examples=60, deadline=None)
@given(section=st.sampled_from(STRUCTURED_KEYS), value=garbage)
def test_garbage_sections_are_refused_by_key_path(section, value):
    try:
        load_config({section: value}, "fuzz", PROJECT_DIR)
    except ConfigError as error:
        assert all(problem.path.startswith("pyroscope:") for problem in error.problems)


def test_the_fuzzer_reaches_every_section():
    assert {path[0] for path in PATHS} == set(STRUCTURED_KEYS)
    assert ("server", "kubernetes", "ingress", "host") in PATHS


@pytest.mark.parametrize("value", ["30d\n", True, 10**30, float("nan"), {"a": [1]}, "\x00"])
def test_known_garbage_is_refused(value):
    with pytest.raises(ConfigError):
        load_config({"server": {"retention": value}}, "fuzz", PROJECT_DIR)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    key=st.sampled_from([*STRUCTURED_KEYS, "authToken", "grafanaAdminPassword", "unknownKey"]),
    namespace=st.sampled_from(["pyroscope", "pyroscpe", "aws", ""]),
    value=garbage,
)
def test_garbage_stack_files_render_or_exit_2_never_a_traceback(tmp_path_factory, key, namespace, value):
    """The whole CLI path (stack file, overrides, Pulumi config, program) on random values."""
    import contextlib
    import io
    import shutil

    import yaml
    from pyroscope_bundle.render.command import render_command

    project = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(PROJECT_DIR / "configs", project / "configs")
    (project / "stacks").mkdir()
    full_key = f"{namespace}:{key}" if namespace else key
    (project / "stacks" / "Pulumi.fuzz.yaml").write_text(yaml.safe_dump({"config": {full_key: value}}))
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = render_command(project, "fuzz", project / "out", [], [])
    assert status in (0, 2), err.getvalue()
    assert "Traceback" not in err.getvalue()
