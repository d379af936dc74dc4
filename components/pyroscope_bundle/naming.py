"""How a component names its children: after itself, without renaming what existing stacks hold.

A child's Pulumi name is part of its URN: renaming it makes ``pulumi up`` delete and recreate
the resource (a Grafana datasource, a Secret, a data volume). Where a component's historical
child names do not start with its default name, the component with that default name keeps
them, and every other instance prefixes them with its own name - so two instances in one
program never register the same URN.
"""

from __future__ import annotations


def child_name(component: str, default: str, legacy: str) -> str:
    """``legacy`` for the component named ``default``, else ``<component>-<legacy>``."""
    return legacy if component == default else f"{component}-{legacy}"
