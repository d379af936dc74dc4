"""Every registered resource checked against its provider's input schema, offline.

Each provider's generated Python SDK encodes its input schema: the resource's ``*Args`` class
(``@pulumi.input_type``), one property getter per input whose ``pulumi.getter(name=...)`` is the
wire name, return annotations giving the type (``pulumi.Input[...]``, nested ``*Args`` input
types, ``Sequence``/``Mapping``, ``Literal``, ``Enum``) and, by admitting ``None`` or not, whether
the input is required. The SDK reads the same annotations to translate names
(``pulumi/_types.py``: ``_raw_return_hints``, ``_required_property_names``); this module turns
them into a schema and checks the *wire* inputs a registration sent (camelCase, as the
engine and the provider see them - also for Kubernetes objects given as camelCase dicts).

A Kubernetes custom resource (``apiextensions.CustomResource`` of a CRD) has no schema in the SDK:
its ``apiVersion``, ``kind`` and ``metadata`` are checked, its ``spec`` is the CRD's business.

Only the SDK submodule a type lives in is imported (the package's own registry maps the type
token to it), never a whole provider: importing every ``pulumi_aws`` submodule costs seconds.
Schemas are built lazily and cached per class.
"""

from __future__ import annotations

import difflib
import enum
import functools
import importlib
import types
import typing
from collections import abc
from dataclasses import dataclass
from typing import Any

from pulumi import _types as pulumi_types
from pulumi.asset import Archive, Asset
from pulumi.output import Output, Unknown
from pulumi.runtime import rpc

# Type-token package -> the Python SDK that implements it.
PROVIDER_SDKS = {
    "aws": "pulumi_aws",
    "docker": "pulumi_docker",
    "grafana": "pulumiverse_grafana",
    "kubernetes": "pulumi_kubernetes",
    "random": "pulumi_random",
}


class SchemaError(Exception):
    """A type token or annotation this checker cannot map: a gap in the checker, never a pass."""


@dataclass(frozen=True)
class Scalar:
    kind: str  # string, integer, number, boolean, any, asset


@dataclass(frozen=True)
class ArrayOf:
    item: Node


@dataclass(frozen=True)
class MapOf:
    value: Node


@dataclass(frozen=True)
class ObjectOf:
    """A nested input type (an ``@pulumi.input_type`` class), or a resource's ``*Args``."""

    cls: type

    @property
    def name(self) -> str:
        return self.cls.__name__


@dataclass(frozen=True)
class OneOf:
    values: frozenset[Any]  # Literal[...] and Enum members: the allowed wire values


@dataclass(frozen=True)
class AnyOf:
    options: tuple[Node, ...]


Node = Scalar | ArrayOf | MapOf | ObjectOf | OneOf | AnyOf

_SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}

# Kubernetes resource quantities the SDK types as strings; the API also takes a bare JSON number
# for them (kubernetes/apimachinery pkg/api/resource/quantity.go, Quantity.UnmarshalJSON), and
# charts write `cpu: 0.1`. (input type, wire name) of pulumi_kubernetes.
KUBERNETES_QUANTITIES = frozenset(
    {
        ("ResourceRequirementsArgs", "limits"),
        ("ResourceRequirementsArgs", "requests"),
        ("VolumeResourceRequirementsArgs", "limits"),
        ("VolumeResourceRequirementsArgs", "requests"),
        ("EmptyDirVolumeSourceArgs", "sizeLimit"),
        ("PodSpecArgs", "overhead"),
    }
)


def _is_plumbing(member: Any) -> bool:
    """The Awaitable[T] / Output[T] halves of ``pulumi.Input[T]``, and ``None`` of Optional."""
    origin = typing.get_origin(member)
    return member is type(None) or origin in (abc.Awaitable, typing.Awaitable) or origin is Output


def _is_typed_dict(member: Any) -> bool:
    return isinstance(member, type) and typing.is_typeddict(member)


