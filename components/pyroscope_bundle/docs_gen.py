"""Generate ``docs/configuration.md`` from the config model, so the reference cannot drift.

Every key is listed as users write it (``pyroscope:server.storage.size``), with its type, the
default as YAML, the allowed values of ``Literal`` types and the field description.
``pyroscope-bundle docs --check`` (and a test) fail when the committed file is stale.
"""

from __future__ import annotations

import json
import sys
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import annotated_types
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from pyroscope_bundle import constants
from pyroscope_bundle.config import BundleConfig
from pyroscope_bundle.config import types as config_types
from pyroscope_bundle.config.errors import key_path
from pyroscope_bundle.config.loader import SECRET_KEYS, STRUCTURED_KEYS

DOCS_PATH = Path("docs") / "configuration.md"

# Secret keys are read with Config.require_secret, outside the model: their text lives here.
SECRET_DESCRIPTIONS = {
    "authToken": (
        "Credential the profilers send as the basic-auth password to the target: the Grafana Cloud "
        "access-policy token (target kind grafana-cloud, required there) or the password of an "
        "external server (required with pyroscope:target.basicAuthUser). Set it with "
        "`pulumi config set --secret authToken <token>`; it stays a Pulumi secret end to end and "
        "renders as [secret]."
    ),
    "grafanaAdminPassword": (
        "Admin password of the Grafana container (pyroscope:grafana.mode docker). Null: the bundle "
        "generates a random one, readable with `pulumi stack output --show-secrets`. Set it with "
        "`pulumi config set --secret grafanaAdminPassword <password>`."
    ),
}

# Validators of config/types.py -> how the reference names the type.
_VALIDATOR_NAMES = {
    config_types.parse_duration: "duration (`30d`, `12h`, `1h30m`)",
    config_types.parse_size: "size (Kubernetes quantity: `512Mi`, `10Gi`)",
    config_types.check_cpu: "CPU quantity (`250m`, `1`, `1.5`)",
    config_types.check_dns_label: "DNS label",
    config_types.check_url: "http(s) URL",
    config_types.check_version: "version (`MAJOR.MINOR.PATCH`)",
    config_types.check_ipv4: "IPv4 address",
}


@dataclass(frozen=True)
class KeyDoc:
    path: str
    type: str
    default: str
    description: str


def reference_keys() -> list[KeyDoc]:
    """Every configurable key, in model order, sections before their keys."""
    keys: list[KeyDoc] = []
    for top in STRUCTURED_KEYS:
        field = _field_by_alias(BundleConfig, top)
        # The section heading stands for the top-level key itself.
        keys += list(_walk(field, key_path(top), _default_of(field)))[1:]
    for secret in SECRET_KEYS:
        if secret not in SECRET_DESCRIPTIONS:
            raise KeyError(f"add a description of the secret key {secret!r} to docs_gen.SECRET_DESCRIPTIONS")
        keys.append(KeyDoc(key_path(secret), "string, **secret**", "null", SECRET_DESCRIPTIONS[secret]))
    return keys


def _field_by_alias(model: type[BaseModel], alias: str) -> FieldInfo:
    for name, field in model.model_fields.items():
        if alias in (name, field.alias):
            return field
    raise KeyError(f"{model.__name__} has no field {alias!r}")


def _walk(field: FieldInfo, path: str, default: Any) -> Iterator[KeyDoc]:
    """``field`` (with its effective ``default``) and, for sections, every key below it."""
    annotation = field.annotation
    model = _model_of(annotation)
    list_item_model = _list_item_model(annotation)
    # A section's default is its keys' (listed below it); a map's default is the map itself.
    shown = "(section)" if model is not None else _yaml(default)
    yield KeyDoc(path, _type_name(annotation, field.metadata), shown, field.description or "")
    if model is not None:
        defaults = default if isinstance(default, dict) else {}
        for name, child in model.model_fields.items():
            alias = child.alias or name
            own_default = _default_of(child)
            child_default = defaults.get(alias, own_default)
            docs = list(_walk(child, f"{path}.{alias}", child_default))
            if child_default != own_default and not isinstance(own_default, dict):
                # The parent's default sets this key; a stack file that sets the parent (any
                # sibling key) falls back to the field's own default. Say so.
                head = docs[0]
                note = f" If you set other keys of `{path}`, this one defaults to `{_yaml(own_default)}`."
                docs[0] = KeyDoc(head.path, head.type, head.default, head.description + note)
            yield from docs
    elif list_item_model is not None:
        for name, child in list_item_model.model_fields.items():
            yield from _walk(child, f"{path}[i].{child.alias or name}", _default_of(child))


def _default_of(field: FieldInfo) -> Any:
    """The default as it would appear in a stack file (JSON-able), or the REQUIRED marker."""
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return _REQUIRED
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    return _json_value(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, config_types.Duration | config_types.Size):
        return value.text
    if isinstance(value, list):
        return [_json_value(item) for item in value]
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items()}
    return value


class _Required:
    pass


_REQUIRED: Any = _Required()


def _reads_back(text: str) -> bool:
    """Whether ``text`` written bare in YAML reads back as that string (``*/5 * * * *`` does not:
    ``*`` starts an alias)."""
    try:
        return bool(yaml.safe_load(text) == text)
    except yaml.YAMLError:
        return False


def _yaml(value: Any) -> str:
    if value is _REQUIRED:
        return "required"
    if isinstance(value, str) and not _reads_back(value):
        return json.dumps(value)  # "2", not '2': a string that would otherwise read as a number
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10_000).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def _model_of(annotation: Any) -> type[BaseModel] | None:
    for candidate in _union_members(annotation):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _list_item_model(annotation: Any) -> type[BaseModel] | None:
    for candidate in _union_members(annotation):
        if typing.get_origin(candidate) is list:
            return _model_of(typing.get_args(candidate)[0])
    return None


