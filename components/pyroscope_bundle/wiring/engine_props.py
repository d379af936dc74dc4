"""The shape of the props a stack transform receives from the engine, and how to hand them back.

On ``pulumi up``/``preview`` the SDK registers a custom resource with its inputs serialized
(no output values: ``pulumi/runtime/resource.py`` passes ``keep_output_values=remote``), the
engine marshals them for the transform callback with secrets and unknowns kept
(``pkg/resource/deploy/source_eval.go``) and the SDK hands the transform
``deserialize_properties(request.properties)`` of them (``pulumi/runtime/_callbacks.py``,
``register_transform``). So a transform never sees a ``pulumi.Output``; it sees:

- plain values (dicts, lists, strings, numbers);
- secret wrappers (``rpc.wrap_rpc_secret``): one secret anywhere inside a top-level property
  makes the whole property one wrapper around plain values (``rpc.deserialize_property`` hoists
  the secretness up to the top-level property);
- ``pulumi.output.Unknown`` objects during a preview, anywhere a value is not yet known (outside
  a preview an unknown value is dropped).

The transforms keep the pure wiring functions unaware of this: they reveal the plain value, wire
it, and hand it back wrapped again when it was secret. When an unknown value stops the wiring
(a preview), the resource passes through unchanged and a warning names it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import pulumi
from pulumi.output import Unknown
from pulumi.runtime import rpc

T = TypeVar("T")


def reveal(value: Any) -> tuple[Any, bool]:
    """``value`` without secret wrappers at any depth, and whether there was one."""
    if rpc.is_rpc_secret(value):
        inner, _ = reveal(rpc.unwrap_rpc_secret(value))
        return inner, True
    if isinstance(value, Mapping):
        secret = False
        plain: dict[Any, Any] = {}
        for key, item in value.items():
            plain[key], inner_secret = reveal(item)
            secret = secret or inner_secret
        return plain, secret
    if isinstance(value, list | tuple):
        secret = False
        items: list[Any] = []
        for item in value:
            plain_item, inner_secret = reveal(item)
            items.append(plain_item)
            secret = secret or inner_secret
        return items, secret
    return value, False


def hand_back(value: Any, secret: bool) -> Any:
    """``value`` as a top-level property the callback serializes: wrapped again when it was secret."""
    return rpc.wrap_rpc_secret(value) if secret else value


def unknown_path(value: Any, path: str) -> str | None:
    """The path of the first value that is unknown (a preview), or None when everything is known."""
    if isinstance(value, Unknown):
        return path
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = unknown_path(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = unknown_path(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def refuse_outputs(resource: str, props: Mapping[str, Any]) -> None:
    """A ``pulumi.Output`` in the props is not what the engine hands a transform: say so."""
    outputs = sorted(key for key, value in props.items() if isinstance(value, pulumi.Output))
    if outputs:
        raise TypeError(
            f"{resource}: props {', '.join(outputs)} are pulumi.Output; a transform receives the "
            "engine's deserialized props (plain values, secret wrappers, Unknown in previews). "
            "Register it with pulumi.runtime.register_resource_transform instead of calling it "
            "on Outputs"
        )


def warn_unknown(resource: str, what: str, detail: str | None = None) -> None:
    """Say that ``resource`` passes through unwired because ``what`` is unknown (never silently)."""
    because = f" ({detail})" if detail else ""
    pulumi.log.warn(
        f"{resource}: profiler wiring not applied: {what} is not known during the preview{because}; "
        "it is applied once the value is known (pulumi up)"
    )


def wire_unless_unknown(resource: str, inputs: Mapping[str, Any], wire: Callable[[], T]) -> T | None:
    """``wire()``, or None (with a warning) when an unknown value in ``inputs`` stopped it.

    During a preview the wiring may not be able to read what it needs (an unknown container
    list, env list, ...): the resource then passes through unchanged and the warning names it
    and the unknown path. Without unknowns (always outside a preview) every error stands.
    """
    unknown = unknown_path(inputs, "")
    if unknown is None:
        return wire()
    try:
        return wire()
    except Exception as error:  # any failure on an unknown input is a preview gap, said below
        warn_unknown(resource, unknown, str(error))
        return None