def node_of(hint: Any) -> Node:
    """The schema node of one resolved annotation."""
    if hint is Any or hint is object:
        return Scalar("any")
    if hint in _SCALARS:
        return Scalar(_SCALARS[hint])
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        members = [member for member in typing.get_args(hint) if not _is_plumbing(member)]
        if any(pulumi_types.is_input_type(m) for m in members if isinstance(m, type)):
            # InputType[T]: the *Args class or its dict form, which is the same schema.
            members = [
                m
                for m in members
                if not _is_typed_dict(m) and typing.get_origin(m) not in (dict, abc.Mapping, typing.Mapping)
            ]
        options = tuple(dict.fromkeys(node_of(member) for member in members))
        if not options:
            raise SchemaError(f"annotation {hint!r} admits no value")
        return options[0] if len(options) == 1 else AnyOf(options)
    if origin is typing.Literal:
        return OneOf(frozenset(typing.get_args(hint)))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return OneOf(frozenset(member.value for member in hint))
    if origin in (list, abc.Sequence, typing.Sequence, typing.List):  # noqa: UP006 - matched, not used
        (item,) = typing.get_args(hint) or (Any,)
        return ArrayOf(node_of(item))
    if origin in (dict, abc.Mapping, typing.Mapping, typing.Dict):  # noqa: UP006 - matched, not used
        args = typing.get_args(hint)
        return MapOf(node_of(args[1] if args else Any))
    if isinstance(hint, type) and pulumi_types.is_input_type(hint):
        return ObjectOf(hint)
    if isinstance(hint, type) and issubclass(hint, Asset | Archive):
        return Scalar("asset")
    raise SchemaError(f"no schema for annotation {hint!r}")


@functools.cache
def fields_of(cls: type) -> dict[str, Node]:
    """Wire name -> schema node of every input of an input type (built once per class)."""
    fields = {name: node_of(hint) for name, hint in pulumi_types._raw_return_hints(cls).items()}
    if cls.__module__.startswith("pulumi_kubernetes."):
        for name, node in fields.items():
            if (cls.__name__, name) in KUBERNETES_QUANTITIES:
                fields[name] = _as_quantity(node)
    return fields


def _as_quantity(node: Node) -> Node:
    if isinstance(node, MapOf):
        return MapOf(_as_quantity(node.value))
    return Scalar("quantity") if node == Scalar("string") else node


@functools.cache
def required_of(cls: type) -> frozenset[str]:
    """Wire names of the inputs whose annotation does not admit None (what the SDK requires)."""
    return pulumi_types._required_property_names(cls)


@functools.cache
def args_class(token: str) -> type:
    """The ``*Args`` input type of a resource type token, importing only its SDK submodule."""
    parts = token.split(":")
    if len(parts) != 3:
        raise SchemaError(f"{token}: not a resource type token")
    if parts[0] == "pulumi" and parts[1] == "providers":
        package = importlib.import_module(_sdk(parts[2], token))
        return _args_for(package.Provider, token)
    package_name, module_name, _ = parts
    importlib.import_module(_sdk(package_name, token))  # registers the package's modules, lazily
    module = rpc.get_resource_module(package_name, module_name, "")
    info = getattr(module, "mod_info", None)
    if not info or token not in info.get("classes", {}):
        raise SchemaError(f"{token}: {package_name}'s SDK registers no such resource")
    resource_cls = getattr(importlib.import_module(info["fqn"]), info["classes"][token])
    return _args_for(resource_cls, token)


def _sdk(package: str, token: str) -> str:
    if package not in PROVIDER_SDKS:
        raise SchemaError(f"{token}: no provider SDK known for package {package!r}")
    return PROVIDER_SDKS[package]


def _args_for(resource_cls: type, token: str) -> type:
    """The resource's own args class: ``<Name>InitArgs`` where ``<Name>Args`` names a nested type."""
    module = importlib.import_module(resource_cls.__module__)
    own = set(getattr(module, "__all__", ()))
    for name in (f"{resource_cls.__name__}InitArgs", f"{resource_cls.__name__}Args"):
        args = getattr(module, name, None)
        if name in own and isinstance(args, type) and pulumi_types.is_input_type(args):
            return args
    raise SchemaError(f"{token}: {resource_cls.__module__} defines no args class for {resource_cls.__name__}")


def checks_type(token: str) -> bool:
    """Whether ``token`` belongs to a provider this checker knows (components are the bundle's)."""
    parts = token.split(":")
    return (parts[2] if token.startswith("pulumi:providers:") else parts[0]) in PROVIDER_SDKS


