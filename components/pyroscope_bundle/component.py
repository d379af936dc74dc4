"""The base of every component of the bundle: one spelling of its Pulumi type token.

A component registers as ``pyroscope-bundle:<package>:<ClassName>`` (package: the first level
under ``pyroscope_bundle``), built from its class by :func:`type_token`, never written by hand.
A component whose token was spelt otherwise in an earlier release lists the old token in
``FORMER_TYPES``: it registers with ``pulumi.Alias(type_=<old token>)``, so a stack deployed
under the old token keeps the component AND its children, with no delete and create. The engine
gives every child the aliases of its parent (pulumi/pulumi pkg/resource/deploy/step_generator.go
``generateAliases``: "multiply out any aliases our parent had"); with an engine without alias
specs the Python SDK does the same (sdk/python/lib/pulumi/runtime/resource.py ``all_aliases``,
pulumi 3.272.0: "add to it any implicit aliases inherited from its parent").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import pulumi

PREFIX = "pyroscope-bundle"
PACKAGE = "pyroscope_bundle"


def type_token(cls: type) -> str:
    """``pyroscope-bundle:<package>:<ClassName>`` for a class defined in ``pyroscope_bundle``."""
    parts = cls.__module__.split(".")
    if parts[0] != PACKAGE or len(parts) < 2:
        raise ValueError(f"{cls.__qualname__} is not defined in a package of {PACKAGE} ({cls.__module__})")
    return f"{PREFIX}:{parts[1]}:{cls.__name__}"


def with_former_types(
    opts: pulumi.ResourceOptions | None, former_types: Sequence[str]
) -> pulumi.ResourceOptions | None:
    """``opts`` plus one type alias per former token (its other aliases are kept)."""
    if not former_types:
        return opts
    aliases = pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=token) for token in former_types])
    return pulumi.ResourceOptions.merge(opts, aliases)


class BundleComponent(pulumi.ComponentResource):
    """A ``pulumi.ComponentResource`` registered under the token of its class (``TYPE``)."""

    TYPE: ClassVar[str]
    # Tokens this component was registered under before (aliased: existing stacks keep it).
    FORMER_TYPES: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A subclass in another program keeps the token of the bundle's class it extends.
        if cls.__module__.split(".")[0] == PACKAGE:
            cls.TYPE = type_token(cls)

    def __init__(
        self, name: str, opts: pulumi.ResourceOptions | None = None, *, former_types: Sequence[str] = ()
    ) -> None:
        super().__init__(self.TYPE, name, None, with_former_types(opts, [*self.FORMER_TYPES, *former_types]))