def _union_members(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    return [annotation]


def _type_name(annotation: Any, metadata: list[Any]) -> str:
    """Readable type of a field: validators of config/types.py, Literals, bounds, null."""
    nullable = typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(
        None
    ) in typing.get_args(annotation)
    members = _union_members(annotation)
    names = [_single_type(member, metadata) for member in members]
    text = " or ".join(names)
    return f"{text}, or null" if nullable else text


def _single_type(annotation: Any, metadata: list[Any]) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        return _single_type(base, [*extra, *metadata])
    for item in metadata:
        func = getattr(item, "func", None)
        if func in _VALIDATOR_NAMES:
            return _VALIDATOR_NAMES[func]
    if origin is Literal:
        return "one of " + ", ".join(f"`{value}`" for value in typing.get_args(annotation))
    if origin is list:
        (item,) = typing.get_args(annotation)
        model = _model_of(item)
        if model is not None:
            return "list of objects (keys below)"
        if typing.get_origin(item) is Literal:
            return "list, items " + _single_type(item, [])
        return f"list of {_single_type(item, [])}"
    if origin is dict:
        key, value = typing.get_args(annotation)
        return f"map of {_single_type(key, [])} to {_single_type(value, [])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    simple = {bool: "boolean", int: "integer", str: "string", float: "number", Any: "any value"}.get(
        annotation, str(annotation)
    )
    return simple + _bounds(metadata)


def _bounds(metadata: list[Any]) -> str:
    low = next((m.ge for m in metadata if isinstance(m, annotated_types.Ge)), None)
    high = next((m.le for m in metadata if isinstance(m, annotated_types.Le)), None)
    min_length = next((m.min_length for m in metadata if isinstance(m, annotated_types.MinLen)), None)
    if low is not None and high is not None:
        return f", {low} to {high}"
    if min_length:
        return ", not empty"
    return ""


# --- the document ---------------------------------------------------------------------------

_INTRO = """\
<!-- Generated by `pyroscope-bundle docs` from components/pyroscope_bundle/config/model.py.
     Do not edit by hand: change the field descriptions and run `pyroscope-bundle docs`. -->
# Configuration reference

Each stack is configured in `stacks/Pulumi.<stack>.yaml` under {count} keys of the `{project}`
namespace: {sections}. Every key has a default a newcomer can leave alone.

Set a nested key with `--path` (run in the project directory, `-s <stack>` to pick the stack):

```sh
pulumi config set --path server.retention 30d
pulumi config set --path 'services[0].name' checkout
pulumi config set --secret authToken '<token>'
```

The same paths work for a one-off offline render:
`pyroscope-bundle render --stack staging --out /tmp/r --set server.retention=30d`.

The configuration is validated before any resource is registered. **Unknown keys are errors**
(a typo never passes silently), and every problem names the key path, the value and what is
allowed. For example, `{example_input}` fails with:

```text
{example_error}
```

Types: *duration* is a Prometheus-style duration (`30d`, `12h`, `1h30m`; units `y w d h m s`);
*size* is a Kubernetes quantity; *DNS label* is at most 63 lowercase letters, digits and `-`.
In lists, `[i]` stands for the position (`services[0]`). "(section)" marks a mapping whose
keys follow.
"""


def _example_error() -> tuple[str, str]:
    """A real validation error, produced by the loader, so the example cannot drift either."""
    from pyroscope_bundle.config import ConfigError, load_config

    try:
        load_config({"server": {"retension": "30d"}}, "example")
    except ConfigError as error:
        return "server: {retension: 30d}", str(error)
    raise AssertionError("the loader accepted an unknown key")


_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def _sections_sentence() -> str:
    plain = ", ".join(f"`{key_path(key)}`" for key in STRUCTURED_KEYS)
    secrets = ", ".join(f"`{key_path(key)}`" for key in SECRET_KEYS)
    return f"{plain} and the secrets {secrets}"


def render_reference() -> str:
    example_input, example_error = _example_error()
    lines = [
        _INTRO.format(
            project=constants.PROJECT_NAME,
            sections=_sections_sentence(),
            count=_NUMBER_WORDS[len(STRUCTURED_KEYS) + len(SECRET_KEYS)],
            example_input=example_input,
            example_error=example_error,
        ).rstrip(),
        "",
    ]
    keys = reference_keys()
    sections = [*STRUCTURED_KEYS, *SECRET_KEYS]
    for top in sections:
        prefix = key_path(top)
        own = [key for key in keys if key.path == prefix or key.path.startswith((f"{prefix}.", f"{prefix}["))]
        lines += [
            f"## `{prefix}`",
            "",
            "| Key | Type / allowed values | Default | Description |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| `{key.path}` | {_cell(key.type)} | {_default_cell(key.default)} | {_cell(key.description)} |"
            for key in own
        ]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _default_cell(default: str) -> str:
    if default in ("required", "(section)"):
        return f"_{default}_"
    escaped = default.replace("|", "\\|")
    return f"`{escaped}`"


def docs_command(project_dir: Path, *, check: bool) -> int:
    """Write (or with ``check``, compare) ``docs/configuration.md``; 1 when it was stale."""
    path = project_dir / DOCS_PATH
    expected = render_reference()
    current = path.read_text(encoding="utf-8") if path.is_file() else None
    if check:
        if current == expected:
            print(f"{path}: up to date")
            return 0
        print(f"{path}: stale; regenerate it with `pyroscope-bundle docs`", file=sys.stderr)
        return 1
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(expected, encoding="utf-8")
    print(f"{path}: written ({len(reference_keys())} keys)")
    return 0