def check_inputs(token: str, inputs: dict[str, Any]) -> list[str]:
    """Problems of a registration's wire inputs against the provider's schema, sorted (empty: valid)."""
    if _is_kubernetes_custom_resource(token):
        return sorted(_check_custom_resource(token, inputs))
    return sorted(_check(ObjectOf(args_class(token)), inputs, "", secret=False))


def _is_kubernetes_custom_resource(token: str) -> bool:
    """``apiextensions.CustomResource`` registers ``kubernetes:<group/version>:<Kind>`` of a CRD."""
    package, module, _ = [*token.split(":"), "", ""][:3]
    if package != "kubernetes" or token.startswith("pulumi:"):
        return False
    importlib.import_module(PROVIDER_SDKS["kubernetes"])
    return rpc.get_resource_module(package, module, "") is None


def _check_custom_resource(token: str, inputs: dict[str, Any]) -> list[str]:
    """A CRD's own schema is not in the SDK: check apiVersion, kind and metadata, as the SDK types them."""
    _, api_version, kind = token.split(":")
    problems = [
        f"{key}: {_show(inputs.get(key))} is not {expected!r} (the type token's)"
        for key, expected in (("apiVersion", api_version), ("kind", kind))
        if inputs.get(key) != expected
    ]
    meta = importlib.import_module("pulumi_kubernetes.meta.v1").ObjectMetaArgs
    return problems + _check(ObjectOf(meta), inputs.get("metadata"), "metadata", secret=False)


def _check(node: Node, value: Any, path: str, *, secret: bool) -> list[str]:
    """Problems of ``value`` at ``path``; a secret value (wrapped, or inside one) is never shown."""
    if rpc.is_rpc_secret(value):
        return _check(node, rpc.unwrap_rpc_secret(value), path, secret=True)
    where = path or "inputs"
    shown = "[secret]" if secret else _show(value)
    if value is None or isinstance(value, Unknown):
        return []
    if isinstance(node, Scalar):
        return [] if _scalar_ok(node.kind, value) else [f"{where}: {shown} is not {_article(node.kind)}"]
    if isinstance(node, OneOf):
        if value in node.values:
            return []
        allowed = ", ".join(sorted(repr(v) for v in node.values))
        return [f"{where}: {shown} is not one of {allowed}"]
    if isinstance(node, ArrayOf):
        if not isinstance(value, list):
            return [f"{where}: {shown} is not a list"]
        return [
            problem
            for i, item in enumerate(value)
            for problem in _check(node.item, item, f"{path}[{i}]", secret=secret)
        ]
    if isinstance(node, MapOf):
        if not isinstance(value, dict):
            return [f"{where}: {shown} is not a map"]
        return [
            problem
            for key, item in value.items()
            for problem in _check(node.value, item, _join(path, key), secret=secret)
        ]
    if isinstance(node, ObjectOf):
        if not isinstance(value, dict):
            return [f"{where}: {shown} is not an object ({node.name})"]
        return _check_object(node, value, path, secret=secret)
    attempts = [_check(option, value, path, secret=secret) for option in node.options]
    if any(not problems for problems in attempts):
        return []
    return min(attempts, key=len)


def _check_object(node: ObjectOf, value: dict[str, Any], path: str, *, secret: bool) -> list[str]:
    fields = fields_of(node.cls)
    problems: list[str] = []
    for key, item in value.items():
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            problems.append(f"{_join(path, key)}: not an input of {node.name}{hint}")
            continue
        problems.extend(_check(fields[key], item, _join(path, key), secret=secret))
    for key in sorted(required_of(node.cls) - {k for k, v in value.items() if v is not None}):
        problems.append(f"{_join(path, key)}: required by {node.name} but missing")
    return problems


def _scalar_ok(kind: str, value: Any) -> bool:
    if kind == "any":
        return True
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "asset":
        return isinstance(value, Asset | Archive)
    if kind == "quantity":
        return isinstance(value, str) or (isinstance(value, int | float) and not isinstance(value, bool))
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    # Numbers cross the wire as doubles (protobuf): 4040 arrives as 4040.0.
    return kind == "number" or float(value).is_integer()


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
